//! `replacements:` copy a value from one object's field into fields of
//! others, and legacy `vars:` substitute `$(NAME)` in configured fields.

use crate::config::{FieldSpec, visit};
use crate::error::{Error, Result};
use crate::kustomization::{FieldOptions, Replacement, Selector, SourceSelector, Var};
use crate::resource::Resource;
use crate::selector::Matcher;
use serde_json::{Map, Value};

/// One step of a replacement field path.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    Match(String, String),
    Any,
}

/// `spec.containers.[name=app].image`, `spec.containers[name=app].image`,
/// `spec.ports.0.port`, `metadata.labels.*`.
fn parse_path(path: &str) -> Vec<Step> {
    let mut raw = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                if depth == 0 && !cur.is_empty() {
                    raw.push(std::mem::take(&mut cur));
                }
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => {
                if !cur.is_empty() {
                    raw.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        raw.push(cur);
    }
    raw.into_iter()
        .map(|s| {
            if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                match inner.split_once('=') {
                    Some((k, v)) => Step::Match(k.to_owned(), v.to_owned()),
                    None => inner
                        .parse()
                        .map(Step::Index)
                        .unwrap_or_else(|_| Step::Field(inner.to_owned())),
                }
            } else if s == "*" {
                Step::Any
            } else if let Ok(i) = s.parse() {
                Step::Index(i)
            } else {
                Step::Field(s)
            }
        })
        .collect()
}

fn lookup<'a>(v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(v);
    };
    let next = match (step, v) {
        (Step::Field(f), Value::Object(m)) => m.get(f),
        (Step::Index(i), Value::Array(a)) => a.get(*i),
        (Step::Match(k, want), Value::Array(a)) => a
            .iter()
            .find(|e| e.get(k).map(crate::resource::scalar_string).as_deref() == Some(want)),
        _ => None,
    }?;
    lookup(next, rest)
}

/// Every node at `steps`, creating missing maps (and list items matched by
/// `[k=v]`) when `create` is set.
fn nodes_mut<'a>(v: &'a mut Value, steps: &[Step], create: bool, out: &mut Vec<&'a mut Value>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(v);
        return;
    };
    if v.is_null() && create {
        *v = match step {
            Step::Field(_) => Value::Object(Map::new()),
            _ => Value::Array(Vec::new()),
        };
    }
    match (step, v) {
        (Step::Field(f), Value::Object(m)) => {
            if !m.contains_key(f) {
                if !create {
                    return;
                }
                m.insert(f.clone(), Value::Null);
            }
            nodes_mut(m.get_mut(f).unwrap(), rest, create, out);
        }
        (Step::Index(i), Value::Array(a)) => {
            if let Some(x) = a.get_mut(*i) {
                nodes_mut(x, rest, create, out);
            }
        }
        (Step::Match(k, want), Value::Array(a)) => {
            let pos = a.iter().position(|e| {
                e.get(k).map(crate::resource::scalar_string).as_deref() == Some(want.as_str())
            });
            let pos = match pos {
                Some(p) => p,
                None if create => {
                    let mut m = Map::new();
                    m.insert(k.clone(), want.clone().into());
                    a.push(Value::Object(m));
                    a.len() - 1
                }
                None => return,
            };
            nodes_mut(&mut a[pos], rest, create, out);
        }
        (Step::Any, Value::Object(m)) => {
            for x in m.values_mut() {
                nodes_mut(x, rest, create, out);
            }
        }
        (Step::Any, Value::Array(a)) => {
            for x in a.iter_mut() {
                nodes_mut(x, rest, create, out);
            }
        }
        _ => {}
    }
}

fn source_selector(s: &SourceSelector) -> Selector {
    Selector {
        group: s.group.clone(),
        version: s.version.clone(),
        kind: s.kind.clone(),
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        ..Selector::default()
    }
}

fn describe(s: &Selector) -> String {
    let parts: Vec<String> = [
        ("group", &s.group),
        ("version", &s.version),
        ("kind", &s.kind),
        ("name", &s.name),
        ("namespace", &s.namespace),
        ("labelSelector", &s.label_selector),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    parts.join(",")
}

pub fn replace(res: &mut [Resource], rep: &Replacement, file: &str) -> Result<()> {
    let src = rep
        .source
        .as_ref()
        .ok_or_else(|| Error::at("a replacement has no source", file))?;
    let sel = source_selector(src);
    let m = Matcher::exact(&sel).map_err(|e| e.in_file(file))?;
    let found: Vec<&Resource> = res.iter().filter(|r| m.matches(r)).collect();
    let source = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::at(
                format!(
                    "replacement source {} selects nothing; check kind and name",
                    describe(&sel)
                ),
                file,
            ));
        }
        _ => {
            return Err(Error::at(
                format!(
                    "replacement source {} selects {} objects; it must select one",
                    describe(&sel),
                    found.len()
                ),
                file,
            ));
        }
    };
    let fp = src.field_path.as_deref().unwrap_or("metadata.name");
    let mut value = lookup(&source.obj, &parse_path(fp))
        .cloned()
        .ok_or_else(|| {
            Error::at(
                format!(
                    "field '{fp}' is missing in replacement source {}",
                    source.cur_id().display()
                ),
                file,
            )
        })?;
    if let Some(opts) = &src.options
        && let Some(d) = opts.delimiter.as_deref().filter(|d| !d.is_empty())
    {
        let text = crate::resource::scalar_string(&value);
        let parts: Vec<&str> = text.split(d).collect();
        let part = usize::try_from(opts.index)
            .ok()
            .and_then(|i| parts.get(i))
            .ok_or_else(|| {
                Error::at(
                    format!(
                        "options.index {} is out of range for source value '{text}'",
                        opts.index
                    ),
                    file,
                )
            })?;
        value = Value::String((*part).to_owned());
    }

    for target in rep.targets.iter().flatten() {
        let select = target
            .select
            .as_ref()
            .ok_or_else(|| Error::at("a replacement target has no select", file))?;
        let sm = Matcher::exact(select).map_err(|e| e.in_file(file))?;
        let rejects = target
            .reject
            .iter()
            .flatten()
            .map(Matcher::exact)
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.in_file(file))?;
        let opts = target.options.clone().unwrap_or_default();
        for r in res.iter_mut() {
            if !sm.matches(r) || rejects.iter().any(|x| x.matches(r)) {
                continue;
            }
            for fp in target.field_paths.iter().flatten() {
                let steps = parse_path(fp);
                let mut nodes = Vec::new();
                nodes_mut(&mut r.obj, &steps, opts.create, &mut nodes);
                if nodes.is_empty() && !opts.create {
                    return Err(Error::at(
                        format!(
                            "unable to find field '{fp}' in replacement target {}",
                            r.cur_id().display()
                        ),
                        file,
                    ));
                }
                for n in nodes {
                    set_value(n, &value, &opts);
                }
            }
        }
    }
    Ok(())
}

fn set_value(node: &mut Value, value: &Value, opts: &FieldOptions) {
    match opts.delimiter.as_deref().filter(|d| !d.is_empty()) {
        None => *node = retyped(node, value),
        Some(d) => {
            let text = crate::resource::scalar_string(node);
            let mut parts: Vec<String> = text.split(d).map(str::to_owned).collect();
            let v = crate::resource::scalar_string(value);
            if opts.index >= parts.len() as i64 {
                parts.push(v);
            } else if opts.index < 0 {
                parts.insert(0, v);
            } else {
                parts[opts.index as usize] = v;
            }
            *node = Value::String(parts.join(d));
        }
    }
}

/// Kustomize copies a scalar's text into a scalar target and keeps the
/// target's type: a number lands in a string field as a string, and a
/// numeric string lands in a number field as a number.
fn retyped(target: &Value, value: &Value) -> Value {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        _ => return value.clone(),
    };
    match target {
        Value::String(_) => Value::String(text),
        Value::Number(_) => serde_json::from_str::<serde_json::Number>(&text)
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        Value::Bool(_) => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        _ => value.clone(),
    }
}

/// Resolves legacy `vars` in the `varReference` fields of every object.
pub fn resolve_vars(
    res: &mut [Resource],
    vars: &[(Var, String)],
    specs: &[FieldSpec],
) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for (var, file) in vars {
        let o = &var.objref;
        let (g, v) = match o.api_version.as_deref() {
            Some(api) => crate::resource::split_api_version(api),
            None => (
                o.group.clone().unwrap_or_default(),
                o.version.clone().unwrap_or_default(),
            ),
        };
        let hits: Vec<&Resource> = res
            .iter()
            .filter(|r| {
                r.all_ids().iter().any(|id| {
                    o.kind.as_deref().is_none_or(|k| k == id.kind)
                        && o.name.as_deref().is_none_or(|n| n == id.name)
                        && (g.is_empty() || g == id.group)
                        && (v.is_empty() || v == id.version)
                        && o.namespace.as_deref().is_none_or(|ns| ns == id.namespace)
                })
            })
            .collect();
        let r = match hits.as_slice() {
            [one] => *one,
            [] => {
                return Err(Error::at(
                    format!(
                        "var '{}' refers to {} '{}', which is not in the build",
                        var.name,
                        o.kind.as_deref().unwrap_or(""),
                        o.name.as_deref().unwrap_or("")
                    ),
                    file,
                ));
            }
            _ => {
                return Err(Error::at(
                    format!(
                        "var '{}' matches several objects; add a namespace or apiVersion",
                        var.name
                    ),
                    file,
                ));
            }
        };
        let fp = var
            .fieldref
            .as_ref()
            .and_then(|f| f.fieldpath.as_deref())
            .unwrap_or("metadata.name");
        let val = lookup(&r.obj, &parse_path(fp)).cloned().ok_or_else(|| {
            Error::at(
                format!(
                    "var '{}': field '{fp}' not found in {}",
                    var.name,
                    r.cur_id().display()
                ),
                file,
            )
        })?;
        values.push((var.name.clone(), val));
    }
    for r in res.iter_mut() {
        let id = r.cur_id();
        for spec in specs.iter().filter(|s| s.selects(&id)) {
            visit(&mut r.obj, &spec.path, false, &mut |v| {
                substitute(v, &values);
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn substitute(v: &mut Value, values: &[(String, Value)]) {
    match v {
        Value::String(s) => {
            for (name, val) in values {
                if *s == format!("$({name})") {
                    *v = val.clone();
                    return;
                }
            }
            *s = expand(s, values);
        }
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, values)),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, values)),
        _ => {}
    }
}

/// Replaces `$(NAME)`; `$$` stands for a literal `$`, as in Kubernetes.
fn expand(s: &str, values: &[(String, Value)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
            && let Some((_, val)) = values.iter().find(|(n, _)| n == &inner[..end])
        {
            out.push_str(&crate::resource::scalar_string(val));
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("spec.containers.[name=app].image"),
            vec![
                Step::Field("spec".into()),
                Step::Field("containers".into()),
                Step::Match("name".into(), "app".into()),
                Step::Field("image".into())
            ]
        );
        assert_eq!(
            parse_path("a[b=c].0"),
            vec![
                Step::Field("a".into()),
                Step::Match("b".into(), "c".into()),
                Step::Index(0)
            ]
        );
        let doc = json!({"a": [{"b": "c", "v": 1}]});
        assert_eq!(lookup(&doc, &parse_path("a.[b=c].v")), Some(&json!(1)));
    }

    #[test]
    fn var_expansion() {
        let vals = vec![
            ("SVC".to_owned(), json!("web")),
            ("PORT".to_owned(), json!(80)),
        ];
        assert_eq!(
            expand("http://$(SVC):$(PORT)/$(X) $$(SVC)", &vals),
            "http://web:80/$(X) $(SVC)"
        );
    }
}
