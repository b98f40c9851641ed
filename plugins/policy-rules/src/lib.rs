//! `rules`: a Kyverno-compatible rule engine as a policy plugin.
//!
//! Config: `{"policies": [<kyverno.io/v1 ClusterPolicy or Policy>, …],
//! "variables": <cli.kyverno.io Values>}`. The policies run over the rendered
//! manifests with Kyverno's semantics: `match`/`exclude`, `context`
//! variables, `preconditions`, `validate` (`pattern`, `anyPattern`, `deny`,
//! `foreach`), `mutate` (`patchStrategicMerge`, `patchesJson6902`,
//! `foreach`) and auto-generated rules for Pod controllers. Mutations of
//! every policy flow into the next and come back as `mutated`.
//!
//! # Result encoding
//!
//! Every (policy, rule, resource) the rule matched yields one diagnostic:
//!
//! - `code`: `<result>:<policy>:<rule>`, where `<result>` is `pass`, `fail`,
//!   `warn`, `error` or `skip` and `<policy>` is the policy's name, or
//!   `namespace/name` for a namespaced `Policy` (neither contains `:`; the
//!   rule is everything after the second `:`);
//! - `severity`: `error` for a failure under `Enforce` and for rule errors,
//!   `warning` for a failure under `Audit` (or a `warn` result), `info` for
//!   passes and skips;
//! - `resource`, `field-path` (where a pattern failed), `location` (the
//!   manifest's origin) and Kyverno's `message` (for a skip, the reason).
//!
//! The verdict is `deny` when any diagnostic is an error, `warn` when any is
//! a warning, `allow` otherwise. A policy that cannot be read (unknown anchor
//! or operator, malformed JMESPath, a pattern of the wrong type) fails the
//! call with one diagnostic per problem naming policy, rule and field.
//! Rules the plugin cannot evaluate (generate, verifyImages, podSecurity,
//! CEL, cluster lookups in `context`) are `skip` results with the reason.

pub mod anchor;
pub mod conditions;
pub mod engine;
pub mod functions;
pub mod matching;
pub mod mutate;
pub mod pattern;
pub mod policy;
pub mod quantity;
pub mod vars;
pub mod wildcard;

pub use engine::{Engine, RuleResult, Status, Values};

use serde::Deserialize;
use serde_json::Value;

/// The plugin's configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    pub policies: Vec<Value>,
    #[serde(default)]
    pub variables: Values,
}

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "rules policy",
  "type": "object",
  "additionalProperties": false,
  "required": ["policies"],
  "properties": {
    "policies": {
      "description": "kyverno.io/v1 ClusterPolicy and Policy documents, as JSON",
      "type": "array",
      "items": { "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"] }
    },
    "variables": {
      "description": "Values as in a kyverno test Values file: globalValues, per-policy/rule/resource values, namespaceSelector labels",
      "type": "object"
    }
  }
}"#;

/// Everything one evaluation produced.
#[derive(Debug)]
pub struct Evaluation {
    pub results: Vec<RuleResult>,
    /// The resources after every mutation, in input order.
    pub resources: Vec<Value>,
    pub mutated: bool,
}

/// Runs `config` over `resources`. `Err` lists located problems with the policies.
pub fn evaluate(config: &str, resources: Vec<Value>) -> Result<Evaluation, Vec<String>> {
    let config: Config =
        serde_json::from_str(config).map_err(|e| vec![format!("invalid config: {e}")])?;
    let engine = Engine::new(&config.policies, config.variables)?;
    if !engine.mutates() {
        // Nothing can change: no copy to compare against.
        let mut resources = resources;
        let results = engine.run(&mut resources);
        return Ok(Evaluation {
            results,
            resources,
            mutated: false,
        });
    }
    let mut out = resources.clone();
    let results = engine.run(&mut out);
    let mutated = out != resources;
    Ok(Evaluation {
        results,
        resources: out,
        mutated,
    })
}

#[cfg(target_arch = "wasm32")]
mod bindings {
    use super::*;

    wit_bindgen::generate!({ path: "../../wit", world: "policy" });

    use sluice::plugin::types::{PluginKind, ResourceRef, Severity};

    struct Rules;

    fn diagnostic(message: String, code: Option<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message,
            resource: None,
            field_path: None,
            location: None,
            code,
        }
    }

    fn resource_ref(object: &Value) -> ResourceRef {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
        let meta = |k: &str| object.get("metadata").and_then(|m| m.get(k));
        ResourceRef {
            api_version: s(object.get("apiVersion")),
            kind: s(object.get("kind")),
            namespace: s(meta("namespace")),
            name: s(meta("name")),
        }
    }

    impl Guest for Rules {
        fn metadata() -> PluginMetadata {
            PluginMetadata {
                name: "rules".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                kind: PluginKind::Policy,
                description: "Kyverno-compatible ClusterPolicy/Policy rules: match, preconditions, validate patterns and deny, mutate patches, foreach".into(),
            }
        }

        fn config_schema() -> String {
            SCHEMA.into()
        }

        fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Vec<Diagnostic>> {
            let mut objects = Vec::with_capacity(request.manifests.len());
            for (i, m) in request.manifests.iter().enumerate() {
                let v: Value = serde_json::from_str(&m.json).map_err(|e| {
                    vec![diagnostic(
                        format!("manifest {i} is not JSON: {e}"),
                        Some("invalid-manifest".into()),
                    )]
                })?;
                objects.push(v);
            }
            let out = super::evaluate(&request.config, objects).map_err(|problems| {
                problems
                    .into_iter()
                    .map(|p| diagnostic(p, Some("invalid-policy".into())))
                    .collect::<Vec<_>>()
            })?;
            let mut diagnostics = Vec::with_capacity(out.results.len());
            let mut verdict = Verdict::Allow;
            // Each resource's reference, read once however many rules matched it.
            let mut refs: Vec<Option<ResourceRef>> = vec![None; out.resources.len()];
            for r in out.results {
                let severity = match r.status {
                    Status::Fail if r.enforce => Severity::Error,
                    Status::Error => Severity::Error,
                    Status::Fail | Status::Warn => Severity::Warning,
                    Status::Pass | Status::Skip => Severity::Info,
                };
                verdict = match (severity, verdict) {
                    (Severity::Error, _) => Verdict::Deny,
                    (Severity::Warning, Verdict::Allow) => Verdict::Warn,
                    (_, v) => v,
                };
                let manifest = &request.manifests[r.resource];
                let resource = refs[r.resource]
                    .get_or_insert_with(|| resource_ref(&out.resources[r.resource]))
                    .clone();
                diagnostics.push(Diagnostic {
                    severity,
                    message: r.message,
                    resource: Some(resource),
                    field_path: r.field_path,
                    location: manifest.origin.clone(),
                    code: Some(format!("{}:{}:{}", r.status.as_str(), r.policy, r.rule)),
                });
            }
            let mutated = out.mutated.then(|| {
                out.resources
                    .iter()
                    .zip(&request.manifests)
                    .map(|(v, m)| Manifest {
                        json: v.to_string(),
                        origin: m.origin.clone(),
                    })
                    .collect()
            });
            Ok(Evaluation {
                verdict,
                diagnostics,
                mutated,
            })
        }
    }

    export!(Rules);
}
