//! Runs loaded policies over resources: match/exclude, context, preconditions,
//! then mutate (every policy, in order, each seeing earlier changes) and
//! validate (against the mutated resource), one result per
//! (policy, rule, resource) that the rule matched.

use crate::conditions;
use crate::matching::Subject;
use crate::mutate::{self, NotApplied};
use crate::pattern::{Mismatch, Pattern};
use crate::policy::{self, Action, Policy, Rule};
use crate::vars::{self, Context, Evaluator, Missing};
use jmespath::{Rcvar, Variable};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::HashMap;

/// A rule's result for one resource, as Kyverno reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuleResult {
    /// `name`, or `namespace/name` for a namespaced Policy.
    pub policy: String,
    pub rule: String,
    /// Index into the evaluated resources.
    pub resource: usize,
    pub status: Status,
    pub message: String,
    /// Where a pattern failed, as `spec.containers[0].image`.
    pub field_path: Option<String>,
    /// A failure blocks (`Enforce`) rather than warns (`Audit`).
    pub enforce: bool,
}

/// Kyverno CLI's values file (`cli.kyverno.io/v1alpha1` `Values`), also the
/// plugin's `variables` config: values per policy, rule and resource, global
/// values, and labels of namespaces for `namespaceSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Values {
    pub global_values: Map<String, Value>,
    pub policies: Vec<PolicyValues>,
    pub namespace_selector: Vec<NamespaceLabels>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyValues {
    pub name: String,
    pub rules: Vec<NamedValues>,
    pub resources: Vec<NamedValues>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NamedValues {
    pub name: String,
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NamespaceLabels {
    pub name: String,
    pub labels: Map<String, Value>,
}

#[derive(Debug)]
pub struct Engine {
    ev: Evaluator,
    policies: Vec<Policy>,
    values: Values,
    /// The context every resource's starts from.
    template: Context,
    /// Some rule may read `images`; otherwise it is not computed.
    images: bool,
}

/// What one rule did to one resource.
struct Outcome {
    status: Status,
    message: String,
    path: Option<String>,
}

impl Outcome {
    fn new(status: Status, message: impl Into<String>) -> Self {
        Outcome {
            status,
            message: message.into(),
            path: None,
        }
    }
}

impl Engine {
    /// Loads policy documents; `Err` lists every problem, located.
    pub fn new(documents: &[Value], values: Values) -> Result<Engine, Vec<String>> {
        let ev = Evaluator::default();
        let mut policies = Vec::new();
        let mut errors = Vec::new();
        for (i, doc) in documents.iter().enumerate() {
            match policy::load(doc, &ev) {
                Ok(p) => policies.push(p),
                Err(e) => errors.extend(e.into_iter().map(|m| format!("policies[{i}]: {m}"))),
            }
        }
        if errors.is_empty() {
            let images = policies.iter().flat_map(|p| &p.rules).any(reads_images);
            Ok(Engine {
                ev,
                policies,
                values,
                template: admission_template(),
                images,
            })
        } else {
            Err(errors)
        }
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Evaluates every policy on every resource; mutations are applied to
    /// `resources` in place.
    pub fn run(&self, resources: &mut [Value]) -> Vec<RuleResult> {
        let mut ns_labels: HashMap<String, Map<String, Value>> = self
            .values
            .namespace_selector
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        for r in resources.iter() {
            if r.get("kind").and_then(Value::as_str) == Some("Namespace")
                && let Some(name) = r.pointer("/metadata/name").and_then(Value::as_str)
            {
                let labels = r
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                ns_labels.entry(name.to_owned()).or_insert(labels);
            }
        }
        let mut out = Vec::new();
        for (index, resource) in resources.iter_mut().enumerate() {
            let mut found: Vec<(usize, RuleResult)> = Vec::new();
            // The resource's variable context, built when a rule first needs
            // it and dropped after a mutate rule (which may change the resource).
            let mut base: Option<Context> = None;
            for (pi, p) in self.policies.iter().enumerate() {
                for rule in p.rules.iter().filter(|r| r.mutates) {
                    let selected = {
                        let subject = subject(resource, &ns_labels);
                        self.selects(p, rule, resource, &subject)
                    };
                    if !selected {
                        continue;
                    }
                    let o = self.mutate_rule(p, rule, resource, &mut base);
                    // A skip leaves the resource as it was; anything else may
                    // have changed it.
                    if o.as_ref().is_none_or(|o| o.status != Status::Skip) {
                        base = None;
                    }
                    if let Some(o) = o {
                        let applied = matches!(o.status, Status::Pass | Status::Fail);
                        found.push((pi, self.result(p, rule, index, o)));
                        if p.apply_one && applied {
                            break;
                        }
                    }
                }
            }
            // Validation changes nothing: the subject is read once.
            let subject = subject(resource, &ns_labels);
            for (pi, p) in self.policies.iter().enumerate() {
                for rule in p.rules.iter().filter(|r| !r.mutates) {
                    if !self.selects(p, rule, resource, &subject) {
                        continue;
                    }
                    if let Some(o) = self.validate_rule(p, rule, resource, &mut base) {
                        let applied = matches!(o.status, Status::Pass | Status::Fail);
                        found.push((pi, self.result(p, rule, index, o)));
                        if p.apply_one && applied {
                            break;
                        }
                    }
                }
            }
            found.sort_by_key(|(pi, _)| *pi);
            out.extend(found.into_iter().map(|(_, r)| r));
        }
        out
    }

    /// Whether any rule mutates: without one, resources come back unchanged.
    pub fn mutates(&self) -> bool {
        self.policies
            .iter()
            .flat_map(|p| &p.rules)
            .any(|r| r.mutates)
    }

    fn result(&self, p: &Policy, rule: &Rule, resource: usize, o: Outcome) -> RuleResult {
        let status = match o.status {
            Status::Fail if !p.scored => Status::Warn,
            s => s,
        };
        RuleResult {
            policy: p.id.clone(),
            rule: rule.name.clone(),
            resource,
            status,
            message: o.message,
            field_path: o.path,
            enforce: rule.action == Action::Enforce,
        }
    }

    /// Whether `rule` applies to the resource: the namespace of a namespaced
    /// Policy, then `match` and `exclude`.
    fn selects(&self, p: &Policy, rule: &Rule, resource: &Value, subject: &Subject) -> bool {
        if p.namespace
            .as_deref()
            .is_some_and(|ns| ns != subject.namespace)
        {
            return false;
        }
        let Some(selects) = &rule.selects else {
            return false;
        };
        let operation = self.operation(p, rule, resource);
        let subject = match &operation {
            Some(op) => Subject {
                operation: op,
                ..subject.clone()
            },
            None => subject.clone(),
        };
        selects.matches(&subject) && !rule.excludes.as_ref().is_some_and(|e| e.excludes(&subject))
    }

    /// A selected mutate rule's outcome: context, preconditions, then the patches.
    fn mutate_rule(
        &self,
        p: &Policy,
        rule: &Rule,
        resource: &mut Value,
        base: &mut Option<Context>,
    ) -> Option<Outcome> {
        let mut ctx = match self.prelude(p, rule, resource, base) {
            Ok(ctx) => ctx,
            Err(o) => return Some(o),
        };
        Some(self.mutate(rule.raw.get("mutate")?, &mut ctx, resource, 0))
    }

    fn validate_rule(
        &self,
        p: &Policy,
        rule: &Rule,
        resource: &Value,
        base: &mut Option<Context>,
    ) -> Option<Outcome> {
        Some(match self.prelude(p, rule, resource, base) {
            Ok(mut ctx) => self.validation(rule, &mut ctx, resource),
            Err(o) => o,
        })
    }

    /// The rule's context with its `context` entries loaded and its
    /// preconditions holding; `Err` is the outcome when they do not.
    fn prelude(
        &self,
        p: &Policy,
        rule: &Rule,
        resource: &Value,
        base: &mut Option<Context>,
    ) -> Result<Context, Outcome> {
        let raw = &rule.raw;
        let mut ctx = if rule.needs_context {
            self.context(p, rule, resource, base)
        } else {
            Context::new(Map::new())
        };
        if let Some(o) = self.load_context(raw.get("context"), &mut ctx) {
            return Err(o);
        }
        match conditions::evaluate(
            &self.ev,
            &ctx,
            raw.get("preconditions").unwrap_or(&Value::Null),
        ) {
            Err(e) => Err(Outcome::new(Status::Error, format!("preconditions: {e}"))),
            Ok(Err(_)) => Err(Outcome::new(Status::Skip, "preconditions not met")),
            Ok(Ok(())) => Ok(ctx),
        }
    }

    fn validation(&self, rule: &Rule, ctx: &mut Context, resource: &Value) -> Outcome {
        let raw = &rule.raw;
        self.unsupported(raw)
            .unwrap_or_else(|| match raw.get("validate") {
                Some(v) => self.validate(rule, v, None, ctx, resource, 0),
                None => Outcome::new(
                    Status::Skip,
                    "the rule has no validate, mutate or other supported action",
                ),
            })
    }

    /// Rule kinds the plugin cannot evaluate: reported, never passed.
    fn unsupported(&self, raw: &Value) -> Option<Outcome> {
        let validate = raw.get("validate");
        let why = if raw.get("generate").is_some() {
            "generate rules are not evaluated by the rules plugin (they create other resources in a cluster)"
        } else if raw.get("verifyImages").is_some() {
            "verifyImages rules are not evaluated by the rules plugin yet (image signatures need the cosign capability)"
        } else if validate.is_some_and(|v| v.get("podSecurity").is_some()) {
            "validate.podSecurity is not evaluated by the rules plugin; write the controls as patterns"
        } else if validate.is_some_and(|v| v.get("cel").is_some()) {
            "validate.cel (CEL expressions) is not evaluated by the rules plugin"
        } else if validate.is_some_and(|v| v.get("assert").is_some()) {
            "validate.assert (assertion trees) is not evaluated by the rules plugin"
        } else if validate.is_some_and(|v| v.get("manifests").is_some()) {
            "validate.manifests (signed manifests) is not evaluated by the rules plugin"
        } else {
            return None;
        };
        Some(Outcome::new(Status::Skip, why))
    }

    /// `request.operation` when values set it; rendered manifests are `CREATE`.
    fn operation(&self, p: &Policy, rule: &Rule, resource: &Value) -> Option<String> {
        let mut op = None;
        self.each_value(p, rule, resource, |k, v| {
            if k == "request.operation" {
                op = v.as_str().map(str::to_owned);
            }
        });
        op
    }

    /// The test values that apply, in Kyverno's order: global, rule, resource.
    fn each_value(
        &self,
        p: &Policy,
        rule: &Rule,
        resource: &Value,
        mut f: impl FnMut(&str, &Value),
    ) {
        if self.values.global_values.is_empty() && self.values.policies.is_empty() {
            return;
        }
        for (k, v) in &self.values.global_values {
            f(k, v);
        }
        let name = resource
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let base = p.id.rsplit('/').next().unwrap_or(&p.id);
        let rule_name = rule
            .name
            .trim_start_matches("autogen-cronjob-")
            .trim_start_matches("autogen-");
        for pv in self
            .values
            .policies
            .iter()
            .filter(|v| v.name == p.id || v.name == base)
        {
            for r in pv
                .rules
                .iter()
                .filter(|r| r.name == rule.name || r.name == rule_name)
            {
                for (k, v) in &r.values {
                    f(k, v);
                }
            }
            for r in pv
                .resources
                .iter()
                .filter(|r| r.name == name || r.name.rsplit('/').next() == Some(name))
            {
                for (k, v) in &r.values {
                    f(k, v);
                }
            }
        }
    }

    /// The rule's context: the resource's (built once, into `base`) plus
    /// the test values for this rule.
    fn context(
        &self,
        p: &Policy,
        rule: &Rule,
        resource: &Value,
        base: &mut Option<Context>,
    ) -> Context {
        let mut ctx = base
            .get_or_insert_with(|| self.resource_context(resource))
            .clone();
        self.each_value(p, rule, resource, |k, v| ctx.set(k, v.clone()));
        ctx
    }

    /// Kyverno's admission context for a rendered resource:
    /// `request.object`, `request.namespace` and `images`.
    fn resource_context(&self, resource: &Value) -> Context {
        let mut ctx = self.template.clone();
        let namespace = resource
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .map_or_else(|| vars::to_var(&json!("")), vars::to_var);
        ctx.set_var("request.namespace", namespace);
        ctx.set_var("request.object", vars::to_var(resource));
        if self.images {
            ctx.set("images", images(resource));
        }
        ctx
    }

    /// Adds `context` entries; an entry the plugin cannot load (and no value
    /// supplied it) makes the rule `skip` with the reason.
    fn load_context(&self, entries: Option<&Value>, ctx: &mut Context) -> Option<Outcome> {
        for e in entries.and_then(Value::as_array).into_iter().flatten() {
            let name = e.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(var) = e.get("variable") {
                let value = match var.get("value") {
                    Some(v) => vars::substitute(&self.ev, ctx, v, Missing::Error),
                    None => Ok(Value::Null),
                };
                let value = match (value, var.get("jmesPath").and_then(Value::as_str)) {
                    (Ok(v), Some(path)) => {
                        let path = match vars::substitute_str(&self.ev, ctx, path, Missing::Error) {
                            Ok(Value::String(s)) => s,
                            Ok(other) => other.to_string(),
                            Err(err) => {
                                return Some(Outcome::new(
                                    Status::Error,
                                    format!("context '{name}': {err}"),
                                ));
                            }
                        };
                        if var.get("value").is_some() {
                            let mut scratch = Context::new(Map::new());
                            scratch.set("value", v);
                            scratch.query(&self.ev, &format!("value | {path}"))
                        } else {
                            ctx.query(&self.ev, &path)
                        }
                    }
                    (v, None) => v,
                    (Err(e), _) => Err(e),
                };
                let value = match value {
                    Ok(Value::Null) | Err(_) if var.get("default").is_some() => {
                        var.get("default").cloned().unwrap_or(Value::Null)
                    }
                    Ok(v) => v,
                    Err(err) => {
                        return Some(Outcome::new(
                            Status::Error,
                            format!("failed to load context '{name}': {err}"),
                        ));
                    }
                };
                ctx.set(name, value);
                continue;
            }
            if ctx.has(name) {
                // Supplied by the test's values, as `kyverno test` allows.
                continue;
            }
            let source = ["configMap", "apiCall", "imageRegistry", "globalReference"]
                .into_iter()
                .find(|k| e.get(*k).is_some())
                .unwrap_or("unknown");
            return Some(Outcome::new(
                Status::Skip,
                format!(
                    "context entry '{name}' uses {source}, which needs a cluster; the rules plugin cannot load it (supply it as a value to test the rule)"
                ),
            ));
        }
        None
    }

    /// One validate block (the rule's, or a foreach entry's, whose own
    /// `message` wins over the `inherited` one).
    fn validate(
        &self,
        r: &Rule,
        v: &Value,
        inherited: Option<&Value>,
        ctx: &mut Context,
        resource: &Value,
        nesting: usize,
    ) -> Outcome {
        let rule = r.name.as_str();
        let message = |ctx: &Context| {
            let raw = v
                .get("message")
                .or(inherited)
                .and_then(Value::as_str)
                .unwrap_or("");
            match vars::substitute_str(&self.ev, ctx, raw, Missing::Error) {
                Ok(Value::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(_) => raw.to_owned(),
            }
        };
        if let Some(list) = v.get("foreach").and_then(Value::as_array) {
            return self.validate_foreach(r, list, v.get("message"), ctx, resource, nesting);
        }
        if let Some(p) = v.get("pattern") {
            let p = match self.pattern(r, ctx, p) {
                Ok(p) => p,
                Err(e) => {
                    return Outcome::new(
                        Status::Error,
                        format!("variable substitution failed for rule {rule}: {e}"),
                    );
                }
            };
            return match p.check(resource) {
                Ok(()) => Outcome::new(Status::Pass, format!("validation rule '{rule}' passed.")),
                Err(Mismatch::Skip { message: why, .. }) => {
                    Outcome::new(Status::Skip, format!("rule skipped: {why}"))
                }
                Err(Mismatch::Fail { path, message: why }) => Outcome {
                    status: Status::Fail,
                    message: format!(
                        "validation error: {}. rule {rule} failed at path {} ({why})",
                        message(ctx).trim_end_matches('.'),
                        path.kyverno()
                    ),
                    path: Some(path.dotted()),
                },
            };
        }
        if let Some(list) = v.get("anyPattern").and_then(Value::as_array) {
            let mut failures = Vec::new();
            let mut first_path = None;
            let mut skipped = 0;
            for (i, p) in list.iter().enumerate() {
                let p = match self.pattern(r, ctx, p) {
                    Ok(p) => p,
                    Err(e) => {
                        return Outcome::new(
                            Status::Error,
                            format!("variable substitution failed for rule {rule}: {e}"),
                        );
                    }
                };
                match p.check(resource) {
                    Ok(()) => {
                        return Outcome::new(
                            Status::Pass,
                            format!("validation rule '{rule}' anyPattern[{i}] passed."),
                        );
                    }
                    Err(Mismatch::Skip { .. }) => skipped += 1,
                    Err(Mismatch::Fail { path, .. }) => {
                        failures.push(format!(
                            "rule {rule}[{i}] failed at path {}",
                            path.kyverno()
                        ));
                        first_path.get_or_insert(path.dotted());
                    }
                }
            }
            if skipped == list.len() {
                return Outcome::new(
                    Status::Skip,
                    "rule skipped: no pattern of anyPattern applies",
                );
            }
            return Outcome {
                status: Status::Fail,
                message: format!(
                    "validation error: {}. {}",
                    message(ctx).trim_end_matches('.'),
                    failures.join(" ")
                ),
                path: first_path,
            };
        }
        if let Some(deny) = v.get("deny") {
            return match conditions::evaluate(
                &self.ev,
                ctx,
                deny.get("conditions").unwrap_or(&Value::Null),
            ) {
                Err(e) => Outcome::new(Status::Error, format!("deny conditions: {e}")),
                Ok(Ok(()))
                    if deny.get("conditions").is_some_and(|c| !c.is_null()) || deny.is_object() =>
                {
                    let m = message(ctx);
                    Outcome::new(
                        Status::Fail,
                        if m.is_empty() {
                            format!("validation error: rule {rule} failed")
                        } else {
                            m
                        },
                    )
                }
                Ok(_) => Outcome::new(Status::Pass, format!("validation rule '{rule}' passed.")),
            };
        }
        Outcome::new(
            Status::Error,
            format!("rule {rule}: validate has no pattern, anyPattern, deny or foreach"),
        )
    }

    /// A pattern of the rule ready to check: prepared at load, or prepared
    /// now from its variables' values.
    fn pattern<'r>(
        &self,
        rule: &'r Rule,
        ctx: &Context,
        p: &Value,
    ) -> Result<Cow<'r, Pattern>, String> {
        if let Some(prepared) = rule.prepared(p) {
            return Ok(Cow::Borrowed(prepared));
        }
        Ok(Cow::Owned(Pattern::new(&*self.subst(ctx, p)?)))
    }

    /// The value with its variables replaced; borrowed when it has none.
    fn subst<'v>(&self, ctx: &Context, v: &'v Value) -> Result<Cow<'v, Value>, String> {
        if vars::tree_has_vars(v) {
            vars::substitute(&self.ev, ctx, v, Missing::Error).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(v))
        }
    }

    /// A foreach `list`'s items, as JMESPath data for the element variables.
    fn elements(&self, ctx: &Context, fe: &Value) -> Result<Vec<Rcvar>, String> {
        let list = fe.get("list").and_then(Value::as_str).unwrap_or("");
        let expr = match vars::substitute_str(&self.ev, ctx, list, Missing::Error)? {
            Value::String(s) => s,
            other => {
                return Ok(other
                    .as_array()
                    .map(|a| a.iter().map(vars::to_var).collect())
                    .unwrap_or_default());
            }
        };
        let expr = expr
            .trim()
            .trim_start_matches("{{")
            .trim_end_matches("}}")
            .trim();
        let found = ctx.query_var(&self.ev, expr)?;
        Ok(match &*found {
            Variable::Array(a) => a.clone(),
            Variable::Null => Vec::new(),
            _ => vec![found],
        })
    }

    fn set_element(ctx: &mut Context, element: &Rcvar, index: usize, nesting: usize) {
        ctx.set_var("element", element.clone());
        ctx.set("elementIndex", json!(index));
        ctx.set_var(&format!("element{nesting}"), element.clone());
        ctx.set(&format!("elementIndex{nesting}"), json!(index));
    }

    fn validate_foreach(
        &self,
        rule: &Rule,
        list: &[Value],
        message: Option<&Value>,
        ctx: &mut Context,
        resource: &Value,
        nesting: usize,
    ) -> Outcome {
        let mut applied = 0;
        for fe in list {
            let elements = match self.elements(ctx, fe) {
                Ok(e) => e,
                Err(_) => continue,
            };
            let scope = fe.get("elementScope").and_then(Value::as_bool);
            for (i, element) in elements.iter().enumerate() {
                if element.is_null() {
                    continue;
                }
                let mut inner = ctx.clone();
                Self::set_element(&mut inner, element, i, nesting);
                if let Some(o) = self.load_context(fe.get("context"), &mut inner) {
                    if o.status == Status::Skip {
                        continue;
                    }
                    return o;
                }
                match conditions::evaluate(
                    &self.ev,
                    &inner,
                    fe.get("preconditions").unwrap_or(&Value::Null),
                ) {
                    Err(e) => {
                        return Outcome::new(Status::Error, format!("foreach preconditions: {e}"));
                    }
                    Ok(Err(_)) => continue,
                    Ok(Ok(())) => {}
                }
                // An object element is what patterns check (as JSON), unless
                // `elementScope: false`; deny reads only the context.
                let checks = fe.get("pattern").is_some() || fe.get("anyPattern").is_some();
                let object = match (scope, &**element) {
                    (Some(false), _) => None,
                    (_, Variable::Object(_)) if checks => {
                        Some(serde_json::to_value(&**element).unwrap_or(Value::Null))
                    }
                    _ => None,
                };
                let target = object.as_ref().unwrap_or(resource);
                let o = if let Some(nested) = fe.get("foreach").and_then(Value::as_array) {
                    self.validate_foreach(rule, nested, message, &mut inner, resource, nesting + 1)
                } else {
                    self.validate(rule, fe, message, &mut inner, target, nesting + 1)
                };
                match o.status {
                    Status::Skip => continue,
                    Status::Pass => applied += 1,
                    Status::Error if i + 1 < elements.len() => continue,
                    _ => {
                        return Outcome {
                            status: o.status,
                            message: format!("validation failure: {}", o.message),
                            path: o.path,
                        };
                    }
                }
            }
        }
        if applied == 0 {
            Outcome::new(
                Status::Skip,
                "rule skipped: no element of the foreach list applies",
            )
        } else {
            Outcome::new(
                Status::Pass,
                format!("validation rule '{}' passed.", rule.name),
            )
        }
    }

    fn mutate(
        &self,
        m: &Value,
        ctx: &mut Context,
        resource: &mut Value,
        nesting: usize,
    ) -> Outcome {
        if m.get("targets").is_some() {
            return Outcome::new(
                Status::Skip,
                "mutate.targets (mutating existing resources) needs a cluster; the rules plugin does not evaluate it",
            );
        }
        let before = resource.clone();
        if let Some(list) = m.get("foreach").and_then(Value::as_array) {
            for fe in list {
                let mut elements = match self.elements(ctx, fe) {
                    Ok(e) => e,
                    Err(e) => return Outcome::new(Status::Error, format!("foreach list: {e}")),
                };
                if fe.get("order").and_then(Value::as_str) == Some("Descending") {
                    elements.reverse();
                }
                for (i, element) in elements.iter().enumerate() {
                    let mut inner = ctx.clone();
                    inner.set_var("request.object", vars::to_var(resource));
                    Self::set_element(&mut inner, element, i, nesting);
                    if let Some(o) = self.load_context(fe.get("context"), &mut inner) {
                        if o.status == Status::Skip {
                            continue;
                        }
                        return o;
                    }
                    match conditions::evaluate(
                        &self.ev,
                        &inner,
                        fe.get("preconditions").unwrap_or(&Value::Null),
                    ) {
                        Err(e) => {
                            return Outcome::new(
                                Status::Error,
                                format!("foreach preconditions: {e}"),
                            );
                        }
                        Ok(Err(_)) => continue,
                        Ok(Ok(())) => {}
                    }
                    let o = self.mutate(fe, &mut inner, resource, nesting + 1);
                    if o.status == Status::Error {
                        return o;
                    }
                }
            }
        } else {
            if let Some(p) = m.get("patchStrategicMerge") {
                let p = match self.subst(ctx, p) {
                    Ok(p) => p,
                    Err(e) => {
                        return Outcome::new(
                            Status::Error,
                            format!("variable substitution failed: {e}"),
                        );
                    }
                };
                match mutate::strategic_merge(resource, &p) {
                    Ok(()) => {}
                    Err(NotApplied::Condition(why) | NotApplied::Global(why)) => {
                        *resource = before;
                        return Outcome::new(Status::Skip, format!("rule skipped: {why}"));
                    }
                }
            }
            if let Some(text) = m.get("patchesJson6902").and_then(Value::as_str) {
                let text = match vars::substitute_str(&self.ev, ctx, text, Missing::Error) {
                    Ok(Value::String(s)) => s,
                    Ok(other) => other.to_string(),
                    Err(e) => {
                        return Outcome::new(
                            Status::Error,
                            format!("variable substitution failed: {e}"),
                        );
                    }
                };
                let ops: Vec<Value> = match serde_saphyr::from_str(&text) {
                    Ok(ops) => ops,
                    Err(e) => {
                        return Outcome::new(
                            Status::Error,
                            format!("patchesJson6902 is not a YAML list: {e}"),
                        );
                    }
                };
                if let Err(e) = mutate::json_patch(resource, &ops) {
                    *resource = before;
                    return Outcome::new(
                        Status::Error,
                        format!("failed to apply patchesJson6902: {e}"),
                    );
                }
            }
        }
        if *resource == before {
            Outcome::new(Status::Skip, "no patches applied")
        } else {
            Outcome::new(Status::Pass, "resource patched")
        }
    }
}

/// What `match` and `exclude` read of a resource (the operation is
/// `CREATE` unless values say otherwise).
fn subject<'a>(
    resource: &'a Value,
    ns_labels: &'a HashMap<String, Map<String, Value>>,
) -> Subject<'a> {
    let mut s = Subject::of(resource, None, "CREATE");
    s.namespace_labels = ns_labels.get(s.namespace);
    s
}

/// What Kyverno's admission context holds for every rendered resource: a
/// `CREATE` by nobody.
fn admission_template() -> Context {
    let mut root = Map::new();
    root.insert(
        "request".into(),
        json!({
            "operation": "CREATE",
            "oldObject": null,
            "userInfo": {"username": "", "groups": []},
            "roles": [],
            "clusterRoles": [],
        }),
    );
    root.insert("serviceAccountName".into(), json!(""));
    root.insert("serviceAccountNamespace".into(), json!(""));
    Context::new(root)
}

/// Whether a rule may read the `images` variable: it names it. (Reading it
/// unnamed would take a query of the whole context, such as `values(@)` at
/// the top of an expression, which Kyverno's policies do not write.)
fn reads_images(rule: &Rule) -> bool {
    rule.raw.to_string().contains("images")
}

/// Kyverno's `images` variable: for each container of a pod spec, its
/// image split into registry, path, name, tag and digest.
fn images(resource: &Value) -> Value {
    let spec = [
        "/spec",
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
    ]
    .into_iter()
    .filter_map(|p| p.split('/').skip(1).try_fold(resource, |v, k| v.get(k)))
    .find(|s| s.get("containers").is_some());
    let mut out = Map::new();
    let Some(spec) = spec else {
        return Value::Object(out);
    };
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(cs) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        let mut m = Map::new();
        for c in cs {
            if let (Some(name), Some(image)) = (
                c.get("name").and_then(Value::as_str),
                c.get("image").and_then(Value::as_str),
            ) {
                m.insert(name.to_owned(), image_info(image));
            }
        }
        out.insert(list.to_owned(), Value::Object(m));
    }
    Value::Object(out)
}

fn image_info(image: &str) -> Value {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, d),
        None => (image, ""),
    };
    let (registry, path) = match rest.split_once('/') {
        Some((first, tail)) if first.contains(['.', ':']) || first == "localhost" => (first, tail),
        _ => ("docker.io", rest),
    };
    let (path, tag) = match path.rsplit_once(':') {
        Some((p, t)) => (p, t),
        None => (path, if digest.is_empty() { "latest" } else { "" }),
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    let reference = format!(
        "{registry}/{path}{}{}",
        if tag.is_empty() {
            String::new()
        } else {
            format!(":{tag}")
        },
        if digest.is_empty() {
            String::new()
        } else {
            format!("@{digest}")
        }
    );
    json!({"registry": registry, "path": path, "name": name, "tag": tag, "digest": digest, "reference": reference})
}

#[cfg(test)]
mod tests;
