//! The `kustomization.yaml` file (`kustomize.config.k8s.io/v1beta1`
//! `Kustomization`, and `v1alpha1` `Component`), read strictly as kustomize
//! does: an unknown field is an error, not something silently ignored.

use crate::error::{Error, Result};
use crate::fs::{Fs, join};
use serde::Deserialize;
use serde_json::{Map, Value};

/// File names kustomize recognises, in its order of preference.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Value>,
    pub resources: Option<Vec<String>>,
    pub bases: Option<Vec<String>>,
    pub components: Option<Vec<String>>,
    pub namespace: Option<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub common_labels: Option<Map<String, Value>>,
    pub labels: Option<Vec<Label>>,
    pub common_annotations: Option<Map<String, Value>>,
    pub images: Option<Vec<Image>>,
    pub replicas: Option<Vec<Replica>>,
    pub patches: Option<Vec<Patch>>,
    pub patches_strategic_merge: Option<Vec<String>>,
    pub patches_json6902: Option<Vec<Patch>>,
    pub config_map_generator: Option<Vec<GeneratorArgs>>,
    pub secret_generator: Option<Vec<GeneratorArgs>>,
    pub generator_options: Option<GeneratorOptions>,
    pub replacements: Option<Vec<ReplacementEntry>>,
    pub vars: Option<Vec<Var>>,
    pub sort_options: Option<SortOptions>,
    pub crds: Option<Vec<String>>,
    pub configurations: Option<Vec<String>>,
    pub build_metadata: Option<Vec<String>>,
    pub generators: Option<Vec<String>>,
    pub transformers: Option<Vec<String>>,
    pub validators: Option<Vec<String>>,
    pub helm_charts: Option<Vec<Value>>,
    pub helm_globals: Option<Value>,
    pub openapi: Option<Value>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Label {
    pub pairs: Option<Map<String, Value>>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    pub fields: Option<Vec<Value>>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub tag_suffix: Option<String>,
    pub digest: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Replica {
    pub name: String,
    pub count: i64,
}

/// A `target:` selector (patches, replacements).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patch {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Selector>,
    pub options: Option<Map<String, Value>>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorOptions {
    pub labels: Option<Map<String, Value>>,
    pub annotations: Option<Map<String, Value>>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorArgs {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub behavior: Option<String>,
    pub files: Option<Vec<String>>,
    pub literals: Option<Vec<String>>,
    pub envs: Option<Vec<String>>,
    pub env: Option<String>,
    pub options: Option<GeneratorOptions>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum ReplacementEntry {
    Path { path: String },
    Inline(Replacement),
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Replacement {
    pub source: Option<SourceSelector>,
    pub targets: Option<Vec<Target>>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceSelector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub field_path: Option<String>,
    pub options: Option<FieldOptions>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    pub select: Option<Selector>,
    pub reject: Option<Vec<Selector>>,
    pub field_paths: Option<Vec<String>>,
    pub options: Option<FieldOptions>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldOptions {
    pub delimiter: Option<String>,
    #[serde(default)]
    pub index: i64,
    pub encoding: Option<String>,
    #[serde(default)]
    pub create: bool,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Var {
    pub name: String,
    pub objref: ObjRef,
    pub fieldref: Option<FieldRef>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjRef {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub api_version: Option<String>,
    pub group: Option<String>,
    pub version: Option<String>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldRef {
    pub fieldpath: Option<String>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortOptions {
    pub order: Option<String>,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacySortOptions {
    pub order_first: Option<Vec<String>>,
    pub order_last: Option<Vec<String>>,
}

/// The kustomization file of `dir`: `Ok(None)` when there is none, an error
/// when there are several.
pub fn find(fs: &dyn Fs, dir: &str) -> Result<Option<String>> {
    let found: Vec<String> = FILE_NAMES
        .iter()
        .filter_map(|n| join(dir, n))
        .filter(|p| fs.is_file(p))
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        _ => Err(Error::at(
            format!(
                "found multiple kustomization files ({}); keep only one",
                found.join(", ")
            ),
            dir,
        )),
    }
}

/// Reads and checks a kustomization file.
pub fn load(fs: &dyn Fs, file: &str) -> Result<Kustomization> {
    let bytes = fs
        .read(file)
        .map_err(|e| Error::at(format!("cannot read: {e}"), file))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::at("not UTF-8 text; kustomization files are YAML", file))?;
    // Syntax first, so YAML errors read the same everywhere.
    if crate::yaml::document(file, &text)?.is_null() {
        return Ok(Kustomization::default());
    }
    let options = serde_saphyr::options! {
        strict_booleans: true,
        legacy_octal_numbers: true,
    };
    let k: Kustomization = serde_saphyr::from_str_with_options(&text, options).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((0, 0));
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or("invalid").to_owned();
        Error::at(format!("invalid kustomization: {message}"), file).line(line, column)
    })?;
    if let Some(api) = &k.api_version
        && !api.starts_with("kustomize.config.k8s.io/")
    {
        return Err(Error::at(
            format!("apiVersion '{api}' is not a kustomize.config.k8s.io version"),
            file,
        ));
    }
    for (field, used) in [
        (
            "validators",
            k.validators.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "helmCharts",
            k.helm_charts.as_ref().is_some_and(|v| !v.is_empty()),
        ),
    ] {
        if used {
            return Err(Error::at(
                format!(
                    "'{field}' runs plugins or programs, which this sandboxed renderer does not; render that part beforehand and list the output under 'resources'"
                ),
                file,
            ));
        }
    }
    Ok(k)
}

/// Labels and annotations may be written as numbers or booleans in YAML;
/// kustomize keeps them as strings.
pub fn string_pairs(map: &Option<Map<String, Value>>) -> Vec<(String, String)> {
    map.iter()
        .flatten()
        .map(|(k, v)| (k.clone(), crate::resource::scalar_string(v)))
        .collect()
}
