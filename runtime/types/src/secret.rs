//! `v1` Secrets declared beside the Sluice objects, which Sources reference
//! by `spec.secretRef` when there is no cluster to read them from.

use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A Secret's decoded entries (`data` base64-decoded, `stringData` as is,
/// `stringData` winning as the API server does). `Debug` shows keys only.
#[derive(Clone)]
pub struct SecretData {
    pub name: String,
    pub namespace: String,
    pub data: BTreeMap<String, Vec<u8>>,
    pub file: PathBuf,
    pub line: u32,
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretData")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .field("file", &self.file)
            .field("line", &self.line)
            .finish()
    }
}

impl SecretData {
    /// Reads a `v1` Secret document; the error is a field path and message
    /// that never quotes a value.
    pub fn from_document(doc: &Value, file: PathBuf, line: u32) -> Result<SecretData, String> {
        let meta = doc.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("Secret: metadata.name must be set")?
            .to_owned();
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned();
        let mut data = BTreeMap::new();
        for (field, encoded) in [("data", true), ("stringData", false)] {
            let Some(entries) = doc.get(field) else {
                continue;
            };
            let entries = entries
                .as_object()
                .ok_or_else(|| format!("Secret '{name}': {field} must be a map of key to value"))?;
            for (key, value) in entries {
                let text = value
                    .as_str()
                    .ok_or_else(|| format!("Secret '{name}': {field}.{key} must be a string"))?;
                let bytes = if encoded {
                    base64::engine::general_purpose::STANDARD
                        .decode(text.trim())
                        .map_err(|_| {
                            format!("Secret '{name}': {field}.{key} is not valid base64; put plain text under stringData instead")
                        })?
                } else {
                    text.as_bytes().to_vec()
                };
                data.insert(key.clone(), bytes);
            }
        }
        Ok(SecretData {
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
    fn decodes_data_and_string_data() {
        let doc = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "apps"},
            "data": {"username": "Z2l0", "password": "b2xk"},
            "stringData": {"password": "hunter2"},
        });
        let s = SecretData::from_document(&doc, "defs.yaml".into(), 3).unwrap();
        assert_eq!(s.namespace, "apps");
        assert_eq!(s.data["username"], b"git");
        assert_eq!(s.data["password"], b"hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn bad_base64_names_the_key_not_the_value() {
        let doc = json!({
            "kind": "Secret", "metadata": {"name": "creds"},
            "data": {"token": "not base64!!"},
        });
        let e = SecretData::from_document(&doc, "d.yaml".into(), 1).unwrap_err();
        assert!(e.contains("data.token"), "{e}");
        assert!(!e.contains("not base64!!"), "{e}");
    }
}
