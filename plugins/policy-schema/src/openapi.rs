//! Kubernetes OpenAPI schemas (k8s-openapi's definitions and the structural
//! `openAPIV3Schema` of CRDs) turned into JSON Schema 2020-12 with
//! kubeconform's reading of them:
//!
//! - strict: an object schema with `properties` rejects other fields
//!   (`additionalProperties: false`) unless it sets `additionalProperties`
//!   or `x-kubernetes-preserve-unknown-fields: true`; maps (an object with
//!   no `properties`: labels, annotations, data) stay open. Schemas inside
//!   `allOf`/`anyOf`/`oneOf`/`not` are value checks on an object already
//!   described around them, so they are never closed;
//! - `x-kubernetes-int-or-string` accepts an integer or a string;
//! - `nullable: true` accepts `null` (other `null` members are dropped from
//!   objects before validation, as the API server prunes them: see
//!   `crate::drop_nulls`), so a nullable required field may also be absent;
//! - OpenAPI 3.0's boolean `exclusiveMinimum`/`exclusiveMaximum` and array
//!   `items` become their 2020-12 forms.
//!
//! Formats are not checked (`int32`, `date-time`, … are annotations), like
//! the API server for most of them.

use serde_json::{Map, Value, json};

/// Rewrites `schema` in place; `strict` closes object schemas as above.
pub fn normalize(schema: &mut Value, strict: bool) {
    walk(schema, strict, false);
}

fn walk(schema: &mut Value, strict: bool, in_check: bool) {
    let Value::Object(s) = schema else { return };
    let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");

    if flag(s, "x-kubernetes-int-or-string") {
        // controller-gen writes `anyOf: [{type: integer}, {type: string}]`
        // beside the flag; one type list reads better in errors.
        if s.get("anyOf").is_some_and(is_int_or_string_pair) {
            s.remove("anyOf");
        }
        s.entry("type")
            .or_insert_with(|| json!(["integer", "string"]));
    }
    if flag(s, "nullable") {
        match s.get_mut("type") {
            Some(Value::String(t)) => {
                let t = std::mem::take(t);
                s.insert("type".into(), json!([t, "null"]));
            }
            Some(Value::Array(types)) if !types.contains(&json!("null")) => {
                types.push(json!("null"));
            }
            _ => {}
        }
        if let Some(Value::Array(options)) = s.get_mut("enum")
            && !options.contains(&Value::Null)
        {
            options.push(Value::Null);
        }
    }
    for (bool_key, limit_key) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(exclusive)) = s.get(bool_key) {
            let exclusive = *exclusive;
            s.remove(bool_key);
            if exclusive && let Some(limit) = s.remove(limit_key) {
                s.insert(bool_key.into(), limit);
            }
        }
    }
    if s.get("items").is_some_and(Value::is_array) {
        let tuple = s.remove("items").expect("checked");
        s.insert("prefixItems".into(), tuple);
    }
    if flag(s, "x-kubernetes-embedded-resource")
        && let Some(Value::Object(props)) = s.get_mut("properties")
    {
        for (field, schema) in [
            ("apiVersion", json!({"type": "string"})),
            ("kind", json!({"type": "string"})),
            ("metadata", json!({"type": "object"})),
        ] {
            props.entry(field).or_insert(schema);
        }
    }

    if let Some(Value::Object(props)) = s.get_mut("properties") {
        let nullable: Vec<String> = props
            .iter()
            .filter(|(_, p)| p.get("nullable") == Some(&Value::Bool(true)))
            .map(|(name, _)| name.clone())
            .collect();
        props.values_mut().for_each(|p| walk(p, strict, false));
        if !nullable.is_empty()
            && let Some(Value::Array(required)) = s.get_mut("required")
        {
            required.retain(|r| r.as_str().is_none_or(|r| !nullable.iter().any(|n| n == r)));
        }
        if strict && !in_check && !preserve && !s.contains_key("additionalProperties") {
            s.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = s.get_mut(key) {
            walk(sub, strict, false);
        }
    }
    if let Some(Value::Array(items)) = s.get_mut("prefixItems") {
        items.iter_mut().for_each(|i| walk(i, strict, false));
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = s.get_mut(key) {
            subs.iter_mut().for_each(|sub| walk(sub, strict, true));
        }
    }
    if let Some(sub) = s.get_mut("not") {
        walk(sub, strict, true);
    }
    if let Some(Value::Object(defs)) = s.get_mut("$defs") {
        defs.values_mut().for_each(|d| walk(d, strict, false));
    }
}

fn flag(s: &Map<String, Value>, key: &str) -> bool {
    s.get(key) == Some(&Value::Bool(true))
}

fn is_int_or_string_pair(any_of: &Value) -> bool {
    let Some(options) = any_of.as_array() else {
        return false;
    };
    options.len() == 2
        && options.iter().all(|o| {
            o.as_object().is_some_and(|o| {
                o.len() == 1
                    && matches!(
                        o.get("type").and_then(Value::as_str),
                        Some("integer" | "string")
                    )
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(mut schema: Value, strict: bool) -> Value {
        normalize(&mut schema, strict);
        schema
    }

    #[test]
    fn objects_with_properties_are_closed_maps_stay_open() {
        let s = normalized(
            json!({"type": "object", "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "spec": {"type": "object", "properties": {"a": {"type": "string"}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                         "properties": {"b": {"type": "string"}}},
                "raw": {"type": "object"}
            }}),
            true,
        );
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(
            s["properties"]["labels"]["additionalProperties"],
            json!({"type": "string"})
        );
        assert_eq!(s["properties"]["spec"]["additionalProperties"], false);
        assert!(
            s["properties"]["free"]
                .get("additionalProperties")
                .is_none()
        );
        assert!(s["properties"]["raw"].get("additionalProperties").is_none());
        let lax = normalized(json!({"properties": {"a": {}}}), false);
        assert!(lax.get("additionalProperties").is_none());
    }

    #[test]
    fn value_checks_inside_compositions_are_not_closed() {
        let s = normalized(
            json!({"properties": {"a": {}, "b": {}},
                   "anyOf": [{"properties": {"a": {"minLength": 1}}}, {"required": ["b"]}]}),
            true,
        );
        assert!(s["anyOf"][0].get("additionalProperties").is_none());
    }

    #[test]
    fn int_or_string_nullable_and_openapi_30_forms() {
        let s = normalized(
            json!({"properties": {
                "port": {"x-kubernetes-int-or-string": true,
                         "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "note": {"type": "string", "nullable": true, "enum": ["a"]},
                "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true,
                          "maximum": 1, "exclusiveMaximum": false},
                "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}
            }, "required": ["note", "port"]}),
            true,
        );
        let p = &s["properties"];
        assert_eq!(
            p["port"],
            json!({"x-kubernetes-int-or-string": true, "type": ["integer", "string"]})
        );
        assert_eq!(p["note"]["type"], json!(["string", "null"]));
        assert_eq!(p["note"]["enum"], json!(["a", null]));
        assert_eq!(
            s["required"],
            json!(["port"]),
            "a nullable field may be pruned"
        );
        assert_eq!(
            p["ratio"],
            json!({"type": "number", "exclusiveMinimum": 0, "maximum": 1})
        );
        assert_eq!(p["pair"]["prefixItems"][1], json!({"type": "integer"}));
    }

    #[test]
    fn embedded_resources_keep_their_type_meta() {
        let s = normalized(
            json!({"type": "object", "x-kubernetes-embedded-resource": true,
                   "properties": {"spec": {"type": "object"}}}),
            true,
        );
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["kind"], json!({"type": "string"}));
        assert_eq!(s["properties"]["metadata"], json!({"type": "object"}));
    }
}
