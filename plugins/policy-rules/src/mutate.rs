//! `mutate`: strategic merge patches with anchors (conditional `()`, global
//! `<()`, add-if-not-present `+()`) and RFC 6902 JSON patches.

use crate::anchor::{self, Anchor};
use crate::pattern;
use serde_json::{Map, Value};

/// Why a strategic merge patch did not apply.
#[derive(Debug, Clone, PartialEq)]
pub enum NotApplied {
    /// A conditional anchor did not hold.
    Condition(String),
    /// A global anchor did not hold.
    Global(String),
}

/// Merges `patch` into `resource`, as Kyverno's `patchStrategicMerge` does.
pub fn strategic_merge(resource: &mut Value, patch: &Value) -> Result<(), NotApplied> {
    match (resource, patch) {
        (Value::Object(r), Value::Object(p)) => merge_map(r, p),
        (r, p) => {
            *r = strip(p);
            Ok(())
        }
    }
}

fn merge_map(
    resource: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), NotApplied> {
    // Conditions first: nothing changes unless all hold.
    for (k, pv) in patch {
        if let Some((a @ (Anchor::Condition | Anchor::Global), key)) =
            anchor::parse(k).ok().flatten()
        {
            let holds = resource
                .get(key)
                .is_some_and(|rv| pattern::validate(rv, pv).is_ok());
            if !holds {
                let why = format!("conditional anchor '{k}' does not match the resource");
                return Err(if a == Anchor::Global {
                    NotApplied::Global(why)
                } else {
                    NotApplied::Condition(why)
                });
            }
        }
    }
    for (k, pv) in patch {
        match anchor::parse(k).ok().flatten() {
            Some((Anchor::AddIfNotPresent, key)) => {
                if !resource.contains_key(key) {
                    resource.insert(key.to_owned(), strip(pv));
                }
            }
            Some(_) => {}
            None => {
                if pv.is_null() {
                    resource.remove(k);
                    continue;
                }
                match resource.get_mut(k) {
                    Some(rv) => merge_value(rv, pv)?,
                    None => {
                        let mut fresh = match pv {
                            Value::Object(_) => Value::Object(Map::new()),
                            Value::Array(_) => Value::Array(Vec::new()),
                            _ => Value::Null,
                        };
                        merge_value(&mut fresh, pv)?;
                        let empty = matches!(&fresh, Value::Array(a) if a.is_empty())
                            && !matches!(pv, Value::Array(a) if a.is_empty());
                        if !empty {
                            resource.insert(k.clone(), fresh);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn merge_value(rv: &mut Value, pv: &Value) -> Result<(), NotApplied> {
    match (rv, pv) {
        (Value::Object(r), Value::Object(p)) => merge_map(r, p),
        (Value::Array(r), Value::Array(p)) => merge_list(r, p),
        (rv, pv) => {
            *rv = strip(pv);
            Ok(())
        }
    }
}

/// The merge key Kubernetes uses for a list: `name` for containers,
/// volumes, env and most named items, `containerPort` for ports.
fn merge_key(items: &[Value]) -> Option<&'static str> {
    ["name", "containerPort", "mountPath", "ip"]
        .into_iter()
        .find(|k| !items.is_empty() && items.iter().all(|i| i.get(*k).is_some()))
}

fn has_anchor(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| anchor::parse(k).ok().flatten().is_some() || has_anchor(v)),
        Value::Array(a) => a.iter().any(has_anchor),
        _ => false,
    }
}

fn merge_list(resource: &mut Vec<Value>, patch: &[Value]) -> Result<(), NotApplied> {
    let (anchored, plain): (Vec<&Value>, Vec<&Value>) =
        patch.iter().partition(|p| p.is_object() && has_anchor(p));
    // An element with anchors patches every resource element it holds for.
    for p in anchored {
        for item in resource.iter_mut() {
            let mut candidate = item.clone();
            match merge_value(&mut candidate, p) {
                Ok(()) => *item = candidate,
                Err(NotApplied::Condition(_)) => {}
                Err(global) => return Err(global),
            }
        }
    }
    if plain.is_empty() {
        return Ok(());
    }
    let plain: Vec<Value> = plain.into_iter().cloned().collect();
    match merge_key(&plain) {
        Some(key) if resource.iter().all(Value::is_object) => {
            for p in &plain {
                let id = p.get(key);
                match resource.iter_mut().find(|r| r.get(key) == id) {
                    Some(existing) => merge_value(existing, p)?,
                    None => resource.push(strip(p)),
                }
            }
        }
        _ => *resource = plain.iter().map(strip).collect(),
    }
    Ok(())
}

/// A patch value with anchors removed, for inserting where nothing was.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, v)| match anchor::parse(k).ok().flatten() {
                    Some((Anchor::AddIfNotPresent, key)) => Some((key.to_owned(), strip(v))),
                    Some(_) => None,
                    None => Some((k.clone(), strip(v))),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// Applies RFC 6902 operations (`add`, `remove`, `replace`, `move`, `copy`, `test`).
pub fn json_patch(resource: &mut Value, ops: &[Value]) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate() {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("operation {i}: 'path' is missing"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("operation {i} ({name} {path}): 'value' is missing"))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("operation {i} ({name} {path}): 'from' is missing"))
        };
        let at = |e: String| format!("operation {i} ({name} {path}): {e}");
        match name {
            "add" => add(resource, path, value()?).map_err(at)?,
            "remove" => {
                remove(resource, path).map_err(at)?;
            }
            "replace" => {
                remove(resource, path).map_err(at)?;
                add(resource, path, value()?).map_err(at)?;
            }
            "move" => {
                let v = remove(resource, from()?).map_err(at)?;
                add(resource, path, v).map_err(at)?;
            }
            "copy" => {
                let v = resource
                    .pointer(from()?)
                    .cloned()
                    .ok_or_else(|| at("'from' does not exist".into()))?;
                add(resource, path, v).map_err(at)?;
            }
            "test" => {
                if resource.pointer(path) != Some(&value()?) {
                    return Err(at("test failed".into()));
                }
            }
            other => return Err(format!("operation {i}: unknown op '{other}'")),
        }
    }
    Ok(())
}

fn split(path: &str) -> Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("'{path}' is not a JSON pointer"))?;
    Ok((
        parent.to_owned(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

fn add(doc: &mut Value, path: &str, v: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    let target = doc
        .pointer_mut(&parent)
        .ok_or_else(|| format!("parent '{parent}' does not exist"))?;
    match target {
        Value::Object(m) => {
            m.insert(last, v);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("'{last}' is not an index"))?;
                if i > a.len() {
                    return Err(format!("index {i} is out of range"));
                }
                a.insert(i, v);
            }
        }
        _ => return Err(format!("'{parent}' is not an object or list")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split(path)?;
    let target = doc
        .pointer_mut(&parent)
        .ok_or_else(|| format!("parent '{parent}' does not exist"))?;
    match target {
        Value::Object(m) => m
            .remove(&last)
            .ok_or_else(|| format!("'{path}' does not exist")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("'{last}' is not an index"))?;
            (i < a.len())
                .then(|| a.remove(i))
                .ok_or_else(|| format!("index {i} is out of range"))
        }
        _ => Err(format!("'{parent}' is not an object or list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn add_if_not_present_and_merge() {
        let mut r = json!({"metadata": {"labels": {"app": "x"}}});
        strategic_merge(
            &mut r,
            &json!({"metadata": {"labels": {"+(app)": "y", "+(team)": "core"}}}),
        )
        .unwrap();
        assert_eq!(
            r,
            json!({"metadata": {"labels": {"app": "x", "team": "core"}}})
        );
    }

    #[test]
    fn containers_by_name_and_conditions() {
        let mut r = json!({"spec": {"containers": [{"name": "a", "image": "a:latest"}, {"name": "b", "image": "b:1"}]}});
        let p =
            json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}});
        strategic_merge(&mut r, &p).unwrap();
        assert_eq!(
            r.pointer("/spec/containers/0/imagePullPolicy"),
            Some(&json!("Always"))
        );
        assert_eq!(r.pointer("/spec/containers/1/imagePullPolicy"), None);
        let p = json!({"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}});
        strategic_merge(&mut r, &p).unwrap();
        assert_eq!(r.pointer("/spec/containers/1/image"), Some(&json!("b:2")));
        assert_eq!(r.pointer("/spec/containers/2/name"), Some(&json!("c")));
        let mut r2 = json!({"metadata": {"labels": {"a": "1"}}});
        let cond = json!({"metadata": {"labels": {"(a)": "2", "b": "x"}}});
        assert!(matches!(
            strategic_merge(&mut r2, &cond),
            Err(NotApplied::Condition(_))
        ));
        assert_eq!(r2, json!({"metadata": {"labels": {"a": "1"}}}));
    }

    #[test]
    fn json6902() {
        let mut r =
            json!({"spec": {"containers": [{"name": "a"}]}, "metadata": {"labels": {"x": "1"}}});
        json_patch(
            &mut r,
            &[
                json!({"op": "add", "path": "/spec/containers/-", "value": {"name": "b"}}),
                json!({"op": "replace", "path": "/metadata/labels/x", "value": "2"}),
                json!({"op": "remove", "path": "/spec/containers/0"}),
            ],
        )
        .unwrap();
        assert_eq!(
            r,
            json!({"spec": {"containers": [{"name": "b"}]}, "metadata": {"labels": {"x": "2"}}})
        );
        assert!(json_patch(&mut r, &[json!({"op": "remove", "path": "/nope/x"})]).is_err());
    }
}
