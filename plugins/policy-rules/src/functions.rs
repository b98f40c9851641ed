//! Kyverno's custom JMESPath functions that policies commonly use, on top of
//! the JMESPath built-ins (`length`, `contains`, `join`, `starts_with`, …).

use crate::quantity::{parse_duration, parse_quantity};
use crate::wildcard;
use base64::Engine as _;
use jmespath::functions::{ArgumentType as A, CustomFunction, Signature};
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, Variable};
use serde_json::Value;
use std::collections::BTreeMap;

type Out = Result<Rcvar, JmespathError>;

fn err(ctx: &Context<'_>, message: String) -> JmespathError {
    JmespathError::from_ctx(ctx, ErrorReason::Parse(message))
}

fn s(v: &Rcvar) -> String {
    match &**v {
        Variable::String(s) => s.clone(),
        Variable::Number(n) => n.to_string(),
        Variable::Bool(b) => b.to_string(),
        Variable::Null => String::new(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn string(v: String) -> Out {
    Ok(Rcvar::new(Variable::String(v)))
}

fn boolean(b: bool) -> Out {
    Ok(Rcvar::new(Variable::Bool(b)))
}

fn number(ctx: &Context<'_>, f: f64) -> Out {
    let n = if f.fract() == 0.0 && f.abs() < 9e15 {
        serde_json::Number::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).ok_or_else(|| err(ctx, format!("{f} is not a number")))?
    };
    Ok(Rcvar::new(Variable::Number(n)))
}

fn from_json(ctx: &Context<'_>, v: Value) -> Out {
    Variable::try_from(v)
        .map(Rcvar::new)
        .map_err(|e| err(ctx, e.to_string()))
}

/// A number, or a string holding one (Kyverno's arithmetic accepts both).
fn numeric(ctx: &Context<'_>, v: &Rcvar) -> Result<f64, JmespathError> {
    match &**v {
        Variable::Number(n) => n.as_f64().ok_or_else(|| err(ctx, "not a number".into())),
        Variable::String(t) => t
            .parse::<f64>()
            .ok()
            .or_else(|| parse_quantity(t))
            .or_else(|| parse_duration(t))
            .ok_or_else(|| err(ctx, format!("'{t}' is not a number, quantity or duration"))),
        other => Err(err(ctx, format!("expected a number, got {other:?}"))),
    }
}

fn regex(ctx: &Context<'_>, pattern: &str) -> Result<regex::Regex, JmespathError> {
    regex::Regex::new(pattern).map_err(|e| err(ctx, format!("invalid regular expression: {e}")))
}

fn register(
    rt: &mut Runtime,
    name: &str,
    inputs: Vec<A>,
    f: impl Fn(&[Rcvar], &mut Context<'_>) -> Out + Send + Sync + 'static,
) {
    rt.register_function(
        name,
        Box::new(CustomFunction::new(
            Signature::new(inputs, None),
            Box::new(f),
        )),
    );
}

fn arith(rt: &mut Runtime, name: &str, op: fn(f64, f64) -> Option<f64>) {
    let label = name.to_owned();
    register(rt, name, vec![A::Any, A::Any], move |a, ctx| {
        let (x, y) = (numeric(ctx, &a[0])?, numeric(ctx, &a[1])?);
        let r = op(x, y).ok_or_else(|| err(ctx, format!("{label}: division by zero")))?;
        number(ctx, r)
    });
}

/// Registers Kyverno's functions on `rt`.
pub fn register_all(rt: &mut Runtime) {
    let str_or_num = || A::Union(vec![A::String, A::Number]);
    register(rt, "to_upper", vec![A::String], |a, _| {
        string(s(&a[0]).to_uppercase())
    });
    register(rt, "to_lower", vec![A::String], |a, _| {
        string(s(&a[0]).to_lowercase())
    });
    register(rt, "split", vec![A::String, A::String], |a, _| {
        let parts = s(&a[0])
            .split(s(&a[1]).as_str())
            .map(|p| Rcvar::new(Variable::String(p.to_owned())))
            .collect();
        Ok(Rcvar::new(Variable::Array(parts)))
    });
    register(
        rt,
        "regex_match",
        vec![A::String, str_or_num()],
        |a, ctx| boolean(regex(ctx, &s(&a[0]))?.is_match(&s(&a[1]))),
    );
    register(
        rt,
        "regex_replace_all",
        vec![A::String, str_or_num(), str_or_num()],
        |a, ctx| {
            let re = regex(ctx, &s(&a[0]))?;
            // Go's ${1} and $1 references work the same in the regex crate.
            string(re.replace_all(&s(&a[1]), s(&a[2]).as_str()).into_owned())
        },
    );
    register(
        rt,
        "regex_replace_all_literal",
        vec![A::String, str_or_num(), str_or_num()],
        |a, ctx| {
            let re = regex(ctx, &s(&a[0]))?;
            string(
                re.replace_all(&s(&a[1]), regex::NoExpand(&s(&a[2])))
                    .into_owned(),
            )
        },
    );
    register(
        rt,
        "pattern_match",
        vec![A::String, str_or_num()],
        |a, _| boolean(wildcard::matches(&s(&a[0]), &s(&a[1]))),
    );
    register(rt, "label_match", vec![A::Object, A::Object], |a, _| {
        let (Some(sel), Some(labels)) = (a[0].as_object(), a[1].as_object()) else {
            return boolean(false);
        };
        boolean(
            sel.iter()
                .all(|(k, v)| labels.get(k).is_some_and(|l| s(l) == s(v))),
        )
    });
    register(rt, "truncate", vec![A::String, A::Number], |a, ctx| {
        let n = numeric(ctx, &a[1])?.max(0.0) as usize;
        string(s(&a[0]).chars().take(n).collect())
    });
    register(rt, "base64_decode", vec![A::String], |a, ctx| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s(&a[0]).trim())
            .map_err(|e| err(ctx, format!("base64_decode: {e}")))?;
        string(String::from_utf8_lossy(&bytes).into_owned())
    });
    register(rt, "base64_encode", vec![A::String], |a, _| {
        string(base64::engine::general_purpose::STANDARD.encode(s(&a[0])))
    });
    register(rt, "parse_json", vec![A::String], |a, ctx| {
        let v: Value =
            serde_json::from_str(&s(&a[0])).map_err(|e| err(ctx, format!("parse_json: {e}")))?;
        from_json(ctx, v)
    });
    register(rt, "parse_yaml", vec![A::String], |a, ctx| {
        let v: Value =
            serde_saphyr::from_str(&s(&a[0])).map_err(|e| err(ctx, format!("parse_yaml: {e}")))?;
        from_json(ctx, v)
    });
    register(
        rt,
        "items",
        vec![A::Union(vec![A::Object, A::Array]), A::String, A::String],
        |a, _| {
            let (kn, vn) = (s(&a[1]), s(&a[2]));
            let pair = |k: Rcvar, v: Rcvar| {
                let mut m = BTreeMap::new();
                m.insert(kn.clone(), k);
                m.insert(vn.clone(), v);
                Rcvar::new(Variable::Object(m))
            };
            let out = match &*a[0] {
                Variable::Object(o) => o
                    .iter()
                    .map(|(k, v)| pair(Rcvar::new(Variable::String(k.clone())), v.clone()))
                    .collect(),
                Variable::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        pair(
                            Rcvar::new(Variable::Number(serde_json::Number::from(i))),
                            v.clone(),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Ok(Rcvar::new(Variable::Array(out)))
        },
    );
    arith(rt, "add", |x, y| Some(x + y));
    arith(rt, "subtract", |x, y| Some(x - y));
    arith(rt, "multiply", |x, y| Some(x * y));
    arith(rt, "divide", |x, y| (y != 0.0).then(|| x / y));
    arith(rt, "modulo", |x, y| (y != 0.0).then(|| x % y));
    register(rt, "sum", vec![A::Array], |a, ctx| {
        let mut total = 0.0;
        for v in a[0].as_array().map(Vec::as_slice).unwrap_or_default() {
            total += numeric(ctx, v)?;
        }
        number(ctx, total)
    });
    register(rt, "compare", vec![A::String, A::String], |a, ctx| {
        number(ctx, s(&a[0]).cmp(&s(&a[1])) as i8 as f64)
    });
    register(rt, "equal_fold", vec![A::String, A::String], |a, _| {
        boolean(s(&a[0]).to_lowercase() == s(&a[1]).to_lowercase())
    });
    register(
        rt,
        "replace",
        vec![A::String, A::String, A::String, A::Number],
        |a, ctx| {
            let n = numeric(ctx, &a[3])?;
            let (src, old, new) = (s(&a[0]), s(&a[1]), s(&a[2]));
            string(if n < 0.0 {
                src.replace(&old, &new)
            } else {
                src.replacen(&old, &new, n as usize)
            })
        },
    );
    register(
        rt,
        "replace_all",
        vec![A::String, A::String, A::String],
        |a, _| string(s(&a[0]).replace(&s(&a[1]), &s(&a[2]))),
    );
    register(rt, "trim", vec![A::String, A::String], |a, _| {
        let cut: Vec<char> = s(&a[1]).chars().collect();
        string(s(&a[0]).trim_matches(cut.as_slice()).to_owned())
    });
    register(rt, "trim_prefix", vec![A::String, A::String], |a, _| {
        let (v, p) = (s(&a[0]), s(&a[1]));
        string(v.strip_prefix(p.as_str()).unwrap_or(&v).to_owned())
    });
    register(rt, "trim_suffix", vec![A::String, A::String], |a, _| {
        let (v, p) = (s(&a[0]), s(&a[1]));
        string(v.strip_suffix(p.as_str()).unwrap_or(&v).to_owned())
    });
    register(
        rt,
        "lookup",
        vec![A::Union(vec![A::Object, A::Array]), str_or_num()],
        |a, ctx| {
            let found = match &*a[0] {
                Variable::Object(o) => o.get(&s(&a[1])).cloned(),
                Variable::Array(items) => {
                    let i = numeric(ctx, &a[1])?;
                    (i >= 0.0).then(|| items.get(i as usize).cloned()).flatten()
                }
                _ => None,
            };
            Ok(found.unwrap_or_else(|| Rcvar::new(Variable::Null)))
        },
    );
    register(rt, "object_from_lists", vec![A::Array, A::Array], |a, _| {
        let keys = a[0].as_array().cloned().unwrap_or_default();
        let values = a[1].as_array().cloned().unwrap_or_default();
        let m = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    s(k),
                    values
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| Rcvar::new(Variable::Null)),
                )
            })
            .collect();
        Ok(Rcvar::new(Variable::Object(m)))
    });
}
