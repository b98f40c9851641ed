//! `{{ }}` variables: JMESPath over Kyverno's JSON context (`request.object`,
//! `element`, context entries, test values), with Kyverno's functions.

use jmespath::{Expression, Rcvar, Runtime, Variable};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;

/// One runtime with Kyverno's functions, shared by every evaluator.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let mut runtime = Runtime::new();
        runtime.register_builtin_functions();
        crate::functions::register_all(&mut runtime);
        runtime
    })
}

type Compiled = Result<Rc<Expression<'static>>, String>;

/// Compiles and runs JMESPath expressions; compiled expressions are cached.
#[derive(Default)]
pub struct Evaluator {
    cache: RefCell<HashMap<String, Compiled>>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Evaluator")
    }
}

impl Evaluator {
    fn compiled(&self, expr: &str) -> Compiled {
        if let Some(r) = self.cache.borrow().get(expr) {
            return r.clone();
        }
        let compiled = runtime()
            .compile(expr)
            .map(Rc::new)
            .map_err(|e| format!("invalid JMESPath expression '{expr}': {e}"));
        self.cache
            .borrow_mut()
            .insert(expr.to_owned(), compiled.clone());
        compiled
    }

    /// Whether `expr` compiles.
    pub fn check(&self, expr: &str) -> Result<(), String> {
        self.compiled(expr).map(|_| ())
    }

    /// Evaluates `expr` against `data`.
    pub fn query(&self, expr: &str, data: &Rcvar) -> Result<Value, String> {
        let out = self.search(expr, data)?;
        serde_json::to_value(&*out).map_err(|err| err.to_string())
    }

    /// `query`, leaving the result as JMESPath data.
    pub fn search(&self, expr: &str, data: &Rcvar) -> Result<Rcvar, String> {
        let e = self.compiled(expr)?;
        // Not `Expression::search`: without the crate's nightly-only
        // `specialized` feature it serialises the whole context into a
        // new tree on every call.
        let mut ctx = jmespath::Context::new(e.as_str(), runtime());
        jmespath::interpret(data, e.as_ast(), &mut ctx)
            .map_err(|err| format!("JMESPath expression '{expr}' failed: {err}"))
    }
}

/// The JSON context variables resolve against, kept as JMESPath data so a
/// query converts nothing. Cloning shares the tree; `set` copies only the
/// shared objects on the path it changes (copy on write), so a context per
/// rule or per foreach element costs a few small maps, not a copy of the
/// resource.
#[derive(Debug, Clone)]
pub struct Context {
    root: Rcvar,
}

/// JSON as JMESPath data; JSON always converts.
pub fn to_var(value: &Value) -> Rcvar {
    Rcvar::new(Variable::try_from(value).unwrap_or(Variable::Null))
}

impl Context {
    pub fn new(root: Map<String, Value>) -> Self {
        Context {
            root: Rcvar::new(Variable::try_from(Value::Object(root)).unwrap_or(Variable::Null)),
        }
    }

    /// Sets a dotted variable (`request.operation`, `element`), creating
    /// objects on the way, as Kyverno's `AddVariable` does.
    pub fn set(&mut self, dotted: &str, value: Value) {
        let value = Rcvar::new(Variable::try_from(value).unwrap_or(Variable::Null));
        self.set_var(dotted, value);
    }

    /// `set` with a value already converted (shared, not copied).
    pub fn set_var(&mut self, dotted: &str, value: Rcvar) {
        let parts: Vec<&str> = dotted.split('.').collect();
        set_path(&mut self.root, &parts, value);
    }

    pub fn has(&self, top: &str) -> bool {
        self.root.as_object().is_some_and(|m| m.contains_key(top))
    }

    pub fn query(&self, ev: &Evaluator, expr: &str) -> Result<Value, String> {
        ev.query(expr, &self.root)
    }

    /// A query's result as JMESPath data (foreach elements go back into a context).
    pub fn query_var(&self, ev: &Evaluator, expr: &str) -> Result<Rcvar, String> {
        ev.search(expr, &self.root)
    }
}

/// Puts `value` at `path` under `node`. Objects on the path are copied only
/// when shared; anything else on the path becomes an object.
fn set_path(node: &mut Rcvar, path: &[&str], value: Rcvar) {
    let Some((first, rest)) = path.split_first() else {
        *node = value;
        return;
    };
    let v = Rc::make_mut(node);
    if !matches!(v, Variable::Object(_)) {
        *v = Variable::Object(Default::default());
    }
    let Variable::Object(map) = v else {
        unreachable!("made an object above")
    };
    if rest.is_empty() {
        map.insert((*first).to_owned(), value);
        return;
    }
    if !map.contains_key(*first) {
        map.insert((*first).to_owned(), Rcvar::new(Variable::Null));
    }
    let child = map.get_mut(*first).expect("inserted above");
    set_path(child, rest, value);
}

/// What an unresolvable variable becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// An error (patterns, messages, patches).
    Error,
    /// An empty string (preconditions and deny conditions, as in Kyverno).
    Empty,
}

/// Whether a string holds an unescaped `{{`.
pub fn has_vars(s: &str) -> bool {
    find_open(s, 0).is_some()
}

fn find_open(s: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = s[at..].find("{{") {
        let pos = at + i;
        if pos > 0 && s.as_bytes()[pos - 1] == b'\\' {
            at = pos + 2;
            continue;
        }
        return Some(pos);
    }
    None
}

/// The innermost `{{ … }}` span: (start, end exclusive).
fn innermost(s: &str) -> Option<(usize, usize)> {
    let mut start = find_open(s, 0)?;
    loop {
        let close = s[start + 2..].find("}}").map(|i| start + 2 + i)?;
        match find_open(s, start + 2) {
            Some(next) if next < close => start = next,
            _ => {
                // `}}}` closes a JMESPath object literal first.
                let mut end = close + 2;
                while s[end..].starts_with('}')
                    && s[start + 2..end].matches('{').count()
                        > s[start + 2..end - 2].matches('}').count()
                {
                    end += 1;
                }
                return Some((start, end));
            }
        }
    }
}

/// Every JMESPath expression written in `s`, for checking a policy up front.
pub fn expressions(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = find_open(s, at) {
        let Some(close) = s[start + 2..].find("}}") else {
            break;
        };
        let inner = s[start + 2..start + 2 + close].trim();
        if !inner.contains("{{") {
            out.push(inner.to_owned());
        }
        at = start + 2 + close + 2;
    }
    out
}

/// Replaces the variables in a string. A string that is exactly one
/// variable takes the variable's type; otherwise results are spliced in as
/// text (JSON for non-strings).
pub fn substitute_str(
    ev: &Evaluator,
    ctx: &Context,
    s: &str,
    missing: Missing,
) -> Result<Value, String> {
    let mut text = s.to_owned();
    while let Some((start, end)) = innermost(&text) {
        let expr = text[start + 2..end - 2].trim().to_owned();
        let value = resolve(ev, ctx, &expr, missing)?;
        if start == 0 && end == text.len() {
            return Ok(value);
        }
        let spliced = match value {
            Value::String(v) => v,
            other => other.to_string(),
        };
        text.replace_range(start..end, &spliced);
    }
    Ok(Value::String(text.replace("\\{{", "{{")))
}

fn resolve(ev: &Evaluator, ctx: &Context, expr: &str, missing: Missing) -> Result<Value, String> {
    if expr == "@" {
        return Err("the variable {{@}} is not supported by the rules plugin".into());
    }
    let value = match ctx.query(ev, expr) {
        Ok(v) => v,
        Err(e) if missing == Missing::Empty && !e.starts_with("invalid") => Value::Null,
        Err(e) => return Err(e),
    };
    match (value, missing) {
        (Value::Null, Missing::Empty) => Ok(Value::String(String::new())),
        (Value::Null, Missing::Error) => Err(format!(
            "variable {{{{{expr}}}}} could not be resolved: nothing at that path"
        )),
        (v, _) => Ok(v),
    }
}

/// Substitutes every string in a JSON tree.
pub fn substitute(
    ev: &Evaluator,
    ctx: &Context,
    value: &Value,
    missing: Missing,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if has_vars(s) => substitute_str(ev, ctx, s, missing)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(ev, ctx, v, missing))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = if has_vars(k) {
                    match substitute_str(ev, ctx, k, missing)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }
                } else {
                    k.clone()
                };
                out.insert(key, substitute(ev, ctx, v, missing)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Whether a JSON tree holds variables anywhere.
pub fn tree_has_vars(value: &Value) -> bool {
    match value {
        Value::String(s) => has_vars(s),
        Value::Array(items) => items.iter().any(tree_has_vars),
        Value::Object(m) => m.iter().any(|(k, v)| has_vars(k) || tree_has_vars(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        let mut c = Context::new(Map::new());
        c.set(
            "request.object",
            json!({"metadata": {"name": "web", "labels": {"app": "shop"}}, "spec": {"replicas": 3, "containers": [{"name": "a", "image": "nginx"}]}}),
        );
        c
    }

    #[test]
    fn typed_and_spliced() {
        let ev = Evaluator::default();
        let c = ctx();
        assert_eq!(
            substitute_str(&ev, &c, "{{request.object.spec.replicas}}", Missing::Error).unwrap(),
            json!(3)
        );
        assert_eq!(
            substitute_str(
                &ev,
                &c,
                "name is {{ request.object.metadata.name }}!",
                Missing::Error
            )
            .unwrap(),
            json!("name is web!")
        );
        assert_eq!(
            substitute_str(
                &ev,
                &c,
                "{{ to_upper(request.object.metadata.labels.app) }}",
                Missing::Error
            )
            .unwrap(),
            json!("SHOP")
        );
        assert_eq!(
            substitute_str(
                &ev,
                &c,
                "{{ length(request.object.spec.containers) }}",
                Missing::Error
            )
            .unwrap(),
            json!(1)
        );
        assert!(substitute_str(&ev, &c, "{{ request.object.nope }}", Missing::Error).is_err());
        assert_eq!(
            substitute_str(&ev, &c, "{{ request.object.nope }}", Missing::Empty).unwrap(),
            json!("")
        );
        assert_eq!(
            substitute_str(&ev, &c, "\\{{ literal }}", Missing::Error).unwrap(),
            json!("{{ literal }}")
        );
        assert!(substitute_str(&ev, &c, "{{ request.object.[ }}", Missing::Empty).is_err());
    }

    #[test]
    fn nested_and_functions() {
        let ev = Evaluator::default();
        let mut c = ctx();
        c.set("element", json!({"name": "a"}));
        assert_eq!(
            substitute_str(
                &ev,
                &c,
                "{{ request.object.spec.containers[?name=='{{element.name}}'].image | [0] }}",
                Missing::Error
            )
            .unwrap(),
            json!("nginx")
        );
        assert_eq!(
            substitute_str(
                &ev,
                &c,
                "{{ regex_match('^web', request.object.metadata.name) }}",
                Missing::Error
            )
            .unwrap(),
            json!(true)
        );
        assert_eq!(
            substitute_str(&ev, &c, "{{ split('a,b', ',') }}", Missing::Error).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            substitute_str(
                &ev,
                &c,
                "{{ base64_decode(base64_encode('hi')) }}",
                Missing::Error
            )
            .unwrap(),
            json!("hi")
        );
        assert_eq!(
            substitute_str(&ev, &c, "{{ add(`1`, `2`) }}", Missing::Error).unwrap(),
            json!(3)
        );
        assert_eq!(
            substitute_str(
                &ev,
                &c,
                "{{ items(request.object.metadata.labels, 'k', 'v') }}",
                Missing::Error
            )
            .unwrap(),
            json!([{"k": "app", "v": "shop"}])
        );
        assert_eq!(
            substitute_str(&ev, &c, "{{ parse_yaml('a: 1').a }}", Missing::Error).unwrap(),
            json!(1)
        );
    }
}
