//! What one apply would change: whether a dry-run result differs from the
//! live object (no write when it does not), and which fields another
//! manager changed behind our back (drift).

use serde_json::Value;

/// Whether applying would leave `live` as it is: the dry-run result equals
/// the live object except for what every write bumps.
pub(crate) fn unchanged(live: &Value, dry_run: &Value) -> bool {
    comparable(live) == comparable(dry_run)
}

fn comparable(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        if let Some(entries) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                entry.remove("time");
            }
        }
    }
    object
}

/// Fields the desired object sets whose live value differs and that
/// another manager owns: someone edited them by hand (or another tool
/// did). A field only we own that differs is a change of ours, not drift.
pub(crate) fn drifted_fields(desired: &Value, live: &Value, manager: &str) -> Vec<String> {
    let others: Vec<&Value> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| !(e["manager"] == manager && e["operation"] == "Apply"))
        .filter(|e| e.get("subresource").is_none_or(|s| s == ""))
        .filter_map(|e| e.get("fieldsV1"))
        .collect();
    let mut found = Vec::new();
    let mut path = Vec::new();
    walk(desired, Some(live), &others, &mut path, &mut found);
    found
}

fn walk<'a>(
    desired: &'a Value,
    live: Option<&Value>,
    others: &[&Value],
    path: &mut Vec<&'a str>,
    found: &mut Vec<String>,
) {
    match desired {
        Value::Object(map) => {
            for (key, value) in map {
                if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                path.push(key);
                walk(value, live.and_then(|l| l.get(key)), others, path, found);
                path.pop();
            }
        }
        leaf => {
            if live != Some(leaf) && others.iter().any(|fields| owns(fields, path)) {
                found.push(path.join("."));
            }
        }
    }
}

/// Whether a FieldsV1 set contains `path` (or something below it).
fn owns(fields: &Value, path: &[&str]) -> bool {
    let mut node = fields;
    for segment in path {
        match node.get(format!("f:{segment}")) {
            Some(next) => node = next,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unchanged_ignores_resource_version_and_times() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "1",
            "managedFields": [{"manager": "sluice", "time": "t1"}]}, "data": {"k": "v"}});
        let mut dry = live.clone();
        dry["metadata"]["resourceVersion"] = json!("2");
        dry["metadata"]["managedFields"][0]["time"] = json!("t2");
        assert!(unchanged(&live, &dry));
        dry["data"]["k"] = json!("w");
        assert!(!unchanged(&live, &dry));
    }

    #[test]
    fn drift_is_a_difference_another_manager_owns() {
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
            "data": {"mine": "1", "edited": "1"}});
        let live = json!({"metadata": {"name": "a", "managedFields": [
            {"manager": "sluice", "operation": "Apply", "fieldsV1": {"f:data": {"f:mine": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:edited": {}}}},
        ]}, "data": {"mine": "0", "edited": "2"}});
        assert_eq!(drifted_fields(&desired, &live, "sluice"), ["data.edited"]);
    }
}
