//! `metadata.managedFields`: which manager owns which fields. Field paths
//! use the FieldsV1 element syntax (`f:name`, `k:{"name":"x"}`, `v:"x"`,
//! `.` for an item or map itself) so what is stored reads like a real
//! server's, and kubectl or kube can round-trip it.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::schema::{ListType, atomic_map, granular_map, item_key, list_type};

/// One field as FieldsV1 path elements.
pub type FieldPath = Vec<String>;
pub type FieldSet = BTreeSet<FieldPath>;

/// Which part of an object a write may touch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    /// The main resource; `status` is excluded when the type has a status
    /// subresource.
    Main { has_status: bool },
    /// The `/status` subresource: `status` only.
    Status,
}

impl Scope {
    /// The `subresource` of a managedFields entry.
    pub fn subresource(self) -> &'static str {
        match self {
            Scope::Main { .. } => "",
            Scope::Status => "status",
        }
    }

    /// Whether a top-level field belongs to this scope.
    pub fn covers(self, top: &str) -> bool {
        match self {
            Scope::Main { has_status } => !(has_status && top == "status"),
            Scope::Status => top == "status",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
}

/// Metadata fields that are owned; the rest is the server's.
const OWNED_METADATA: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

/// The fields `object` sets within `scope`.
pub fn field_set(object: &Value, builtin: bool, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (key, value) in map {
        if matches!(key.as_str(), "apiVersion" | "kind") || !scope.covers(key) || value.is_null() {
            continue;
        }
        if key == "metadata" {
            for field in OWNED_METADATA {
                if let Some(v) = value.get(*field).filter(|v| !v.is_null()) {
                    let path = vec!["f:metadata".to_owned(), format!("f:{field}")];
                    collect(v, path, field, builtin, &mut out);
                }
            }
        } else {
            collect(value, vec![format!("f:{key}")], key, builtin, &mut out);
        }
    }
    out
}

fn child(path: &[String], element: String) -> FieldPath {
    let mut p = path.to_vec();
    p.push(element);
    p
}

fn collect(value: &Value, path: FieldPath, field: &str, builtin: bool, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() && !atomic_map(builtin, field) => {
            if granular_map(field) {
                out.insert(child(&path, ".".into()));
            }
            for (k, v) in map.iter().filter(|(_, v)| !v.is_null()) {
                collect(v, child(&path, format!("f:{k}")), k, builtin, out);
            }
        }
        Value::Array(items) if !items.is_empty() => match list_type(builtin, field, items) {
            ListType::Atomic => {
                out.insert(path);
            }
            ListType::Set => {
                for item in items {
                    out.insert(child(&path, format!("v:{item}")));
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    let key = Value::Object(item_key(keys, item));
                    let item_path = child(&path, format!("k:{key}"));
                    out.insert(child(&item_path, ".".into()));
                    for (k, v) in item.as_object().into_iter().flatten() {
                        if !v.is_null() {
                            collect(v, child(&item_path, format!("f:{k}")), k, builtin, out);
                        }
                    }
                }
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

/// Whether a list item matches a `k:` key (with the protocol default).
fn key_matches(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(k, v)| {
        item.get(k) == Some(v) || (k == "protocol" && item.get(k).is_none() && v == "TCP")
    })
}

/// Steps one path element into `value`.
fn step<'a>(value: &'a Value, element: &str) -> Option<&'a Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.get(field);
    }
    let items = value.as_array()?;
    if let Some(key) = element.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        return items.iter().find(|i| key_matches(i, &key));
    }
    let wanted: Value = serde_json::from_str(element.strip_prefix("v:")?).ok()?;
    items.iter().find(|i| **i == wanted)
}

/// The value at a field path (`.` is the value itself).
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .filter(|e| *e != ".")
        .try_fold(object, |v, e| step(v, e))
}

/// Whether two objects agree on a field. For `.` (an item or a map itself)
/// being present on both sides is agreement; its members are separate fields.
pub fn same_at(a: Option<&Value>, b: Option<&Value>, path: &[String]) -> bool {
    let x = a.and_then(|a| value_at(a, path));
    let y = b.and_then(|b| value_at(b, path));
    if path.last().is_some_and(|e| e == ".") {
        x.is_some() == y.is_some()
    } else {
        x == y
    }
}

/// Removes the field at `path` (an item for `k:`/`v:` or a trailing `.`).
pub fn remove_at(object: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().filter(|e| *e != ".").collect();
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = object;
    for element in parents {
        let Some(next) = step_mut(cur, element) else {
            return;
        };
        cur = next;
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = cur.as_object_mut() {
            map.remove(field);
        }
    } else if let Some(items) = cur.as_array_mut() {
        let probe: Vec<Value> = items.clone();
        if let Some(found) = step(&Value::Array(probe), last) {
            let found = found.clone();
            items.retain(|i| *i != found);
        }
    }
}

fn step_mut<'a>(value: &'a mut Value, element: &str) -> Option<&'a mut Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.get_mut(field);
    }
    let found = step(value, element)?.clone();
    value.as_array_mut()?.iter_mut().find(|i| **i == found)
}

/// `.spec.template.spec.containers[name="web"].image`, as conflict causes
/// print a field.
pub fn display(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(key)
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        }
    }
    out
}

/// FieldsV1 JSON from a set.
pub fn to_fields_v1(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut cur = &mut root;
        for element in path {
            let next = cur.entry(element.clone()).or_insert_with(|| json!({}));
            let Value::Object(next) = next else {
                break;
            };
            cur = next;
        }
    }
    Value::Object(root)
}

/// A set from FieldsV1 JSON; every empty object is an owned field.
pub fn from_fields_v1(value: &Value) -> FieldSet {
    fn walk(value: &Value, path: &[String], out: &mut FieldSet) {
        for (k, v) in value.as_object().into_iter().flatten() {
            let p = child(path, k.clone());
            match v.as_object() {
                Some(m) if !m.is_empty() => walk(v, &p, out),
                _ => {
                    out.insert(p);
                }
            }
        }
    }
    let mut out = FieldSet::new();
    walk(value, &[], &mut out);
    out
}

/// The entries stored on an object; malformed ones are skipped.
pub fn read(object: &Value) -> Vec<Entry> {
    let entries = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |e: &Value, k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    entries
        .iter()
        .filter(|e| e.get("manager").is_some())
        .map(|e| Entry {
            manager: text(e, "manager"),
            operation: text(e, "operation"),
            api_version: text(e, "apiVersion"),
            time: text(e, "time"),
            subresource: text(e, "subresource"),
            fields: from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)),
        })
        .collect()
}

/// Stores entries on an object, dropping those that own nothing.
pub fn write(object: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Who is writing, for a new or refreshed entry.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub scope: Scope,
    pub builtin: bool,
}

impl Writer<'_> {
    /// The entry for this writer and operation, created if missing.
    pub fn entry<'e>(&self, entries: &'e mut Vec<Entry>, operation: &str) -> &'e mut Entry {
        let subresource = self.scope.subresource();
        let found = entries.iter().position(|e| {
            e.manager == self.manager && e.operation == operation && e.subresource == subresource
        });
        let index = match found {
            Some(i) => i,
            None => {
                entries.push(Entry {
                    manager: self.manager.to_owned(),
                    operation: operation.to_owned(),
                    api_version: String::new(),
                    time: String::new(),
                    subresource: subresource.to_owned(),
                    fields: FieldSet::new(),
                });
                entries.len() - 1
            }
        };
        let entry = &mut entries[index];
        entry.api_version = self.api_version.to_owned();
        entry.time = crate::clock::now_rfc3339();
        entry
    }
}

/// Ownership after a non-apply write: the writer takes every field it
/// changed (others lose them, without conflict), and removed fields are
/// owned by nobody.
pub fn record_update(
    entries: &mut Vec<Entry>,
    old: Option<&Value>,
    new: &Value,
    writer: &Writer<'_>,
) {
    let new_set = field_set(new, writer.builtin, writer.scope);
    let old_set = old
        .map(|o| field_set(o, writer.builtin, writer.scope))
        .unwrap_or_default();
    let changed: FieldSet = new_set
        .iter()
        .filter(|p| !same_at(old, Some(new), p))
        .cloned()
        .collect();
    if changed.is_empty() && old_set.is_subset(&new_set) {
        return;
    }
    for entry in entries.iter_mut() {
        entry
            .fields
            .retain(|p| !changed.contains(p) && (new_set.contains(p) || !old_set.contains(p)));
    }
    writer.entry(entries, "Update").fields.extend(changed);
    entries.retain(|e| !e.fields.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_items_round_trip_through_fields_v1() {
        let object = json!({"spec": {"containers": [{"name": "web", "image": "nginx",
            "ports": [{"containerPort": 80}]}]}, "metadata": {"labels": {"app": "x"}}});
        let set = field_set(&object, true, Scope::Main { has_status: true });
        let v1 = to_fields_v1(&set);
        assert!(
            v1.pointer("/f:spec/f:containers/k:{\"name\":\"web\"}/f:ports/k:{\"containerPort\":80,\"protocol\":\"TCP\"}/.")
                .is_some(),
            "{v1}"
        );
        assert_eq!(from_fields_v1(&v1), set);
        let image = set
            .iter()
            .find(|p| p.last().is_some_and(|e| e == "f:image"))
            .cloned();
        let image = image.expect("image owned");
        assert_eq!(display(&image), ".spec.containers[name=\"web\"].image");
        assert_eq!(value_at(&object, &image), Some(&json!("nginx")));
    }
}
