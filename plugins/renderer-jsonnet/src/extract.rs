//! From the evaluated value to Kubernetes objects, as Tanka does: an object
//! with `apiVersion` and `kind` is a manifest (a `…List` with `items` is
//! unwrapped); any other object or array is walked, so environments can nest
//! their objects freely (`{ app: { deployment: …, service: … } }`); `null`s
//! (a false `if` in Jsonnet) are dropped; anything else is a mistake.

use serde_json::{Map, Value};

/// Every Kubernetes object in `value`, in output order, or the problems
/// found, each naming its place in the output.
pub fn extract(value: Value) -> Result<Vec<Map<String, Value>>, Vec<String>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    walk(value, String::new(), &mut found, &mut problems);
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

fn walk(
    value: Value,
    path: String,
    found: &mut Vec<Map<String, Value>>,
    problems: &mut Vec<String>,
) {
    let shown = |path: &str| {
        if path.is_empty() {
            "the top level".to_owned()
        } else {
            format!("'{path}'")
        }
    };
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                walk(item, format!("{path}[{i}]"), found, problems);
            }
        }
        Value::Object(map) => {
            let api = map.get("apiVersion").and_then(Value::as_str).is_some();
            let kind = map.get("kind").and_then(Value::as_str);
            match (api, kind) {
                (true, Some(kind))
                    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) =>
                {
                    let Some(Value::Array(items)) = map.get("items").cloned() else {
                        unreachable!("checked above")
                    };
                    for (i, item) in items.into_iter().enumerate() {
                        walk(item, format!("{path}.items[{i}]"), found, problems);
                    }
                }
                (true, Some(kind)) => {
                    let named = map
                        .get("metadata")
                        .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
                        .and_then(Value::as_str)
                        .is_some_and(|n| !n.is_empty());
                    if named {
                        found.push(map);
                    } else {
                        problems.push(format!(
                            "{kind} at {} has no metadata.name; give it a name",
                            shown(&path)
                        ));
                    }
                }
                (true, None) | (false, Some(_)) => problems.push(format!(
                    "object at {} has {} but no {}; a Kubernetes object needs both",
                    shown(&path),
                    if api { "apiVersion" } else { "kind" },
                    if api { "kind" } else { "apiVersion" },
                )),
                (false, None) => {
                    for (key, item) in map {
                        let inner = if path.is_empty() {
                            key
                        } else {
                            format!("{path}.{key}")
                        };
                        walk(item, inner, found, problems);
                    }
                }
            }
        }
        other => problems.push(format!(
            "found {} at {} where a Kubernetes object, or an object or array of them, was expected",
            kind_of(&other),
            shown(&path)
        )),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        _ => "a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    }

    fn names(v: Value) -> Vec<String> {
        extract(v)
            .unwrap()
            .into_iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn one_object_nested_objects_arrays_and_lists() {
        assert_eq!(names(cm("a")), ["a"]);
        assert_eq!(names(json!([cm("a"), null, cm("b")])), ["a", "b"]);
        assert_eq!(
            names(json!({"app": {"cm": cm("a"), "off": null}, "more": [cm("b")]})),
            ["a", "b"]
        );
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [cm("a"), cm("b")]});
        assert_eq!(names(json!({"l": list, "z": cm("z")})), ["a", "b", "z"]);
        let typed = json!({"apiVersion": "v1", "kind": "ConfigMapList", "items": [cm("c")]});
        assert_eq!(names(typed), ["c"]);
        let e = extract(json!({"l": {"apiVersion": "v1", "kind": "List", "items": [7]}}));
        assert!(e.unwrap_err()[0].contains("'l.items[0]'"));
    }

    #[test]
    fn primitives_half_objects_and_nameless_objects_are_named() {
        let e = extract(json!({"app": {"replicas": 3}})).unwrap_err();
        assert_eq!(
            e,
            [
                "found a number at 'app.replicas' where a Kubernetes object, or an object or array of them, was expected"
            ]
        );
        let e = extract(json!({"x": {"apiVersion": "v1", "metadata": {}}})).unwrap_err();
        assert!(e[0].contains("'x' has apiVersion but no kind"), "{e:?}");
        let e = extract(json!({"apiVersion": "v1", "kind": "Service"})).unwrap_err();
        assert_eq!(
            e,
            ["Service at the top level has no metadata.name; give it a name"]
        );
    }
}
