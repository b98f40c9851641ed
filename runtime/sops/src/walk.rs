//! Walking the tree as `sops.go` does: which values are encrypted
//! (`shouldBeEncrypted`), each leaf encrypted or decrypted with its path as
//! additional data, and the MAC (SHA-512 over the plaintext leaves in order,
//! comments excluded) accumulated on the way.

use regex::Regex;
use sha2::{Digest, Sha512};

use crate::Error;
use crate::cipher;
use crate::metadata::Rules;
use crate::tree::{Branch, Key, Value};

/// `MACOnlyEncryptedInitialization`: sha256("sops"), so the two MAC modes
/// never agree.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

struct Compiled {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
    unencrypted_comment_regex: Option<Regex>,
    encrypted_comment_regex: Option<Regex>,
    mac_only_encrypted: bool,
}

fn compile(field: &str, re: &Option<String>) -> Result<Option<Regex>, Error> {
    re.as_deref()
        .map(|r| {
            Regex::new(r).map_err(|e| {
                Error::Metadata(format!(
                    "sops.{field} is not a valid regular expression: {e}"
                ))
            })
        })
        .transpose()
}

impl Compiled {
    fn new(r: &Rules) -> Result<Compiled, Error> {
        Ok(Compiled {
            unencrypted_suffix: r.unencrypted_suffix.clone(),
            encrypted_suffix: r.encrypted_suffix.clone(),
            unencrypted_regex: compile("unencrypted_regex", &r.unencrypted_regex)?,
            encrypted_regex: compile("encrypted_regex", &r.encrypted_regex)?,
            unencrypted_comment_regex: compile(
                "unencrypted_comment_regex",
                &r.unencrypted_comment_regex,
            )?,
            encrypted_comment_regex: compile(
                "encrypted_comment_regex",
                &r.encrypted_comment_regex,
            )?,
            mac_only_encrypted: r.mac_only_encrypted,
        })
    }

    fn should_encrypt(&self, path: &[String], comments: &[Vec<String>], is_comment: bool) -> bool {
        let mut enc = true;
        if let Some(s) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(s.as_str()))
        {
            enc = false;
        }
        if let Some(s) = &self.encrypted_suffix {
            enc = path.iter().any(|p| p.ends_with(s.as_str()));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            enc = false;
        }
        if let Some(re) = &self.encrypted_regex {
            enc = path.iter().any(|p| re.is_match(p));
        }
        if let Some(re) = &self.unencrypted_comment_regex
            && comments.iter().flatten().any(|c| re.is_match(c))
        {
            enc = false;
        }
        if let Some(re) = &self.encrypted_comment_regex {
            // The matching comment line itself stays readable.
            let last = comments.len().saturating_sub(1);
            let last_len = comments.last().map_or(0, Vec::len);
            enc = comments.iter().enumerate().any(|(i, cs)| {
                cs.iter()
                    .enumerate()
                    .any(|(j, c)| !(is_comment && i == last && j + 1 == last_len) && re.is_match(c))
            });
        }
        enc
    }
}

fn aad(path: &[String]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

fn shown(path: &[String]) -> String {
    if path.is_empty() {
        "(top level)".into()
    } else {
        path.join(".")
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode<'k> {
    Decrypt(&'k [u8; 32]),
    Encrypt(&'k [u8; 32]),
}

struct Walker<'k> {
    rules: Compiled,
    mode: Mode<'k>,
    mac: Sha512,
}

impl Walker<'_> {
    fn leaf(
        &mut self,
        v: &mut Value,
        path: &[String],
        comments: &[Vec<String>],
    ) -> Result<(), Error> {
        let is_comment = matches!(v, Value::Comment(_));
        let encrypted = self.rules.should_encrypt(path, comments, is_comment);
        match self.mode {
            Mode::Decrypt(key) => {
                if encrypted {
                    if let Value::Comment(c) = v {
                        // A comment that does not decrypt was written in the
                        // clear (older sops); keep it. Comments' placement
                        // can differ between YAML parsers, so try the
                        // enclosing paths too: GCM tells the right one.
                        if cipher::is_encrypted(c)
                            && let Some(plain) = (0..=path.len())
                                .rev()
                                .find_map(|n| cipher::decrypt(c, key, &aad(&path[..n])).ok())
                        {
                            *v = plain;
                        }
                        return Ok(());
                    }
                    let Value::Str(s) = &*v else {
                        return Err(Error::Value {
                            path: shown(path),
                            reason: format!("the value should be encrypted but is {}", v.kind()),
                        });
                    };
                    *v = cipher::decrypt(s, key, &aad(path)).map_err(|e| Error::Value {
                        path: shown(path),
                        reason: e.to_string(),
                    })?;
                }
                if (!self.rules.mac_only_encrypted || encrypted)
                    && !matches!(v, Value::Comment(_))
                    && let Some(b) = cipher::to_bytes(v)
                {
                    self.mac.update(&b);
                }
            }
            Mode::Encrypt(key) => {
                if (!self.rules.mac_only_encrypted || encrypted)
                    && !is_comment
                    && let Some(b) = cipher::to_bytes(v)
                {
                    self.mac.update(&b);
                }
                if encrypted {
                    let enc = cipher::encrypt(v, key, &aad(path))
                        .map_err(|e| Error::Random(e.to_string()))?;
                    *v = if is_comment {
                        Value::Comment(enc)
                    } else {
                        Value::Str(enc)
                    };
                }
            }
        }
        Ok(())
    }

    fn value(
        &mut self,
        v: &mut Value,
        path: &mut Vec<String>,
        comments: &mut Vec<Vec<String>>,
    ) -> Result<(), Error> {
        match v {
            Value::Map(b) => self.branch(b, path, comments),
            Value::List(items) => {
                comments.push(Vec::new());
                for item in items.iter_mut() {
                    let is_comment = if let Value::Comment(c) = item {
                        comments.last_mut().expect("pushed").push(c.clone());
                        true
                    } else {
                        false
                    };
                    self.value(item, path, comments)?;
                    if !is_comment {
                        comments.last_mut().expect("pushed").clear();
                    }
                }
                comments.pop();
                Ok(())
            }
            Value::Null => Ok(()),
            _ => self.leaf(v, path, comments),
        }
    }

    fn branch(
        &mut self,
        b: &mut Branch,
        path: &mut Vec<String>,
        comments: &mut Vec<Vec<String>>,
    ) -> Result<(), Error> {
        comments.push(Vec::new());
        for (k, v) in b.0.iter_mut() {
            match k {
                Key::Comment(c) => {
                    comments.last_mut().expect("pushed").push(c.clone());
                    let mut cv = Value::Comment(c.clone());
                    self.leaf(&mut cv, path, comments)?;
                    if let Value::Comment(new) = cv {
                        *c = new;
                    }
                }
                Key::Str(key) => {
                    path.push(key.clone());
                    self.value(v, path, comments)?;
                    path.pop();
                    comments.last_mut().expect("pushed").clear();
                }
            }
        }
        comments.pop();
        Ok(())
    }
}

/// Decrypts every branch in place and returns the MAC sops would compute
/// (upper-case hex SHA-512).
pub fn decrypt(branches: &mut [Branch], rules: &Rules, key: &[u8; 32]) -> Result<String, Error> {
    run(branches, rules, Mode::Decrypt(key))
}

/// Encrypts every branch in place and returns the MAC of the plaintext.
pub fn encrypt(branches: &mut [Branch], rules: &Rules, key: &[u8; 32]) -> Result<String, Error> {
    run(branches, rules, Mode::Encrypt(key))
}

fn run(branches: &mut [Branch], rules: &Rules, mode: Mode<'_>) -> Result<String, Error> {
    let mut w = Walker {
        rules: Compiled::new(rules)?,
        mode,
        mac: Sha512::new(),
    };
    if rules.mac_only_encrypted {
        w.mac.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for b in branches.iter_mut() {
        w.branch(b, &mut Vec::new(), &mut Vec::new())?;
    }
    Ok(hex::encode_upper(w.mac.finalize()))
}
