//! `match` and `exclude`: resource filters (`kinds`, `names`, `namespaces`,
//! `annotations`, `selector`, `namespaceSelector`, `operations`) in
//! `any`/`all` lists or the legacy single `resources` block.
//!
//! Rendered manifests carry no admission user, so `subjects`, `roles` and
//! `clusterRoles` are not checked (as in Kyverno's background scans and CLI):
//! a filter with only those matches any resource in `match` and excludes
//! nothing in `exclude`.

use crate::wildcard;
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
        let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
        let api = s("/apiVersion");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        Subject {
            group,
            version,
            kind: s("/kind"),
            name: s("/metadata/name"),
            namespace: s("/metadata/namespace"),
            labels: object
                .pointer("/metadata/labels")
                .and_then(Value::as_object),
            annotations: object
                .pointer("/metadata/annotations")
                .and_then(Value::as_object),
            namespace_labels,
            operation,
        }
    }
}

/// Whether a rule's `match` block selects the subject.
pub fn matches(block: &Value, r: &Subject) -> bool {
    if let Some(any) = block
        .get("any")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return any.iter().any(|f| filter(f, r, true));
    }
    if let Some(all) = block
        .get("all")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return all.iter().all(|f| filter(f, r, true));
    }
    filter(block, r, true)
}

/// Whether a rule's `exclude` block removes the subject.
pub fn excluded(block: &Value, r: &Subject) -> bool {
    if let Some(any) = block
        .get("any")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return any.iter().any(|f| filter(f, r, false));
    }
    if let Some(all) = block
        .get("all")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return all.iter().all(|f| filter(f, r, false));
    }
    filter(block, r, false)
}

/// One `{resources: …}` filter. An empty description matches in `match`
/// (user-only filters) and does not in `exclude`.
fn filter(f: &Value, r: &Subject, in_match: bool) -> bool {
    let Some(d) = f
        .get("resources")
        .and_then(Value::as_object)
        .filter(|d| !d.is_empty())
    else {
        return in_match;
    };
    description(d, r)
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn description(d: &Map<String, Value>, r: &Subject) -> bool {
    let kinds = strings(d.get("kinds"));
    if !kinds.is_empty() && !kinds.iter().any(|k| kind_matches(k, r)) {
        return false;
    }
    if let Some(name) = d.get("name").and_then(Value::as_str)
        && !wildcard::matches(name, r.name)
    {
        return false;
    }
    let names = strings(d.get("names"));
    if !names.is_empty() && !names.iter().any(|n| wildcard::matches(n, r.name)) {
        return false;
    }
    let namespaces = strings(d.get("namespaces"));
    if !namespaces.is_empty() {
        // A Namespace is matched by its own name, as in Kyverno.
        let ns = if r.kind == "Namespace" {
            r.name
        } else {
            r.namespace
        };
        if !namespaces.iter().any(|n| wildcard::matches(n, ns)) {
            return false;
        }
    }
    let operations = strings(d.get("operations"));
    if !operations.is_empty() && !operations.contains(&r.operation) {
        return false;
    }
    if let Some(Value::Object(want)) = d.get("annotations") {
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
    if let Some(sel) = d.get("selector").filter(|s| !s.is_null())
        && !selector_matches(sel, r.labels)
    {
        return false;
    }
    if let Some(sel) = d.get("namespaceSelector").filter(|s| !s.is_null()) {
        if r.namespace.is_empty() && r.kind != "Namespace" {
            return false;
        }
        if !selector_matches(sel, r.namespace_labels) {
            return false;
        }
    }
    true
}

/// `Kind`, `Kind/subresource`, `version/Kind`, `group/version/Kind`, any part a wildcard.
fn kind_matches(entry: &str, r: &Subject) -> bool {
    let parts: Vec<&str> = entry.split('/').collect();
    let (group, version, kind, sub) = match parts.as_slice() {
        [k] => ("*", "*", *k, ""),
        [a, b] if a.starts_with(|c: char| c.is_ascii_uppercase()) => ("*", "*", *a, *b),
        [v, k] => ("*", *v, *k, ""),
        [g, v, k] => (*g, *v, *k, ""),
        [g, v, k, s] => (*g, *v, *k, *s),
        _ => return false,
    };
    // Rendered manifests are whole objects, never subresources.
    if !sub.is_empty() && sub != "*" {
        return false;
    }
    wildcard::matches(group, r.group)
        && wildcard::matches(version, r.version)
        && wildcard::matches(kind, r.kind)
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
