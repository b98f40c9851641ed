//! `generators:` and `transformers:` entries that configure kustomize's
//! built-in plugins (`apiVersion: builtin`). They are configuration, not
//! programs, so they run here as the same code as the kustomization fields;
//! any other plugin (exec, container, Go) is refused.

use super::{Acc, Builder};
use crate::config::{FieldSpec, TransformerConfig};
use crate::error::{Error, Result};
use crate::fs::join;
use crate::generators;
use crate::kustomization::{GeneratorArgs, Image, Patch, Replacement, Replica, Selector};
use crate::replacements;
use crate::transforms;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn field<T: DeserializeOwned>(doc: &Value, name: &str, file: &str) -> Result<Option<T>> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| Error::at(format!("field '{name}': {e}"), file)),
    }
}

fn text(doc: &Value, name: &str) -> String {
    doc.get(name)
        .map(crate::resource::scalar_string)
        .unwrap_or_default()
}

/// `fieldSpecs:` of a plugin configuration.
fn specs(doc: &Value, file: &str) -> Result<Vec<FieldSpec>> {
    let list = doc.get("fieldSpecs").cloned().unwrap_or(Value::Null);
    let mut tc = TransformerConfig::default();
    tc.merge_value(&json!({ "commonLabels": list }), file)?;
    Ok(tc.common_labels)
}

fn pairs(doc: &Value, name: &str) -> Vec<(String, String)> {
    doc.get(name)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), crate::resource::scalar_string(v)))
                .collect()
        })
        .unwrap_or_default()
}

impl Builder<'_> {
    /// The plugin configurations an entry holds: a file of the
    /// kustomization's directory, or inline YAML.
    fn plugin_configs(
        &self,
        dir: &str,
        kfile: &str,
        entry: &str,
        list: &str,
    ) -> Result<Vec<(Value, String)>> {
        let (text, file) = if entry.contains('\n') {
            (entry.to_owned(), kfile.to_owned())
        } else {
            if join(dir, entry).is_some_and(|p| self.fs.is_dir(&p)) {
                return Err(Error::at(
                    format!("{list}: '{entry}' is a directory; list plugin configuration files"),
                    kfile,
                ));
            }
            let file = self.local_file(dir, kfile, entry, list)?;
            (self.read_text(&file)?, file)
        };
        let docs = crate::yaml::documents(&file, &text)?;
        let mut out = Vec::new();
        for (doc, line) in docs {
            let api = text_of(&doc, "apiVersion");
            if api != "builtin" {
                let kind = text_of(&doc, "kind");
                return Err(Error::at(
                    format!(
                        "{list}: plugin {api}/{kind} would run a program, which this sandboxed renderer does not; only built-in plugin configurations (apiVersion: builtin) are supported"
                    ),
                    &file,
                )
                .line(line, 0));
            }
            out.push((doc, file.clone()));
        }
        Ok(out)
    }

    pub(super) fn run_generators(
        &mut self,
        dir: &str,
        kfile: &str,
        entries: &[String],
        acc: &mut Acc,
    ) -> Result<()> {
        for entry in entries {
            for (doc, file) in self.plugin_configs(dir, kfile, entry, "generators")? {
                let kind = text_of(&doc, "kind");
                let secret = match kind.as_str() {
                    "ConfigMapGenerator" => false,
                    "SecretGenerator" => true,
                    other => {
                        return Err(Error::at(
                            format!("generators: built-in plugin '{other}' is not a generator"),
                            &file,
                        ));
                    }
                };
                let md = doc.get("metadata").cloned().unwrap_or(Value::Null);
                let mut args = doc.clone();
                if let Some(m) = args.as_object_mut() {
                    for k in ["apiVersion", "kind", "metadata"] {
                        m.shift_remove(k);
                    }
                    m.insert(
                        "name".into(),
                        md.get("name").cloned().unwrap_or(Value::Null),
                    );
                    if let Some(ns) = md.get("namespace") {
                        m.insert("namespace".into(), ns.clone());
                    }
                }
                let args: GeneratorArgs = serde_json::from_value(args)
                    .map_err(|e| Error::at(format!("invalid {kind}: {e}"), &file))?;
                let r = generators::generate(self.fs, dir, &file, &args, None, secret)?;
                super::absorb(&mut acc.res, r, &file)?;
            }
        }
        Ok(())
    }

    pub(super) fn run_transformers(
        &mut self,
        dir: &str,
        kfile: &str,
        entries: &[String],
        acc: &mut Acc,
    ) -> Result<()> {
        for entry in entries {
            for (doc, file) in self.plugin_configs(dir, kfile, entry, "transformers")? {
                self.run_transformer(dir, &doc, &file, acc)?;
            }
        }
        Ok(())
    }

    fn run_transformer(&mut self, dir: &str, doc: &Value, file: &str, acc: &mut Acc) -> Result<()> {
        let kind = text_of(doc, "kind");
        match kind.as_str() {
            "LabelTransformer" => {
                transforms::add_pairs(&mut acc.res, &pairs(doc, "labels"), &specs(doc, file)?)
            }
            "AnnotationsTransformer" => {
                transforms::add_pairs(&mut acc.res, &pairs(doc, "annotations"), &specs(doc, file)?)
            }
            "NamespaceTransformer" => {
                let ns = doc
                    .get("metadata")
                    .map(|m| text(m, "namespace"))
                    .unwrap_or_default();
                if ns.is_empty() {
                    return Ok(());
                }
                transforms::namespace(&mut acc.res, &ns, &specs(doc, file)?)
            }
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let specs = specs(doc, file)?;
                transforms::prefix_suffix(
                    &mut acc.res,
                    &text(doc, "prefix"),
                    &text(doc, "suffix"),
                    &specs,
                )
            }
            "ImageTagTransformer" => {
                let image: Image = field(doc, "imageTag", file)?
                    .ok_or_else(|| Error::at("ImageTagTransformer needs imageTag", file))?;
                transforms::images(&mut acc.res, &[image], &specs(doc, file)?)
                    .map_err(|e| e.in_file(file))
            }
            "ReplicaCountTransformer" => {
                let replica: Replica = field(doc, "replica", file)?
                    .ok_or_else(|| Error::at("ReplicaCountTransformer needs replica", file))?;
                transforms::replicas(&mut acc.res, &[replica], &specs(doc, file)?, file)
            }
            "PatchTransformer" => {
                let p = Patch {
                    path: field(doc, "path", file)?,
                    patch: field(doc, "patch", file)?,
                    target: field(doc, "target", file)?,
                    options: field(doc, "options", file)?,
                };
                self.patch(dir, file, &p, acc, false)
            }
            "PatchJson6902Transformer" => {
                let target: Selector = field(doc, "target", file)?
                    .ok_or_else(|| Error::at("PatchJson6902Transformer needs a target", file))?;
                let p = Patch {
                    path: field(doc, "path", file)?,
                    patch: field(doc, "jsonOp", file)?,
                    target: Some(target),
                    options: None,
                };
                self.patch(dir, file, &p, acc, true)
            }
            "PatchStrategicMergeTransformer" => {
                let paths: Vec<String> = field(doc, "paths", file)?.unwrap_or_default();
                for p in &paths {
                    self.patch_sm_legacy(dir, file, p, acc)?;
                }
                if let Some(inline) = field::<String>(doc, "patches", file)? {
                    self.patch_sm_legacy(dir, file, &inline, acc)?;
                }
                Ok(())
            }
            "ReplacementTransformer" => {
                let reps: Vec<Value> = field(doc, "replacements", file)?.unwrap_or_default();
                for rep in reps {
                    match rep.get("path").and_then(Value::as_str) {
                        Some(path) => {
                            let entry = crate::kustomization::ReplacementEntry::Path {
                                path: path.to_owned(),
                            };
                            self.replacement(dir, file, &entry, acc)?;
                        }
                        None => {
                            let rep: Replacement = serde_json::from_value(rep).map_err(|e| {
                                Error::at(format!("invalid replacement: {e}"), file)
                            })?;
                            replacements::replace(&mut acc.res, &rep, file)?;
                        }
                    }
                }
                Ok(())
            }
            other => Err(Error::at(
                format!(
                    "transformers: built-in plugin '{other}' is not supported here; use the matching kustomization field"
                ),
                file,
            )),
        }
    }
}

fn text_of(doc: &Value, name: &str) -> String {
    doc.get(name)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}
