//! Name-reference fix-up: after prefixes, suffixes, namespaces and content
//! hashes have renamed objects, every field that names one of them (per
//! the `nameReference` configuration) is pointed at the new name.

use crate::config::{NameRef, TransformerConfig, visit};
use crate::error::{Error, Result};
use crate::resource::{Id, Resource};
use serde_json::Value;

struct Candidate {
    ids: Vec<Id>,
    cur: Id,
    org_ns: String,
}

fn gvk_selected(nr: &NameRef, id: &Id) -> bool {
    (nr.group.is_empty() || nr.group == id.group)
        && (nr.version.is_empty() || nr.version == id.version)
        && (nr.kind.is_empty() || nr.kind == id.kind)
}

fn effective_ns(id: &Id) -> &str {
    if id.namespace.is_empty() && !id.is_cluster_scoped() {
        "default"
    } else {
        &id.namespace
    }
}

pub fn fix(res: &mut [Resource], config: &TransformerConfig) -> Result<()> {
    for nr in &config.name_reference {
        let cands: Vec<Candidate> = res
            .iter()
            .filter(|r| r.all_ids().iter().any(|id| gvk_selected(nr, id)))
            .map(|r| Candidate {
                ids: r.all_ids(),
                cur: r.cur_id(),
                org_ns: effective_ns(&r.org_id()).to_owned(),
            })
            .collect();
        if cands.is_empty() {
            continue;
        }
        for r in res.iter_mut() {
            let referrer = r.cur_id();
            for spec in nr.specs.iter().filter(|s| s.selects(&referrer)) {
                if spec.path_text.ends_with("roleRef/name") {
                    let kind = r
                        .obj
                        .get("roleRef")
                        .and_then(|x| x.get("kind"))
                        .and_then(Value::as_str);
                    if kind != Some(nr.kind.as_str()) {
                        continue;
                    }
                }
                let file = r.file.clone();
                visit(&mut r.obj, &spec.path, false, &mut |v| {
                    update(v, nr, &cands, &referrer).map_err(|e| e.in_file(&file))
                })?;
            }
        }
    }
    Ok(())
}

fn update(v: &mut Value, nr: &NameRef, cands: &[Candidate], referrer: &Id) -> Result<()> {
    match v {
        Value::String(name) => {
            let pool: Vec<&Candidate> = cands
                .iter()
                .filter(|c| same_ns_as_referrer(c, referrer))
                .collect();
            if let Some(new) = select(name, &pool, nr, referrer)? {
                *name = new;
            }
        }
        Value::Object(m) => {
            if let Some(kind) = m.get("kind").and_then(Value::as_str)
                && kind != nr.kind
            {
                return Ok(());
            }
            let Some(old) = m.get("name").and_then(Value::as_str).map(str::to_owned) else {
                return Ok(());
            };
            let pool: Vec<&Candidate> = match m.get("namespace").and_then(Value::as_str) {
                None => cands.iter().collect(),
                Some(ns) => {
                    let by_org: Vec<&Candidate> = cands.iter().filter(|c| c.org_ns == ns).collect();
                    if by_org.is_empty() {
                        cands
                            .iter()
                            .filter(|c| effective_ns(&c.cur) == ns)
                            .collect()
                    } else {
                        by_org
                    }
                }
            };
            let Some(chosen) = select_candidate(&old, &pool, nr, referrer)? else {
                return Ok(());
            };
            m.insert("name".into(), chosen.cur.name.clone().into());
            if !chosen.cur.namespace.is_empty() {
                m.insert("namespace".into(), chosen.cur.namespace.clone().into());
            }
        }
        _ => {}
    }
    Ok(())
}

/// A name alone refers to an object in the referrer's namespace (or a
/// cluster-scoped one); subjects and service references name their own.
fn same_ns_as_referrer(c: &Candidate, referrer: &Id) -> bool {
    referrer.is_cluster_scoped() || c.cur.is_cluster_scoped() || referrer.ns_equals(&c.cur)
}

fn select(name: &str, pool: &[&Candidate], nr: &NameRef, referrer: &Id) -> Result<Option<String>> {
    Ok(select_candidate(name, pool, nr, referrer)?.map(|c| c.cur.name.clone()))
}

fn select_candidate<'a>(
    name: &str,
    pool: &[&'a Candidate],
    nr: &NameRef,
    referrer: &Id,
) -> Result<Option<&'a Candidate>> {
    let matching: Vec<&Candidate> = pool
        .iter()
        .copied()
        .filter(|c| {
            c.ids
                .iter()
                .any(|id| id.name == name && gvk_selected(nr, id))
        })
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [first, rest @ ..] => {
            if rest.iter().all(|c| c.cur.name == first.cur.name) {
                Ok(Some(first))
            } else {
                let names: Vec<String> = matching.iter().map(|c| c.cur.display()).collect();
                Err(Error::new(format!(
                    "{} refers to {} '{name}', which matches several objects ({}); give them distinct names or namespaces",
                    referrer.display(),
                    nr.kind,
                    names.join(", ")
                )))
            }
        }
    }
}
