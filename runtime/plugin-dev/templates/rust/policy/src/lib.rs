//! {{name}}: {{description}}
//!
//! A starting point: every object must carry the labels the config names
//! (an error, so the release is denied), and containers should not run
//! images that float with `:latest` (a warning). Replace the checks with
//! your own; the SDK's README lists the helpers.

use serde::Deserialize;
use serde_json::Value;
use sluice_plugin_sdk::policy::{EvaluateRequest, Evaluation, Policy};
use sluice_plugin_sdk::{
    Diagnostic, Failure, Metadata, Object, log, parse_config, parse_manifests,
};

/// Who the plugin is (`sluice plugin inspect`); the same name as in
/// `sluice-plugin.yaml`.
const NAME: &str = "{{name}}";
const DESCRIPTION: &str = "{{description}}";

/// JSON Schema of the config; the host validates configs against it
/// before `evaluate` runs, so errors name the Release and field.
const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "labels": {
      "description": "Labels every object must carry (default app.kubernetes.io/name)",
      "type": "array",
      "items": {"type": "string", "minLength": 1}
    }
  }
}"#;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_labels")]
    labels: Vec<String>,
}

fn default_labels() -> Vec<String> {
    vec!["app.kubernetes.io/name".into()]
}

struct Plugin;

impl Policy for Plugin {
    fn metadata() -> Metadata {
        Metadata::new(NAME, env!("CARGO_PKG_VERSION"), DESCRIPTION)
    }

    fn config_schema() -> &'static str {
        SCHEMA
    }

    fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Failure> {
        let config: Config = parse_config(&request.config)?;
        let mut findings = Vec::new();
        for object in parse_manifests(&request.manifests)? {
            check(&object, &config, &mut findings);
        }
        log::debug(&format!("{} findings", findings.len()));
        // deny on any error, warn on any warning, allow otherwise
        Ok(Evaluation::from_diagnostics(findings))
    }
}

sluice_plugin_sdk::export_policy!(Plugin);

fn check(object: &Object, config: &Config, out: &mut Vec<Diagnostic>) {
    let labels = object.value.pointer("/metadata/labels");
    for label in &config.labels {
        if labels.and_then(|l| l.get(label)).is_none() {
            out.push(
                object
                    .error(format!(
                        "label '{label}' is missing; add it under metadata.labels"
                    ))
                    .code("missing-label")
                    .field("metadata.labels"),
            );
        }
    }
    let Some(pod) = object.pod_spec() else {
        return;
    };
    for (path, container) in pod.containers("containers") {
        let Some(image) = container.get("image").and_then(Value::as_str) else {
            continue;
        };
        if floats(image) {
            out.push(
                object
                    .warning(format!(
                        "image '{image}' floats with :latest; pin a version tag or a digest"
                    ))
                    .code("latest-tag")
                    .field(format!("{path}.image")),
            );
        }
    }
}

/// An image reference that moves: tag `latest`, or neither tag nor digest.
fn floats(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.rsplit_once(':').is_none_or(|(_, tag)| tag == "latest")
}
