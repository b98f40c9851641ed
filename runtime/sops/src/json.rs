//! sops' JSON store: an object at the top, numbers as floats, written with
//! tab indentation (Go's `json.Indent`); also the envelope of the binary
//! store (`{"data": …}`).

use crate::tree::{Branch, Key, Value, format_float};
use crate::{Error, Format};

pub fn parse(data: &[u8], format: Format) -> Result<Branch, Error> {
    let v: serde_json::Value = serde_json::from_slice(data).map_err(|e| Error::Parse {
        format,
        message: e.to_string(),
    })?;
    match Value::from_json(&v) {
        Value::Map(b) => Ok(b),
        _ => Err(Error::Parse {
            format,
            message: "sops only supports JSON files with a top-level object".into(),
        }),
    }
}

pub fn emit(branch: &Branch, meta: Option<&Branch>) -> Vec<u8> {
    let mut b = branch.clone();
    if let Some(m) = meta {
        b.insert("sops", Value::Map(m.clone()));
    }
    let mut out = String::new();
    write_value(&Value::Map(b), 0, &mut out);
    out.push('\n');
    out.into_bytes()
}

fn indent(n: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..n {
        out.push('\t');
    }
}

fn write_value(v: &Value, depth: usize, out: &mut String) {
    match v {
        Value::Map(b) => {
            let items: Vec<_> =
                b.0.iter()
                    .filter_map(|(k, v)| match k {
                        Key::Str(k) => Some((k, v)),
                        Key::Comment(_) => None,
                    })
                    .collect();
            if items.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write_value(v, depth + 1, out);
            }
            indent(depth, out);
            out.push('}');
        }
        Value::List(l) => {
            let items: Vec<_> = l
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .collect();
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                write_value(v, depth + 1, out);
            }
            indent(depth, out);
            out.push(']');
        }
        Value::Float(f) if f.is_finite() => out.push_str(&format_float(*f)),
        other => out.push_str(&other.to_json().to_string()),
    }
}
