//! `guardrails`: a small, configurable set of rules every cluster wants,
//! for teams that do not need a full rule engine: required labels, no
//! floating `:latest` images, allowed registries, resource limits and no
//! privileged containers. Each finding names the object, the field path and
//! the file and line the object came from.

use serde::Deserialize;
use serde_json::Value;

wit_bindgen::generate!({ path: "../../wit", world: "policy" });

use sluice::plugin::types::{PluginKind, ResourceRef, Severity};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "guardrails policy",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "requiredLabels": {
      "description": "Labels every object (or every object of `labelKinds`) must carry in metadata.labels",
      "type": "array", "items": { "type": "string", "minLength": 1 }, "uniqueItems": true
    },
    "labelKinds": {
      "description": "Kinds `requiredLabels` applies to; all kinds when absent",
      "type": "array", "items": { "type": "string", "minLength": 1 }
    },
    "disallowLatestTag": {
      "description": "Deny images tagged :latest or with no tag and no digest (default true)",
      "type": "boolean"
    },
    "allowedRegistries": {
      "description": "Image name prefixes that are allowed (e.g. `registry.example.com/`); any when empty",
      "type": "array", "items": { "type": "string", "minLength": 1 }
    },
    "requireResourceLimits": {
      "description": "Every container must set resources.limits.cpu and resources.limits.memory (default false)",
      "type": "boolean"
    },
    "disallowPrivileged": {
      "description": "Deny containers with securityContext.privileged: true (default true)",
      "type": "boolean"
    }
  }
}"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    required_labels: Vec<String>,
    #[serde(default)]
    label_kinds: Option<Vec<String>>,
    #[serde(default = "yes")]
    disallow_latest_tag: bool,
    #[serde(default)]
    allowed_registries: Vec<String>,
    #[serde(default)]
    require_resource_limits: bool,
    #[serde(default = "yes")]
    disallow_privileged: bool,
}

fn yes() -> bool {
    true
}

struct Guardrails;

impl Guest for Guardrails {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "guardrails".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Policy,
            description: "Required labels, no :latest images, allowed registries, resource limits, no privileged containers".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Vec<Diagnostic>> {
        let config: Config = serde_json::from_str(&request.config).map_err(|e| {
            vec![finding(
                None,
                None,
                "invalid-config",
                format!("invalid config: {e}"),
            )]
        })?;
        let mut diagnostics = Vec::new();
        for manifest in &request.manifests {
            check(&config, manifest, &mut diagnostics)?;
        }
        let verdict = if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            Verdict::Deny
        } else {
            Verdict::Allow
        };
        Ok(Evaluation {
            verdict,
            diagnostics,
            mutated: None,
        })
    }
}

fn check(
    config: &Config,
    manifest: &Manifest,
    out: &mut Vec<Diagnostic>,
) -> Result<(), Vec<Diagnostic>> {
    let object: Value = serde_json::from_str(&manifest.json).map_err(|e| {
        vec![finding(
            None,
            None,
            "invalid-manifest",
            format!("manifest is not JSON: {e}"),
        )]
    })?;
    let resource = resource_of(&object);
    let mut report = |field: String, code: &str, message: String| {
        let mut d = finding(Some(resource.clone()), Some(field), code, message);
        d.location = manifest.origin.clone();
        out.push(d);
    };

    let label_applies = config
        .label_kinds
        .as_ref()
        .is_none_or(|kinds| kinds.contains(&resource.kind));
    if label_applies {
        let labels = object.pointer("/metadata/labels");
        for label in &config.required_labels {
            if labels.and_then(|l| l.get(label)).is_none() {
                report(
                    "metadata.labels".into(),
                    "missing-label",
                    format!("required label '{label}' is missing; add it under metadata.labels"),
                );
            }
        }
    }

    let Some((pod_path, pod)) = pod_spec(&object) else {
        return Ok(());
    };
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(Value::Array(containers)) = pod.get(list) else {
            continue;
        };
        for (i, c) in containers.iter().enumerate() {
            let at = format!("{pod_path}.{list}[{i}]");
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            if let Some(image) = c.get("image").and_then(Value::as_str) {
                if config.disallow_latest_tag && floats(image) {
                    report(
                        format!("{at}.image"),
                        "latest-tag",
                        format!(
                            "container '{name}' uses image '{image}', which floats with :latest; pin a version tag or a digest"
                        ),
                    );
                }
                if !config.allowed_registries.is_empty()
                    && !config
                        .allowed_registries
                        .iter()
                        .any(|r| image.starts_with(r.as_str()))
                {
                    report(
                        format!("{at}.image"),
                        "registry-not-allowed",
                        format!(
                            "container '{name}' pulls '{image}' from a registry that is not allowed; use one of: {}",
                            config.allowed_registries.join(", ")
                        ),
                    );
                }
            }
            if config.require_resource_limits {
                for resource_name in ["cpu", "memory"] {
                    if c.pointer(&format!("/resources/limits/{resource_name}"))
                        .is_none()
                    {
                        report(
                            format!("{at}.resources.limits.{resource_name}"),
                            "missing-limits",
                            format!(
                                "container '{name}' sets no {resource_name} limit; add resources.limits.{resource_name}"
                            ),
                        );
                    }
                }
            }
            if config.disallow_privileged
                && c.pointer("/securityContext/privileged")
                    .and_then(Value::as_bool)
                    == Some(true)
            {
                report(
                    format!("{at}.securityContext.privileged"),
                    "privileged-container",
                    format!(
                        "container '{name}' runs privileged; remove securityContext.privileged or set it to false"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// The pod template of workload kinds, with its field path.
fn pod_spec(object: &Value) -> Option<(&'static str, &Value)> {
    let kind = object.get("kind")?.as_str()?;
    let (path, pointer) = match kind {
        "Pod" => ("spec", "/spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => ("spec.template.spec", "/spec/template/spec"),
        "CronJob" => (
            "spec.jobTemplate.spec.template.spec",
            "/spec/jobTemplate/spec/template/spec",
        ),
        _ => return None,
    };
    object.pointer(pointer).map(|p| (path, p))
}

/// An image reference that moves: tag `latest`, or neither tag nor digest.
fn floats(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

fn resource_of(object: &Value) -> ResourceRef {
    let s = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    ResourceRef {
        api_version: s("/apiVersion"),
        kind: s("/kind"),
        namespace: s("/metadata/namespace"),
        name: s("/metadata/name"),
    }
}

fn finding(
    resource: Option<ResourceRef>,
    field: Option<String>,
    code: &str,
    message: String,
) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message,
        resource,
        field_path: field,
        location: None,
        code: Some(code.into()),
    }
}

export!(Guardrails);
