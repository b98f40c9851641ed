//! The little schema knowledge strategic merge and server-side apply need:
//! which lists are keyed (merged item by item), which are sets, and which
//! maps are atomic. Built-in kinds use the merge keys of the Kubernetes
//! types; custom resources only get the standard metadata lists, every other
//! list of theirs is atomic (no `x-kubernetes-list-type` support).

use serde_json::{Map, Value};

/// How a list is merged and owned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ListType {
    /// Replaced as a whole; owned as one field.
    Atomic,
    /// Scalars merged by value (`v:` in FieldsV1).
    Set,
    /// Objects merged by these key fields (`k:` in FieldsV1), alphabetical.
    Map(&'static [&'static str]),
}

/// The list semantics of `field` holding `items`.
pub fn list_type(builtin: bool, field: &str, items: &[Value]) -> ListType {
    match field {
        "finalizers" => return ListType::Set,
        "ownerReferences" => return ListType::Map(&["uid"]),
        _ if !builtin => return ListType::Atomic,
        _ => {}
    }
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => ListType::Map(&["name"]),
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => {
            ListType::Map(&["containerPort", "protocol"])
        }
        "ports" => ListType::Map(&["port", "protocol"]),
        "volumeMounts" => ListType::Map(&["mountPath"]),
        "volumeDevices" => ListType::Map(&["devicePath"]),
        "hostAliases" => ListType::Map(&["ip"]),
        "conditions" => ListType::Map(&["type"]),
        "topologySpreadConstraints" => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        _ => ListType::Atomic,
    }
}

/// Maps owned as one field: label selectors are `structType=atomic`.
pub fn atomic_map(builtin: bool, field: &str) -> bool {
    builtin && field == "selector"
}

/// Maps whose entries are owned one by one and which carry a `.` marker of
/// their own in FieldsV1, as string maps do on a real server.
pub fn granular_map(field: &str) -> bool {
    matches!(
        field,
        "labels" | "annotations" | "data" | "stringData" | "binaryData" | "nodeSelector"
    )
}

/// The key of a keyed-list item: its key fields in order, with the
/// `protocol: TCP` default a real server fills in before comparing.
pub fn item_key(keys: &[&str], item: &Value) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| {
            let value = item
                .get(*k)
                .cloned()
                .or_else(|| (*k == "protocol").then(|| Value::from("TCP")))?;
            Some(((*k).to_owned(), value))
        })
        .collect()
}
