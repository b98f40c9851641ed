//! `require-resources`: every container of every workload declares resource
//! requests and limits (CPU and memory by default), and limits stay below
//! configured ceilings. The same policy as the Python, JavaScript, C and Go
//! examples beside this one, written with the Rust SDK; the shared cases in
//! `tests/` check that they agree.

use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_plugin_sdk::policy::{EvaluateRequest, Evaluation, Policy};
use sluice_plugin_sdk::{Diagnostic, Failure, Metadata, Object, log, parse_config};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "require-resources policy",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "resources": {
      "description": "Resource names every container must set (default cpu and memory)",
      "type": "array",
      "items": {"type": "string", "minLength": 1}
    },
    "require": {
      "description": "Which of requests and limits must be set (default both)",
      "type": "array",
      "items": {"enum": ["requests", "limits"]}
    },
    "maxLimits": {
      "description": "Ceilings for limits, as Kubernetes quantities, e.g. {\"memory\": \"2Gi\", \"cpu\": \"4\"}",
      "type": "object",
      "additionalProperties": {"type": "string", "pattern": "^[0-9.]+([eE][0-9]+|[numkKMGTPE]i?)?$"}
    }
  }
}"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    #[serde(default = "default_resources")]
    resources: Vec<String>,
    #[serde(default = "default_require")]
    require: Vec<String>,
    /// Kept in the order written, so findings come out in that order.
    #[serde(default)]
    max_limits: Map<String, Value>,
}

fn default_resources() -> Vec<String> {
    vec!["cpu".into(), "memory".into()]
}

fn default_require() -> Vec<String> {
    vec!["requests".into(), "limits".into()]
}

/// A limit ceiling: as written, and its value (`None` when it does not parse).
struct Ceiling {
    resource: String,
    text: String,
    value: Option<f64>,
}

struct RequireResources;

impl Policy for RequireResources {
    fn metadata() -> Metadata {
        Metadata::new(
            "require-resources",
            env!("CARGO_PKG_VERSION"),
            "Containers must set resource requests and limits, within ceilings (Rust)",
        )
    }

    fn config_schema() -> &'static str {
        SCHEMA
    }

    fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Failure> {
        let config: Config = parse_config(&request.config)?;
        let ceilings: Vec<Ceiling> = config
            .max_limits
            .iter()
            .map(|(resource, text)| {
                let text = text_of(text);
                Ceiling {
                    resource: resource.clone(),
                    value: quantity(&text),
                    text,
                }
            })
            .collect();
        let mut findings = Vec::new();
        for manifest in &request.manifests {
            let object = Object::parse(manifest)?;
            check(&object, &config, &ceilings, &mut findings);
        }
        log::debug(&format!(
            "{} manifests, {} findings",
            request.manifests.len(),
            findings.len()
        ));
        Ok(Evaluation::from_diagnostics(findings))
    }
}

sluice_plugin_sdk::export_policy!(RequireResources);

fn check(object: &Object, config: &Config, ceilings: &[Ceiling], out: &mut Vec<Diagnostic>) {
    let Some(pod) = object.pod_spec() else {
        return;
    };
    for group in ["initContainers", "containers"] {
        for (path, container) in pod.containers(group) {
            let at = format!("{path}.resources");
            let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
            let resources = container.get("resources");
            let section_of = |section: &str| resources.and_then(|r| r.get(section));
            for section in &config.require {
                let set = section_of(section);
                // "requests" → "request", "limits" → "limit".
                let singular = &section[..section.len().saturating_sub(1)];
                for r in &config.resources {
                    if set.and_then(|s| s.get(r)).is_none() {
                        out.push(
                            object
                                .error(format!(
                                    "container '{name}' sets no {r} {singular}; add {at}.{section}.{r}"
                                ))
                                .code(format!("missing-{section}"))
                                .field(format!("{at}.{section}.{r}")),
                        );
                    }
                }
            }
            for ceiling in ceilings {
                let Some(value) = section_of("limits").and_then(|l| l.get(&ceiling.resource))
                else {
                    continue;
                };
                let Some(max) = ceiling.value else {
                    continue;
                };
                let value = text_of(value);
                if quantity(&value).unwrap_or(0.0) > max {
                    out.push(
                        object
                            .error(format!(
                                "container '{name}' asks for a {} limit of {value}, above the ceiling of {}",
                                ceiling.resource, ceiling.text
                            ))
                            .code("limit-too-high")
                            .field(format!("{at}.limits.{}", ceiling.resource)),
                    );
                }
            }
        }
    }
}

/// A quantity as written: strings as they are, numbers in their JSON form.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A Kubernetes quantity (`500m`, `2Gi`, `1e3`) as a number, or `None`.
fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    if digits == 0 {
        return None;
    }
    let value: f64 = text[..digits].parse().ok()?;
    let suffix = &text[digits..];
    if let Some(exponent) = suffix.strip_prefix(['e', 'E'])
        && !exponent.is_empty()
        && exponent.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(value * 10f64.powi(exponent.parse().ok()?));
    }
    let scale = match suffix {
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 2f64.powi(10),
        "Mi" => 2f64.powi(20),
        "Gi" => 2f64.powi(30),
        "Ti" => 2f64.powi(40),
        "Pi" => 2f64.powi(50),
        "Ei" => 2f64.powi(60),
        _ => return None,
    };
    Some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn quantities() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity(" 2Gi "), Some(2.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("1E"), Some(1e18));
        assert_eq!(quantity("4"), Some(4.0));
        assert_eq!(quantity("1K"), None);
        assert_eq!(quantity("x"), None);
        assert_eq!(quantity("1.2.3"), None);
    }
}
