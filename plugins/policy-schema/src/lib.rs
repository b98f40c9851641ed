//! `schema`: strict structural validation of the rendered manifests, like
//! `kubeconform -strict`.
//!
//! Built-in kinds (every group/version k8s-openapi describes for
//! Kubernetes 1.35) are validated against schemas derived from k8s-openapi
//! at build time (`build.rs`); custom resources against the
//! `openAPIV3Schema` of the version their `apiVersion` names, taken from a
//! CRD in the same render or from the config's `crds` (the render wins), with
//! their `metadata` checked as ObjectMeta. `src/openapi.rs` says how
//! OpenAPI becomes JSON Schema (unknown fields, int-or-string, nullable).
//! Validators are compiled once per kind and call, when first needed.
//!
//! Config: `strict` (default true: unknown fields fail),
//! `rejectMissingSchemas` (default false: a kind with no schema is a `skip`
//! warning; true: a failure), `skipKinds` (`Kind` or `apiVersion/Kind`),
//! `crds` (CustomResourceDefinition objects). kubeconform fails on missing
//! schemas unless `-ignore-missing-schemas`; here a missing schema warns by
//! default because CRDs often live outside the release, and the warning
//! says how to provide one.
//!
//! # Result encoding
//!
//! As the `rules` plugin, so verdict records work the same: `code` is
//! `<result>:schema:<rule>`, `result` `fail` (severity error; rule
//! `unknown-field`, `required`, `type`, `enum`, … after the JSON Schema
//! keyword), `error` (a CRD schema that does not compile; severity error)
//! or `skip` (no schema: warning, or error under `rejectMissingSchemas`;
//! `skipKinds`: info). Field paths are dotted with indices
//! (`spec.template.spec.containers[0].name`). Valid objects yield nothing.
//! A config that cannot be used (unknown keys, a CRD that is not one, a CRD
//! schema that does not compile) fails the call with located diagnostics.
//!
//! Not checked: `format`s, CEL `x-kubernetes-validations`, and `enum`s of
//! built-in kinds (k8s-openapi does not carry them).

pub mod openapi;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, PatternOptions, ValidationError, Validator};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The Kubernetes version the built-in schemas describe.
pub const KUBERNETES: &str = "1.35";

/// `{"kubernetes", "kinds": {"apps/v1/Deployment": <schema>}, "$defs"}`, from build.rs.
const BUNDLE: &str = include_str!(concat!(env!("OUT_DIR"), "/k8s-schemas.json"));

/// Where the built-in definitions live for `$ref`s (never fetched).
const K8S: &str = "https://sluice.invalid/kubernetes.json";

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "schema policy",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "strict": {
      "description": "Fields a schema does not know fail (kubeconform -strict); default true",
      "type": "boolean"
    },
    "rejectMissingSchemas": {
      "description": "A kind with no schema (no built-in, no CRD) fails instead of a skip warning; default false",
      "type": "boolean"
    },
    "skipKinds": {
      "description": "Kinds not validated, as `Kind` or `apiVersion/Kind` (`apps/v1/Deployment`); reported as skipped",
      "type": "array", "items": { "type": "string", "minLength": 1 }
    },
    "crds": {
      "description": "apiextensions.k8s.io/v1 CustomResourceDefinitions whose schemas validate custom resources, for CRDs not in the release",
      "type": "array", "items": { "type": "object" }
    }
  }
}"#;

/// The plugin's configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default = "yes")]
    pub strict: bool,
    #[serde(default)]
    pub reject_missing_schemas: bool,
    #[serde(default)]
    pub skip_kinds: Vec<String>,
    #[serde(default)]
    pub crds: Vec<Value>,
}

fn yes() -> bool {
    true
}

/// What a finding says about its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The object does not match its schema.
    Fail,
    /// Its schema could not be used.
    Error,
    /// Not validated; `deny` when `rejectMissingSchemas` is set, `quiet` for
    /// `skipKinds`.
    Skip { deny: bool, quiet: bool },
}

impl Outcome {
    pub fn result(self) -> &'static str {
        match self {
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::Skip { .. } => "skip",
        }
    }
}

/// One finding about the object at `resource` (an index into the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub resource: usize,
    pub outcome: Outcome,
    pub rule: String,
    pub field_path: Option<String>,
    pub message: String,
}

impl Finding {
    /// `<result>:schema:<rule>`.
    pub fn code(&self) -> String {
        format!("{}:schema:{}", self.outcome.result(), self.rule)
    }
}

/// A config problem: the config field it is at and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field_path: String,
    pub message: String,
}

/// Validates `objects` under `config`; `Err` when the config cannot be used.
pub fn evaluate(config: &str, objects: &[Value]) -> Result<Vec<Finding>, Vec<Problem>> {
    let config: Config = serde_json::from_str(config).map_err(|e| {
        vec![Problem {
            field_path: String::new(),
            message: format!("invalid config: {e}"),
        }]
    })?;
    let mut schemas = Schemas::new(config.strict);
    let mut problems = Vec::new();
    for (i, crd) in config.crds.iter().enumerate() {
        let at = format!("crds[{i}]");
        if let Err(p) = schemas.add_crd(crd, Origin::Config(at.clone())) {
            problems.extend(p);
            continue;
        }
        // A configured CRD is checked like one in the render, and eagerly:
        // a broken config must never turn into a pass.
        let Check::Checked(found) = schemas.check(crd) else {
            unreachable!("CustomResourceDefinition is a built-in kind")
        };
        for f in found {
            problems.push(Problem {
                field_path: join(&at, f.field_path.as_deref().unwrap_or("")),
                message: format!("{}: {}", crd_name(crd), f.message),
            });
        }
    }
    if problems.is_empty() {
        for (group, kind) in schemas.config_crd_kinds() {
            problems.extend(schemas.compile_all_versions(&group, &kind));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    for object in objects {
        if is_crd(object) {
            // Problems with a CRD in the render show up when it is
            // validated below (as a resource) or used (as an `error`).
            let _ = schemas.add_crd(object, Origin::Render);
        }
    }

    let mut findings = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let (api_version, kind) = type_meta(object);
        if api_version.is_empty() || kind.is_empty() {
            findings.push(Finding {
                resource: i,
                outcome: Outcome::Fail,
                rule: "type-meta".into(),
                field_path: Some(
                    if api_version.is_empty() {
                        "apiVersion"
                    } else {
                        "kind"
                    }
                    .into(),
                ),
                message: "an object needs apiVersion and kind; set both".into(),
            });
            continue;
        }
        let gvk = format!("{api_version}/{kind}");
        if config.skip_kinds.iter().any(|s| *s == kind || *s == gvk) {
            findings.push(Finding {
                resource: i,
                outcome: Outcome::Skip {
                    deny: false,
                    quiet: true,
                },
                rule: "skip-kinds".into(),
                field_path: None,
                message: format!("{gvk} not validated: listed in skipKinds"),
            });
            continue;
        }
        match schemas.check(object) {
            Check::Checked(found) => {
                findings.extend(found.into_iter().map(|f| Finding { resource: i, ..f }))
            }
            Check::Missing(reason) => findings.push(Finding {
                resource: i,
                outcome: Outcome::Skip {
                    deny: config.reject_missing_schemas,
                    quiet: false,
                },
                rule: "missing-schema".into(),
                field_path: None,
                message: reason,
            }),
            Check::Broken(reason) => findings.push(Finding {
                resource: i,
                outcome: Outcome::Error,
                rule: "crd-schema".into(),
                field_path: None,
                message: reason,
            }),
        }
    }
    Ok(findings)
}

/// Where a CRD came from, for messages.
#[derive(Debug, Clone)]
enum Origin {
    Render,
    Config(String),
}

struct Crd {
    name: String,
    origin: Origin,
    /// `(name, served, openAPIV3Schema)` per version.
    versions: Vec<(String, bool, Option<Value>)>,
}

/// What checking one object came to.
enum Check {
    /// Validated: one finding per problem (`resource` 0), none when valid.
    Checked(Vec<Finding>),
    Missing(String),
    Broken(String),
}

enum Compiled {
    /// The validator and what to call its schema in messages.
    Ready(Box<Validator>, String),
    /// No schema; the reason says how to provide one.
    Missing(String),
    /// The schema exists but cannot be compiled.
    Broken(String),
}

/// The schemas one call uses, compiled on first use.
struct Schemas {
    strict: bool,
    registry: jsonschema::Registry<'static>,
    kinds: Map<String, Value>,
    /// By `(group, kind)`.
    crds: HashMap<(String, String), Crd>,
    compiled: HashMap<String, Compiled>,
}

impl Schemas {
    fn new(strict: bool) -> Schemas {
        let mut bundle: Value = serde_json::from_str(BUNDLE).expect("build.rs wrote JSON");
        let Some(Value::Object(kinds)) = bundle.get_mut("kinds").map(Value::take) else {
            unreachable!("build.rs writes kinds")
        };
        let defs = bundle["$defs"]
            .as_object_mut()
            .expect("build.rs writes $defs");
        // Quantities are written as numbers too (`cpu: 2`, `cpu: 0.5`).
        defs.insert(
            "io.k8s.apimachinery.pkg.api.resource.Quantity".into(),
            json!({"type": ["string", "number"]}),
        );
        // JSONSchemaProps' `default`, `enum`, `example` hold any JSON value.
        defs.insert(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON".into(),
            json!({}),
        );
        let mut doc = json!({ "$defs": bundle["$defs"].take() });
        openapi::normalize(&mut doc, strict);
        let registry = jsonschema::Registry::new()
            .draft(Draft::Draft202012)
            .add(K8S, doc)
            .and_then(|b| b.prepare())
            .expect("the built-in schemas index");
        Schemas {
            strict,
            registry,
            kinds,
            crds: HashMap::new(),
            compiled: HashMap::new(),
        }
    }

    /// Records a CRD; `Err` for config CRDs that are not usable.
    fn add_crd(&mut self, crd: &Value, origin: Origin) -> Result<(), Vec<Problem>> {
        let at = |field: &str| match &origin {
            Origin::Config(at) => join(at, field),
            Origin::Render => field.to_owned(),
        };
        let problem = |field: &str, message: String| {
            vec![Problem {
                field_path: at(field),
                message: format!("{}: {message}", crd_name(crd)),
            }]
        };
        if !is_crd(crd) {
            return Err(problem(
                "kind",
                "not an apiextensions.k8s.io/v1 CustomResourceDefinition; list only CRDs in crds"
                    .into(),
            ));
        }
        let spec = &crd["spec"];
        let (Some(group), Some(kind)) = (
            spec["group"].as_str(),
            spec.pointer("/names/kind").and_then(Value::as_str),
        ) else {
            return Err(problem(
                "spec",
                "no spec.group or spec.names.kind; a CRD needs both".into(),
            ));
        };
        let Some(versions) = spec["versions"].as_array() else {
            return Err(problem(
                "spec.versions",
                "no versions; list at least one".into(),
            ));
        };
        let versions = versions
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap_or("").to_owned(),
                    v["served"].as_bool().unwrap_or(false),
                    v.pointer("/schema/openAPIV3Schema").cloned(),
                )
            })
            .collect();
        let key = (group.to_owned(), kind.to_owned());
        // The render wins over config: it is what reaches the cluster.
        let render = matches!(origin, Origin::Render);
        if render || !self.crds.contains_key(&key) {
            if render {
                let (prefix, suffix) = (format!("{group}/"), format!("/{kind}"));
                self.compiled
                    .retain(|gvk, _| !(gvk.starts_with(&prefix) && gvk.ends_with(&suffix)));
            }
            self.crds.insert(
                key,
                Crd {
                    name: crd
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    origin,
                    versions,
                },
            );
        }
        Ok(())
    }

    fn config_crd_kinds(&self) -> Vec<(String, String)> {
        self.crds
            .iter()
            .filter(|(_, c)| matches!(c.origin, Origin::Config(_)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Compiles every served version of a configured CRD, so a schema that
    /// does not compile is a config problem now, not a skip later.
    fn compile_all_versions(&mut self, group: &str, kind: &str) -> Vec<Problem> {
        let crd = &self.crds[&(group.to_owned(), kind.to_owned())];
        let Origin::Config(at) = crd.origin.clone() else {
            return Vec::new();
        };
        let versions: Vec<(usize, String)> = crd
            .versions
            .iter()
            .enumerate()
            .filter(|(_, (_, served, schema))| *served && schema.is_some())
            .map(|(i, (name, ..))| (i, name.clone()))
            .collect();
        let mut problems = Vec::new();
        for (i, version) in versions {
            if let Compiled::Broken(reason) = self.validator(&format!("{group}/{version}"), kind) {
                problems.push(Problem {
                    field_path: join(&at, &format!("spec.versions[{i}].schema.openAPIV3Schema")),
                    message: reason.clone(),
                });
            }
        }
        problems
    }

    /// The validator for `apiVersion`/`kind`, compiled on first use.
    fn validator(&mut self, api_version: &str, kind: &str) -> &Compiled {
        let gvk = format!("{api_version}/{kind}");
        if !self.compiled.contains_key(&gvk) {
            let compiled = self.compile(api_version, kind);
            self.compiled.insert(gvk.clone(), compiled);
        }
        &self.compiled[&gvk]
    }

    fn compile(&self, api_version: &str, kind: &str) -> Compiled {
        let gvk = format!("{api_version}/{kind}");
        let options = || {
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                .should_validate_formats(false)
                // Kubernetes patterns are Go RE2 syntax, as the regex crate's.
                .with_pattern_options(PatternOptions::regex())
                .with_registry(&self.registry)
        };
        if let Some(schema) = self.kinds.get(&gvk) {
            let schema = rebase(schema);
            return match options().build(&schema) {
                Ok(v) => Compiled::Ready(Box::new(v), format!("{gvk} of Kubernetes {KUBERNETES}")),
                Err(e) => Compiled::Broken(format!(
                    "the built-in schema of {gvk} does not compile: {e}"
                )),
            };
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let how = "ship its CustomResourceDefinition in the release or list it in the policy's config crds";
        let Some(crd) = self.crds.get(&(group.to_owned(), kind.to_owned())) else {
            return Compiled::Missing(format!(
                "{gvk} not validated: no schema for this kind (not built into Kubernetes {KUBERNETES}, no CRD for it); {how}"
            ));
        };
        let from = match &crd.origin {
            Origin::Render => format!("CRD '{}'", crd.name),
            Origin::Config(at) => format!("CRD '{}' ({at} of the config)", crd.name),
        };
        let Some((_, served, schema)) = crd.versions.iter().find(|(name, ..)| name == version)
        else {
            let known: Vec<&str> = crd.versions.iter().map(|(n, ..)| n.as_str()).collect();
            return Compiled::Missing(format!(
                "{gvk} not validated: {from} has no version {version} (it has {}); use one of those or {how}",
                known.join(", ")
            ));
        };
        if !served {
            return Compiled::Missing(format!(
                "{gvk} not validated: version {version} of {from} is not served; use a served version"
            ));
        }
        let Some(schema) = schema else {
            return Compiled::Missing(format!(
                "{gvk} not validated: version {version} of {from} has no schema.openAPIV3Schema; add one"
            ));
        };
        let mut schema = schema.clone();
        openapi::normalize(&mut schema, self.strict);
        if let Value::Object(root) = &mut schema {
            let props = root.entry("properties").or_insert_with(|| json!({}));
            if let Value::Object(props) = props {
                props.insert("apiVersion".into(), json!({"type": "string"}));
                props.insert("kind".into(), json!({"type": "string"}));
                // The API server validates metadata as ObjectMeta whatever the
                // CRD says; what it says (name patterns) is checked too.
                let meta = json!({ "$ref": format!("{K8S}#/$defs/{OBJECT_META}") });
                let meta = match props.remove("metadata") {
                    Some(Value::Object(own)) if own.keys().any(|k| k != "type") => {
                        let mut own = Value::Object(own);
                        strip_closing(&mut own);
                        json!({ "allOf": [meta, own] })
                    }
                    _ => meta,
                };
                props.insert("metadata".into(), meta);
            }
        }
        match options().build(&schema) {
            Ok(v) => Compiled::Ready(Box::new(v), format!("{from}, version {version}")),
            Err(e) => Compiled::Broken(format!(
                "{gvk} not validated: the schema of version {version} of {from} does not compile: {e}; fix its openAPIV3Schema"
            )),
        }
    }

    /// Validates `object` against the schema of its kind.
    fn check(&mut self, object: &Value) -> Check {
        let (api_version, kind) = type_meta(object);
        let (validator, schema_name) = match self.validator(api_version, kind) {
            Compiled::Ready(v, name) => (v, name),
            Compiled::Missing(reason) => return Check::Missing(reason.clone()),
            Compiled::Broken(reason) => return Check::Broken(reason.clone()),
        };
        let mut instance = object.clone();
        drop_nulls(&mut instance);
        if validator.is_valid(&instance) {
            return Check::Checked(Vec::new());
        }
        Check::Checked(
            validator
                .iter_errors(&instance)
                .flat_map(|e| findings_of(&e, &instance, schema_name))
                .collect(),
        )
    }
}

/// One finding per error; one per unknown field.
fn findings_of(e: &ValidationError<'_>, instance: &Value, schema: &str) -> Vec<Finding> {
    let at = field_path(instance, e.instance_path().as_str());
    let finding = |rule: &str, field: String, message: String| Finding {
        resource: 0,
        outcome: Outcome::Fail,
        rule: rule.into(),
        field_path: (!field.is_empty()).then_some(field),
        message: format!("{message} (schema: {schema})"),
    };
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                finding(
                    "unknown-field",
                    join(&at, name),
                    format!("unknown field \"{name}\"; remove it or fix its name"),
                )
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![finding(
                "required",
                join(&at, name),
                format!("missing required field \"{name}\"; add it"),
            )]
        }
        kind => vec![finding(&rule_name(kind.keyword()), at, e.to_string())],
    }
}

/// `minLength` → `min-length`.
fn rule_name(keyword: &str) -> String {
    let mut out = String::new();
    for c in keyword.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON pointer into `instance` as `spec.containers[0].name`: array
/// elements as indices, object members as keys (dots and all, as
/// `sluice_types::locate` reads them).
pub fn field_path(instance: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut at = Some(instance);
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{segment}]"));
                at = segment.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                at = other.and_then(|o| o.get(&segment));
                out.push_str(&segment);
            }
        }
    }
    out
}

/// Removes `null` object members, as Go's decoder and the API server's
/// pruning do (`creationTimestamp: null` in kubectl and Helm output);
/// `null`s in lists stay and fail unless the schema is `nullable`.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Drops the `additionalProperties: false` strictness added to a CRD's own
/// `metadata` schema: ObjectMeta decides which fields exist.
fn strip_closing(schema: &mut Value) {
    if let Value::Object(s) = schema
        && s.get("additionalProperties") == Some(&Value::Bool(false))
    {
        s.remove("additionalProperties");
    }
}

/// A built-in kind's schema with its `$ref`s pointing into the registry.
fn rebase(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => (k.clone(), Value::String(format!("{K8S}{r}"))),
                    _ => (k.clone(), rebase(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(rebase).collect()),
        other => other.clone(),
    }
}

fn type_meta(object: &Value) -> (&str, &str) {
    let s = |k: &str| object.get(k).and_then(Value::as_str).unwrap_or("");
    (s("apiVersion"), s("kind"))
}

fn is_crd(object: &Value) -> bool {
    type_meta(object) == ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
}

fn crd_name(crd: &Value) -> String {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("CustomResourceDefinition '{name}'")
}

fn join(base: &str, field: &str) -> String {
    match (base.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (_, true) => base.to_owned(),
        _ => format!("{base}.{field}"),
    }
}

#[cfg(target_arch = "wasm32")]
mod bindings {
    use super::*;

    wit_bindgen::generate!({ path: "../../wit", world: "policy" });

    use sluice::plugin::types::{PluginKind, ResourceRef, Severity};

    struct SchemaPolicy;

    fn failure(message: String, field: Option<String>, code: &str) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message,
            resource: None,
            field_path: field,
            location: None,
            code: Some(code.into()),
        }
    }

    fn resource_ref(object: &Value) -> ResourceRef {
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

    impl Guest for SchemaPolicy {
        fn metadata() -> PluginMetadata {
            PluginMetadata {
                name: "schema".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                kind: PluginKind::Policy,
                description: "Strict structural validation (like kubeconform) of built-in kinds and of custom resources against their CRDs".into(),
            }
        }

        fn config_schema() -> String {
            SCHEMA.into()
        }

        fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Vec<Diagnostic>> {
            let mut objects = Vec::with_capacity(request.manifests.len());
            for (i, m) in request.manifests.iter().enumerate() {
                let v: Value = serde_json::from_str(&m.json).map_err(|e| {
                    vec![failure(
                        format!("manifest {i} is not JSON: {e}"),
                        None,
                        "invalid-manifest",
                    )]
                })?;
                objects.push(v);
            }
            let findings = super::evaluate(&request.config, &objects).map_err(|problems| {
                problems
                    .into_iter()
                    .map(|p| {
                        failure(
                            p.message,
                            (!p.field_path.is_empty()).then_some(p.field_path),
                            "invalid-config",
                        )
                    })
                    .collect::<Vec<_>>()
            })?;
            let mut verdict = Verdict::Allow;
            let diagnostics = findings
                .into_iter()
                .map(|f| {
                    let severity = match f.outcome {
                        Outcome::Fail | Outcome::Error | Outcome::Skip { deny: true, .. } => {
                            Severity::Error
                        }
                        Outcome::Skip { quiet: true, .. } => Severity::Info,
                        Outcome::Skip { .. } => Severity::Warning,
                    };
                    verdict = match (severity, verdict) {
                        (Severity::Error, _) => Verdict::Deny,
                        (Severity::Warning, Verdict::Allow) => Verdict::Warn,
                        (_, v) => v,
                    };
                    Diagnostic {
                        severity,
                        code: Some(f.code()),
                        resource: Some(resource_ref(&objects[f.resource])),
                        field_path: f.field_path,
                        location: request.manifests[f.resource].origin.clone(),
                        message: f.message,
                    }
                })
                .collect();
            Ok(Evaluation {
                verdict,
                diagnostics,
                mutated: None,
            })
        }
    }

    export!(SchemaPolicy);
}

#[cfg(test)]
mod tests;
