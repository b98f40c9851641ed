//! `match` and `exclude`: resource filters (`kinds`, `names`, `namespaces`,
//! `annotations`, `selector`, `namespaceSelector`, `operations`) in
//! `any`/`all` lists or the legacy single `resources` block.
//!
//! Rendered manifests carry no admission user, so `subjects`, `roles` and
//! `clusterRoles` are not checked (as in Kyverno's background scans and CLI):
//! a filter with only those matches any resource in `match` and excludes
//! nothing in `exclude`.

use crate::wildcard::{self, Glob};
use serde_json::{Map, Value};

/// What matching needs to know about one resource.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub labels: Option<&'a Map<String, Value>>,
    pub annotations: Option<&'a Map<String, Value>>,
    /// Labels of the resource's namespace, when known.
    pub namespace_labels: Option<&'a Map<String, Value>>,
    pub operation: &'a str,
}

impl<'a> Subject<'a> {
    pub fn of(
        object: &'a Value,
        namespace_labels: Option<&'a Map<String, Value>>,
        operation: &'a str,
    ) -> Self {
        let s = |v: Option<&'a Value>| v.and_then(Value::as_str).unwrap_or("");
        let meta = object.get("metadata");
        let field = |k: &str| meta.and_then(|m| m.get(k));
        let api = s(object.get("apiVersion"));
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        Subject {
            group,
            version,
            kind: s(object.get("kind")),
            name: s(field("name")),
            namespace: s(field("namespace")),
            labels: field("labels").and_then(Value::as_object),
            annotations: field("annotations").and_then(Value::as_object),
            namespace_labels,
            operation,
        }
    }
}

/// A rule's `match` or `exclude` block, read once when the policy loads.
#[derive(Debug, Clone)]
pub struct Block {
    mode: Mode,
    /// `None`: a filter with no resource description (user-only).
    filters: Vec<Option<Description>>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Any,
    All,
    /// The legacy single `resources` block.
    One,
}

#[derive(Debug, Clone)]
struct Description {
    kinds: Vec<Kind>,
    name: Option<Glob>,
    names: Vec<Glob>,
    namespaces: Vec<Glob>,
    operations: Vec<String>,
    annotations: Option<Map<String, Value>>,
    selector: Option<Value>,
    namespace_selector: Option<Value>,
}

/// A `kinds` entry split into group, version and kind (wildcards allowed).
#[derive(Debug, Clone)]
enum Kind {
    Is {
        group: Glob,
        version: Glob,
        kind: Glob,
    },
    /// A subresource or a malformed entry: rendered manifests are whole
    /// objects, so it never matches.
    Never,
}

impl Block {
    pub fn new(block: &Value) -> Block {
        let list = |key: &str| {
            block
                .get(key)
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
        };
        let (mode, filters) = if let Some(any) = list("any") {
            (Mode::Any, any.iter().map(Description::of).collect())
        } else if let Some(all) = list("all") {
            (Mode::All, all.iter().map(Description::of).collect())
        } else {
            (Mode::One, vec![Description::of(block)])
        };
        Block { mode, filters }
    }

    /// Whether a `match` block selects the subject.
    pub fn matches(&self, r: &Subject) -> bool {
        self.holds(r, true)
    }

    /// Whether an `exclude` block removes the subject.
    pub fn excludes(&self, r: &Subject) -> bool {
        self.holds(r, false)
    }

    /// An empty description matches in `match` (user-only filters) and does
    /// not in `exclude`.
    fn holds(&self, r: &Subject, in_match: bool) -> bool {
        let one = |d: &Option<Description>| d.as_ref().map_or(in_match, |d| d.holds(r));
        match self.mode {
            Mode::Any => self.filters.iter().any(one),
            Mode::All | Mode::One => self.filters.iter().all(one),
        }
    }
}

fn globs(v: Option<&Value>) -> Vec<Glob> {
    strings(v).iter().map(|s| Glob::new(s)).collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Description {
    /// The `resources` of one filter; `None` when it has none.
    fn of(f: &Value) -> Option<Description> {
        let d = f
            .get("resources")
            .and_then(Value::as_object)
            .filter(|d| !d.is_empty())?;
        Some(Description {
            kinds: strings(d.get("kinds"))
                .iter()
                .map(|k| Kind::new(k))
                .collect(),
            name: d.get("name").and_then(Value::as_str).map(Glob::new),
            names: globs(d.get("names")),
            namespaces: globs(d.get("namespaces")),
            operations: strings(d.get("operations")),
            annotations: d.get("annotations").and_then(Value::as_object).cloned(),
            selector: d.get("selector").filter(|s| !s.is_null()).cloned(),
            namespace_selector: d.get("namespaceSelector").filter(|s| !s.is_null()).cloned(),
        })
    }

    fn holds(&self, r: &Subject) -> bool {
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k.matches(r)) {
            return false;
        }
        if let Some(name) = &self.name
            && !name.matches(r.name)
        {
            return false;
        }
        if !self.names.is_empty() && !self.names.iter().any(|n| n.matches(r.name)) {
            return false;
        }
        if !self.namespaces.is_empty() {
            // A Namespace is matched by its own name, as in Kyverno.
            let ns = if r.kind == "Namespace" {
                r.name
            } else {
                r.namespace
            };
            if !self.namespaces.iter().any(|n| n.matches(ns)) {
                return false;
            }
        }
        if !self.operations.is_empty() && !self.operations.iter().any(|o| o == r.operation) {
            return false;
        }
        if let Some(want) = &self.annotations {
            let ok = want.iter().all(|(k, v)| {
                let have = r.annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
                match (have, v.as_str()) {
                    (Some(h), Some(w)) => wildcard::matches(w, h),
                    _ => false,
                }
            });
            if !ok {
                return false;
            }
        }
        if let Some(sel) = &self.selector
            && !selector_matches(sel, r.labels)
        {
            return false;
        }
        if let Some(sel) = &self.namespace_selector {
            if r.namespace.is_empty() && r.kind != "Namespace" {
                return false;
            }
            if !selector_matches(sel, r.namespace_labels) {
                return false;
            }
        }
        true
    }
}

impl Kind {
    /// `Kind`, `Kind/subresource`, `version/Kind`, `group/version/Kind`, any part a wildcard.
    fn new(entry: &str) -> Kind {
        let parts: Vec<&str> = entry.split('/').collect();
        let (group, version, kind, sub) = match parts.as_slice() {
            [k] => ("*", "*", *k, ""),
            [a, b] if a.starts_with(|c: char| c.is_ascii_uppercase()) => ("*", "*", *a, *b),
            [v, k] => ("*", *v, *k, ""),
            [g, v, k] => (*g, *v, *k, ""),
            [g, v, k, s] => (*g, *v, *k, *s),
            _ => return Kind::Never,
        };
        if !sub.is_empty() && sub != "*" {
            return Kind::Never;
        }
        Kind::Is {
            group: Glob::new(group),
            version: Glob::new(version),
            kind: Glob::new(kind),
        }
    }

    fn matches(&self, r: &Subject) -> bool {
        match self {
            Kind::Is {
                group,
                version,
                kind,
            } => kind.matches(r.kind) && group.matches(r.group) && version.matches(r.version),
            Kind::Never => false,
        }
    }
}

/// A label selector (`matchLabels`, `matchExpressions`); values may be wildcards.
pub fn selector_matches(sel: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    if let Some(Value::Object(ml)) = sel.get("matchLabels") {
        for (k, v) in ml {
            let want = v.as_str().unwrap_or("");
            match get(k) {
                Some(have) if wildcard::matches(want, have) => {}
                _ => return false,
            }
        }
    }
    if let Some(Value::Array(exprs)) = sel.get("matchExpressions") {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values = strings(e.get("values"));
            let have = get(key);
            let ok = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => have.is_some_and(|h| values.iter().any(|v| wildcard::matches(v, h))),
                "NotIn" => !have.is_some_and(|h| values.iter().any(|v| wildcard::matches(v, h))),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(o: &Value) -> Subject<'_> {
        Subject::of(o, None, "CREATE")
    }

    fn matches(block: &Value, r: &Subject) -> bool {
        Block::new(block).matches(r)
    }

    fn excluded(block: &Value, r: &Subject) -> bool {
        Block::new(block).excludes(r)
    }

    #[test]
    fn kinds_names_namespaces() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-1", "namespace": "shop", "labels": {"tier": "front"}}});
        let r = subject(&d);
        assert!(matches(
            &json!({"any": [{"resources": {"kinds": ["Deployment"]}}]}),
            &r
        ));
        assert!(matches(
            &json!({"resources": {"kinds": ["apps/v1/Deployment"]}}),
            &r
        ));
        assert!(matches(
            &json!({"resources": {"kinds": ["apps/*/Deploy*"]}}),
            &r
        ));
        assert!(matches(
            &json!({"resources": {"kinds": ["v1/Deployment"]}}),
            &r
        ));
        assert!(!matches(&json!({"resources": {"kinds": ["Pod"]}}), &r));
        assert!(!matches(
            &json!({"resources": {"kinds": ["Deployment/scale"]}}),
            &r
        ));
        assert!(matches(
            &json!({"resources": {"kinds": ["*"], "names": ["web-?"]}}),
            &r
        ));
        assert!(!matches(
            &json!({"resources": {"kinds": ["*"], "namespaces": ["kube-*"]}}),
            &r
        ));
        assert!(matches(
            &json!({"all": [{"resources": {"kinds": ["Deployment"]}}, {"resources": {"selector": {"matchLabels": {"tier": "fr*"}}}}]}),
            &r
        ));
        assert!(!matches(
            &json!({"all": [{"resources": {"kinds": ["Deployment"]}}, {"resources": {"selector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}}}]}),
            &r
        ));
        assert!(excluded(
            &json!({"any": [{"resources": {"namespaces": ["shop"]}}]}),
            &r
        ));
        assert!(!excluded(
            &json!({"any": [{"clusterRoles": ["cluster-admin"]}]}),
            &r
        ));
        assert!(matches(
            &json!({"any": [{"resources": {"kinds": ["Deployment"], "operations": ["CREATE"]}}]}),
            &r
        ));
        assert!(!matches(
            &json!({"any": [{"resources": {"kinds": ["Deployment"], "operations": ["DELETE"]}}]}),
            &r
        ));
    }

    #[test]
    fn namespace_selector_and_annotations() {
        let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "prod", "annotations": {"team": "payments"}}});
        let labels = json!({"env": "production"});
        let r = Subject::of(&p, labels.as_object(), "CREATE");
        assert!(matches(
            &json!({"resources": {"kinds": ["Pod"], "namespaceSelector": {"matchLabels": {"env": "production"}}}}),
            &r
        ));
        assert!(!matches(
            &json!({"resources": {"kinds": ["Pod"], "namespaceSelector": {"matchLabels": {"env": "dev"}}}}),
            &r
        ));
        assert!(matches(
            &json!({"resources": {"kinds": ["Pod"], "annotations": {"team": "pay*"}}}),
            &r
        ));
        assert!(!matches(
            &json!({"resources": {"kinds": ["Pod"], "annotations": {"owner": "*"}}}),
            &r
        ));
    }
}
