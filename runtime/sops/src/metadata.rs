//! The `sops` metadata block (`stores/stores.go`), read from a parsed tree so
//! YAML, JSON, dotenv and INI share one reader; dotenv and INI flatten it
//! with sops' `__map_` / `__list_` key encoding.

use crate::tree::{Branch, Key, Value};

/// One age recipient and the data key wrapped for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeKey {
    pub recipient: String,
    pub enc: String,
}

/// Which values are encrypted: at most one rule, as sops enforces; without
/// one, everything but keys ending in `_unencrypted`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<String>,
    pub encrypted_regex: Option<String>,
    pub unencrypted_comment_regex: Option<String>,
    pub encrypted_comment_regex: Option<String>,
    pub mac_only_encrypted: bool,
}

/// The metadata of an encrypted file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    pub age: Vec<AgeKey>,
    /// Key types other than age that hold a data key (`pgp`, `kms`, …).
    pub other_key_types: Vec<String>,
    /// More than one key group: the data key is split with Shamir's scheme.
    pub key_groups: usize,
    pub last_modified: String,
    pub mac: String,
    pub rules: Rules,
    pub version: String,
}

const KEY_TYPES: [&str; 9] = [
    "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age", "plugins", "hcvault",
];

fn str_field(b: &Branch, k: &str) -> Option<String> {
    match b.get(k)? {
        Value::Str(s) if !s.is_empty() => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(crate::tree::format_float(*f)),
        _ => None,
    }
}

fn add_group(b: &Branch, age: &mut Vec<AgeKey>, others: &mut Vec<String>) -> Result<(), String> {
    for t in KEY_TYPES {
        let Some(Value::List(keys)) = b.get(t) else {
            continue;
        };
        if keys.is_empty() {
            continue;
        }
        if t != "age" {
            if !others.iter().any(|o| o == t) {
                others.push(t.to_string());
            }
            continue;
        }
        for k in keys {
            let Value::Map(k) = k else {
                return Err("sops.age entries must be mappings with recipient and enc".into());
            };
            let recipient = str_field(k, "recipient").ok_or("a sops.age entry has no recipient")?;
            let enc = str_field(k, "enc").ok_or("a sops.age entry has no enc")?;
            age.push(AgeKey { recipient, enc });
        }
    }
    Ok(())
}

impl Metadata {
    /// Reads the `sops` mapping. Errors say which field is wrong.
    pub fn from_tree(b: &Branch) -> Result<Metadata, String> {
        let mut m = Metadata {
            last_modified: str_field(b, "lastmodified").ok_or("sops.lastmodified is missing")?,
            mac: str_field(b, "mac").unwrap_or_default(),
            version: str_field(b, "version").unwrap_or_default(),
            ..Metadata::default()
        };
        add_group(b, &mut m.age, &mut m.other_key_types)?;
        let top_level = !m.age.is_empty() || !m.other_key_types.is_empty();
        if let (false, Some(Value::List(groups))) = (top_level, b.get("key_groups")) {
            m.key_groups = groups.len();
            for g in groups {
                if let Value::Map(g) = g {
                    add_group(g, &mut m.age, &mut m.other_key_types)?;
                }
            }
        }
        if m.age.is_empty() && m.other_key_types.is_empty() {
            return Err("sops metadata lists no keys (no age recipients)".into());
        }
        let r = &mut m.rules;
        r.unencrypted_suffix = str_field(b, "unencrypted_suffix");
        r.encrypted_suffix = str_field(b, "encrypted_suffix");
        r.unencrypted_regex = str_field(b, "unencrypted_regex");
        r.encrypted_regex = str_field(b, "encrypted_regex");
        r.unencrypted_comment_regex = str_field(b, "unencrypted_comment_regex");
        r.encrypted_comment_regex = str_field(b, "encrypted_comment_regex");
        r.mac_only_encrypted = match b.get("mac_only_encrypted") {
            Some(Value::Bool(v)) => *v,
            Some(Value::Str(s)) => s == "true",
            _ => false,
        };
        let count = [
            &r.unencrypted_suffix,
            &r.encrypted_suffix,
            &r.unencrypted_regex,
            &r.encrypted_regex,
            &r.unencrypted_comment_regex,
            &r.encrypted_comment_regex,
        ]
        .iter()
        .filter(|x| x.is_some())
        .count();
        if count > 1 {
            return Err("Cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file".into());
        }
        if count == 0 {
            r.unencrypted_suffix = Some(crate::DEFAULT_UNENCRYPTED_SUFFIX.to_string());
        }
        Ok(m)
    }

    /// The `sops` mapping in the field order sops 3.10 writes.
    pub fn to_tree(&self) -> Branch {
        let mut b = Branch::default();
        let s = |v: &str| Value::Str(v.to_string());
        b.insert(
            "age",
            Value::List(
                self.age
                    .iter()
                    .map(|k| {
                        let mut e = Branch::default();
                        e.insert("recipient", s(&k.recipient));
                        e.insert("enc", s(&k.enc));
                        Value::Map(e)
                    })
                    .collect(),
            ),
        );
        b.insert("lastmodified", s(&self.last_modified));
        b.insert("mac", s(&self.mac));
        let r = &self.rules;
        for (k, v) in [
            ("unencrypted_suffix", &r.unencrypted_suffix),
            ("encrypted_suffix", &r.encrypted_suffix),
            ("unencrypted_regex", &r.unencrypted_regex),
            ("encrypted_regex", &r.encrypted_regex),
            ("unencrypted_comment_regex", &r.unencrypted_comment_regex),
            ("encrypted_comment_regex", &r.encrypted_comment_regex),
        ] {
            if let Some(v) = v {
                b.insert(k, s(v));
            }
        }
        if r.mac_only_encrypted {
            b.insert("mac_only_encrypted", Value::Bool(true));
        }
        b.insert("version", s(&self.version));
        b
    }
}

const MAP_SEP: &str = "__map_";
const LIST_SEP: &str = "__list_";

/// Flattens the metadata mapping to sorted `key → string` pairs as sops'
/// dotenv and INI stores write it (newlines as `\n`, booleans as text).
pub fn flatten(b: &Branch) -> Vec<(String, String)> {
    fn walk(prefix: String, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Map(b) => {
                for (k, v) in &b.0 {
                    if let Key::Str(k) = k {
                        walk(format!("{prefix}{MAP_SEP}{k}"), v, out);
                    }
                }
            }
            Value::List(l) => {
                for (i, v) in l.iter().enumerate() {
                    walk(format!("{prefix}{LIST_SEP}{i}"), v, out);
                }
            }
            Value::Bool(b) => out.push((prefix, b.to_string())),
            Value::Str(s) => out.push((prefix, s.replace('\n', "\\n"))),
            Value::Int(i) => out.push((prefix, i.to_string())),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (k, v) in &b.0 {
        if let Key::Str(k) = k {
            walk(k.clone(), v, &mut out);
        }
    }
    out.sort();
    out
}

/// Rebuilds the metadata mapping from flattened pairs (`Unflatten` with
/// `DecodeNewLines`).
pub fn unflatten(pairs: &[(String, String)]) -> Branch {
    enum Tok {
        Map(String),
        List(usize),
    }
    fn tokenize(path: &str) -> Vec<Tok> {
        let mut toks = Vec::new();
        let mut rest = path;
        let mut state: Option<bool> = None; // None: first, Some(true): map, Some(false): list
        loop {
            let next = [rest.find(MAP_SEP), rest.find(LIST_SEP)]
                .into_iter()
                .flatten()
                .min();
            let (head, tail) = match next {
                Some(i) => (&rest[..i], Some(&rest[i..])),
                None => (rest, None),
            };
            match state {
                Some(false) => toks.push(Tok::List(head.parse().unwrap_or(0))),
                _ => toks.push(Tok::Map(head.to_string())),
            }
            let Some(tail) = tail else { break };
            if let Some(t) = tail.strip_prefix(MAP_SEP) {
                state = Some(true);
                rest = t;
            } else {
                state = Some(false);
                rest = &tail[LIST_SEP.len()..];
            }
        }
        toks
    }
    fn set(node: &mut Value, toks: &[Tok], value: Value) {
        let Some((first, rest)) = toks.split_first() else {
            *node = value;
            return;
        };
        let fresh = || match rest.first() {
            Some(Tok::List(_)) => Value::List(Vec::new()),
            Some(Tok::Map(_)) => Value::Map(Branch::default()),
            None => Value::Null,
        };
        match first {
            Tok::Map(k) => {
                if !matches!(node, Value::Map(_)) {
                    *node = Value::Map(Branch::default());
                }
                let Value::Map(b) = node else { unreachable!() };
                if b.get(k).is_none() {
                    b.insert(k, fresh());
                }
                set(b.get_mut(k).expect("just inserted"), rest, value);
            }
            Tok::List(i) => {
                if !matches!(node, Value::List(_)) {
                    *node = Value::List(Vec::new());
                }
                let Value::List(l) = node else { unreachable!() };
                while l.len() <= *i {
                    l.push(fresh());
                }
                set(&mut l[*i], rest, value);
            }
        }
    }
    let mut root = Value::Map(Branch::default());
    for (k, v) in pairs {
        set(&mut root, &tokenize(k), Value::Str(v.replace("\\n", "\n")));
    }
    match root {
        Value::Map(b) => b,
        _ => Branch::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_round_trips_the_dotenv_encoding() {
        let m = Metadata {
            age: vec![AgeKey {
                recipient: "age1x".into(),
                enc: "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            }],
            last_modified: "2024-11-12T13:33:42Z".into(),
            mac: "ENC[x]".into(),
            rules: Rules {
                unencrypted_suffix: Some("_unencrypted".into()),
                ..Rules::default()
            },
            version: "3.9.0".into(),
            ..Metadata::default()
        };
        let flat = flatten(&m.to_tree());
        assert_eq!(flat[0].0, "age__list_0__map_enc");
        assert!(flat[0].1.contains("\\nabc\\n"));
        assert_eq!(flat[1].0, "age__list_0__map_recipient");
        let back = Metadata::from_tree(&unflatten(&flat)).unwrap();
        assert_eq!(back, m);
    }
}
