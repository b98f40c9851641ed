//! {{name}}: {{description}}
//!
//! A starting point: renders every `*.json` file below the release path
//! (sorted by path), each holding one object, an array of objects or a
//! `List`, and adds the config's `commonLabels` to every object. Replace
//! `render` with your own format; the artifact is read-only at `/artifact`.

use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_plugin_sdk::renderer::{RenderRequest, RenderResult, Renderer, origin, request_dir};
use sluice_plugin_sdk::{Diagnostic, Failure, Manifest, Metadata, parse_config};
use std::path::{Path, PathBuf};

/// Who the plugin is (`sluice plugin inspect`); the same name as in
/// `sluice-plugin.yaml`.
const NAME: &str = "{{name}}";
const DESCRIPTION: &str = "{{description}}";

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "commonLabels": {
      "description": "Labels added to every object's metadata.labels",
      "type": "object",
      "additionalProperties": {"type": "string"}
    }
  }
}"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    common_labels: Map<String, Value>,
}

struct Plugin;

impl Renderer for Plugin {
    fn metadata() -> Metadata {
        Metadata::new(NAME, env!("CARGO_PKG_VERSION"), DESCRIPTION)
    }

    fn config_schema() -> &'static str {
        SCHEMA
    }

    fn render(request: RenderRequest) -> Result<RenderResult, Failure> {
        let config: Config = parse_config(&request.config)?;
        let dir = request_dir(&request.path)?;
        if !dir.is_dir() {
            return Err(vec![
                Diagnostic::error(format!(
                    "path '{}' is not a directory of the artifact; set the Release's spec.path to one",
                    request.path
                ))
                .code("missing-path"),
            ]);
        }
        let mut files = Vec::new();
        json_files(&dir, &mut files)?;
        let mut manifests = Vec::new();
        for file in files {
            for (mut object, line) in objects(&file)? {
                add_labels(&mut object, &config.common_labels);
                manifests.push(Manifest::from_value(&object, Some(origin(&file, line))));
            }
        }
        Ok(RenderResult::new(manifests))
    }
}

sluice_plugin_sdk::export_renderer!(Plugin);

/// `*.json` files below `dir`, sorted, so the output order is stable.
fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, &e))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| io_error(dir, &e))?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// The objects of one file with their line (0 when the file holds several).
fn objects(file: &Path) -> Result<Vec<(Value, u32)>, Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| io_error(file, &e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        vec![
            Diagnostic::error(format!("file is not JSON: {e}"))
                .code("invalid-json")
                .at(origin(file, e.line() as u32)),
        ]
    })?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(ref o) if o.get("kind").and_then(Value::as_str) == Some("List") => o
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Value::Object(_) => return Ok(vec![(value, 1)]),
        _ => {
            return Err(vec![
                Diagnostic::error("expected an object, an array of objects or a List")
                    .code("invalid-json")
                    .at(origin(file, 1)),
            ]);
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(_) => Ok((item, 0)),
            _ => Err(vec![
                Diagnostic::error(format!("item {i} is not an object"))
                    .code("invalid-json")
                    .at(origin(file, 0)),
            ]),
        })
        .collect()
}

fn add_labels(object: &mut Value, labels: &Map<String, Value>) {
    if labels.is_empty() {
        return;
    }
    let metadata = object.as_object_mut().map(|o| {
        o.entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
    });
    if let Some(Value::Object(metadata)) = metadata {
        let existing = metadata
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(existing) = existing {
            for (k, v) in labels {
                existing.insert(k.clone(), v.clone());
            }
        }
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> Failure {
    vec![Diagnostic::error(format!("cannot read {}: {e}", path.display())).code("io")]
}
