//! Loading `kyverno.io/v1` `ClusterPolicy` and `Policy` documents: checking
//! them up front (a bad policy is an error naming policy, rule and field,
//! never a pass) and computing Kyverno's auto-generated rules for Pod
//! controllers (`autogen-<rule>`, `autogen-cronjob-<rule>`).

use crate::anchor;
use crate::conditions;
use crate::matching::Block;
use crate::pattern::Pattern;
use crate::vars::{self, Evaluator};
use serde_json::{Map, Value, json};

/// Whether a failed validation blocks (`Enforce`) or is reported (`Audit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Enforce,
    Audit,
}

impl Action {
    fn parse(v: Option<&Value>) -> Option<Action> {
        match v?.as_str()?.to_ascii_lowercase().as_str() {
            "enforce" => Some(Action::Enforce),
            "audit" => Some(Action::Audit),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// `name` for a ClusterPolicy, `namespace/name` for a Policy.
    pub id: String,
    pub kind: String,
    /// Set for a namespaced `Policy`: it applies to that namespace only.
    pub namespace: Option<String>,
    pub action: Action,
    /// `policies.kyverno.io/scored: "false"` turns failures into warnings.
    pub scored: bool,
    /// `applyRules: One` stops after the first rule that applies.
    pub apply_one: bool,
    pub rules: Vec<Rule>,
}

#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub raw: Value,
    /// The rule's own `validate.failureAction`, which wins over the policy's.
    pub action: Action,
    /// Whether evaluating the rule reads variables (context, preconditions,
    /// `{{ }}`, foreach, deny); pure pattern rules skip building the context.
    pub needs_context: bool,
    /// `match` (a rule without one applies to nothing) and `exclude`, read once.
    pub selects: Option<Block>,
    pub excludes: Option<Block>,
    /// A `mutate` rule (run in the first phase, before any validation).
    pub mutates: bool,
    /// The rule's patterns without variables, prepared once.
    prepared: Vec<(usize, Pattern)>,
}

impl Clone for Rule {
    /// The copy prepares its own patterns: the addresses are its own.
    fn clone(&self) -> Rule {
        let mut rule = Rule {
            name: self.name.clone(),
            raw: self.raw.clone(),
            action: self.action,
            needs_context: self.needs_context,
            selects: self.selects.clone(),
            excludes: self.excludes.clone(),
            mutates: self.mutates,
            prepared: Vec::new(),
        };
        rule.prepared = prepared(&rule.raw);
        rule
    }
}

impl Rule {
    /// The prepared form of `pattern` when it is one of this rule's own
    /// variable-free patterns. Patterns are named by address: they live in
    /// `raw`, which is never changed after loading, so an address names
    /// one pattern for the rule's lifetime (a clone of the rule prepares
    /// nothing and just misses).
    pub fn prepared(&self, pattern: &Value) -> Option<&Pattern> {
        let at = pattern as *const Value as usize;
        self.prepared.iter().find(|(a, _)| *a == at).map(|(_, p)| p)
    }
}

/// The variable-free `pattern`s and `anyPattern`s of a validate block and
/// its foreach entries, by address.
fn prepare(v: &Value, out: &mut Vec<(usize, Pattern)>) {
    let mut add = |p: &Value| {
        if !vars::tree_has_vars(p) {
            out.push((p as *const Value as usize, Pattern::new(p)));
        }
    };
    if let Some(p) = v.get("pattern") {
        add(p);
    }
    for p in v
        .get("anyPattern")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add(p);
    }
    for fe in v
        .get("foreach")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        prepare(fe, out);
    }
}

/// Reads one policy document. `Err` lists every problem found, each naming
/// the policy, the rule and the field.
pub fn load(doc: &Value, ev: &Evaluator) -> Result<Policy, Vec<String>> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let label = format!("{kind} '{name}'");
    if !matches!(kind, "ClusterPolicy" | "Policy") || !api.starts_with("kyverno.io/") {
        return Err(vec![format!(
            "{label}: expected apiVersion kyverno.io/v1 and kind ClusterPolicy or Policy, found apiVersion '{api}' kind '{kind}'"
        )]);
    }
    if name.is_empty() {
        return Err(vec![format!("{kind}: metadata.name is missing")]);
    }
    let namespace = (kind == "Policy").then(|| {
        doc.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned()
    });
    let id = match &namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    };
    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
    let annotations = doc
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let action = Action::parse(spec.get("validationFailureAction")).unwrap_or(Action::Audit);
    let Some(rules) = spec.get("rules").and_then(Value::as_array) else {
        return Err(vec![format!("{label}: spec.rules must be a list of rules")]);
    };
    let mut errors = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let rname = r.get("name").and_then(Value::as_str).unwrap_or("");
        let at = |field: &str| format!("{label} rule '{rname}' (spec.rules[{i}]): {field}");
        if rname.is_empty() {
            errors.push(at("name: every rule needs a name"));
        }
        for problem in check_rule(r, ev) {
            errors.push(at(&problem));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out: Vec<Rule> = rules.iter().map(|r| rule(r.clone(), action)).collect();
    let controllers = annotations
        .get("pod-policies.kyverno.io/autogen-controllers")
        .and_then(Value::as_str);
    out.extend(
        autogen(rules, controllers)
            .into_iter()
            .map(|r| rule(r, action)),
    );
    Ok(Policy {
        id,
        kind: kind.to_owned(),
        namespace,
        action,
        scored: annotations
            .get("policies.kyverno.io/scored")
            .and_then(Value::as_str)
            != Some("false"),
        apply_one: spec.get("applyRules").and_then(Value::as_str) == Some("One"),
        rules: out,
    })
}

fn rule(raw: Value, default: Action) -> Rule {
    let mut rule = Rule {
        name: raw
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        action: Action::parse(raw.pointer("/validate/failureAction")).unwrap_or(default),
        needs_context: ["context", "preconditions"]
            .iter()
            .any(|k| raw.get(*k).is_some())
            || [
                "/validate/foreach",
                "/validate/deny",
                "/mutate/foreach",
                "/mutate/patchesJson6902",
            ]
            .iter()
            .any(|p| raw.pointer(p).is_some())
            || vars::tree_has_vars(&raw),
        selects: raw.get("match").map(Block::new),
        excludes: raw.get("exclude").map(Block::new),
        mutates: raw.get("mutate").is_some(),
        prepared: Vec::new(),
        raw,
    };
    // After `raw` has moved into the rule: the patterns sit in its heap
    // storage, which moving the rule does not move.
    rule.prepared = prepared(&rule.raw);
    rule
}

fn prepared(raw: &Value) -> Vec<(usize, Pattern)> {
    let mut out = Vec::new();
    if let Some(v) = raw.get("validate") {
        prepare(v, &mut out);
    }
    out
}

/// Problems with one rule, each starting with the field path.
fn check_rule(r: &Value, ev: &Evaluator) -> Vec<String> {
    let mut out = Vec::new();
    if r.get("match").is_none_or(|m| !m.is_object()) {
        out.push("match: every rule needs a match block".into());
    }
    if let Some(p) = r.get("preconditions")
        && let Err(e) = conditions::check(p, "preconditions")
    {
        out.push(e);
    }
    if let Some(v) = r.get("validate") {
        check_validate(v, "validate", &mut out);
    }
    if let Some(m) = r.get("mutate") {
        check_mutate(m, "mutate", &mut out);
    }
    if let Some(ctx) = r.get("context").and_then(Value::as_array) {
        for (i, c) in ctx.iter().enumerate() {
            if let Some(p) = c.pointer("/variable/jmesPath").and_then(Value::as_str)
                && !vars::has_vars(p)
                && let Err(e) = ev.check(p)
            {
                out.push(format!("context[{i}].variable.jmesPath: {e}"));
            }
        }
    }
    expressions(r, "", ev, &mut out);
    out
}

fn check_validate(v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(p) = v.get("pattern") {
        if !p.is_object() {
            out.push(format!(
                "{at}.pattern: must be an object (a resource overlay), found {}",
                kind_of(p)
            ));
        }
        anchors(p, &format!("{at}.pattern"), out);
    }
    if let Some(ap) = v.get("anyPattern") {
        match ap.as_array() {
            Some(list) => {
                for (i, p) in list.iter().enumerate() {
                    if !p.is_object() {
                        out.push(format!(
                            "{at}.anyPattern[{i}]: must be an object, found {}",
                            kind_of(p)
                        ));
                    }
                    anchors(p, &format!("{at}.anyPattern[{i}]"), out);
                }
            }
            None => out.push(format!(
                "{at}.anyPattern: must be a list of patterns, found {}",
                kind_of(ap)
            )),
        }
    }
    if let Some(d) = v.get("deny")
        && let Err(e) = conditions::check(
            d.get("conditions").unwrap_or(&Value::Null),
            &format!("{at}.deny.conditions"),
        )
    {
        out.push(e);
    }
    if let Some(m) = v.get("message")
        && !m.is_string()
    {
        out.push(format!("{at}.message: must be a string"));
    }
    if let Some(fe) = v.get("foreach") {
        match fe.as_array() {
            Some(list) => {
                for (i, f) in list.iter().enumerate() {
                    let here = format!("{at}.foreach[{i}]");
                    if f.get("list").and_then(Value::as_str).is_none() {
                        out.push(format!("{here}.list: a foreach needs a list expression"));
                    }
                    if let Some(p) = f.get("preconditions")
                        && let Err(e) = conditions::check(p, &format!("{here}.preconditions"))
                    {
                        out.push(e);
                    }
                    check_validate(f, &here, out);
                }
            }
            None => out.push(format!("{at}.foreach: must be a list")),
        }
    }
}

fn check_mutate(m: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(p) = m.get("patchStrategicMerge") {
        if !p.is_object() {
            out.push(format!(
                "{at}.patchStrategicMerge: must be an object, found {}",
                kind_of(p)
            ));
        }
        anchors(p, &format!("{at}.patchStrategicMerge"), out);
    }
    if let Some(p) = m.get("patchesJson6902") {
        match p.as_str() {
            Some(text) if !vars::has_vars(text) => {
                if let Err(e) = serde_saphyr::from_str::<Vec<Value>>(text) {
                    out.push(format!(
                        "{at}.patchesJson6902: not a YAML list of operations: {e}"
                    ));
                }
            }
            Some(_) => {}
            None => out.push(format!(
                "{at}.patchesJson6902: must be a string holding a YAML list"
            )),
        }
    }
    if let Some(fe) = m.get("foreach") {
        match fe.as_array() {
            Some(list) => {
                for (i, f) in list.iter().enumerate() {
                    let here = format!("{at}.foreach[{i}]");
                    if f.get("list").and_then(Value::as_str).is_none() {
                        out.push(format!("{here}.list: a foreach needs a list expression"));
                    }
                    check_mutate(f, &here, out);
                }
            }
            None => out.push(format!("{at}.foreach: must be a list")),
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Unknown anchors in a pattern tree.
fn anchors(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let here = format!("{at}.{k}");
                if let Err(e) = anchor::parse(k) {
                    out.push(format!("{here}: {e}"));
                }
                anchors(v, &here, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                anchors(v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Every `{{ }}` expression and foreach `list` must compile.
fn expressions(v: &Value, at: &str, ev: &Evaluator, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            for e in vars::expressions(s) {
                if e == "@" {
                    continue;
                }
                if let Err(err) = ev.check(&e) {
                    out.push(format!("{at}: {err}"));
                }
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                let here = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if k == "list"
                    && let Some(s) = v.as_str()
                    && !vars::has_vars(s)
                    && let Err(err) = ev.check(s)
                {
                    out.push(format!("{here}: {err}"));
                }
                expressions(v, &here, ev, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                expressions(v, &format!("{at}[{i}]"), ev, out);
            }
        }
        _ => {}
    }
}

const CONTROLLERS: &[&str] = &[
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];

fn descriptions(block: Option<&Value>) -> Vec<&Value> {
    let Some(b) = block else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(r) = b.get("resources") {
        out.push(r);
    }
    for key in ["any", "all"] {
        if let Some(list) = b.get(key).and_then(Value::as_array) {
            out.extend(list.iter().filter_map(|f| f.get("resources")));
        }
    }
    out
}

fn kinds(d: &Value) -> Vec<&str> {
    d.get("kinds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn is_pod(k: &str) -> bool {
    k == "Pod" || k.ends_with("/Pod")
}

/// Kyverno's `CanAutoGen` and rule generation for Pod rules.
fn autogen(rules: &[Value], annotation: Option<&str>) -> Vec<Value> {
    if annotation == Some("none") {
        return Vec::new();
    }
    let mut needed = false;
    for r in rules {
        if r.get("generate").is_some() || r.pointer("/mutate/patchesJson6902").is_some() {
            return Vec::new();
        }
        if let Some(fe) = r.pointer("/mutate/foreach").and_then(Value::as_array)
            && fe.iter().any(|f| f.get("patchesJson6902").is_some())
        {
            return Vec::new();
        }
        for d in descriptions(r.get("match"))
            .into_iter()
            .chain(descriptions(r.get("exclude")))
        {
            let ks = kinds(d);
            let mixed = ks.len() > 1 && ks.iter().any(|k| is_pod(k));
            if d.get("name").is_some()
                || d.get("names")
                    .is_some_and(|n| n.as_array().is_some_and(|a| !a.is_empty()))
                || d.get("selector").is_some_and(|s| !s.is_null())
                || d.get("annotations").is_some_and(|s| !s.is_null())
                || mixed
            {
                return Vec::new();
            }
            needed |= ks
                .iter()
                .any(|k| is_pod(k) || CONTROLLERS.contains(k) || *k == "CronJob");
        }
    }
    if !needed {
        return Vec::new();
    }
    let requested: Vec<&str> = match annotation {
        None | Some("all") | Some("") => CONTROLLERS.iter().copied().chain(["CronJob"]).collect(),
        Some(list) => list.split(',').map(str::trim).collect(),
    };
    let mut controllers: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|c| CONTROLLERS.contains(c))
        .collect();
    controllers.sort_unstable();
    let cronjob = requested.contains(&"CronJob");
    let mut out = Vec::new();
    for r in rules {
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        if name.starts_with("autogen-") || !pod_rule(r) {
            continue;
        }
        if !controllers.is_empty()
            && let Some(g) = generate(r, &format!("autogen-{name}"), "template", &controllers)
        {
            out.push(shift(g, false));
        }
        if cronjob {
            let base = if controllers.is_empty() {
                generate(r, &format!("autogen-{name}"), "template", CONTROLLERS)
            } else {
                generate(r, &format!("autogen-{name}"), "template", &controllers)
            };
            if let Some(g) = base.and_then(|b| {
                generate(
                    &b,
                    &format!("autogen-cronjob-{name}"),
                    "jobTemplate",
                    &["CronJob"],
                )
            }) {
                out.push(shift(g, true));
            }
        }
    }
    out
}

/// A rule that matches Pods (and, when it excludes kinds, excludes Pods).
fn pod_rule(r: &Value) -> bool {
    let m: Vec<&str> = descriptions(r.get("match"))
        .into_iter()
        .flat_map(kinds)
        .collect();
    let e: Vec<&str> = descriptions(r.get("exclude"))
        .into_iter()
        .flat_map(kinds)
        .collect();
    m.iter().any(|k| is_pod(k)) && (e.is_empty() || e.iter().any(|k| is_pod(k)))
}

fn truncate63(s: &str) -> String {
    s.chars().take(63).collect()
}

/// The rule rewritten for `kinds`, with its pattern moved under `spec.<key>`.
fn generate(r: &Value, name: &str, key: &str, kinds: &[&str]) -> Option<Value> {
    let mut g = r.as_object()?.clone();
    g.insert("name".into(), json!(truncate63(name)));
    let kind_list = json!(kinds);
    for block in ["match", "exclude"] {
        let Some(Value::Object(b)) = g.get_mut(block) else {
            continue;
        };
        let mut rewritten = false;
        for list_key in ["any", "all"] {
            if let Some(Value::Array(list)) = b.get_mut(list_key)
                && !list.is_empty()
            {
                rewritten = true;
                for f in list.iter_mut() {
                    if let Some(res) = f.get_mut("resources").and_then(Value::as_object_mut)
                        && (kinds_of(res).iter().any(|k| is_pod(k)) || key == "jobTemplate")
                    {
                        res.insert("kinds".into(), kind_list.clone());
                    }
                }
            }
        }
        if !rewritten
            && let Some(Value::Object(res)) = b.get_mut("resources")
            && (block == "match" || res.contains_key("kinds"))
        {
            res.insert("kinds".into(), kind_list.clone());
        }
    }
    let wrap = |v: Value| json!({"spec": {key: v}});
    if let Some(Value::Object(m)) = g.get_mut("mutate") {
        if let Some(p) = m.remove("patchStrategicMerge") {
            m.insert("patchStrategicMerge".into(), wrap(p));
        }
        if let Some(Value::Array(fe)) = m.get_mut("foreach") {
            for f in fe.iter_mut() {
                if let Some(Value::Object(fm)) = Some(f)
                    && let Some(p) = fm.remove("patchStrategicMerge")
                {
                    fm.insert("patchStrategicMerge".into(), wrap(p));
                }
            }
        }
    }
    if let Some(Value::Object(v)) = g.get_mut("validate") {
        if let Some(p) = v.remove("pattern") {
            v.insert("pattern".into(), wrap(p));
        }
        if let Some(Value::Array(ps)) = v.remove("anyPattern") {
            v.insert(
                "anyPattern".into(),
                Value::Array(ps.into_iter().map(wrap).collect()),
            );
        }
    }
    Some(Value::Object(g))
}

fn kinds_of(res: &Map<String, Value>) -> Vec<&str> {
    res.get("kinds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Kyverno rewrites variable references textually: `request.object.spec`
/// becomes the pod template's spec (and `metadata` its metadata).
fn shift(rule: Value, cronjob: bool) -> Value {
    let text = rule.to_string();
    let to = if cronjob {
        "spec.jobTemplate.spec.template"
    } else {
        "spec.template"
    };
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text.as_str();
    let needles = ["request.object.", "request.oldObject."];
    'outer: while !rest.is_empty() {
        for n in needles {
            if let Some(after) = rest.strip_prefix(n) {
                for field in ["spec", "metadata"] {
                    if after.starts_with(field)
                        && !after[field.len()..]
                            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    {
                        out.push_str(n);
                        out.push_str(to);
                        out.push('.');
                        out.push_str(field);
                        rest = &after[field.len()..];
                        continue 'outer;
                    }
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    serde_json::from_str(&out).unwrap_or(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: Value) -> Value {
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
               "spec": {"validationFailureAction": "Enforce", "rules": rules}})
    }

    #[test]
    fn autogen_rules() {
        let ev = Evaluator::default();
        let p = load(&policy(json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "{{request.object.metadata.name}}", "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}])), &ev).unwrap();
        let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r", "autogen-r", "autogen-cronjob-r"]);
        let cj = &p.rules[2].raw;
        assert!(
            cj.pointer("/validate/pattern/spec/jobTemplate/spec/template/spec/containers")
                .is_some()
        );
        assert_eq!(
            cj.pointer("/match/any/0/resources/kinds/0"),
            Some(&json!("CronJob"))
        );
        assert_eq!(
            cj.pointer("/validate/message"),
            Some(&json!(
                "{{request.object.spec.jobTemplate.spec.template.metadata.name}}"
            ))
        );
        assert_eq!(
            p.rules[1]
                .raw
                .pointer("/match/any/0/resources/kinds")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            6
        );
    }

    #[test]
    fn no_autogen_with_names_or_mixed_kinds() {
        let ev = Evaluator::default();
        let p = load(&policy(json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod", "Service"]}}]},
            "validate": {"pattern": {"metadata": {"labels": {"a": "?*"}}}}}])), &ev).unwrap();
        assert_eq!(p.rules.len(), 1);
    }

    #[test]
    fn bad_policies_are_located() {
        let ev = Evaluator::default();
        let e = load(
            &policy(
                json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"pattern": {"spec": {"%(x)": "a"}}}}]),
            ),
            &ev,
        )
        .unwrap_err();
        assert!(
            e[0].contains("ClusterPolicy 'p' rule 'r'")
                && e[0].contains("validate.pattern.spec.%(x)"),
            "{e:?}"
        );
        let e = load(
            &policy(
                json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "{{ request.object.[ }}", "pattern": {"spec": {}}}}]),
            ),
            &ev,
        )
        .unwrap_err();
        assert!(
            e[0].contains("validate.message") && e[0].contains("invalid JMESPath"),
            "{e:?}"
        );
        let e = load(
            &policy(
                json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"pattern": "spec"}}]),
            ),
            &ev,
        )
        .unwrap_err();
        assert!(
            e[0].contains("validate.pattern: must be an object"),
            "{e:?}"
        );
        let e = load(&policy(json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"deny": {"conditions": {"any": [{"key": 1, "operator": "Bigger", "value": 2}]}}}}])), &ev).unwrap_err();
        assert!(
            e[0].contains("validate.deny.conditions.any[0].operator: unknown operator 'Bigger'"),
            "{e:?}"
        );
    }
}
