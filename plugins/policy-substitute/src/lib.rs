//! `substitute`: Flux's post-build variable substitution (`spec.postBuild`
//! of a Kustomization) as a transforming policy.
//!
//! Variables come from `substituteFrom` in order (ConfigMap data inline in
//! the config, Secrets read through the `secrets` capability), a later
//! source overriding an earlier one, then from `substitute`, which wins over
//! all; newlines are removed from values and names must match Flux's
//! `^[_[:alpha:]][_[:alpha:][:digit:]]*$`. With no variables at all nothing
//! is touched, as in Flux. Objects labelled or annotated
//! `kustomize.toolkit.fluxcd.io/substitute: disabled` (or
//! `sluice.dev/substitute: disabled`) are left alone.
//!
//! Flux substitutes the YAML text of each object, so an unquoted
//! `replicas: ${REPLICAS}` becomes a number. Manifests arrive here as JSON,
//! which has lost the quoting, so a string that is exactly one `${…}`
//! becomes a number or boolean when its value reads as one, except where
//! Kubernetes only takes strings (labels, annotations, ConfigMap and Secret
//! data, env values, command and args).

mod envsubst;

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

wit_bindgen::generate!({ path: "../../wit", world: "policy" });

use sluice::plugin::capability_types::CapabilityError;
use sluice::plugin::types::{PluginKind, ResourceRef, Severity};

const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "substitute policy",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "substitute": {
      "description": "Variables and their values; these win over substituteFrom",
      "type": "object",
      "additionalProperties": {"type": "string"}
    },
    "substituteFrom": {
      "description": "Sources of variables, later ones overriding earlier ones: ConfigMap data given inline, Secrets read through the secrets capability",
      "type": "array",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["kind", "name"],
        "properties": {
          "kind": {"enum": ["ConfigMap", "Secret"]},
          "name": {"type": "string", "minLength": 1},
          "optional": {"description": "A Secret that cannot be read is skipped", "type": "boolean"},
          "data": {"description": "The ConfigMap's data", "type": "object", "additionalProperties": {"type": "string"}}
        }
      }
    },
    "strict": {
      "description": "Fail on variables that are not set and have no default (Flux's StrictPostBuildSubstitutions)",
      "type": "boolean"
    }
  }
}"##;

/// Flux's rule for variable names (POSIX classes, so ASCII).
const NAME_RULE: &str = "^[_[:alpha:]][_[:alpha:][:digit:]]*$";

/// The two annotations (or labels) that switch substitution off for an object.
const DISABLE_KEYS: [&str; 2] = [
    "kustomize.toolkit.fluxcd.io/substitute",
    "sluice.dev/substitute",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    substitute: BTreeMap<String, String>,
    #[serde(default)]
    substitute_from: Vec<From>,
    #[serde(default)]
    strict: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct From {
    kind: String,
    name: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

/// A Secret's entries, `None` when it does not exist; the error is a message.
type SecretRead = Result<Option<Vec<(String, Vec<u8>)>>, String>;
type SecretReader<'a> = &'a dyn Fn(&str) -> SecretRead;

struct Substitute;

impl Guest for Substitute {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "substitute".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Policy,
            description: "Flux post-build variable substitution (${var}, defaults, $${var} escapes) from inline values, ConfigMaps and Secrets".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Vec<Diagnostic>> {
        let config: Config = serde_json::from_str(&request.config).map_err(|e| {
            vec![diag(
                Severity::Error,
                format!("invalid config: {e}"),
                None,
                None,
            )]
        })?;
        let read = |name: &str| match sluice::plugin::secrets::get(name) {
            Ok(entries) => Ok(Some(entries)),
            Err(CapabilityError::NotFound(_)) => Ok(None),
            Err(
                CapabilityError::Denied(m)
                | CapabilityError::Failed(m)
                | CapabilityError::LimitExceeded(m),
            ) => Err(m),
        };
        let vars = variables(&config, &read).map_err(|d| vec![*d])?;
        if vars.is_empty() {
            return Ok(Evaluation {
                verdict: Verdict::Allow,
                diagnostics: Vec::new(),
                mutated: None,
            });
        }
        let (manifests, diagnostics) = substitute_all(request.manifests, &vars, config.strict)?;
        Ok(Evaluation {
            verdict: Verdict::Allow,
            diagnostics,
            mutated: Some(manifests),
        })
    }
}

/// The variables in force, as Flux merges them.
fn variables(
    config: &Config,
    read: SecretReader<'_>,
) -> Result<BTreeMap<String, String>, Box<Diagnostic>> {
    let mut vars = BTreeMap::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for (i, from) in config.substitute_from.iter().enumerate() {
        let field = format!("substituteFrom[{i}]");
        let entries: Vec<(String, String)> = match from.kind.as_str() {
            "ConfigMap" => from
                .data
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => match read(&from.name) {
                Ok(Some(entries)) => entries
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                    .collect(),
                Ok(None) if from.optional => continue,
                Ok(None) => {
                    return Err(Box::new(diag(
                        Severity::Error,
                        format!(
                            "Secret '{}' not found; declare it or mark the reference optional",
                            from.name
                        ),
                        None,
                        Some(&field),
                    )));
                }
                Err(message) => {
                    return Err(Box::new(diag(
                        Severity::Error,
                        format!("cannot read Secret '{}': {message}", from.name),
                        None,
                        Some(&field),
                    )));
                }
            },
        };
        for (k, v) in entries {
            origin.insert(k.clone(), format!("{} '{}'", from.kind, from.name));
            vars.insert(k, v.replace('\n', ""));
        }
    }
    for (k, v) in &config.substitute {
        origin.insert(k.clone(), "substitute".into());
        vars.insert(k.clone(), v.replace('\n', ""));
    }
    if let Some(bad) = vars.keys().find(|k| !valid_name(k)) {
        let from = &origin[bad];
        return Err(Box::new(diag(
            Severity::Error,
            format!("variable name '{bad}' from {from} is invalid: it must match '{NAME_RULE}'"),
            None,
            Some(if from == "substitute" {
                "substitute"
            } else {
                "substituteFrom"
            }),
        )));
    }
    Ok(vars)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Substitutes every object not switched off; errors name the object and field.
fn substitute_all(
    manifests: Vec<Manifest>,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<(Vec<Manifest>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let lookup = |name: &str| vars.get(name).cloned();
    let mut out = Vec::with_capacity(manifests.len());
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    for manifest in manifests {
        let mut object: Value = match serde_json::from_str(&manifest.json) {
            Ok(v) => v,
            Err(e) => {
                errors.push(diag(
                    Severity::Error,
                    format!("manifest is not JSON: {e}"),
                    None,
                    None,
                ));
                continue;
            }
        };
        if disabled(&object) {
            out.push(manifest);
            continue;
        }
        let resource = resource_of(&object);
        let mut walk = Walk {
            lookup: &lookup,
            unset: Vec::new(),
            first_unset: None,
            failures: Vec::new(),
        };
        walk.value(&mut object, &mut Vec::new());
        for (field, e) in walk.failures {
            errors.push(diag(
                Severity::Error,
                format!("variable substitution failed: {e}; write a literal '${{' as '$${{'"),
                Some(resource.clone()),
                Some(&field),
            ));
        }
        if !walk.unset.is_empty() {
            let names = walk
                .unset
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ");
            if strict {
                errors.push(diag(
                    Severity::Error,
                    format!(
                        "variable not set (strict mode): {names}; set it in spec.postBuild.substitute or substituteFrom, or give a default as ${{var:=default}}"
                    ),
                    Some(resource.clone()),
                    walk.first_unset.as_deref(),
                ));
            } else {
                notes.push(diag(
                    Severity::Info,
                    format!("variables not set, substituted with empty text: {names}"),
                    Some(resource.clone()),
                    walk.first_unset.as_deref(),
                ));
            }
        }
        out.push(Manifest {
            json: object.to_string(),
            origin: manifest.origin,
        });
    }
    if errors.is_empty() {
        Ok((out, notes))
    } else {
        Err(errors)
    }
}

fn disabled(object: &Value) -> bool {
    let meta = object.get("metadata");
    ["labels", "annotations"].iter().any(|m| {
        DISABLE_KEYS.iter().any(|k| {
            meta.and_then(|x| x.get(m))
                .and_then(|x| x.get(k))
                .and_then(Value::as_str)
                == Some("disabled")
        })
    })
}

struct Walk<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    unset: Vec<String>,
    first_unset: Option<String>,
    failures: Vec<(String, envsubst::ParseError)>,
}

impl Walk<'_> {
    fn value(&mut self, value: &mut Value, path: &mut Vec<String>) {
        match value {
            Value::String(s) if s.contains('$') => {
                if let Some(new) = self.text(s, path, true) {
                    *value = new;
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(format!("[{i}]"));
                    self.value(item, path);
                    path.pop();
                }
            }
            Value::Object(map) => {
                let old = std::mem::take(map);
                let mut new = Map::with_capacity(old.len());
                for (key, mut item) in old {
                    let key = if key.contains('$') {
                        match self.text(&key, path, false) {
                            Some(Value::String(k)) => k,
                            _ => key,
                        }
                    } else {
                        key
                    };
                    path.push(key.clone());
                    self.value(&mut item, path);
                    path.pop();
                    new.insert(key, item);
                }
                *map = new;
            }
            _ => {}
        }
    }

    /// The expanded string (or typed value); `None` when it did not parse.
    fn text(&mut self, s: &str, path: &[String], typed: bool) -> Option<Value> {
        let field = field_path(path);
        let template = match envsubst::parse(s) {
            Ok(t) => t,
            Err(e) => {
                self.failures.push((field, e));
                return None;
            }
        };
        let before = self.unset.len();
        let out = template.expand(self.lookup, &mut self.unset);
        if self.unset.len() > before && self.first_unset.is_none() {
            self.first_unset = Some(field);
        }
        if typed
            && template.is_single_expression()
            && !strings_only(path)
            && let Some(v) = scalar(&out)
        {
            return Some(v);
        }
        Some(Value::String(out))
    }
}

/// Places where Kubernetes takes strings only, whatever they look like.
fn strings_only(path: &[String]) -> bool {
    let under = |k: &str| path.iter().rev().skip(1).any(|p| p == k);
    [
        "labels",
        "annotations",
        "matchLabels",
        "nodeSelector",
        "data",
        "stringData",
        "binaryData",
        "args",
        "command",
    ]
    .iter()
    .any(|k| under(k))
        || (path.last().is_some_and(|l| l == "value")
            && path.len() >= 3
            && path[path.len() - 3] == "env")
}

/// A YAML 1.2 core-schema number or boolean, as the plain scalar reads.
fn scalar(s: &str) -> Option<Value> {
    match s {
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    // Leading zeros read as octal in some YAML libraries; keep them text.
    if digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.") {
        return None;
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .trim_start_matches('+')
            .parse::<i64>()
            .ok()
            .map(Value::from);
    }
    let float_like = !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && !digits.starts_with(['e', 'E']);
    if float_like {
        return s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number);
    }
    None
}

fn field_path(path: &[String]) -> String {
    let mut out = String::new();
    for p in path {
        if !p.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(p);
    }
    out
}

fn resource_of(object: &Value) -> ResourceRef {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let meta = object.get("metadata");
    ResourceRef {
        api_version: s(object.get("apiVersion")),
        kind: s(object.get("kind")),
        namespace: s(meta.and_then(|m| m.get("namespace"))),
        name: s(meta.and_then(|m| m.get("name"))),
    }
}

fn diag(
    severity: Severity,
    message: String,
    resource: Option<ResourceRef>,
    field: Option<&str>,
) -> Diagnostic {
    Diagnostic {
        severity,
        message,
        resource,
        field_path: field.map(Into::into),
        location: None,
        code: None,
    }
}

export!(Substitute);

#[cfg(test)]
mod tests;
