//! Metadata-only answers: clients that send
//! `Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`
//! (kube's `get_metadata`, `list_metadata`, `metadata_watcher`) get
//! `PartialObjectMetadata` objects and lists instead of whole objects.

use serde_json::{Value, json};

/// Whether an `Accept` header asks for metadata only.
pub fn requested(accept: &str) -> bool {
    accept.contains("as=PartialObjectMetadata")
}

/// One object reduced to its metadata.
pub fn object(value: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": value.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// An answer (object, list or `Status`) in its metadata-only form.
pub fn answer(value: Value) -> Value {
    if value["kind"] == "Status" {
        return value;
    }
    match value.get("items").and_then(Value::as_array) {
        Some(items) => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": value.get("metadata").cloned().unwrap_or_else(|| json!({})),
            "items": items.iter().map(object).collect::<Vec<_>>(),
        }),
        None => object(&value),
    }
}
