//! Cosign signature verification for Sluice, offline: the host side of the
//! `cosign` capability and of OCI sources that require a signature.
//!
//! Signatures are found where cosign puts them, the `sha256-<hex>.sig` tag
//! and OCI 1.1 referrers of artifact type
//! `application/vnd.dev.cosign.artifact.sig.v1+json` (the referrers API, or
//! its tag-schema fallback), and read through `sluice-oci`. A signature
//! counts when one of the request's authorities accepts it:
//!
//! - a PEM public key: the layer's signature verifies over the
//!   simple-signing payload with it;
//! - a keyless identity: the certificate chains to a Fulcio CA of the
//!   trusted root at the time Rekor logged the signature, its SAN and
//!   Fulcio issuer extension match, its key verifies the signature, and the
//!   bundle's SET verifies with the trusted root's Rekor key and describes
//!   this signature, payload and certificate.
//!
//! Either way the payload must name the image's digest and hold the
//! requested annotations. The crypto is the `sigstore` crate's (keys and
//! signatures, on aws-lc-rs), chains are checked by rustls-webpki; nothing
//! here talks to a Sigstore service, which is never reachable here.
//!
//! [`sign`] makes key-based signatures and cosign's key files, so the host
//! owns both halves (`sluice bundle sign|keygen`).

mod cache;
pub mod sign;
mod signature;
mod trust;

pub use cache::Cache;
pub use trust::TrustedRoot;

use regex::Regex;
use sha2::{Digest, Sha256};
use sigstore::crypto::CosignVerificationKey;
use sluice_oci::Registry;

/// Media type of a cosign simple-signing layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// `artifactType` of a cosign signature stored as an OCI referrer.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// Bytes of one signature payload read at most; real ones are under 1 KiB.
const MAX_PAYLOAD: u64 = 64 << 10;
/// Signature layers examined per image at most, so a registry cannot make
/// a verification run forever.
const MAX_SIGNATURES: usize = 32;

/// Who may have signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Authority {
    /// A PEM public key (`cosign.pub`).
    PublicKey(String),
    /// A Fulcio certificate for this identity.
    Keyless(Identity),
}

/// A keyless signer; each field exact, or a regular expression (matched
/// against the whole value) when prefixed `regexp:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
}

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `host/repo:tag`, `host/repo@sha256:<hex>` or both.
    pub image: String,
    /// A signature by any one of them is accepted.
    pub authorities: Vec<Authority>,
    /// Entries the payload's `optional` map must hold.
    pub annotations: Vec<(String, String)>,
}

/// An accepted image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `sha256:<hex>` of the image manifest.
    pub digest: String,
    /// `key SHA256:<hex>` or `<subject> (issuer <issuer>)`.
    pub identity: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong (a bad key, a bad expression, keyless
    /// without a trusted root); nothing was fetched.
    #[error("cannot verify {image}: {reason}")]
    Invalid { image: String, reason: String },
    /// The image has no signature at all.
    #[error("image {image} is not signed: {reason}")]
    Unsigned { image: String, reason: String },
    /// Signatures exist but none is valid and by an authority.
    #[error("image {image} has no valid signature by an accepted authority: {}", reasons.join("; "))]
    Rejected { image: String, reasons: Vec<String> },
    /// A signing key that cannot be used (not a cosign key, a wrong
    /// password, not P-256); the message names the file.
    #[error("{0}")]
    Key(String),
    /// The registry could not answer (unreachable, missing image, refused
    /// credentials); the source names the URL.
    #[error("cannot verify {image}: {source}")]
    Registry {
        image: String,
        #[source]
        source: sluice_oci::Error,
    },
}

/// An authority ready to check signatures.
pub(crate) enum Check {
    Key {
        key: CosignVerificationKey,
        fingerprint: String,
    },
    Keyless {
        issuer: Matcher,
        subject: Matcher,
    },
}

/// An identity field as given: exact, or `regexp:` matched whole.
pub(crate) struct Matcher {
    spec: String,
    regex: Option<Regex>,
}

impl Matcher {
    fn new(field: &str, spec: &str) -> Result<Matcher, String> {
        let regex = match spec.strip_prefix("regexp:") {
            Some(re) => Some(Regex::new(&format!("^(?:{re})$")).map_err(|e| {
                format!("{field} 'regexp:{re}' is not a valid regular expression: {e}")
            })?),
            None if spec.is_empty() => {
                return Err(format!("{field} is empty; give it exactly or as regexp:…"));
            }
            None => None,
        };
        Ok(Matcher {
            spec: spec.to_string(),
            regex,
        })
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        match &self.regex {
            Some(r) => r.is_match(value),
            None => self.spec == value,
        }
    }

    /// For messages: `'x'` or `regexp:…`.
    pub(crate) fn shown(&self) -> String {
        match self.regex {
            Some(_) => self.spec.clone(),
            None => format!("'{}'", self.spec),
        }
    }
}

fn prepare(
    authorities: &[Authority],
    trusted_root: Option<&TrustedRoot>,
) -> Result<Vec<Check>, String> {
    if authorities.is_empty() {
        return Err("no authority is given: name a public key or a keyless identity".into());
    }
    authorities
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            Authority::PublicKey(pem) => {
                let key = CosignVerificationKey::try_from_pem(pem.trim().as_bytes())
                    .map_err(|e| format!("authority {i}: not a PEM public key: {e}"))?;
                let der = pem_der(pem).ok_or_else(|| format!("authority {i}: not a PEM public key"))?;
                Ok(Check::Key {
                    key,
                    fingerprint: hex::encode(Sha256::digest(der)),
                })
            }
            Authority::Keyless(id) => {
                if trusted_root.is_none() {
                    return Err(format!(
                        "authority {i} is keyless, which needs a trusted root (Sigstore's trusted_root.json) naming the Fulcio CA and Rekor key; name one with trustedRootRef"
                    ));
                }
                Ok(Check::Keyless {
                    issuer: Matcher::new("issuer", &id.issuer).map_err(|e| format!("authority {i}: {e}"))?,
                    subject: Matcher::new("subject", &id.subject)
                        .map_err(|e| format!("authority {i}: {e}"))?,
                })
            }
        })
        .collect()
}

/// A full reference for `image` as Docker reads it: `nginx:1.25` is
/// `docker.io/library/nginx:1.25`, `org/app` is `docker.io/org/app`; the
/// first segment is a registry when it has a `.` or `:` or is `localhost`.
pub fn normalize(image: &str) -> Result<String, String> {
    let image = image.trim().trim_start_matches("oci://");
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(format!("'{image}' is not an image reference"));
    }
    let first = image.split('/').next().unwrap_or_default();
    let has_host =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    Ok(if has_host {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    })
}

/// The repository (`host[:port]/path`) of an image reference, normalized.
pub fn repository_of(image: &str) -> Result<String, String> {
    sluice_oci::repository_of(&normalize(image)?).map_err(|e| e.to_string())
}

/// Whether a registry host is on loopback, where Docker (and Sluice) use
/// plain HTTP without being told: test and local registries.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The DER inside a PEM block.
pub(crate) fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Verifies `request` against the signatures in its registry. A result for
/// the same digest, authorities, annotations and trusted root is served
/// from `cache` while fresh (a tag still costs one manifest request, since
/// it may have moved).
pub async fn verify(
    registry: &Registry,
    trusted_root: Option<&TrustedRoot>,
    cache: &Cache,
    request: &Request,
) -> Result<Verified, Error> {
    let image = request.image.as_str();
    let invalid = |reason: String| Error::Invalid {
        image: image.to_string(),
        reason,
    };
    let full = normalize(image).map_err(invalid)?;
    let parsed = sluice_oci::parse_reference(&full).map_err(|e| invalid(e.to_string()))?;
    let repository = format!("{}/{}", parsed.registry(), parsed.repository());
    // A digest answered before is answered without parsing keys or
    // compiling expressions: only valid requests are ever cached.
    if let Some(digest) = parsed.digest()
        && let Some(hit) = cache.get(&cache::key(&repository, digest, request, trusted_root))
    {
        tracing::debug!(%image, %digest, "cosign verification served from the cache");
        return Ok(hit);
    }
    let checks = prepare(&request.authorities, trusted_root).map_err(invalid)?;
    let registry_error = |source| Error::Registry {
        image: image.to_string(),
        source,
    };

    let digest = match parsed.digest() {
        Some(d) => d.to_string(),
        None => {
            registry
                .manifest(&full)
                .await
                .map_err(registry_error)?
                .digest
        }
    };
    let key = cache::key(&repository, &digest, request, trusted_root);
    if let Some(hit) = cache.get(&key) {
        tracing::debug!(%image, %digest, "cosign verification served from the cache");
        return Ok(hit);
    }
    if parsed.digest().is_some() {
        // A digest names an image only if the registry has it.
        registry.manifest(&full).await.map_err(registry_error)?;
    }

    let layers = signature::find(registry, &repository, &digest)
        .await
        .map_err(registry_error)?;
    if layers.is_empty() {
        return Err(Error::Unsigned {
            image: image.to_string(),
            reason: format!(
                "no signature at {repository}:{}.sig nor among its OCI referrers; sign it with cosign",
                digest.replace(':', "-")
            ),
        });
    }
    let mut reasons = Vec::new();
    for (n, layer) in layers.iter().enumerate().take(MAX_SIGNATURES) {
        match signature::check(layer, &checks, trusted_root, &digest, &request.annotations) {
            Ok(identity) => {
                let verified = Verified {
                    digest: digest.clone(),
                    identity,
                };
                cache.put(key, verified.clone());
                return Ok(verified);
            }
            Err(reason) => reasons.push(format!(
                "signature {} ({}): {reason}",
                n + 1,
                layer.location
            )),
        }
    }
    Err(Error::Rejected {
        image: image.to_string(),
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_normalize_as_docker_reads_them() {
        assert_eq!(
            normalize("nginx:1.25").unwrap(),
            "docker.io/library/nginx:1.25"
        );
        assert_eq!(normalize("org/app").unwrap(), "docker.io/org/app");
        assert_eq!(
            normalize("ghcr.io/org/app@sha256:ab").unwrap(),
            "ghcr.io/org/app@sha256:ab"
        );
        assert_eq!(normalize("localhost/app").unwrap(), "localhost/app");
        assert_eq!(
            repository_of("127.0.0.1:5000/apps/web:v1").unwrap(),
            "127.0.0.1:5000/apps/web"
        );
        assert!(
            is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:5000")
        );
        assert!(!is_loopback("ghcr.io") && !is_loopback("10.0.0.1:5000"));
    }

    #[test]
    fn identity_expressions_match_whole_values() {
        let m = Matcher::new("subject", "regexp:https://git\\.example/.*").unwrap();
        assert!(m.matches("https://git.example/org/app"));
        assert!(!m.matches("evil https://git.example/org/app"));
        assert!(Matcher::new("issuer", "regexp:(").is_err());
        assert!(Matcher::new("issuer", "").is_err());
    }
}
