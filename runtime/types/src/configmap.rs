//! `v1` ConfigMaps declared beside the Sluice objects, which Releases read
//! variables from (`spec.postBuild.substituteFrom`) when there is no
//! cluster to read them from.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A ConfigMap's `data` (what Flux substitutes from; `binaryData` is not).
#[derive(Debug, Clone)]
pub struct ConfigMapData {
    pub name: String,
    pub namespace: String,
    pub data: BTreeMap<String, String>,
    pub file: PathBuf,
    pub line: u32,
}

impl ConfigMapData {
    /// Reads a `v1` ConfigMap document; the error is a field path and message.
    pub fn from_document(doc: &Value, file: PathBuf, line: u32) -> Result<ConfigMapData, String> {
        let meta = doc.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("ConfigMap: metadata.name must be set")?
            .to_owned();
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned();
        let mut data = BTreeMap::new();
        if let Some(entries) = doc.get("data").filter(|d| !d.is_null()) {
            let entries = entries.as_object().ok_or_else(|| {
                format!("ConfigMap '{name}': data must be a map of key to string")
            })?;
            for (key, value) in entries {
                let text = value.as_str().ok_or_else(|| {
                    format!("ConfigMap '{name}': data.{key} must be a string; quote it")
                })?;
                data.insert(key.clone(), text.to_owned());
            }
        }
        Ok(ConfigMapData {
            name,
            namespace,
            data,
            file,
            line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_data_and_defaults_the_namespace() {
        let doc = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "vars"},
            "data": {"cluster_env": "prod", "replicas": "3"},
        });
        let c = ConfigMapData::from_document(&doc, "defs.yaml".into(), 4).unwrap();
        assert_eq!((c.name.as_str(), c.namespace.as_str()), ("vars", "default"));
        assert_eq!(c.data["replicas"], "3");
    }

    #[test]
    fn unquoted_numbers_are_refused_with_the_key() {
        let doc =
            json!({"kind": "ConfigMap", "metadata": {"name": "vars"}, "data": {"replicas": 3}});
        let e = ConfigMapData::from_document(&doc, "d.yaml".into(), 1).unwrap_err();
        assert_eq!(
            e,
            "ConfigMap 'vars': data.replicas must be a string; quote it"
        );
    }
}
