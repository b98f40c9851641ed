//! `kustomize`: renders a Kustomize tree as `kustomize build` (v5) does,
//! inside the renderer sandbox (the artifact preopened read-only at
//! `/artifact`, no network, no exec: remote bases and plugins are refused).
//!
//! The build itself ([`target::build`]) runs over an [`fs::Fs`] view, so it
//! is tested natively on fixtures; this file only adapts it to the WIT world.

pub mod config;
pub mod error;
pub mod fs;
pub mod generators;
pub mod jsonpatch;
pub mod kustomization;
pub mod nameref;
pub mod replacements;
pub mod resource;
pub mod selector;
pub mod smp;
pub mod target;
pub mod transforms;
pub mod yaml;

use serde::Deserialize;
use std::path::PathBuf;

wit_bindgen::generate!({ path: "../../wit", world: "renderer" });

use sluice::plugin::types::{PluginKind, Severity, SourceLocation};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "kustomize renderer",
  "type": "object",
  "additionalProperties": false,
  "properties": {}
}"#;

const ROOT: &str = "/artifact";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

struct Kustomize;

impl Guest for Kustomize {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "kustomize".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Renderer,
            description: "Kustomize trees rendered as `kustomize build` v5 does (no remote bases, no exec plugins)".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn render(request: RenderRequest) -> Result<RenderResult, Vec<Diagnostic>> {
        let _: Config = serde_json::from_str(&request.config).map_err(|e| {
            vec![diagnostic(
                Severity::Error,
                format!("invalid config: {e}"),
                None,
                Some("spec.renderer.config"),
            )]
        })?;
        let dir = fs::join("", &request.path).ok_or_else(|| {
            vec![diagnostic(
                Severity::Error,
                format!(
                    "path '{}' leaves the artifact; use a path inside it such as ./deploy",
                    request.path
                ),
                None,
                Some("spec.path"),
            )]
        })?;
        let view = fs::DirFs {
            root: PathBuf::from(ROOT),
        };
        let out = target::build(&view, &dir).map_err(|e| vec![error_diagnostic(&e)])?;
        Ok(RenderResult {
            manifests: out
                .resources
                .into_iter()
                .map(|r| Manifest {
                    json: r.obj.to_string(),
                    origin: Some(SourceLocation {
                        file: r.file,
                        line: r.line,
                        column: 0,
                    }),
                })
                .collect(),
            diagnostics: out
                .warnings
                .into_iter()
                .map(|w| {
                    let loc = w.file.map(|file| SourceLocation {
                        file,
                        line: 0,
                        column: 0,
                    });
                    diagnostic(Severity::Warning, w.message, loc, None)
                })
                .collect(),
        })
    }
}

fn error_diagnostic(e: &error::Error) -> Diagnostic {
    let loc = e.file.clone().map(|file| SourceLocation {
        file,
        line: e.line,
        column: e.column,
    });
    diagnostic(Severity::Error, e.message.clone(), loc, None)
}

fn diagnostic(
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

export!(Kustomize);
