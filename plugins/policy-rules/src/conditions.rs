//! `preconditions` and `deny.conditions`: `{key, operator, value}` triples in
//! `any`/`all` blocks (or a plain list, meaning all), with Kyverno's operators.

use crate::pattern::scalar_text;
use crate::quantity::{parse_duration, parse_quantity};
use crate::vars::{Context, Evaluator, Missing, substitute};
use crate::wildcard;
use serde_json::Value;
use std::cmp::Ordering;

pub const OPERATORS: &[&str] = &[
    "Equal",
    "Equals",
    "NotEqual",
    "NotEquals",
    "In",
    "AnyIn",
    "AllIn",
    "NotIn",
    "AnyNotIn",
    "AllNotIn",
    "GreaterThan",
    "GreaterThanOrEquals",
    "LessThan",
    "LessThanOrEquals",
    "DurationGreaterThan",
    "DurationGreaterThanOrEquals",
    "DurationLessThan",
    "DurationLessThanOrEquals",
];

/// Checks the shape of a conditions block; `Err` says what is wrong and where.
pub fn check(block: &Value, field: &str) -> Result<(), String> {
    let lists: Vec<(String, &Vec<Value>)> = match block {
        Value::Array(list) => vec![(field.to_owned(), list)],
        Value::Object(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("any" | "all", Value::Array(list)) => out.push((format!("{field}.{k}"), list)),
                    ("any" | "all", Value::Null) => {}
                    ("any" | "all", _) => {
                        return Err(format!("{field}.{k}: must be a list of conditions"));
                    }
                    (other, _) => {
                        return Err(format!(
                            "{field}: unknown field '{other}'; conditions go under 'any' or 'all'"
                        ));
                    }
                }
            }
            out
        }
        Value::Null => Vec::new(),
        _ => {
            return Err(format!(
                "{field}: must be an object with 'any'/'all' or a list"
            ));
        }
    };
    for (at, list) in lists {
        for (i, c) in list.iter().enumerate() {
            let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
            if !OPERATORS.contains(&op) {
                return Err(format!(
                    "{at}[{i}].operator: unknown operator '{op}'; use one of {}",
                    OPERATORS.join(", ")
                ));
            }
            if c.get("key").is_none() {
                return Err(format!("{at}[{i}].key: a condition needs a key"));
            }
        }
    }
    Ok(())
}

/// The outcome of a conditions block: `Ok(None)` when it holds, `Ok(Some(msg))`
/// when it does not (with the failing condition's message, if any).
pub fn evaluate(
    ev: &Evaluator,
    ctx: &Context,
    block: &Value,
) -> Result<Result<(), Option<String>>, String> {
    match block {
        Value::Null => Ok(Ok(())),
        Value::Array(all) => all_hold(ev, ctx, all),
        Value::Object(m) => {
            if let Some(Value::Array(any)) = m.get("any")
                && !any.is_empty()
            {
                let mut last = None;
                let mut held = false;
                for c in any {
                    match one(ev, ctx, c)? {
                        true => {
                            held = true;
                            break;
                        }
                        false => last = message(c).or(last),
                    }
                }
                if !held {
                    return Ok(Err(last));
                }
            }
            if let Some(Value::Array(all)) = m.get("all") {
                return all_hold(ev, ctx, all);
            }
            Ok(Ok(()))
        }
        _ => Err("conditions must be an object with 'any'/'all' or a list".into()),
    }
}

fn message(c: &Value) -> Option<String> {
    c.get("message").and_then(Value::as_str).map(str::to_owned)
}

fn all_hold(
    ev: &Evaluator,
    ctx: &Context,
    all: &[Value],
) -> Result<Result<(), Option<String>>, String> {
    for c in all {
        if !one(ev, ctx, c)? {
            return Ok(Err(message(c)));
        }
    }
    Ok(Ok(()))
}

fn one(ev: &Evaluator, ctx: &Context, c: &Value) -> Result<bool, String> {
    let key = substitute(
        ev,
        ctx,
        c.get("key").unwrap_or(&Value::Null),
        Missing::Empty,
    )?;
    let value = substitute(
        ev,
        ctx,
        c.get("value").unwrap_or(&Value::Null),
        Missing::Empty,
    )?;
    let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
    operate(op, &key, &value)
}

/// Applies one operator.
pub fn operate(op: &str, key: &Value, value: &Value) -> Result<bool, String> {
    Ok(match op {
        "Equal" | "Equals" => equals(key, value),
        "NotEqual" | "NotEquals" => !equals(key, value),
        "In" => all_in(key, value),
        "NotIn" => !all_in(key, value),
        "AnyIn" => items(key).iter().any(|k| member(k, value)),
        "AllIn" => all_in(key, value),
        "AnyNotIn" => items(key).iter().any(|k| !member(k, value)),
        "AllNotIn" => items(key).iter().all(|k| !member(k, value)),
        "GreaterThan" => ordered(key, value, false).is_some_and(|o| o == Ordering::Greater),
        "GreaterThanOrEquals" => ordered(key, value, false).is_some_and(|o| o != Ordering::Less),
        "LessThan" => ordered(key, value, false).is_some_and(|o| o == Ordering::Less),
        "LessThanOrEquals" => ordered(key, value, false).is_some_and(|o| o != Ordering::Greater),
        "DurationGreaterThan" => ordered(key, value, true).is_some_and(|o| o == Ordering::Greater),
        "DurationGreaterThanOrEquals" => {
            ordered(key, value, true).is_some_and(|o| o != Ordering::Less)
        }
        "DurationLessThan" => ordered(key, value, true).is_some_and(|o| o == Ordering::Less),
        "DurationLessThanOrEquals" => {
            ordered(key, value, true).is_some_and(|o| o != Ordering::Greater)
        }
        other => return Err(format!("unknown operator '{other}'")),
    })
}

fn equals(key: &Value, value: &Value) -> bool {
    match (key, value) {
        (Value::String(k), Value::String(v)) => {
            if let (Some(a), Some(b)) = (parse_duration(k), parse_duration(v))
                && k != "0"
                && v != "0"
            {
                return a == b;
            }
            if let (Some(a), Some(b)) = (parse_quantity(k), parse_quantity(v)) {
                return a == b;
            }
            wildcard::matches(v, k)
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(a), Value::String(b)) | (Value::String(b), Value::Number(a)) => {
            b.parse::<f64>().ok() == a.as_f64()
        }
        (Value::Bool(a), Value::String(b)) | (Value::String(b), Value::Bool(a)) => {
            b == &a.to_string()
        }
        (a, b) => a == b,
    }
}

fn items(key: &Value) -> Vec<Value> {
    match key {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// The set a value stands for: a list, a JSON list in a string, or one item.
fn set(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(a) => a.clone(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            serde_json::from_str(s).unwrap_or_else(|_| vec![value.clone()])
        }
        other => vec![other.clone()],
    }
}

fn member(k: &Value, value: &Value) -> bool {
    set(value).iter().any(|v| match (k, v) {
        (Value::String(ks), Value::String(vs)) => wildcard::matches(vs, ks) || range_holds(ks, vs),
        (Value::Number(_), Value::String(vs)) => {
            scalar_text(k).is_some_and(|ks| wildcard::matches(vs, &ks) || range_holds(&ks, vs))
        }
        _ => equals(k, v),
    })
}

/// `AnyIn` values may be ranges such as `8000-9000`.
fn range_holds(k: &str, v: &str) -> bool {
    let Some((lo, hi)) = v.split_once('-') else {
        return false;
    };
    match (k.parse::<f64>(), lo.parse::<f64>(), hi.parse::<f64>()) {
        (Ok(k), Ok(lo), Ok(hi)) => lo <= k && k <= hi,
        _ => false,
    }
}

fn all_in(key: &Value, value: &Value) -> bool {
    items(key).iter().all(|k| member(k, value))
}

fn ordered(key: &Value, value: &Value, durations: bool) -> Option<Ordering> {
    let k = scalar_text(key)?;
    let v = scalar_text(value)?;
    if durations {
        let as_secs = |x: &Value, t: &str| match x {
            Value::Number(n) => n.as_f64(),
            _ => parse_duration(t),
        };
        return as_secs(key, &k)?.partial_cmp(&as_secs(value, &v)?);
    }
    if let (Ok(a), Ok(b)) = (k.parse::<f64>(), v.parse::<f64>()) {
        return a.partial_cmp(&b);
    }
    if let (Some(a), Some(b)) = (parse_duration(&k), parse_duration(&v)) {
        return a.partial_cmp(&b);
    }
    if let (Some(a), Some(b)) = (parse_quantity(&k), parse_quantity(&v)) {
        return a.partial_cmp(&b);
    }
    if let (Some(a), Some(b)) = (semver(&k), semver(&v)) {
        return Some(a.cmp(&b));
    }
    None
}

fn semver(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators() {
        assert!(operate("Equals", &json!("kube-system"), &json!("kube-*")).unwrap());
        assert!(operate("NotEquals", &json!("a"), &json!("b")).unwrap());
        assert!(operate("Equals", &json!(3), &json!("3")).unwrap());
        assert!(operate("Equals", &json!("1Gi"), &json!("1024Mi")).unwrap());
        assert!(operate("AnyIn", &json!(["a", "b"]), &json!(["b", "c"])).unwrap());
        assert!(!operate("AllIn", &json!(["a", "b"]), &json!(["b", "c"])).unwrap());
        assert!(operate("AllIn", &json!(["b"]), &json!(["b", "c"])).unwrap());
        assert!(operate("AnyNotIn", &json!(["a", "b"]), &json!(["b"])).unwrap());
        assert!(!operate("AllNotIn", &json!(["a", "b"]), &json!(["b"])).unwrap());
        assert!(operate("In", &json!("CREATE"), &json!(["CREATE", "UPDATE"])).unwrap());
        assert!(operate("NotIn", &json!("DELETE"), &json!(["CREATE", "UPDATE"])).unwrap());
        assert!(operate("AnyIn", &json!(8080), &json!(["8000-9000"])).unwrap());
        assert!(operate("GreaterThan", &json!(5), &json!(3)).unwrap());
        assert!(operate("LessThanOrEquals", &json!("500m"), &json!("1")).unwrap());
        assert!(operate("GreaterThan", &json!("1.10.0"), &json!("1.9.3")).unwrap());
        assert!(operate("DurationGreaterThan", &json!("2h"), &json!("90m")).unwrap());
        assert!(operate("DurationLessThan", &json!("30s"), &json!(60)).unwrap());
        assert!(!operate("GreaterThan", &json!("abc"), &json!(3)).unwrap());
        assert!(operate("Nope", &json!(1), &json!(1)).is_err());
    }

    #[test]
    fn blocks() {
        let ev = Evaluator::default();
        let mut ctx = Context::new(serde_json::Map::new());
        ctx.set("request.operation", json!("CREATE"));
        let any = json!({"any": [{"key": "{{request.operation}}", "operator": "Equals", "value": "DELETE"},
                                 {"key": "{{request.operation}}", "operator": "Equals", "value": "CREATE"}]});
        assert_eq!(evaluate(&ev, &ctx, &any).unwrap(), Ok(()));
        let all = json!({"all": [{"key": "{{request.operation}}", "operator": "Equals", "value": "DELETE", "message": "not a delete"}]});
        assert_eq!(
            evaluate(&ev, &ctx, &all).unwrap(),
            Err(Some("not a delete".into()))
        );
        let missing =
            json!([{"key": "{{request.object.nope}}", "operator": "Equals", "value": ""}]);
        assert_eq!(evaluate(&ev, &ctx, &missing).unwrap(), Ok(()));
        assert!(
            check(
                &json!({"all": [{"key": "a", "operator": "Equalz", "value": 1}]}),
                "preconditions"
            )
            .is_err()
        );
        assert!(check(&json!({"some": []}), "preconditions").is_err());
    }
}
