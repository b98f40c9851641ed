//! Sigstore's `trusted_root.json` (the file `cosign verify --trusted-root`
//! reads): the Fulcio CAs that issue signing certificates and the Rekor
//! keys that sign log entries, each with its validity window. Loaded from
//! a file the user names, never from the network: no public Sigstore is
//! reachable where Sluice runs, and trust should not change under it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sigstore::crypto::CosignVerificationKey;

/// Trusted Fulcio CAs and Rekor logs.
#[derive(Debug)]
pub struct TrustedRoot {
    /// `sha256:<hex>` of the file, part of every cache key.
    pub(crate) digest: String,
    pub(crate) authorities: Vec<CertificateAuthority>,
    pub(crate) logs: Vec<TransparencyLog>,
}

#[derive(Debug)]
pub(crate) struct CertificateAuthority {
    /// Leaf-most first, the root last (as the file lists them).
    pub chain: Vec<CertificateDer<'static>>,
    pub valid: Validity,
}

#[derive(Debug)]
pub(crate) struct TransparencyLog {
    /// Hex SHA-256 of the key's DER, as bundles name the log (`logID`).
    pub log_id: String,
    pub key: CosignVerificationKey,
    pub valid: Validity,
}

/// Unix seconds; open ends are unbounded.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Validity {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Validity {
    pub fn covers(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(default)]
    tlogs: Vec<Tlog>,
    #[serde(default)]
    certificate_authorities: Vec<Ca>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tlog {
    public_key: PublicKey,
    #[serde(default)]
    log_id: Option<LogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKey {
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<ValidFor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ca {
    cert_chain: CertChain,
    #[serde(default)]
    valid_for: Option<ValidFor>,
}

#[derive(Deserialize)]
struct CertChain {
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct ValidFor {
    start: Option<String>,
    end: Option<String>,
}

impl TrustedRoot {
    /// Parses a `trusted_root.json`; the error says which entry is wrong.
    pub fn from_json(json: &[u8]) -> Result<TrustedRoot, String> {
        let file: File = serde_json::from_slice(json)
            .map_err(|e| format!("not a Sigstore trusted_root.json: {e}"))?;
        let decode = |what: &str, s: &str| {
            B64.decode(s)
                .map_err(|e| format!("{what}: rawBytes is not base64: {e}"))
        };
        let mut logs = Vec::new();
        for (i, t) in file.tlogs.iter().enumerate() {
            let what = format!("tlogs[{i}]");
            let der = decode(&what, &t.public_key.raw_bytes)?;
            let key = CosignVerificationKey::try_from_der(&der)
                .map_err(|e| format!("{what}: unusable public key: {e}"))?;
            let computed = hex::encode(Sha256::digest(&der));
            if let Some(id) = &t.log_id {
                let named = hex::encode(decode(&what, &id.key_id)?);
                if named != computed {
                    return Err(format!(
                        "{what}: logId.keyId does not match the key's SHA-256"
                    ));
                }
            }
            logs.push(TransparencyLog {
                log_id: computed,
                key,
                valid: validity(&what, t.public_key.valid_for.as_ref())?,
            });
        }
        let mut authorities = Vec::new();
        for (i, ca) in file.certificate_authorities.iter().enumerate() {
            let what = format!("certificateAuthorities[{i}]");
            let chain = ca
                .cert_chain
                .certificates
                .iter()
                .map(|c| decode(&what, &c.raw_bytes).map(CertificateDer::from))
                .collect::<Result<Vec<_>, _>>()?;
            if chain.is_empty() {
                return Err(format!("{what}: certChain has no certificates"));
            }
            webpki::anchor_from_trusted_cert(chain.last().expect("not empty"))
                .map_err(|e| format!("{what}: the last certificate is not a usable root: {e}"))?;
            authorities.push(CertificateAuthority {
                chain,
                valid: validity(&what, ca.valid_for.as_ref())?,
            });
        }
        Ok(TrustedRoot {
            digest: format!("sha256:{}", hex::encode(Sha256::digest(json))),
            authorities,
            logs,
        })
    }

    pub(crate) fn log(&self, log_id: &str) -> Option<&TransparencyLog> {
        self.logs.iter().find(|l| l.log_id == log_id)
    }
}

fn validity(what: &str, v: Option<&ValidFor>) -> Result<Validity, String> {
    let time = |s: &Option<String>| {
        s.as_deref()
            .map(|s| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| t.timestamp())
                    .map_err(|e| format!("{what}: validFor time '{s}': {e}"))
            })
            .transpose()
    };
    Ok(match v {
        None => Validity::default(),
        Some(v) => Validity {
            start: time(&v.start)?,
            end: time(&v.end)?,
        },
    })
}
