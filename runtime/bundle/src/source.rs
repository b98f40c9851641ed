//! The files a bundle is built from: `bundle.yaml`, the plugin project's
//! `sluice-plugin.yaml` and the policy files, read with the line of every
//! mistake.

use crate::{Error, Result};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_types::load::parse_documents;
use sluice_types::locate::field_position;
use sluice_types::{Capability, PolicyRef};
use std::path::{Path, PathBuf};

/// `bundle.yaml`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BundleFile {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub plugins: Vec<PluginSource>,
    #[serde(default)]
    pub policies: Vec<PolicySource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Metadata {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginSource {
    /// A component (`.wasm`) or a plugin project directory.
    pub path: PathBuf,
    /// Default: the project's `sluice-plugin.yaml`, else none. A list, not
    /// a set, so an unknown name is reported at its own index and line.
    #[serde(default)]
    pub capabilities: Option<Vec<Capability>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicySource {
    pub path: PathBuf,
    /// Default: the file name without its extension.
    #[serde(default)]
    pub name: Option<String>,
}

/// A parsed YAML file that can still say on which line a field is.
pub(crate) struct Located<T> {
    pub value: T,
    pub file: PathBuf,
    text: String,
    doc_line: u32,
}

impl<T> Located<T> {
    /// The line of `path` (`plugins[1].capabilities`), or of the document.
    pub fn line(&self, path: &str) -> u32 {
        field_position(&self.text, self.doc_line, path).map_or(self.doc_line, |(l, _)| l)
    }

    /// An error at `path`.
    pub fn error(&self, path: &str, message: impl Into<String>) -> Error {
        Error::Source {
            file: self.file.clone(),
            line: self.line(path),
            message: format!("{path}: {}", message.into()),
        }
    }
}

/// Reads `file` as one YAML document of type `T`.
pub(crate) fn read_yaml<T: DeserializeOwned>(file: &Path) -> Result<Located<T>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::Io {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    let (doc_line, doc) = one_document(&text, file)?;
    let value = deserialize_at(doc, &text, doc_line, file, "")?;
    Ok(Located {
        value,
        file: file.to_path_buf(),
        text,
        doc_line,
    })
}

fn one_document(text: &str, file: &Path) -> Result<(u32, Value)> {
    let at = |line: u32, message: String| Error::Source {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut docs = parse_documents(text).map_err(|e| at(1, format!("not valid YAML: {e}")))?;
    match docs.len() {
        1 => Ok(docs.remove(0)),
        0 => Err(at(1, "the file is empty".into())),
        _ => Err(at(
            docs[1].0,
            "expected one YAML document, found several".into(),
        )),
    }
}

/// `doc` as `T`; an error names the field path below `prefix` and its line.
fn deserialize_at<T: DeserializeOwned>(
    doc: Value,
    text: &str,
    doc_line: u32,
    file: &Path,
    prefix: &str,
) -> Result<T> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix, inner.as_str()) {
            (p, ".") => p.to_string(),
            ("", i) => i.to_string(),
            (p, i) if i.starts_with('[') => format!("{p}{i}"),
            (p, i) => format!("{p}.{i}"),
        };
        let line = field_position(text, doc_line, &path).map_or(doc_line, |(l, _)| l);
        let shown = if path.is_empty() { "(top)" } else { &path };
        Error::Source {
            file: file.to_path_buf(),
            line,
            message: format!("{shown}: {}", e.inner()),
        }
    })
}

/// A policy file: a YAML list of `PolicyRef`s (as `PolicySet.spec.policies`),
/// or a whole `PolicySet` whose `spec.policies` are taken.
pub(crate) fn parse_policies(text: &str, file: &Path) -> Result<Vec<PolicyRef>> {
    let (doc_line, doc) = one_document(text, file)?;
    match &doc {
        Value::Array(_) => deserialize_at(doc, text, doc_line, file, ""),
        Value::Object(o) if o.get("kind").and_then(Value::as_str) == Some("PolicySet") => {
            let list = doc
                .pointer("/spec/policies")
                .cloned()
                .unwrap_or(Value::Null);
            deserialize_at(list, text, doc_line, file, "spec.policies")
        }
        _ => Err(Error::Source {
            file: file.to_path_buf(),
            line: doc_line,
            message: "expected a list of policies (as PolicySet spec.policies: - {plugin: NAME, config: {...}}) or a PolicySet".into(),
        }),
    }
}

/// Line of entry `index` of the policy list in `text` (for messages about
/// one policy of a file).
pub(crate) fn policy_line(text: &str, index: usize) -> u32 {
    let Ok((doc_line, doc)) = one_document(text, Path::new("")) else {
        return 1;
    };
    let path = if doc.is_array() {
        format!("[{index}]")
    } else {
        format!("spec.policies[{index}]")
    };
    field_position(text, doc_line, &path).map_or(doc_line, |(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_names_the_field_and_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bundle.yaml");
        std::fs::write(
            &file,
            "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {name: p, version: 1.0.0}\nplugins:\n  - path: a.wasm\n  - path: b.wasm\n    capabilites: [http]\n",
        )
        .unwrap();
        let e = read_yaml::<BundleFile>(&file).err().unwrap().to_string();
        assert!(e.contains("bundle.yaml:7: plugins[1]"), "{e}");
        assert!(e.contains("capabilites"), "{e}");
    }

    #[test]
    fn an_unknown_capability_names_its_line_and_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bundle.yaml");
        std::fs::write(
            &file,
            "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {name: p, version: 1.0.0}\nplugins:\n  - path: a.wasm\n    capabilities:\n      - http\n      - ftp\n",
        )
        .unwrap();
        let e = read_yaml::<BundleFile>(&file).err().unwrap().to_string();
        assert!(
            e.contains("bundle.yaml:8: plugins[0].capabilities[1]") && e.contains("`ftp`"),
            "{e}"
        );
        assert!(e.contains("`cosign`"), "the known ones: {e}");
    }

    #[test]
    fn policies_from_a_list_or_a_policy_set() {
        let f = Path::new("p.yaml");
        let list = parse_policies("- plugin: guardrails\n  config: {a: 1}\n", f).unwrap();
        assert_eq!(list[0].plugin, "guardrails");
        let set = parse_policies(
            "apiVersion: sluice.dev/v1alpha1\nkind: PolicySet\nmetadata: {name: b}\nspec:\n  policies:\n    - plugin: schema\n    - plugin: guardrails\n      failureAction: Sometimes\n",
            f,
        )
        .unwrap_err()
        .to_string();
        assert!(
            set.starts_with("p.yaml:8: spec.policies[1].failureAction"),
            "{set}"
        );
        assert_eq!(policy_line("- plugin: a\n- plugin: b\n", 1), 2);
    }
}
