//! CustomResourceDefinitions: their validation and the status the
//! apiextensions controllers would give them.

use serde_json::{Value, json};

use super::Target;
use crate::clock;
use crate::resources::{CRD_GROUP, CRD_PLURAL, ResourceInfo};
use crate::status::{ApiError, cause};

pub fn is_crd(info: &ResourceInfo) -> bool {
    info.builtin() && info.group == CRD_GROUP && info.plural == CRD_PLURAL
}

pub fn validate_crd(crd: &Value, t: &Target) -> Result<(), ApiError> {
    let text = |p: &str| crd.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let mut causes = Vec::new();
    for (field, pointer) in [
        ("spec.group", "/spec/group"),
        ("spec.names.plural", "/spec/names/plural"),
        ("spec.names.kind", "/spec/names/kind"),
    ] {
        if text(pointer).is_empty() {
            causes.push(cause("FieldValueRequired", field, "Required value"));
        }
    }
    if !matches!(text("/spec/scope"), "Namespaced" | "Cluster") {
        causes.push(cause(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: \"{}\": supported values: \"Cluster\", \"Namespaced\"",
                text("/spec/scope")
            ),
        ));
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    let expected = format!("{}.{}", text("/spec/names/plural"), text("/spec/group"));
    if text("/metadata/name") != expected {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!(
                "Invalid value: \"{}\": must be spec.names.plural+\".\"+spec.group",
                text("/metadata/name")
            ),
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            t.info.subject(),
            text("/metadata/name"),
            causes,
        ))
    }
}

/// What the apiextensions controllers would write: names accepted, the
/// definition established, the storage version recorded.
pub fn accept_crd(crd: &mut Value) -> Result<(), ApiError> {
    let mut names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if names.get("singular").is_none() {
        names["singular"] = json!(kind.to_lowercase());
    }
    if names.get("listKind").is_none() {
        names["listKind"] = json!(format!("{kind}List"));
    }
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let now = clock::now_rfc3339();
    let since = |kind: &str| {
        crd.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == kind))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now))
    };
    let mut stored = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in storage {
        if !stored.contains(&v) {
            stored.push(v);
        }
    }
    let status = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": since("NamesAccepted")},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": since("Established")},
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    });
    crd.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the request body must be an object"))?
        .insert("status".into(), status);
    Ok(())
}
