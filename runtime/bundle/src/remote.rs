//! Bundles in registries: push, sign, and fetch with every check.
//!
//! [`fetch`] keeps blobs in a content-addressed cache
//! (`<cache>/blobs/sha256/<hex>`, the OCI layout's own naming), checked
//! again on every read, so a pinned bundle needs no blob downloads after
//! the first time; the signature, when keys are given, is checked with
//! the registry each time (a signature may be removed, and only the
//! registry knows). Only when the registry cannot be reached at all is a
//! signature this cache saw verified by the same keys accepted instead
//! (and logged), so a controller restarted during a registry outage keeps
//! running the bundles it had admitted.

use crate::layout::{self, Layout, describe, sha256};
use crate::{Bundle, Error, Result};
use sluice_cosign::sign::{Signed, SigningKey};
use sluice_oci::{Credentials, OCI_MANIFEST_MEDIA_TYPE, Registry};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How [`fetch`] reaches the registry and what it requires.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// PEM public keys (`cosign.pub`): the bundle must carry a cosign
    /// signature by one of them. Empty: no signature is required.
    pub verify_keys: Vec<String>,
    /// Plain HTTP (a registry without TLS, on loopback in tests).
    pub insecure: bool,
    pub credentials: Credentials,
    /// The blob cache; `None` keeps nothing.
    pub cache_dir: Option<PathBuf>,
    /// Cap on each registry request.
    pub timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            verify_keys: Vec::new(),
            insecure: false,
            credentials: Credentials::Anonymous,
            cache_dir: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Pushes `layout` to `reference` (`oci://host/repo:tag`); the answer is
/// `oci://host/repo@sha256:…`.
pub async fn push(registry: &Registry, layout: &Layout, reference: &str) -> Result<String> {
    let target = sluice_oci::strip_scheme(reference);
    let pushed = registry
        .push_manifest(
            target,
            &layout.blobs(),
            layout.manifest_json(),
            OCI_MANIFEST_MEDIA_TYPE,
        )
        .await
        .map_err(|source| Error::Registry {
            reference: reference.to_string(),
            source,
        })?;
    Ok(format!("oci://{}", pushed.reference))
}

/// Signs the bundle at `reference` (a digest, or a tag resolved to one)
/// with `key`; returns the digest signed and where the signature went.
pub async fn sign(
    registry: &Registry,
    reference: &str,
    key: &SigningKey,
) -> Result<(String, Signed)> {
    let target = sluice_oci::strip_scheme(reference);
    let registry_error = |source| Error::Registry {
        reference: reference.to_string(),
        source,
    };
    let manifest = registry.manifest(target).await.map_err(registry_error)?;
    layout::parse_manifest(manifest.json.as_bytes(), reference)?;
    let repository = sluice_oci::repository_of(target).map_err(registry_error)?;
    let image = format!("{repository}@{}", manifest.digest);
    let signed = sluice_cosign::sign::sign(registry, &image, key, &[])
        .await
        .map_err(|source| Error::Cosign {
            reference: reference.to_string(),
            source,
        })?;
    Ok((manifest.digest, signed))
}

/// Fetches the bundle at `reference` (`oci://host/repo@sha256:…` or
/// `…:tag`) and verifies it: the manifest against a pinned digest, the
/// signature when `options.verify_keys` has any, every blob against its
/// digest. Nothing of a bundle that fails a check is returned.
pub async fn fetch(reference: &str, options: &FetchOptions) -> Result<Bundle> {
    let target = sluice_oci::strip_scheme(reference);
    let registry_error = |source| Error::Registry {
        reference: reference.to_string(),
        source,
    };
    let parsed = sluice_oci::parse_reference(target).map_err(registry_error)?;
    let repository = format!("{}/{}", parsed.registry(), parsed.repository());
    let pinned = parsed.digest().map(str::to_string);
    let registry = Registry::new(sluice_oci::Options {
        credentials: options.credentials.clone(),
        insecure: options.insecure,
        timeout: options.timeout,
        ..sluice_oci::Options::default()
    });
    let cache = options.cache_dir.as_deref().map(BlobCache::new);

    let cached_manifest = match (&pinned, &cache) {
        (Some(d), Some(c)) => c.get(d),
        _ => None,
    };
    let (manifest, digest) = match cached_manifest {
        Some(m) => (m, pinned.clone().expect("only pinned manifests are cached")),
        None => {
            let m = registry
                .manifest(target)
                .await
                .map_err(|e| tampered_or(e, reference, "the manifest", registry_error))?;
            if let Some(expected) = &pinned
                && *expected != m.digest
            {
                return Err(Error::Tampered {
                    reference: reference.to_string(),
                    what: "the manifest".into(),
                    expected: expected.clone(),
                    actual: m.digest,
                });
            }
            (m.json.into_bytes(), m.digest)
        }
    };
    let actual = sha256(&manifest);
    if actual != digest {
        return Err(Error::Tampered {
            reference: reference.to_string(),
            what: "the manifest".into(),
            expected: digest,
            actual,
        });
    }

    if !options.verify_keys.is_empty() {
        let keys = &options.verify_keys;
        let checked = verify_signature(&registry, reference, &repository, &digest, keys).await;
        match (checked, &cache) {
            (Ok(()), Some(c)) => c.record_verified(&digest, keys),
            (Ok(()), None) => {}
            (Err(e @ Error::Registry { .. }), Some(c))
                if unreachable(&e) && c.was_verified(&digest, keys) =>
            {
                tracing::warn!(
                    reference,
                    digest,
                    "the registry cannot be reached to check the bundle's signature; using the signature this cache verified before: {e}"
                );
            }
            (Err(e), _) => return Err(e),
        }
    }

    let image = layout::parse_manifest(&manifest, reference)?;
    let mut blobs = BTreeMap::new();
    for d in std::iter::once(&image.config).chain(&image.layers) {
        if blobs.contains_key(&d.digest) {
            continue;
        }
        let data = match cache.as_ref().and_then(|c| c.get(&d.digest)) {
            Some(data) => data,
            None => {
                let data = registry
                    .blob(&repository, &d.digest, u64::MAX)
                    .await
                    .map_err(|e| {
                        tampered_or(
                            e,
                            reference,
                            &format!("blob {}", describe(d)),
                            registry_error,
                        )
                    })?;
                if let Some(c) = &cache {
                    c.write(&d.digest, &data);
                }
                data
            }
        };
        blobs.insert(d.digest.clone(), data);
    }
    if let Some(c) = &cache {
        c.write(&digest, &manifest);
    }
    let layout = Layout::from_parts(manifest, blobs, reference)?;
    Bundle::from_layout(layout, reference)
}

async fn verify_signature(
    registry: &Registry,
    reference: &str,
    repository: &str,
    digest: &str,
    keys: &[String],
) -> Result<()> {
    // One check: a signature by any of the keys is accepted.
    let request = sluice_cosign::Request {
        image: format!("{repository}@{digest}"),
        authorities: keys
            .iter()
            .map(|k| sluice_cosign::Authority::PublicKey(k.clone()))
            .collect(),
        annotations: Vec::new(),
    };
    // A fresh cache: a bundle's signature is looked up every fetch.
    let cache = sluice_cosign::Cache::new(Duration::ZERO, 1);
    match sluice_cosign::verify(registry, None, &cache, &request).await {
        Ok(_) => Ok(()),
        Err(sluice_cosign::Error::Unsigned { reason, .. }) => Err(Error::Unsigned {
            reference: reference.to_string(),
            repository: repository.to_string(),
            digest: digest.to_string(),
            reason,
        }),
        Err(sluice_cosign::Error::Rejected { reasons, .. }) => Err(Error::Rejected {
            reference: reference.to_string(),
            digest: digest.to_string(),
            keys: match keys.len() {
                1 => "the given key".into(),
                n => format!("any of the {n} given keys"),
            },
            reason: reasons.join("; "),
        }),
        // The signature lookup could not reach the registry: a registry
        // error, as the manifest's would be.
        Err(sluice_cosign::Error::Registry { source, .. }) => Err(Error::Registry {
            reference: reference.to_string(),
            source,
        }),
        Err(source) => Err(Error::Cosign {
            reference: reference.to_string(),
            source,
        }),
    }
}

/// Whether `e` is a registry nobody answered (not one that answered no).
fn unreachable(e: &Error) -> bool {
    matches!(
        e,
        Error::Registry {
            source: sluice_oci::Error::Unreachable { .. } | sluice_oci::Error::Timeout { .. },
            ..
        }
    )
}

/// A digest mismatch from the registry client is tampering; anything
/// else stays a registry error.
fn tampered_or(
    e: sluice_oci::Error,
    reference: &str,
    what: &str,
    otherwise: impl Fn(sluice_oci::Error) -> Error,
) -> Error {
    match e {
        sluice_oci::Error::DigestMismatch {
            expected, actual, ..
        } => Error::Tampered {
            reference: reference.to_string(),
            what: what.to_string(),
            expected,
            actual,
        },
        e => otherwise(e),
    }
}

/// Blobs by digest on disk; a file whose bytes no longer match its name is
/// dropped and fetched again. Beside them, records of verified signatures.
struct BlobCache {
    dir: PathBuf,
    verified: PathBuf,
}

impl BlobCache {
    fn new(root: &Path) -> BlobCache {
        BlobCache {
            dir: root.join("blobs/sha256"),
            verified: root.join("verified"),
        }
    }

    fn path(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| self.dir.join(hex))
    }

    fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.path(digest)?;
        let data = std::fs::read(&path).ok()?;
        if sha256(&data) == digest {
            return Some(data);
        }
        tracing::warn!(path = %path.display(), "dropping a cached bundle blob that does not match its digest");
        let _ = std::fs::remove_file(&path);
        None
    }

    /// Best effort: a cache that cannot be written only costs downloads.
    fn write(&self, digest: &str, data: &[u8]) {
        let Some(path) = self.path(digest) else {
            return;
        };
        if let Err(e) = write_atomically(&self.dir, &path, data) {
            tracing::warn!(dir = %self.dir.display(), "cannot cache a bundle blob: {e}");
        }
    }

    /// Where the record of `digest`'s signature by `keys` is: named by
    /// both, so another key set never finds it.
    fn verified_path(&self, digest: &str, keys: &[String]) -> Option<PathBuf> {
        let hex = self
            .path(digest)?
            .file_name()?
            .to_string_lossy()
            .into_owned();
        let mut keys: Vec<String> = keys.iter().map(|k| sha256(k.trim().as_bytes())).collect();
        keys.sort();
        let keys = sha256(keys.join("\n").as_bytes());
        Some(
            self.verified
                .join(format!("{hex}-{}", keys.trim_start_matches("sha256:"))),
        )
    }

    /// Notes that the registry showed a signature of `digest` by one of
    /// `keys`; best effort, as for blobs.
    fn record_verified(&self, digest: &str, keys: &[String]) {
        let Some(path) = self.verified_path(digest, keys) else {
            return;
        };
        if let Err(e) = write_atomically(&self.verified, &path, digest.as_bytes()) {
            tracing::warn!(dir = %self.verified.display(), "cannot record a verified bundle signature: {e}");
        }
    }

    fn was_verified(&self, digest: &str, keys: &[String]) -> bool {
        self.verified_path(digest, keys)
            .and_then(|p| std::fs::read(p).ok())
            .is_some_and(|recorded| recorded == digest.as_bytes())
    }
}

/// `data` at `path`, written beside it and renamed into place.
fn write_atomically(dir: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
