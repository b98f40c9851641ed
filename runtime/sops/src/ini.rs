//! sops' INI store (go-ini): sections are mappings of strings, the default
//! section comes first, a comment belongs to the key after it (sops keeps it
//! after that key in the tree), and the metadata is the `[sops]` section with
//! flattened keys.

use crate::tree::{Branch, Key, Value};
use crate::{Error, Format};

const DEFAULT: &str = "DEFAULT";

fn strip_comment(c: &str) -> String {
    c.trim_start_matches(['#', ';', ' ']).to_string()
}

fn unquote(v: &str) -> String {
    for q in ["\"\"\"", "`", "\""] {
        if v.len() >= 2 * q.len()
            && let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q))
        {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// The tree and, with `split_metadata`, the `[sops]` section's pairs.
#[allow(clippy::type_complexity)]
pub fn parse(
    data: &[u8],
    split_metadata: bool,
) -> Result<(Branch, Option<Vec<(String, String)>>), Error> {
    let err = |n: usize, m: &str| Error::Parse {
        format: Format::Ini,
        message: format!("line {}: {m}", n + 1),
    };
    let text = std::str::from_utf8(data).map_err(|_| err(0, "not UTF-8"))?;
    let mut sections: Vec<(String, Branch)> = vec![(DEFAULT.to_string(), Branch::default())];
    let mut pending: Vec<String> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') || line.starts_with(';') {
            pending.push(strip_comment(line));
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| err(n, "unclosed section header"))?
                .trim()
                .to_string();
            let mut b = Branch::default();
            if !pending.is_empty() {
                b.0.push((Key::Comment(pending.join("\n")), Value::Null));
                pending.clear();
            }
            match sections.iter_mut().find(|(s, _)| *s == name) {
                Some((_, existing)) => existing.0.extend(b.0),
                None => sections.push((name, b)),
            }
            continue;
        }
        let at = line
            .find(['=', ':'])
            .ok_or_else(|| err(n, "expected key = value"))?;
        let key = line[..at].trim().to_string();
        let mut value = line[at + 1..].trim().to_string();
        if value.starts_with("\"\"\"") && !(value.len() >= 6 && value.ends_with("\"\"\"")) {
            // A multi-line value runs to the closing triple quote.
            for (_, more) in lines.by_ref() {
                value.push('\n');
                value.push_str(more);
                if more.trim_end().ends_with("\"\"\"") {
                    break;
                }
            }
            value = value.trim_end().to_string();
        }
        let section = &mut sections.last_mut().expect("DEFAULT is first").1;
        section.0.push((Key::Str(key), Value::Str(unquote(&value))));
        if !pending.is_empty() {
            section
                .0
                .push((Key::Comment(pending.join("\n")), Value::Null));
            pending.clear();
        }
    }
    let mut meta = None;
    if split_metadata && let Some(i) = sections.iter().position(|(s, _)| s == "sops") {
        let (_, b) = sections.remove(i);
        meta = Some(
            b.0.into_iter()
                .filter_map(|(k, v)| match (k, v) {
                    (Key::Str(k), Value::Str(v)) => Some((k, v)),
                    _ => None,
                })
                .collect(),
        );
    }
    let tree = Branch(
        sections
            .into_iter()
            .map(|(name, b)| (Key::Str(name), Value::Map(b)))
            .collect(),
    );
    Ok((tree, meta))
}

fn quote(v: &str) -> String {
    if v.contains('\n') {
        format!("\"\"\"{v}\"\"\"")
    } else if (v.contains(['#', ';']) || v.trim() != v) && !v.contains('`') {
        format!("`{v}`")
    } else {
        v.to_string()
    }
}

fn scalar(v: &Value) -> Result<String, Error> {
    Ok(match v {
        Value::Str(s) | Value::Comment(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:.6}"),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Null => String::new(),
        Value::Map(_) | Value::List(_) => {
            return Err(Error::Emit("INI values cannot be nested".into()));
        }
    })
}

fn comment(c: &str, out: &mut String) {
    for line in c.split('\n') {
        out.push_str("; ");
        out.push_str(line);
        out.push('\n');
    }
}

pub fn emit(tree: &Branch, meta: Option<&[(String, String)]>) -> Result<Vec<u8>, Error> {
    let mut out = String::new();
    let mut sections: Vec<(&str, Vec<(Key, Value)>)> = Vec::new();
    for (k, v) in &tree.0 {
        let Key::Str(name) = k else { continue };
        let Value::Map(b) = v else {
            return Err(Error::Emit(format!(
                "INI output needs sections: '{name}' is not a mapping"
            )));
        };
        sections.push((name, b.0.clone()));
    }
    let meta_items: Vec<(Key, Value)> = meta
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (Key::Str(k.clone()), Value::Str(v.clone())))
        .collect();
    if meta.is_some() {
        sections.push(("sops", meta_items));
    }
    for (name, items) in sections {
        let mut items = items.as_slice();
        if name == DEFAULT && items.is_empty() {
            continue;
        }
        if let Some((Key::Comment(c), _)) = items.first() {
            comment(c, &mut out);
            items = &items[1..];
        }
        if name != DEFAULT {
            out.push('[');
            out.push_str(name);
            out.push_str("]\n");
        }
        // A comment after a key is that key's comment: written above it.
        let mut i = 0;
        while i < items.len() {
            if let (Key::Str(k), v) = &items[i] {
                if let Some((Key::Comment(c), _)) = items.get(i + 1) {
                    comment(c, &mut out);
                    i += 1;
                }
                out.push_str(k);
                out.push_str(" = ");
                out.push_str(&quote(&scalar(v)?));
                out.push('\n');
            }
            i += 1;
        }
        out.push('\n');
    }
    Ok(out.into_bytes())
}
