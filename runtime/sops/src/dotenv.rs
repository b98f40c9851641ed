//! sops' dotenv store: `KEY=value` lines (`\n` escapes newlines), `#`
//! comments, and the metadata as `sops_`-prefixed flattened keys.

use crate::tree::{Branch, Key, Value};
use crate::{Error, Format};

const PREFIX: &str = "sops_";

/// The tree and, with `split_metadata`, the `sops_` entries (prefix removed).
pub fn parse(data: &[u8], split_metadata: bool) -> Result<(Branch, Vec<(String, String)>), Error> {
    let text = std::str::from_utf8(data).map_err(|_| Error::Parse {
        format: Format::Dotenv,
        message: "not UTF-8".into(),
    })?;
    let mut b = Branch::default();
    let mut meta = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            b.0.push((Key::Comment(c.to_string()), Value::Null));
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(Error::Parse {
                format: Format::Dotenv,
                message: format!("line {}: expected KEY=value", n + 1),
            });
        };
        match k.strip_prefix(PREFIX) {
            Some(m) if split_metadata => meta.push((m.to_string(), v.to_string())),
            _ => {
                b.0.push((Key::Str(k.to_string()), Value::Str(v.replace("\\n", "\n"))))
            }
        }
    }
    Ok((b, meta))
}

pub fn emit(b: &Branch, meta: &[(String, String)]) -> Result<Vec<u8>, Error> {
    let mut out = String::new();
    for (k, v) in &b.0 {
        match k {
            Key::Comment(c) => {
                out.push('#');
                out.push_str(c);
            }
            Key::Str(k) => {
                let text = match v {
                    Value::Map(_) | Value::List(_) => {
                        return Err(Error::Emit(format!(
                            "cannot use a nested value in a dotenv file (key {k})"
                        )));
                    }
                    other => crate::cipher::to_bytes(other)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default(),
                };
                // sops writes booleans in Go's lower case here.
                let text = match v {
                    Value::Bool(b) => b.to_string(),
                    _ => text,
                };
                out.push_str(k);
                out.push('=');
                out.push_str(&text.replace('\n', "\\n"));
            }
        }
        out.push('\n');
    }
    for (k, v) in meta {
        out.push_str(PREFIX);
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    Ok(out.into_bytes())
}
