//! sops' value cipher (`aes/cipher.go`): AES-256-GCM with a 32-byte IV, the
//! tree path (`a:b:c:`) as additional data, written as
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` in standard base64.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::tree::{Value, format_float};

type Cipher = AesGcm<Aes256, U32>;

const PREFIX: &str = "ENC[AES256_GCM,data:";

/// Why a value could not be decrypted (never the value itself).
#[derive(Debug, Clone, PartialEq)]
pub enum ValueError {
    /// Not in the `ENC[AES256_GCM,…]` form.
    NotEncrypted,
    Malformed(&'static str),
    /// GCM authentication failed: wrong data key, a changed value, or a value
    /// moved to another path.
    Authentication,
    UnknownType(String),
    BadPlaintext(&'static str),
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueError::NotEncrypted => f.write_str("it is not an ENC[AES256_GCM,…] value"),
            ValueError::Malformed(what) => write!(f, "its ENC[…] form is malformed ({what})"),
            ValueError::Authentication => f.write_str(
                "it does not authenticate: the value was changed or moved to another key after encryption",
            ),
            ValueError::UnknownType(t) => write!(f, "unknown value type '{t}'"),
            ValueError::BadPlaintext(t) => write!(f, "its plaintext is not a valid {t}"),
        }
    }
}

/// Whether a string looks like a sops-encrypted value.
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with(PREFIX)
}

struct Parts {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse(s: &str) -> Result<Parts, ValueError> {
    let rest = s.strip_prefix(PREFIX).ok_or(ValueError::NotEncrypted)?;
    let end = rest
        .rfind(']')
        .ok_or(ValueError::Malformed("no closing ]"))?;
    let rest = &rest[..end];
    let (data, rest) = rest
        .split_once(",iv:")
        .ok_or(ValueError::Malformed("no iv"))?;
    let (iv, rest) = rest
        .split_once(",tag:")
        .ok_or(ValueError::Malformed("no tag"))?;
    let (tag, kind) = rest
        .split_once(",type:")
        .ok_or(ValueError::Malformed("no type"))?;
    let b64 = |v: &str, what| STANDARD.decode(v).map_err(|_| ValueError::Malformed(what));
    Ok(Parts {
        data: b64(data, "data is not base64")?,
        iv: b64(iv, "iv is not base64")?,
        tag: b64(tag, "tag is not base64")?,
        kind: kind.to_string(),
    })
}

/// Decrypts one value; `aad` is the joined path. The empty string stays
/// empty, as sops leaves it unencrypted.
pub fn decrypt(s: &str, key: &[u8; 32], aad: &str) -> Result<Value, ValueError> {
    if s.is_empty() {
        return Ok(Value::Str(String::new()));
    }
    let p = parse(s)?;
    if p.iv.len() != 32 {
        return Err(ValueError::Malformed("the iv is not 32 bytes"));
    }
    if p.tag.len() != 16 {
        return Err(ValueError::Malformed("the tag is not 16 bytes"));
    }
    let cipher = Cipher::new(key.into());
    let mut sealed = p.data;
    sealed.extend_from_slice(&p.tag);
    let plain = cipher
        .decrypt(
            Nonce::<U32>::from_slice(&p.iv),
            Payload {
                msg: &sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| ValueError::Authentication)?;
    let text =
        || String::from_utf8(plain.clone()).map_err(|_| ValueError::BadPlaintext("UTF-8 text"));
    Ok(match p.kind.as_str() {
        "str" => Value::Str(text()?),
        "int" | "int64" => Value::Int(
            text()?
                .parse()
                .map_err(|_| ValueError::BadPlaintext("integer"))?,
        ),
        "float" => {
            Value::Float(parse_go_float(&text()?).ok_or(ValueError::BadPlaintext("number"))?)
        }
        "bool" => Value::Bool(parse_go_bool(&text()?).ok_or(ValueError::BadPlaintext("boolean"))?),
        "bytes" => Value::Bytes(plain),
        "comment" => Value::Comment(text()?),
        other => return Err(ValueError::UnknownType(other.to_string())),
    })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// The bytes sops feeds to the MAC and encrypts for a scalar (`ToBytes`).
/// `None` for values that are not leaves.
pub fn to_bytes(v: &Value) -> Option<Vec<u8>> {
    Some(match v {
        Value::Str(s) | Value::Comment(s) => s.as_bytes().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => format_float(*f).into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Null | Value::Map(_) | Value::List(_) => return None,
    })
}

/// Encrypts a scalar with a fresh random IV. The empty string stays empty.
pub fn encrypt(v: &Value, key: &[u8; 32], aad: &str) -> Result<String, getrandom::Error> {
    let kind = match v {
        Value::Str(s) if s.is_empty() => return Ok(String::new()),
        Value::Comment(s) if s.is_empty() => return Ok(String::new()),
        Value::Str(_) => "str",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bool(_) => "bool",
        Value::Bytes(_) => "bytes",
        Value::Comment(_) => "comment",
        Value::Null | Value::Map(_) | Value::List(_) => unreachable!("only leaves are encrypted"),
    };
    let plain = to_bytes(v).unwrap_or_default();
    let mut iv = [0u8; 32];
    getrandom::getrandom(&mut iv)?;
    let sealed = Cipher::new(key.into())
        .encrypt(
            Nonce::<U32>::from_slice(&iv),
            Payload {
                msg: &plain,
                aad: aad.as_bytes(),
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        STANDARD.encode(data),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type_and_path_binding() {
        let key = [7u8; 32];
        for v in [
            Value::Str("hunter2".into()),
            Value::Int(-42),
            Value::Float(1.5),
            Value::Bool(true),
            Value::Comment(" note".into()),
        ] {
            let enc = encrypt(&v, &key, "a:b:").unwrap();
            assert!(is_encrypted(&enc));
            assert_eq!(decrypt(&enc, &key, "a:b:").unwrap(), v);
            assert_eq!(
                decrypt(&enc, &key, "a:c:").unwrap_err(),
                ValueError::Authentication
            );
        }
        assert_eq!(encrypt(&Value::Str(String::new()), &key, "x:").unwrap(), "");
    }
}
