//! The SOPS file format (getsops/sops v3) with age keys, as the `sops` tool
//! reads and writes it, so files it encrypted decrypt here and files written
//! here decrypt with it.
//!
//! - Values are encrypted one by one (`ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`,
//!   32-byte IV) with the path of their keys joined by `:` plus a trailing
//!   `:` as additional data, so a value cannot be moved to another key.
//! - The data key is wrapped for each age recipient in an armored age file
//!   (`sops.age[].enc`). Other key types (PGP, KMS, Vault, …) are recognised
//!   and refused with a message saying only age is supported.
//! - The MAC is SHA-512 over the plaintext leaves in document order (all of
//!   them, or only the encrypted ones with `mac_only_encrypted`), stored
//!   encrypted with the data key and `lastmodified` as additional data.
//! - Formats: YAML (with comments, which sops encrypts too; they are not
//!   part of the MAC), JSON, dotenv, INI and binary (`{"data": …}` in JSON).
//!
//! Plaintext never reaches an [`Error`] or a `Debug` output.

mod cipher;
mod dotenv;
mod ini;
mod json;
mod keys;
mod metadata;
mod tree;
mod walk;
mod yaml;

pub use cipher::is_encrypted as is_encrypted_value;
pub use keys::{Identities, parse_recipient};
pub use metadata::{AgeKey, Metadata, Rules};
pub use tree::{Branch, Key, Value};

/// The suffix sops leaves in the clear when a file names no other rule.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// The sops release whose file format this writes.
pub const SOPS_VERSION: &str = "3.10.2";

/// A sops store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    Binary,
}

impl Format {
    /// sops' `FormatForPath`: by extension, binary otherwise.
    pub fn from_path(path: &str) -> Format {
        let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        match ext {
            "yaml" | "yml" => Format::Yaml,
            "json" => Format::Json,
            "env" => Format::Dotenv,
            "ini" => Format::Ini,
            _ => Format::Binary,
        }
    }

    /// The names sops takes for `--input-type` / `--output-type`.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
            Format::Dotenv => "dotenv",
            Format::Ini => "INI",
            Format::Binary => "binary",
        }
    }

    /// Whether `data` carries this format's sops MAC marker, as Flux's
    /// kustomize-controller detects encrypted data.
    pub fn has_marker(self, data: &[u8]) -> bool {
        let marker: &[u8] = match self {
            Format::Binary | Format::Json => b"\"mac\": \"ENC[",
            Format::Dotenv => b"sops_mac=ENC[",
            Format::Ini => b"[sops]",
            Format::Yaml => b"mac: ENC[",
        };
        data.windows(marker.len()).any(|w| w == marker)
    }

    /// The format whose marker `data` carries, if any (Flux's
    /// `detectFormatFromMarkerBytes`).
    pub fn detect(data: &[u8]) -> Option<Format> {
        [Format::Json, Format::Dotenv, Format::Ini, Format::Yaml]
            .into_iter()
            .find(|f| f.has_marker(data))
    }
}

/// Why a file could not be read, decrypted or written. Never holds plaintext.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Parse {
        format: Format,
        message: String,
    },
    NoMetadata,
    Metadata(String),
    /// The data key is wrapped only for key types other than age.
    OnlyAge {
        types: Vec<String>,
    },
    Shamir(usize),
    NoIdentities {
        recipients: Vec<String>,
    },
    /// None of the identities is a recipient of the file.
    WrongKey {
        recipients: Vec<String>,
        have: Vec<String>,
    },
    DataKey(String),
    Value {
        path: String,
        reason: String,
    },
    MacMismatch,
    Mac(String),
    Random(String),
    Emit(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse { format, message } => write!(f, "not a valid {} file: {message}", format.name()),
            Error::NoMetadata => f.write_str("sops metadata not found: the file is not encrypted with sops"),
            Error::Metadata(m) => write!(f, "invalid sops metadata: {m}"),
            Error::OnlyAge { types } => write!(
                f,
                "the data key is encrypted only for {} keys; only age is supported: add an age recipient to the file (sops updatekeys, or re-encrypt with sluice sops encrypt --age age1…)",
                types.join(", ")
            ),
            Error::Shamir(n) => write!(
                f,
                "the data key is split across {n} key groups (Shamir); only a single key group is supported"
            ),
            Error::NoIdentities { recipients } => write!(
                f,
                "no age identity given; the file is encrypted for {}",
                recipients.join(", ")
            ),
            Error::WrongKey { recipients, have } => write!(
                f,
                "no age identity matches: the file is encrypted for {}, the identities given are for {}",
                recipients.join(", "),
                if have.is_empty() { "nothing".to_string() } else { have.join(", ") }
            ),
            Error::DataKey(e) => write!(f, "could not decrypt the sops data key with age: {e}"),
            Error::Value { path, reason } => write!(f, "value at {path}: {reason}"),
            Error::MacMismatch => f.write_str(
                "MAC mismatch: the file was changed after it was encrypted (a value, its order, or sops.mac/lastmodified); re-encrypt it with sops",
            ),
            Error::Mac(reason) => write!(f, "sops.mac: {reason}"),
            Error::Random(e) => write!(f, "no randomness for the data key: {e}"),
            Error::Emit(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// An encrypted file: its tree (values still `ENC[…]`) and its metadata.
#[derive(Debug, Clone)]
pub struct Encrypted {
    pub branches: Vec<Branch>,
    pub metadata: Metadata,
}

fn parse_err(format: Format, message: impl Into<String>) -> Error {
    Error::Parse {
        format,
        message: message.into(),
    }
}

/// Reads an encrypted file: the `sops` entry (or the `sops_` keys, the
/// `[sops]` section) becomes the metadata, the rest the tree.
pub fn load_encrypted(data: &[u8], format: Format) -> Result<Encrypted, Error> {
    let (branches, meta) = match format {
        Format::Yaml => {
            let mut branches = yaml::parse(data)?;
            let mut meta = None;
            for b in &mut branches {
                if let Some(m) = b.remove("sops") {
                    meta.get_or_insert(m);
                }
            }
            (branches, meta)
        }
        Format::Json | Format::Binary => {
            let mut b = json::parse(data, format)?;
            let meta = b.remove("sops");
            (vec![b], meta)
        }
        Format::Dotenv => {
            let (b, flat) = dotenv::parse(data, true)?;
            (
                vec![b],
                (!flat.is_empty()).then(|| Value::Map(metadata::unflatten(&flat))),
            )
        }
        Format::Ini => {
            let (b, flat) = ini::parse(data, true)?;
            (vec![b], flat.map(|f| Value::Map(metadata::unflatten(&f))))
        }
    };
    let meta = match meta {
        Some(Value::Map(m)) => Metadata::from_tree(&m).map_err(Error::Metadata)?,
        Some(_) => return Err(Error::Metadata("the sops entry is not a mapping".into())),
        None => return Err(Error::NoMetadata),
    };
    Ok(Encrypted {
        branches,
        metadata: meta,
    })
}

/// Reads a plaintext file into a tree.
pub fn load_plain(data: &[u8], format: Format) -> Result<Vec<Branch>, Error> {
    Ok(match format {
        Format::Yaml => yaml::parse(data)?,
        Format::Json => vec![json::parse(data, format)?],
        Format::Binary => {
            let mut b = Branch::default();
            let text = String::from_utf8(data.to_vec())
                .map_err(|_| parse_err(format, "sops' binary store holds UTF-8 text only"))?;
            b.insert("data", Value::Str(text));
            vec![b]
        }
        Format::Dotenv => vec![dotenv::parse(data, false)?.0],
        Format::Ini => vec![ini::parse(data, false)?.0],
    })
}

/// Writes a plaintext tree in a format.
pub fn emit_plain(branches: &[Branch], format: Format) -> Result<Vec<u8>, Error> {
    match format {
        Format::Yaml => Ok(yaml::emit(branches, None)),
        Format::Json => Ok(json::emit(single(branches)?, None)),
        Format::Binary => match single(branches)?.get("data") {
            Some(Value::Str(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Bytes(b)) => Ok(b.clone()),
            _ => Err(Error::Emit("binary output needs a single 'data' string (decrypt a file written as binary, or pick --output-type)".into())),
        },
        Format::Dotenv => dotenv::emit(single(branches)?, &[]),
        Format::Ini => ini::emit(single(branches)?, None),
    }
}

fn single(branches: &[Branch]) -> Result<&Branch, Error> {
    match branches {
        [b] => Ok(b),
        _ => Err(Error::Emit(format!(
            "this output format holds one document; the file has {}",
            branches.len()
        ))),
    }
}

/// Writes an encrypted file in a format, metadata included.
pub fn emit_encrypted(file: &Encrypted, format: Format) -> Result<Vec<u8>, Error> {
    let meta = file.metadata.to_tree();
    match format {
        Format::Yaml => Ok(yaml::emit(&file.branches, Some(&meta))),
        Format::Json | Format::Binary => Ok(json::emit(single(&file.branches)?, Some(&meta))),
        Format::Dotenv => dotenv::emit(single(&file.branches)?, &metadata::flatten(&meta)),
        Format::Ini => ini::emit(single(&file.branches)?, Some(&metadata::flatten(&meta))),
    }
}

impl Encrypted {
    /// The age recipients the data key is wrapped for.
    pub fn recipients(&self) -> Vec<String> {
        self.metadata
            .age
            .iter()
            .map(|k| k.recipient.clone())
            .collect()
    }

    /// Unwraps the data key with the first age recipient an identity matches.
    pub fn data_key(&self, ids: &Identities) -> Result<[u8; 32], Error> {
        let m = &self.metadata;
        if m.age.is_empty() {
            return Err(Error::OnlyAge {
                types: m.other_key_types.clone(),
            });
        }
        if m.key_groups > 1 {
            return Err(Error::Shamir(m.key_groups));
        }
        if ids.is_empty() {
            return Err(Error::NoIdentities {
                recipients: self.recipients(),
            });
        }
        let mut other = None;
        for k in &m.age {
            match ids.unwrap_data_key(&k.enc) {
                Ok(key) => return Ok(key),
                Err(e) if e.contains("No matching keys") => {}
                Err(e) => other = Some(e),
            }
        }
        Err(match other {
            Some(e) => Error::DataKey(e),
            None => Error::WrongKey {
                recipients: self.recipients(),
                have: ids.recipients(),
            },
        })
    }

    /// Decrypts the tree; with `verify_mac` the MAC must match, as the
    /// `sops` tool requires.
    pub fn decrypt(self, ids: &Identities, verify_mac: bool) -> Result<Vec<Branch>, Error> {
        let key = self.data_key(ids)?;
        self.decrypt_with_key(&key, verify_mac)
    }

    /// Decrypts with a data key already unwrapped.
    pub fn decrypt_with_key(self, key: &[u8; 32], verify_mac: bool) -> Result<Vec<Branch>, Error> {
        let Encrypted {
            mut branches,
            metadata,
        } = self;
        let computed = walk::decrypt(&mut branches, &metadata.rules, key)?;
        if verify_mac {
            if metadata.mac.is_empty() {
                return Err(Error::Mac("the file has no MAC".into()));
            }
            let stored = cipher::decrypt(&metadata.mac, key, &metadata.last_modified)
                .map_err(|e| Error::Mac(e.to_string()))?;
            if stored.as_str() != Some(computed.as_str()) {
                return Err(Error::MacMismatch);
            }
        }
        Ok(branches)
    }
}

/// Encrypts a plaintext tree for age recipients with fresh keys, stamping
/// `last_modified` (RFC 3339, UTC) into the metadata and the MAC.
pub fn encrypt(
    mut branches: Vec<Branch>,
    recipients: &[String],
    rules: Rules,
    last_modified: &str,
) -> Result<Encrypted, Error> {
    if recipients.is_empty() {
        return Err(Error::Metadata("no age recipients to encrypt for".into()));
    }
    let parsed = recipients
        .iter()
        .map(|r| parse_recipient(r).map_err(Error::Metadata))
        .collect::<Result<Vec<_>, _>>()?;
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(|e| Error::Random(e.to_string()))?;
    let mut rules = rules;
    let set = [
        &rules.unencrypted_suffix,
        &rules.encrypted_suffix,
        &rules.unencrypted_regex,
        &rules.encrypted_regex,
        &rules.unencrypted_comment_regex,
        &rules.encrypted_comment_regex,
    ]
    .iter()
    .filter(|r| r.is_some())
    .count();
    if set > 1 {
        return Err(Error::Metadata(
            "use at most one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, unencrypted_comment_regex".into(),
        ));
    }
    if set == 0 {
        rules.unencrypted_suffix = Some(DEFAULT_UNENCRYPTED_SUFFIX.to_string());
    }
    let mac = walk::encrypt(&mut branches, &rules, &key)?;
    let mac = cipher::encrypt(&Value::Str(mac), &key, last_modified)
        .map_err(|e| Error::Random(e.to_string()))?;
    let age = recipients
        .iter()
        .zip(&parsed)
        .map(|(r, p)| {
            Ok(AgeKey {
                recipient: r.trim().to_string(),
                enc: keys::wrap_data_key(&key, p).map_err(Error::DataKey)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Encrypted {
        branches,
        metadata: Metadata {
            age,
            other_key_types: Vec::new(),
            key_groups: 0,
            last_modified: last_modified.to_string(),
            mac,
            rules,
            version: SOPS_VERSION.to_string(),
        },
    })
}

/// `time.Now().UTC().Format(time.RFC3339)` for seconds since the epoch.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
