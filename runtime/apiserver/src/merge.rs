//! Merging JSON documents: RFC 7386 merge patch, and the structured merge
//! that both strategic merge patch and server-side apply use (keyed lists
//! merged item by item, sets unioned, everything else replaced).

use serde_json::{Map, Value};

use crate::schema::{ListType, atomic_map, item_key, list_type};

/// RFC 7386: objects merge recursively, `null` deletes, the rest replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Strategic merge of `patch` into `target`. `builtin` selects the merge
/// keys of the Kubernetes types; patch directives (`$patch: replace|delete`,
/// `$deleteFromPrimitiveList/…`) are honoured, other `$` keys are dropped.
pub fn strategic_merge(target: &mut Value, patch: &Value, builtin: bool) {
    merge_object(target, patch, builtin);
}

fn merge_object(target: &mut Value, patch: &Value, builtin: bool) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = patch.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(live)), Value::Array(gone)) = (target.get_mut(field), value) {
                live.retain(|v| !gone.contains(v));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() || value.get("$patch").and_then(Value::as_str) == Some("delete") {
            target.remove(key);
            continue;
        }
        let slot = target.entry(key.clone()).or_insert(Value::Null);
        merge_field(slot, key, value, builtin);
    }
}

fn merge_field(slot: &mut Value, field: &str, value: &Value, builtin: bool) {
    match (&mut *slot, value) {
        (Value::Object(_), Value::Object(_)) if !atomic_map(builtin, field) => {
            merge_object(slot, value, builtin)
        }
        (Value::Array(live), Value::Array(items)) => {
            let mut all = live.clone();
            all.extend(items.iter().cloned());
            match list_type(builtin, field, &all) {
                ListType::Atomic => *slot = strip_directives(value),
                ListType::Set => {
                    for item in items {
                        if !live.contains(item) {
                            live.push(item.clone());
                        }
                    }
                }
                ListType::Map(keys) => merge_keyed(live, items, keys, builtin),
            }
        }
        _ => *slot = strip_directives(value),
    }
}

fn merge_keyed(live: &mut Vec<Value>, items: &[Value], keys: &[&str], builtin: bool) {
    for item in items {
        let key = item_key(keys, item);
        let position = live.iter().position(|l| item_key(keys, l) == key);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                live.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => merge_object(&mut live[i], item, builtin),
            (None, false) => live.push(strip_directives(item)),
        }
    }
}

/// A value as stored: without patch directives and explicit nulls.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut live = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "b:1"}]}});
        let patch = json!({"spec": {"containers": [
            {"name": "a", "image": "a:2", "ports": [{"containerPort": 443}]},
            {"name": "b", "$patch": "delete"},
            {"name": "c", "image": "c:1"}]}});
        strategic_merge(&mut live, &patch, true);
        assert_eq!(
            live,
            json!({"spec": {"containers": [
                {"name": "a", "image": "a:2", "ports": [{"containerPort": 80}, {"containerPort": 443}]},
                {"name": "c", "image": "c:1"}]}})
        );
    }

    #[test]
    fn merge_patch_replaces_lists_and_deletes_nulls() {
        let mut live = json!({"a": [1, 2], "b": {"c": 1, "d": 2}});
        merge_patch(&mut live, &json!({"a": [3], "b": {"c": null}}));
        assert_eq!(live, json!({"a": [3], "b": {"d": 2}}));
    }
}
