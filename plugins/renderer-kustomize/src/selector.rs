//! Target selection for patches and replacements: anchored regular
//! expressions on group, version, kind, name and namespace, and Kubernetes
//! label/annotation selectors.

use crate::error::{Error, Result};
use crate::kustomization::Selector;
use crate::resource::Resource;
use regex::Regex;

/// A compiled `target:`.
pub struct Matcher {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

fn anchored(p: &Option<String>, what: &str, exact: bool) -> Result<Option<Regex>> {
    match p.as_deref() {
        None | Some("") => Ok(None),
        Some(p) if exact => Ok(Some(
            Regex::new(&format!("^{}$", regex::escape(p))).expect("escaped"),
        )),
        Some(p) => Regex::new(&format!("^(?:{p})$")).map(Some).map_err(|e| {
            Error::new(format!(
                "target {what} '{p}' is not a valid regular expression: {e}"
            ))
        }),
    }
}

impl Matcher {
    /// A patch target: fields are regular expressions.
    pub fn new(s: &Selector) -> Result<Self> {
        Self::build(s, false)
    }

    /// A replacement's select: fields are literal.
    pub fn exact(s: &Selector) -> Result<Self> {
        Self::build(s, true)
    }

    fn build(s: &Selector, exact: bool) -> Result<Self> {
        Ok(Matcher {
            group: anchored(&s.group, "group", exact)?,
            version: anchored(&s.version, "version", exact)?,
            kind: anchored(&s.kind, "kind", exact)?,
            name: anchored(&s.name, "name", exact)?,
            namespace: anchored(&s.namespace, "namespace", exact)?,
            labels: parse(s.label_selector.as_deref().unwrap_or(""))?,
            annotations: parse(s.annotation_selector.as_deref().unwrap_or(""))?,
        })
    }

    /// Name and namespace match the original or the current id, as kustomize
    /// does, so a patch written against a base still finds a prefixed object.
    pub fn matches(&self, r: &Resource) -> bool {
        let cur = r.cur_id();
        let org = r.org_id();
        let re = |re: &Option<Regex>, s: &str| re.as_ref().is_none_or(|re| re.is_match(s));
        let eff = |id: &crate::resource::Id| {
            if id.namespace.is_empty() && !id.is_cluster_scoped() {
                "default".to_owned()
            } else {
                id.namespace.clone()
            }
        };
        (re(&self.namespace, &eff(&org)) || re(&self.namespace, &eff(&cur)))
            && (re(&self.name, &org.name) || re(&self.name, &cur.name))
            && re(&self.group, &cur.group)
            && re(&self.version, &cur.version)
            && re(&self.kind, &cur.kind)
            && matches_all(&self.labels, &r.labels())
            && matches_all(&self.annotations, &r.annotations())
    }
}

#[derive(Debug, PartialEq)]
enum Op {
    Exists,
    NotExists,
    In(Vec<String>),
    NotIn(Vec<String>),
}

#[derive(Debug, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

fn matches_all(reqs: &[Requirement], pairs: &[(String, String)]) -> bool {
    reqs.iter().all(|r| {
        let v = pairs.iter().find(|(k, _)| *k == r.key).map(|(_, v)| v);
        match &r.op {
            Op::Exists => v.is_some(),
            Op::NotExists => v.is_none(),
            Op::In(vals) => v.is_some_and(|v| vals.contains(v)),
            Op::NotIn(vals) => v.is_none_or(|v| !vals.contains(v)),
        }
    })
}

/// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
fn parse(text: &str) -> Result<Vec<Requirement>> {
    let bad = |why: &str| Error::new(format!("invalid selector '{text}': {why}"));
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    let mut out = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let set = |rest: &str| -> Result<Vec<String>> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| bad("a set must be written (a,b)"))?;
            Ok(inner.split(',').map(|s| s.trim().to_owned()).collect())
        };
        let req = if let Some(k) = part.strip_prefix('!') {
            Requirement {
                key: k.trim().into(),
                op: Op::NotExists,
            }
        } else if let Some((k, v)) = part.split_once("!=") {
            Requirement {
                key: k.trim().into(),
                op: Op::NotIn(vec![v.trim().into()]),
            }
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement {
                key: k.trim().into(),
                op: Op::In(vec![v.trim().into()]),
            }
        } else if let Some((k, rest)) = part.split_once(" notin ") {
            Requirement {
                key: k.trim().into(),
                op: Op::NotIn(set(rest)?),
            }
        } else if let Some((k, rest)) = part.split_once(" in ") {
            Requirement {
                key: k.trim().into(),
                op: Op::In(set(rest)?),
            }
        } else if part.contains(char::is_whitespace) {
            return Err(bad(
                "expected key, key=value, key!=value, key in (...) or !key",
            ));
        } else {
            Requirement {
                key: part.into(),
                op: Op::Exists,
            }
        };
        out.push(req);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors() {
        let l = pairs(&[("app", "web"), ("tier", "front")]);
        let ok = |s: &str| matches_all(&parse(s).unwrap(), &l);
        assert!(ok("app=web"));
        assert!(ok("app==web,tier"));
        assert!(ok("app in (web, api),!missing"));
        assert!(!ok("tier notin (front)"));
        assert!(!ok("app!=web"));
        assert!(parse("a b").is_err());
    }
}
