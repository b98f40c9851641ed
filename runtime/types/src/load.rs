//! Reads Sluice objects from YAML files, keeping file and line for errors.

use crate::configmap::ConfigMapData;
use crate::object::{
    API_VERSION, Object, ObjectMeta, PluginSpec, PolicySetSpec, ReleaseSpec, SourceSpec,
};
use crate::secret::SecretData;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// An object and where it was declared.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub object: Object,
    pub file: PathBuf,
    /// 1-based line of the document.
    pub line: u32,
}

impl Loaded {
    /// Directory that relative paths in this object are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// Namespace, `default` when unset (as kubectl does).
    pub fn namespace(&self) -> &str {
        self.object.meta().namespace.as_deref().unwrap_or("default")
    }

    pub fn name(&self) -> &str {
        &self.object.meta().name
    }
}

/// A located problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    /// 0 when the problem is the file itself.
    pub line: u32,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Every Sluice object found in the inputs, with lookups by reference.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub items: Vec<Loaded>,
    /// `v1` Secrets declared beside the objects (for `spec.secretRef`).
    pub secrets: Vec<SecretData>,
    /// `v1` ConfigMaps declared beside the objects (for `substituteFrom`).
    pub config_maps: Vec<ConfigMapData>,
}

impl Objects {
    /// Loads a file, or every `*.yaml`/`*.yml` file directly inside a directory
    /// (not below it, so manifest trees next to the objects are left alone).
    /// Documents of other API groups are skipped.
    pub fn load(path: &Path) -> Result<Objects, LoadError> {
        let mut objects = Objects::default();
        objects.read(path)?;
        Ok(objects)
    }

    /// Like [`load`](Self::load), adding to the objects already read; a
    /// name declared twice across files is an error.
    pub fn read(&mut self, path: &Path) -> Result<(), LoadError> {
        let files = if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| io_error(path, e))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_yaml(p))
                .collect();
            files.sort();
            files
        } else if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            return Err(LoadError {
                file: path.to_path_buf(),
                line: 0,
                message: "no such file or directory".into(),
            });
        };
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| io_error(&file, e))?;
            self.parse_into(&file, &text)?;
        }
        Ok(())
    }

    /// Parses one file's text; `file` is used for locations and relative paths.
    pub fn parse_into(&mut self, file: &Path, text: &str) -> Result<(), LoadError> {
        let docs = parse_documents(text).map_err(|message| LoadError {
            file: file.to_path_buf(),
            line: 0,
            message,
        })?;
        for (line, doc) in docs {
            let at = |message: String| LoadError {
                file: file.to_path_buf(),
                line,
                message,
            };
            let Some(api_version) = doc.get("apiVersion").and_then(Value::as_str) else {
                continue;
            };
            if api_version == "v1" && doc.get("kind").and_then(Value::as_str) == Some("Secret") {
                let secret =
                    SecretData::from_document(&doc, file.to_path_buf(), line).map_err(at)?;
                if self
                    .secrets
                    .iter()
                    .any(|s| s.name == secret.name && s.namespace == secret.namespace)
                {
                    return Err(at(format!("Secret '{}' is declared twice", secret.name)));
                }
                self.secrets.push(secret);
                continue;
            }
            if api_version == "v1" && doc.get("kind").and_then(Value::as_str) == Some("ConfigMap") {
                let map =
                    ConfigMapData::from_document(&doc, file.to_path_buf(), line).map_err(at)?;
                if self
                    .config_maps
                    .iter()
                    .any(|c| c.name == map.name && c.namespace == map.namespace)
                {
                    return Err(at(format!("ConfigMap '{}' is declared twice", map.name)));
                }
                self.config_maps.push(map);
                continue;
            }
            if !api_version.starts_with("sluice.dev/") {
                continue;
            }
            if api_version != API_VERSION {
                return Err(at(format!(
                    "apiVersion '{api_version}' is not served; use '{API_VERSION}'"
                )));
            }
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
            // Points at the bad field's own line when it can be found.
            let at_field = |(path, m): (String, String), what: &str| {
                let line =
                    crate::locate::field_position(text, line, &path).map_or(line, |(l, _)| l);
                LoadError {
                    file: file.to_path_buf(),
                    line,
                    message: format!("{what}: {path}: {m}"),
                }
            };
            let meta: ObjectMeta = field(&doc, "metadata").map_err(|e| at_field(e, kind))?;
            if meta.name.is_empty() {
                return Err(at(format!("{kind}: metadata.name must not be empty")));
            }
            let what = format!("{kind} '{}'", meta.name);
            let spec_err = |e| at_field(e, &what);
            let object = match kind {
                "Source" => {
                    Object::Source(meta, field::<SourceSpec>(&doc, "spec").map_err(spec_err)?)
                }
                "Release" => {
                    Object::Release(meta, field::<ReleaseSpec>(&doc, "spec").map_err(spec_err)?)
                }
                "PolicySet" => {
                    let spec = field::<PolicySetSpec>(&doc, "spec").map_err(spec_err)?;
                    spec.validate()
                        .map_err(|(path, m)| spec_err((path.to_owned(), m)))?;
                    Object::PolicySet(meta, spec)
                }
                "Plugin" => {
                    let spec = field::<PluginSpec>(&doc, "spec").map_err(spec_err)?;
                    spec.validate()
                        .map_err(|(path, m)| spec_err((path.to_owned(), m)))?;
                    Object::Plugin(meta, spec)
                }
                other => {
                    return Err(at(format!(
                        "unknown kind '{other}'; {API_VERSION} has Source, Release, PolicySet and Plugin"
                    )));
                }
            };
            let loaded = Loaded {
                object,
                file: file.to_path_buf(),
                line,
            };
            if let Some(prev) = self.items.iter().find(|o| {
                o.object.kind() == loaded.object.kind()
                    && o.name() == loaded.name()
                    && o.namespace() == loaded.namespace()
            }) {
                return Err(at(format!(
                    "{what} is declared twice; the first is at {}:{}",
                    prev.file.display(),
                    prev.line
                )));
            }
            self.items.push(loaded);
        }
        Ok(())
    }

    /// Releases in declaration order.
    pub fn releases(&self) -> impl Iterator<Item = &Loaded> {
        self.items
            .iter()
            .filter(|o| matches!(o.object, Object::Release(..)))
    }

    /// The object of `kind` named `name` in `namespace`.
    pub fn find(&self, kind: &str, namespace: &str, name: &str) -> Option<&Loaded> {
        self.items
            .iter()
            .find(|o| o.object.kind() == kind && o.name() == name && o.namespace() == namespace)
    }

    /// The Secret `name` in `namespace`.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&SecretData> {
        self.secrets
            .iter()
            .find(|s| s.name == name && s.namespace == namespace)
    }

    /// The ConfigMap `name` in `namespace`.
    pub fn config_map(&self, namespace: &str, name: &str) -> Option<&ConfigMapData> {
        self.config_maps
            .iter()
            .find(|c| c.name == name && c.namespace == namespace)
    }

    /// `Plugin` objects in declaration order.
    pub fn plugins(&self) -> impl Iterator<Item = &Loaded> {
        self.items
            .iter()
            .filter(|o| matches!(o.object, Object::Plugin(..)))
    }
}

/// Parses a YAML stream into documents with the line each starts on.
/// Booleans are YAML 1.2 strict and numbers with leading zeros stay strings,
/// so `yes` and `0755` mean what users of Kubernetes tools expect.
pub fn parse_documents(text: &str) -> Result<Vec<(u32, Value)>, String> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let docs: Vec<serde_saphyr::Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| e.to_string())?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| (d.referenced.line() as u32, d.value))
        .collect())
}

/// Deserialises `doc[name]`; the error is the field path and the message.
fn field<T: DeserializeOwned>(doc: &Value, name: &str) -> Result<T, (String, String)> {
    let value = doc.get(name).cloned().unwrap_or(Value::Null);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            name.to_owned()
        } else {
            format!("{name}.{path}")
        };
        (path, e.into_inner().to_string())
    })
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn io_error(path: &Path, e: std::io::Error) -> LoadError {
    LoadError {
        file: path.to_path_buf(),
        line: 0,
        message: format!("cannot read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata:
  name: web
spec:
  sourceRef: {name: app}
  renderer: {plugin: plain}
  policies:
    - plugin: guardrails
      failureAction: Audit
";

    #[test]
    fn reads_release_with_line() {
        let mut o = Objects::default();
        o.parse_into(Path::new("x.yaml"), RELEASE).unwrap();
        assert_eq!(o.items.len(), 1);
        let r = &o.items[0];
        assert_eq!(r.line, 6);
        let Object::Release(_, spec) = &r.object else {
            panic!()
        };
        assert_eq!(spec.policies[0].failure_action, crate::FailureAction::Audit);
        assert_eq!(spec.path, "./");
    }

    #[test]
    fn typo_names_field_and_line() {
        let mut o = Objects::default();
        let bad = RELEASE.replace("failureAction: Audit", "failureAction: Audti");
        let e = o.parse_into(Path::new("x.yaml"), &bad).unwrap_err();
        assert_eq!(e.line, 15, "points at the failureAction line");
        assert!(
            e.message
                .starts_with("Release 'web': spec.policies[0].failureAction: unknown variant"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unknown_field_is_an_error() {
        let mut o = Objects::default();
        let bad = RELEASE.replace("renderer:", "rendrer:");
        let e = o.parse_into(Path::new("x.yaml"), &bad).unwrap_err();
        assert!(
            e.message.contains("unknown field `rendrer`"),
            "{}",
            e.message
        );
    }

    const PLUGIN: &str = "apiVersion: sluice.dev/v1alpha1
kind: Plugin
metadata: {name: limits}
spec:
  kind: policy
  file: limits.wasm
  capabilities: [http]
";

    #[test]
    fn plugin_takes_a_file_or_a_bundle() {
        let mut o = Objects::default();
        o.parse_into(Path::new("p.yaml"), PLUGIN).unwrap();
        let Object::Plugin(_, spec) = &o.items[0].object else {
            panic!()
        };
        assert_eq!(spec.capabilities.to_string(), "http");

        let both = PLUGIN.replace(
            "  file: limits.wasm\n",
            "  file: limits.wasm\n  bundle: {url: oci://r.example/b:1.0}\n",
        );
        let e = Objects::default()
            .parse_into(Path::new("p.yaml"), &both)
            .unwrap_err();
        assert!(
            e.message
                .starts_with("Plugin 'limits': spec: set exactly one of spec.file"),
            "{}",
            e.message
        );

        let bad = PLUGIN.replace(
            "  file: limits.wasm\n",
            "  bundle:\n    url: https://r.example/b:1.0\n",
        );
        let e = Objects::default()
            .parse_into(Path::new("p.yaml"), &bad)
            .unwrap_err();
        assert_eq!(e.line, 7, "points at the url line");
        assert!(e.message.contains("spec.bundle.url"), "{}", e.message);

        let unknown = PLUGIN.replace("[http]", "[ftp]");
        let e = Objects::default()
            .parse_into(Path::new("p.yaml"), &unknown)
            .unwrap_err();
        assert!(e.message.contains("unknown variant `ftp`"), "{}", e.message);
    }

    #[test]
    fn strict_yaml_scalars() {
        let docs = parse_documents("a: yes\nb: 0755\nc: true\n").unwrap();
        assert_eq!(docs[0].1["a"], "yes");
        assert_eq!(docs[0].1["b"], "0755");
        assert_eq!(docs[0].1["c"], true);
    }
}
