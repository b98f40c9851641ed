//! `plain`: renders a directory tree of Kubernetes manifests as they are.
//!
//! Reads `*.yaml`, `*.yml` and `*.json` below the release path in a
//! deterministic order (byte order of names, depth first), splits
//! multi-document files, expands `kind: List`, and reports everything it skips
//! with the file and line, so nothing disappears silently.

use serde::Deserialize;
use serde_json::Value;
use std::fs;
use std::path::{Component, Path, PathBuf};

wit_bindgen::generate!({ path: "../../wit", world: "renderer" });

use sluice::plugin::types::{PluginKind, Severity, SourceLocation};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "plain renderer",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "recursive": {
      "description": "Also read subdirectories (default true)",
      "type": "boolean"
    }
  }
}"#;

const ROOT: &str = "/artifact";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "yes")]
    recursive: bool,
}

fn yes() -> bool {
    true
}

struct Plain;

impl Guest for Plain {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "plain".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Renderer,
            description:
                "Plain YAML/JSON manifests from a directory tree, multi-document files and Lists"
                    .into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn render(request: RenderRequest) -> Result<RenderResult, Vec<Diagnostic>> {
        let config: Config = serde_json::from_str(&request.config).map_err(|e| {
            vec![diag(
                Severity::Error,
                format!("invalid config: {e}"),
                None,
                None,
            )]
        })?;
        let rel = clean_path(&request.path).ok_or_else(|| {
            vec![diag(
                Severity::Error,
                format!(
                    "path '{}' leaves the artifact; use a path inside it such as ./deploy",
                    request.path
                ),
                None,
                Some("spec.path"),
            )]
        })?;
        let start = Path::new(ROOT).join(&rel);
        if !start.is_dir() {
            return Err(vec![diag(
                Severity::Error,
                format!(
                    "path '{}' is not a directory in artifact {}; check the release's spec.path",
                    request.path, request.artifact.revision
                ),
                None,
                Some("spec.path"),
            )]);
        }
        let mut files = Vec::new();
        list(&rel, config.recursive, &mut files)?;

        let mut out = RenderResult {
            manifests: Vec::new(),
            diagnostics: Vec::new(),
        };
        let mut errors = Vec::new();
        for file in files {
            let shown = file.to_string_lossy().replace('\\', "/");
            if !is_manifest_file(&file) {
                out.diagnostics.push(diag(
                    Severity::Info,
                    "not a YAML or JSON file; skipped".into(),
                    Some(loc(&shown, 0)),
                    None,
                ));
                continue;
            }
            let text = match fs::read_to_string(Path::new(ROOT).join(&file)) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(diag(
                        Severity::Error,
                        format!("cannot read: {e}"),
                        Some(loc(&shown, 0)),
                        None,
                    ));
                    continue;
                }
            };
            if let Err(e) = read_documents(&shown, &text, &mut out) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// Reads every document of one file into `out`; a syntax error is returned.
fn read_documents(file: &str, text: &str, out: &mut RenderResult) -> Result<(), Diagnostic> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let docs: Vec<serde_saphyr::Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            let line = e.location().map(|l| l.line() as u32).unwrap_or(0);
            let message = e.without_snippet().to_string();
            let message = message.lines().next().unwrap_or("invalid YAML").to_owned();
            diag(
                Severity::Error,
                format!("invalid YAML: {message}"),
                Some(loc(file, line)),
                None,
            )
        })?;
    for doc in docs {
        let line = doc.referenced.line() as u32;
        push_object(doc.value, file, line, out);
    }
    Ok(())
}

fn push_object(value: Value, file: &str, line: u32, out: &mut RenderResult) {
    let skip = |out: &mut RenderResult, sev, msg: &str| {
        out.diagnostics
            .push(diag(sev, msg.into(), Some(loc(file, line)), None));
    };
    match value {
        Value::Null => {}
        Value::Object(map) => {
            let api = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
            if api.is_empty() || kind.is_empty() {
                skip(
                    out,
                    Severity::Warning,
                    "document has no apiVersion or kind, so it is not a Kubernetes object; skipped",
                );
            } else if api.starts_with("kustomize.config.k8s.io/") {
                skip(
                    out,
                    Severity::Warning,
                    "Kustomize file skipped; render this path with the kustomize renderer instead",
                );
            } else if kind == "List"
                || (kind.ends_with("List") && api == "v1" && map.contains_key("items"))
            {
                if let Some(Value::Array(items)) = map.get("items") {
                    for item in items {
                        push_object(item.clone(), file, line, out);
                    }
                }
            } else if map
                .get("metadata")
                .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                skip(
                    out,
                    Severity::Warning,
                    &format!("{kind} has no metadata.name; skipped"),
                );
            } else {
                out.manifests.push(Manifest {
                    json: Value::Object(map).to_string(),
                    origin: Some(loc(file, line)),
                });
            }
        }
        _ => skip(
            out,
            Severity::Warning,
            "document is not a mapping, so it is not a Kubernetes object; skipped",
        ),
    }
}

/// Files below `rel`, depth first in byte order of names; hidden entries are left out.
fn list(rel: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<(), Vec<Diagnostic>> {
    let shown = rel.to_string_lossy().into_owned();
    let mut entries: Vec<_> = fs::read_dir(Path::new(ROOT).join(rel))
        .map_err(|e| {
            vec![diag(
                Severity::Error,
                format!("cannot list directory: {e}"),
                Some(loc(&shown, 0)),
                None,
            )]
        })?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = rel.join(entry.file_name());
        match entry.file_type() {
            Ok(t) if t.is_dir() && recursive => list(&path, recursive, out)?,
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    Ok(())
}

fn is_manifest_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Normalises `./a/../b` to `b`; `None` when the path escapes the root.
fn clean_path(p: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(p).components() {
        match c {
            Component::CurDir | Component::RootDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn loc(file: &str, line: u32) -> SourceLocation {
    SourceLocation {
        file: file.into(),
        line,
        column: 0,
    }
}

fn diag(
    severity: Severity,
    message: String,
    location: Option<SourceLocation>,
    field: Option<&str>,
) -> Diagnostic {
    Diagnostic {
        severity,
        message,
        resource: None,
        field_path: field.map(Into::into),
        location,
        code: None,
    }
}

export!(Plain);
