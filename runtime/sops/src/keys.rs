//! age: identities from key files, the data key wrapped per recipient in an
//! armored age file (`age/keysource.go`).

use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::x25519;

/// A set of age X25519 identities (`AGE-SECRET-KEY-1…`).
#[derive(Default)]
pub struct Identities(Vec<x25519::Identity>);

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.recipients()).finish()
    }
}

impl Identities {
    /// Parses a key file: one identity a line; blank lines and `#` comments
    /// ignored, as `age.ParseIdentities`. The error names the line, never
    /// its content.
    pub fn parse(text: &str) -> Result<Identities, String> {
        let mut out = Identities::default();
        out.add(text)?;
        Ok(out)
    }

    pub fn add(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id = x25519::Identity::from_str(line).map_err(|_| {
                format!(
                    "line {}: not an age identity (expected AGE-SECRET-KEY-1…; only X25519 age keys are supported)",
                    n + 1
                )
            })?;
            self.0.push(id);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The public keys (`age1…`) of these identities, safe to show.
    pub fn recipients(&self) -> Vec<String> {
        self.0.iter().map(|i| i.to_public().to_string()).collect()
    }

    /// Unwraps an armored (or binary) age file holding a sops data key.
    pub fn unwrap_data_key(&self, enc: &str) -> Result<[u8; 32], String> {
        let reader = ArmoredReader::new(enc.trim_start().as_bytes());
        let decryptor = age::Decryptor::new(reader).map_err(|e| e.to_string())?;
        let mut plain = Vec::new();
        decryptor
            .decrypt(self.0.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| e.to_string())?
            .read_to_end(&mut plain)
            .map_err(|e| e.to_string())?;
        plain
            .try_into()
            .map_err(|_| "the age payload is not a 32-byte sops data key".to_string())
    }
}

/// Parses an `age1…` recipient.
pub fn parse_recipient(r: &str) -> Result<x25519::Recipient, String> {
    x25519::Recipient::from_str(r.trim())
        .map_err(|e| format!("'{}' is not an age X25519 recipient (age1…): {e}", r.trim()))
}

/// Wraps a data key for one recipient, armored as sops writes it.
pub fn wrap_data_key(key: &[u8; 32], recipient: &x25519::Recipient) -> Result<String, String> {
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let armor =
        ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| e.to_string())?;
    let mut w = encryptor.wrap_output(armor).map_err(|e| e.to_string())?;
    w.write_all(key).map_err(|e| e.to_string())?;
    w.finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| e.to_string())?;
    let mut text = String::from_utf8(out).map_err(|e| e.to_string())?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}
