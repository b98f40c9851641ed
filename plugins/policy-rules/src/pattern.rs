//! `validate.pattern`: Kyverno's overlay-style matching of a resource against
//! a pattern tree, with anchors, wildcards and value operators.
//!
//! Semantics follow Kyverno's `pkg/engine/validate`: anchors of a map are
//! evaluated before its plain keys; a failed conditional anchor skips the
//! enclosing array element (or the whole rule at the top), a failed global
//! anchor skips the rule; scalar patterns against a list check every item.

use crate::anchor::{self, Anchor};
use crate::quantity::{parse_duration, parse_quantity};
use crate::wildcard;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

/// Why a resource does not satisfy a pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// The resource violates the pattern at `path`.
    Fail { path: Path, message: String },
    /// A conditional (or, with `global`, a global) anchor did not hold: the
    /// pattern does not apply.
    Skip { global: bool, message: String },
}

/// A location inside a resource: map keys and list indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Path(pub Vec<Seg>);

#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl Path {
    /// Kyverno's form: `/spec/containers/0/image/`.
    pub fn kyverno(&self) -> String {
        let mut s = String::from("/");
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => s.push_str(k),
                Seg::Index(i) => s.push_str(&i.to_string()),
            }
            s.push('/');
        }
        s
    }

    /// Sluice's field path: `spec.containers[0].image`.
    pub fn dotted(&self) -> String {
        let mut s = String::new();
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
}

/// Where the walk is, kept on the stack and turned into a `Path` only
/// when something fails, so passing resources cost no allocations.
#[derive(Clone, Copy)]
struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Option<SegRef<'a>>,
}

#[derive(Clone, Copy)]
enum SegRef<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> At<'a> {
    const ROOT: At<'static> = At {
        parent: None,
        seg: None,
    };

    fn key(&'a self, k: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            seg: Some(SegRef::Key(k)),
        }
    }

    fn index(&'a self, i: usize) -> At<'a> {
        At {
            parent: Some(self),
            seg: Some(SegRef::Index(i)),
        }
    }

    fn path(&self) -> Path {
        let mut segs = Vec::new();
        let mut at = Some(self);
        while let Some(a) = at {
            match a.seg {
                Some(SegRef::Key(k)) => segs.push(Seg::Key(k.to_owned())),
                Some(SegRef::Index(i)) => segs.push(Seg::Index(i)),
                None => {}
            }
            at = a.parent;
        }
        segs.reverse();
        Path(segs)
    }

    fn kyverno(&self) -> String {
        self.path().kyverno()
    }
}

type Outcome = Result<(), Mismatch>;

/// A pattern prepared once per rule: anchors parsed and put in Kyverno's
/// order, so checking a resource parses and allocates nothing unless it fails.
#[derive(Debug, Clone)]
pub struct Pattern(Node);

#[derive(Debug, Clone)]
enum Node {
    Map(MapNode),
    /// A map with wildcard keys: expanded against each resource's keys, then
    /// prepared.
    Expand(Map<String, Value>),
    Array(Vec<Node>),
    Scalar(Value),
}

#[derive(Debug, Clone)]
struct MapNode {
    /// Anchored keys, in `anchor_key` order.
    anchors: Vec<(Anchor, String, Node)>,
    /// Plain keys (and `+()`), those holding anchors first.
    plain: Vec<(String, Node)>,
}

impl Pattern {
    pub fn new(pattern: &Value) -> Pattern {
        Pattern(Node::new(pattern))
    }

    /// Checks `resource` against the pattern from the root.
    pub fn check(&self, resource: &Value) -> Outcome {
        element(resource, &self.0, &At::ROOT)
    }
}

impl Node {
    fn new(pattern: &Value) -> Node {
        match pattern {
            Value::Object(m) if m.keys().any(|k| wildcard::has_wildcard(k)) => {
                Node::Expand(m.clone())
            }
            Value::Object(m) => Node::Map(MapNode::new(m)),
            Value::Array(a) => Node::Array(a.iter().map(Node::new).collect()),
            scalar => Node::Scalar(scalar.clone()),
        }
    }
}

impl MapNode {
    fn new(pattern: &Map<String, Value>) -> MapNode {
        let mut anchors: Vec<(String, Anchor, &str, &Value)> = Vec::new();
        let mut plain: Vec<(bool, &str, &Value)> = Vec::new();
        for (k, v) in pattern {
            match anchor::parse(k).ok().flatten() {
                Some((Anchor::AddIfNotPresent, key)) => plain.push((!has_nested_anchor(v), key, v)),
                Some((a, key)) => anchors.push((anchor_key(a, key), a, key, v)),
                None => plain.push((!has_nested_anchor(v), k, v)),
            }
        }
        // Both sorts are stable, as Kyverno's are.
        anchors.sort_by(|a, b| a.0.cmp(&b.0));
        plain.sort_by_key(|p| p.0);
        MapNode {
            anchors: anchors
                .into_iter()
                .map(|(_, a, k, v)| (a, k.to_owned(), Node::new(v)))
                .collect(),
            plain: plain
                .into_iter()
                .map(|(_, k, v)| (k.to_owned(), Node::new(v)))
                .collect(),
        }
    }
}

/// Checks `resource` against `pattern` from the root.
pub fn validate(resource: &Value, pattern: &Value) -> Outcome {
    Pattern::new(pattern).check(resource)
}

fn fail(path: &At, message: String) -> Outcome {
    Err(Mismatch::Fail {
        path: path.path(),
        message,
    })
}

fn element(resource: &Value, pattern: &Node, path: &At) -> Outcome {
    match pattern {
        Node::Map(_) | Node::Expand(_) => match resource {
            Value::Object(r) => match pattern {
                Node::Expand(p) => {
                    let expanded = expand_wildcard_keys(p, r);
                    map(r, &MapNode::new(&expanded), path)
                }
                Node::Map(p) => map(r, p, path),
                _ => unreachable!("matched as a map above"),
            },
            _ => fail(
                path,
                format!(
                    "pattern and resource have different structures at path {}: expected an object, found {}",
                    path.kyverno(),
                    type_name(resource)
                ),
            ),
        },
        Node::Array(p) => match resource {
            Value::Array(r) => array(r, p, path),
            _ => fail(
                path,
                format!(
                    "validation rule failed at path {}, resource does not satisfy the expected overlay pattern",
                    path.kyverno()
                ),
            ),
        },
        Node::Scalar(scalar) => {
            let ok = match resource {
                Value::Array(items) => items.iter().all(|i| value_matches(i, scalar)),
                r => value_matches(r, scalar),
            };
            if ok {
                Ok(())
            } else {
                scalar_fail(resource, scalar, path)
            }
        }
    }
}

fn scalar_fail(resource: &Value, scalar: &Value, path: &At) -> Outcome {
    fail(
        path,
        format!(
            "resource value '{}' does not match '{}' at path {}",
            show(resource),
            show(scalar),
            path.kyverno()
        ),
    )
}

fn map(resource: &Map<String, Value>, pattern: &MapNode, path: &At) -> Outcome {
    for (a, key, pat) in &pattern.anchors {
        let at = path.key(key);
        let present = resource.get(key);
        match a {
            Anchor::Condition | Anchor::Global => {
                let global = *a == Anchor::Global;
                match present {
                    Some(v) => {
                        if let Err(e) = element(v, pat, &at) {
                            return Err(match e {
                                Mismatch::Fail { message, .. } => {
                                    Mismatch::Skip { global, message }
                                }
                                skip @ Mismatch::Skip { global: true, .. } => skip,
                                Mismatch::Skip { message, .. } => {
                                    Mismatch::Skip { global, message }
                                }
                            });
                        }
                    }
                    None => {
                        return Err(Mismatch::Skip {
                            global,
                            message: format!(
                                "{} anchor key '{key}' does not exist in the resource",
                                if global { "global" } else { "conditional" }
                            ),
                        });
                    }
                }
            }
            Anchor::Equality => {
                if let Some(v) = present {
                    element(v, pat, &at)?;
                }
            }
            Anchor::Negation => {
                if present.is_some() {
                    return fail(
                        &at,
                        format!("{} is not allowed", at.kyverno().trim_end_matches('/')),
                    );
                }
            }
            Anchor::Existence => {
                if let Some(v) = present {
                    existence(v, pat, &at)?;
                }
            }
            Anchor::AddIfNotPresent => unreachable!("treated as a plain key when prepared"),
        }
    }
    for (key, pat) in &pattern.plain {
        let at = path.key(key);
        let value = resource.get(key).unwrap_or(&Value::Null);
        if let Node::Scalar(Value::String(s)) = pat
            && s == "*"
        {
            if value.is_null() {
                return fail(
                    &at,
                    format!("{} not found", at.kyverno().trim_end_matches('/')),
                );
            }
            continue;
        }
        element(value, pat, &at)?;
    }
    Ok(())
}

/// The order anchors are evaluated in: Kyverno sorts the anchored keys as text.
fn anchor_key(a: Anchor, key: &str) -> String {
    let prefix = match a {
        Anchor::Condition => "",
        Anchor::Equality => "=",
        Anchor::Existence => "^",
        Anchor::Negation => "X",
        Anchor::Global => "<",
        Anchor::AddIfNotPresent => "+",
    };
    format!("{prefix}({key})")
}

fn existence(resource: &Value, pattern: &Node, path: &At) -> Outcome {
    let Value::Array(items) = resource else {
        return fail(
            path,
            format!(
                "existence anchor ^() at path {} needs a list in the resource, found {}",
                path.kyverno(),
                type_name(resource)
            ),
        );
    };
    let Node::Array(patterns) = pattern else {
        return fail(
            path,
            format!(
                "existence anchor ^() at path {} needs a list pattern",
                path.kyverno()
            ),
        );
    };
    for p in patterns {
        let found = items
            .iter()
            .enumerate()
            .any(|(i, item)| element(item, p, &path.index(i)).is_ok());
        if !found {
            return fail(
                path,
                format!(
                    "existence anchor validation failed at path {}",
                    path.kyverno()
                ),
            );
        }
    }
    Ok(())
}

fn array(resource: &[Value], pattern: &[Node], path: &At) -> Outcome {
    let Some(first) = pattern.first() else {
        return fail(
            path,
            format!("pattern array at {} is empty", path.kyverno()),
        );
    };
    match first {
        Node::Map(_) | Node::Expand(_) => {
            let mut applied = 0;
            let mut skip: Option<Mismatch> = None;
            for (i, item) in resource.iter().enumerate() {
                match element(item, first, &path.index(i)) {
                    Ok(()) => applied += 1,
                    Err(e @ Mismatch::Skip { global: true, .. }) => return Err(e),
                    Err(e @ Mismatch::Skip { .. }) => skip = Some(e),
                    Err(e) => return Err(e),
                }
            }
            match skip {
                Some(s) if applied == 0 => Err(s),
                _ => Ok(()),
            }
        }
        Node::Array(_) => {
            if resource.len() < pattern.len() {
                return fail(
                    path,
                    format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        resource.len(),
                        pattern.len()
                    ),
                );
            }
            for (i, p) in pattern.iter().enumerate() {
                element(&resource[i], p, &path.index(i))?;
            }
            Ok(())
        }
        Node::Scalar(scalar) => {
            if resource.iter().all(|i| value_matches(i, scalar)) {
                Ok(())
            } else {
                scalar_fail(&Value::Array(resource.to_vec()), scalar, path)
            }
        }
    }
}

/// `labels: {"app.kubernetes.io/*": "?*"}` names every matching key.
fn expand_wildcard_keys(
    pattern: &Map<String, Value>,
    resource: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pattern {
        let (prefix, inner, suffix) = match anchor::parse(k).ok().flatten() {
            Some((_, inner)) => {
                let start = k.find(inner).unwrap_or(0);
                (&k[..start], inner, &k[start + inner.len()..])
            }
            None => ("", k.as_str(), ""),
        };
        if !wildcard::has_wildcard(inner) {
            out.insert(k.clone(), v.clone());
            continue;
        }
        let matching: Vec<&String> = resource
            .keys()
            .filter(|rk| wildcard::matches(inner, rk))
            .collect();
        if matching.is_empty() {
            out.insert(k.clone(), v.clone());
        }
        for rk in matching {
            out.insert(format!("{prefix}{rk}{suffix}"), v.clone());
        }
    }
    out
}

fn has_nested_anchor(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| anchor::parse(k).ok().flatten().is_some() || has_nested_anchor(v)),
        Value::Array(a) => a.iter().any(has_nested_anchor),
        _ => false,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// A scalar resource value against a scalar pattern (Kyverno's `pattern.Validate`).
pub fn value_matches(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(n) => number_matches(value, n.as_f64().unwrap_or(f64::NAN)),
        Value::Null => match value {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(_) | Value::Object(_) => false,
        },
        Value::Object(_) => value.is_object(),
        Value::Array(_) => false,
        Value::String(p) => string_patterns(value, p),
    }
}

fn number_matches(value: &Value, pattern: f64) -> bool {
    match value {
        Value::Number(n) => n.as_f64() == Some(pattern),
        Value::String(s) => s.trim().parse::<f64>().ok() == Some(pattern),
        _ => false,
    }
}

fn string_patterns(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alt| {
        alt.trim()
            .split('&')
            .all(|cond| string_pattern(value, cond.trim()))
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Equal,
    NotEqual,
    More,
    MoreEqual,
    Less,
    LessEqual,
}

/// `a-b` with both ends numbers, quantities or durations.
fn range(s: &str) -> Option<(&str, &str)> {
    for (i, c) in s.char_indices().skip(1) {
        if c == '-' {
            let (l, r) = (&s[..i], &s[i + 1..]);
            let bound = |x: &str| {
                x.starts_with(|c: char| c.is_ascii_digit())
                    && (parse_quantity(x).is_some() || parse_duration(x).is_some())
            };
            if bound(l) && bound(r) {
                return Some((l, r));
            }
        }
    }
    None
}

fn string_pattern(value: &Value, pattern: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix('!')
        && let Some((l, r)) = range(rest)
    {
        return !(compare(value, l, Op::MoreEqual) && compare(value, r, Op::LessEqual));
    }
    if !pattern.starts_with(['>', '<', '!'])
        && let Some((l, r)) = range(pattern)
    {
        return compare(value, l, Op::MoreEqual) && compare(value, r, Op::LessEqual);
    }
    let (op, rest) = if pattern.len() < 2 {
        (Op::Equal, pattern)
    } else if let Some(r) = pattern.strip_prefix(">=") {
        (Op::MoreEqual, r)
    } else if let Some(r) = pattern.strip_prefix("<=") {
        (Op::LessEqual, r)
    } else if let Some(r) = pattern.strip_prefix('>') {
        (Op::More, r)
    } else if let Some(r) = pattern.strip_prefix('<') {
        (Op::Less, r)
    } else if let Some(r) = pattern.strip_prefix('!') {
        (Op::NotEqual, r)
    } else {
        (Op::Equal, pattern)
    };
    compare(value, rest.trim(), op)
}

/// The text form Kyverno compares scalars by.
pub fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.to_string(),
        })),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Null => Some(Cow::Borrowed("")),
        _ => None,
    }
}

fn compare(value: &Value, pattern: &str, op: Op) -> bool {
    let Some(text) = scalar_text(value) else {
        return false;
    };
    let ordered = |o: Ordering| match op {
        Op::Equal => o == Ordering::Equal,
        Op::NotEqual => o != Ordering::Equal,
        Op::More => o == Ordering::Greater,
        Op::MoreEqual => o != Ordering::Less,
        Op::Less => o == Ordering::Less,
        Op::LessEqual => o != Ordering::Greater,
    };
    if let (Some(p), Some(v)) = (parse_duration(pattern), parse_duration(&text))
        && pattern != "0"
    {
        return v.partial_cmp(&p).is_some_and(ordered);
    }
    if let Some(p) = parse_quantity(pattern) {
        return match parse_quantity(&text) {
            Some(v) => v.partial_cmp(&p).is_some_and(ordered),
            None => op == Op::NotEqual && !value.is_null(),
        };
    }
    match op {
        Op::Equal => wildcard::matches(pattern, &text),
        Op::NotEqual => !wildcard::matches(pattern, &text),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(r: Value, p: Value) -> bool {
        validate(&r, &p).is_ok()
    }

    #[test]
    fn scalar_operators() {
        assert!(value_matches(&json!("nginx:1.2"), &json!("!*:latest")));
        assert!(!value_matches(&json!("nginx:latest"), &json!("!*:latest")));
        assert!(value_matches(&json!(3), &json!(">2")));
        assert!(!value_matches(&json!(2), &json!(">2")));
        assert!(value_matches(&json!(2), &json!(">=2")));
        assert!(value_matches(&json!("512Mi"), &json!("<1Gi")));
        assert!(value_matches(&json!("500m"), &json!("<=1")));
        assert!(value_matches(&json!(5), &json!("1-10")));
        assert!(!value_matches(&json!(11), &json!("1-10")));
        assert!(value_matches(&json!(11), &json!("!1-10")));
        assert!(value_matches(
            &json!("Always"),
            &json!("Always|IfNotPresent")
        ));
        assert!(!value_matches(
            &json!("Never"),
            &json!("Always|IfNotPresent")
        ));
        assert!(value_matches(&json!(8080), &json!(">1024 & <65536")));
        assert!(value_matches(&json!("2h"), &json!(">1h")));
        assert!(value_matches(&json!(null), &json!(null)));
        assert!(value_matches(&json!(false), &json!(null)));
        assert!(value_matches(&json!("1"), &json!(1)));
        assert!(!value_matches(&json!(""), &json!("?*")));
    }

    #[test]
    fn lists_and_maps() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "nginx:latest"}]}});
        let p = json!({"spec": {"containers": [{"image": "!*:latest"}]}});
        match validate(&pod, &p) {
            Err(Mismatch::Fail { path, .. }) => {
                assert_eq!(path.kyverno(), "/spec/containers/1/image/");
                assert_eq!(path.dotted(), "spec.containers[1].image");
            }
            other => panic!("{other:?}"),
        }
        assert!(ok(
            json!({"metadata": {"labels": {"app": "x"}}}),
            json!({"metadata": {"labels": {"app": "?*"}}})
        ));
        assert!(!ok(
            json!({"metadata": {}}),
            json!({"metadata": {"labels": {"app": "?*"}}})
        ));
        // "*" requires the key
        assert!(!ok(json!({"a": {}}), json!({"a": {"b": "*"}})));
        assert!(ok(json!({"a": {"b": 1}}), json!({"a": {"b": "*"}})));
    }

    #[test]
    fn anchors() {
        let p =
            json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}});
        let good = json!({"spec": {"containers": [{"image": "a:latest", "imagePullPolicy": "Always"}, {"image": "b:1"}]}});
        assert!(ok(good, p.clone()));
        let bad =
            json!({"spec": {"containers": [{"image": "a:latest", "imagePullPolicy": "Never"}]}});
        assert!(matches!(validate(&bad, &p), Err(Mismatch::Fail { .. })));
        let none = json!({"spec": {"containers": [{"image": "a:1"}]}});
        assert!(matches!(
            validate(&none, &p),
            Err(Mismatch::Skip { global: false, .. })
        ));
        // equality
        let eq = json!({"spec": {"=(hostNetwork)": false}});
        assert!(ok(json!({"spec": {}}), eq.clone()));
        assert!(!ok(json!({"spec": {"hostNetwork": true}}), eq));
        // negation
        let neg = json!({"spec": {"X(hostPath)": "null"}});
        assert!(ok(json!({"spec": {}}), neg.clone()));
        assert!(!ok(json!({"spec": {"hostPath": {}}}), neg));
        // existence
        let ex = json!({"spec": {"^(containers)": [{"name": "sidecar"}]}});
        assert!(ok(
            json!({"spec": {"containers": [{"name": "a"}, {"name": "sidecar"}]}}),
            ex.clone()
        ));
        assert!(!ok(json!({"spec": {"containers": [{"name": "a"}]}}), ex));
        // global
        let gl = json!({"spec": {"containers": [{"<(image)": "corp/*"}], "imagePullSecrets": [{"name": "regcred"}]}});
        let other = json!({"spec": {"containers": [{"image": "nginx"}]}});
        assert!(matches!(
            validate(&other, &gl),
            Err(Mismatch::Skip { global: true, .. })
        ));
        let corp = json!({"spec": {"containers": [{"image": "corp/a"}]}});
        assert!(matches!(validate(&corp, &gl), Err(Mismatch::Fail { .. })));
    }

    #[test]
    fn wildcard_keys() {
        let p = json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}});
        assert!(ok(
            json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}),
            p.clone()
        ));
        assert!(!ok(
            json!({"metadata": {"labels": {"app.kubernetes.io/name": ""}}}),
            p.clone()
        ));
        assert!(!ok(json!({"metadata": {"labels": {"other": "x"}}}), p));
    }
}
