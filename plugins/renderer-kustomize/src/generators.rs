//! `configMapGenerator` and `secretGenerator`, and the content hash that
//! kustomize appends to generated names.

use crate::error::{Error, Result};
use crate::fs::{Fs, base_name, is_within, join};
use crate::kustomization::{GeneratorArgs, GeneratorOptions, string_pairs};
use crate::resource::{Behavior, Generated, Resource};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Makes one ConfigMap (`secret == false`) or Secret from its arguments.
pub fn generate(
    fs: &dyn Fs,
    dir: &str,
    kfile: &str,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    secret: bool,
) -> Result<Resource> {
    let what = if secret {
        "secretGenerator"
    } else {
        "configMapGenerator"
    };
    let name = args
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::at(format!("a {what} entry has no name"), kfile))?;
    let behavior = match args.behavior.as_deref().unwrap_or("create") {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => {
            return Err(Error::at(
                format!(
                    "{what} '{name}': unknown behavior '{other}'; use create, merge or replace"
                ),
                kfile,
            ));
        }
    };

    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let envs = args.envs.iter().flatten().chain(args.env.iter());
    for env in envs {
        let path = local_file(dir, kfile, env, what, name)?;
        let text = read_text(fs, &path, kfile)?;
        for (k, v) in parse_env(&text, &path)? {
            pairs.push((k, v.into_bytes()));
        }
    }
    for lit in args.literals.iter().flatten() {
        let (k, v) = lit
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                Error::at(
                    format!("{what} '{name}': literal '{lit}' must be written key=value"),
                    kfile,
                )
            })?;
        pairs.push((k.to_owned(), remove_quotes(v).as_bytes().to_vec()));
    }
    for f in args.files.iter().flatten() {
        let (key, rel) = match f.split_once('=') {
            Some((k, p)) if !k.is_empty() => (k.to_owned(), p),
            Some(_) => {
                return Err(Error::at(
                    format!("{what} '{name}': file source '{f}' has an empty key"),
                    kfile,
                ));
            }
            None => (base_name(f).to_owned(), f.as_str()),
        };
        let path = local_file(dir, kfile, rel, what, name)?;
        let bytes = fs.read(&path).map_err(|e| {
            Error::at(
                format!("{what} '{name}': cannot read file '{rel}': {e}"),
                kfile,
            )
        })?;
        pairs.push((key, bytes));
    }

    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, v) in pairs {
        if !valid_key(&k) {
            return Err(Error::at(
                format!(
                    "{what} '{name}': key '{k}' is not valid; keys may contain only letters, digits, '-', '_' and '.'"
                ),
                kfile,
            ));
        }
        if data.contains_key(&k) || binary.contains_key(&k) {
            return Err(Error::at(
                format!("{what} '{name}' repeats the key '{k}'; each key may appear once"),
                kfile,
            ));
        }
        if secret {
            data.insert(k, encode_base64(&v).into());
        } else {
            match String::from_utf8(v) {
                Ok(s) => {
                    data.insert(k, s.into());
                }
                Err(e) => {
                    binary.insert(k, encode_base64(e.as_bytes()).into());
                }
            }
        }
    }

    let opts = merge_options(args.options.as_ref(), global);
    let mut metadata = Map::new();
    metadata.insert("name".into(), name.into());
    if let Some(ns) = args.namespace.as_deref().filter(|n| !n.is_empty()) {
        metadata.insert("namespace".into(), ns.into());
    }
    if !opts.labels.is_empty() {
        metadata.insert("labels".into(), to_map(&opts.labels));
    }
    if !opts.annotations.is_empty() {
        metadata.insert("annotations".into(), to_map(&opts.annotations));
    }
    let mut obj =
        json!({ "apiVersion": "v1", "kind": if secret { "Secret" } else { "ConfigMap" } });
    let m = obj.as_object_mut().unwrap();
    m.insert("metadata".into(), Value::Object(metadata));
    if !data.is_empty() {
        m.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        m.insert("binaryData".into(), Value::Object(binary));
    }
    if secret {
        m.insert(
            "type".into(),
            args.kind.as_deref().unwrap_or("Opaque").into(),
        );
    }
    if opts.immutable {
        m.insert("immutable".into(), true.into());
    }
    let mut r = Resource::new(obj, kfile, 0);
    r.generated = Some(Generated {
        behavior,
        hash: !opts.disable_hash,
        by: if secret {
            "SecretGenerator"
        } else {
            "ConfigMapGenerator"
        },
    });
    Ok(r)
}

struct Options {
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    disable_hash: bool,
    immutable: bool,
}

/// Kustomize's rule: the generator's own options win, global ones fill in.
fn merge_options(local: Option<&GeneratorOptions>, global: Option<&GeneratorOptions>) -> Options {
    let mut labels = local.map(|o| string_pairs(&o.labels)).unwrap_or_default();
    let mut annotations = local
        .map(|o| string_pairs(&o.annotations))
        .unwrap_or_default();
    if let Some(g) = global {
        for (k, v) in string_pairs(&g.labels) {
            if !labels.iter().any(|(lk, _)| *lk == k) {
                labels.push((k, v));
            }
        }
        for (k, v) in string_pairs(&g.annotations) {
            if !annotations.iter().any(|(lk, _)| *lk == k) {
                annotations.push((k, v));
            }
        }
    }
    let flag = |f: fn(&GeneratorOptions) -> Option<bool>| {
        local.and_then(f).unwrap_or(false) || global.and_then(f).unwrap_or(false)
    };
    Options {
        labels,
        annotations,
        disable_hash: flag(|o| o.disable_name_suffix_hash),
        immutable: flag(|o| o.immutable),
    }
}

fn to_map(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect(),
    )
}

/// A file named by a generator: inside the kustomization's directory, as
/// kustomize's default load restrictor demands.
fn local_file(dir: &str, kfile: &str, rel: &str, what: &str, name: &str) -> Result<String> {
    join(dir, rel)
        .filter(|p| is_within(p, dir))
        .ok_or_else(|| {
            Error::at(
                format!("{what} '{name}': file '{rel}' is not in or below the kustomization directory; move it there"),
                kfile,
            )
        })
}

fn read_text(fs: &dyn Fs, path: &str, kfile: &str) -> Result<String> {
    let bytes = fs
        .read(path)
        .map_err(|e| Error::at(format!("cannot read '{path}': {e}"), kfile))?;
    String::from_utf8(bytes).map_err(|_| Error::at("not UTF-8 text", path))
}

/// `KEY=value` lines; blank lines and `#` comments are skipped, the value
/// is kept as written (quotes included), as kustomize does.
fn parse_env(text: &str, file: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = if i == 0 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(Error::at(
                format!("line '{line}' has no '='; env files hold KEY=value lines (values from the environment are not available here)"),
                file,
            )
            .line(i as u32 + 1, 1));
        };
        if k.contains(char::is_whitespace) {
            return Err(Error::at(format!("key '{k}' has white space"), file).line(i as u32 + 1, 1));
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// Base64 as kustomize writes it into Secrets and `binaryData`: split into
/// 70-character lines, each ending in a newline, once it reaches 70.
fn encode_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = STANDARD.encode(bytes);
    if enc.len() / LINE + 1 == 1 {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The suffix kustomize appends to a generated ConfigMap or Secret: the
/// SHA-256 of a canonical JSON encoding of kind, data (and type), first ten
/// hex digits, some swapped for letters so the suffix never spells words.
pub fn content_hash(obj: &Value) -> String {
    let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
    // Kustomize looks the name up as one field called `metadata/name`,
    // which never exists, so the name is always empty in the encoding.
    let name = Value::from("");
    let as_field = |v: Option<&Value>| match v {
        Some(v) if !v.is_string() && !v.is_number() && !v.is_boolean() => v.clone(),
        Some(v) => crate::resource::scalar_string(v).into(),
        None => "".into(),
    };
    let mut m = std::collections::BTreeMap::new();
    if obj.get("kind").and_then(Value::as_str) == Some("Secret") {
        m.insert("kind", Value::from("Secret"));
        m.insert("type", as_field(get("type")));
        m.insert("name", name);
        m.insert("data", as_field(get("data")));
        if let Some(sd) = get("stringData").filter(|v| v.is_object()) {
            m.insert("stringData", sd.clone());
        }
    } else {
        m.insert("kind", Value::from("ConfigMap"));
        m.insert("name", name);
        m.insert("data", as_field(get("data")));
        if let Some(bd) = get("binaryData").filter(|v| v.is_object()) {
            m.insert("binaryData", bd.clone());
        }
    }
    let mut text = String::new();
    go_json(
        &Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
        &mut text,
    );
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    digest[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes it: map keys sorted, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(k, out);
                out.push(':');
                go_json(&m[*k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Value::String(s) => go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn go_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes_like_go() {
        let mut s = String::new();
        go_json(&json!({"b": "<&>\n", "a": 1}), &mut s);
        assert_eq!(s, r#"{"a":1,"b":"\u003c\u0026\u003e\n"}"#);
    }

    #[test]
    fn hash_matches_kubectl_kustomize() {
        // `configMapGenerator: [{name: cm, literals: [a=b]}]` is `cm-4h2mbtbbt6`.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}});
        assert_eq!(content_hash(&cm), "4h2mbtbbt6");
    }

    #[test]
    fn env_files() {
        let got = parse_env("\u{feff}# c\nA=1\n\n  B=x=y\nC=\"q\"\n", "e.env").unwrap();
        assert_eq!(
            got,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("C".into(), "\"q\"".into())
            ]
        );
        assert!(parse_env("NOVALUE\n", "e.env").is_err());
    }
}
