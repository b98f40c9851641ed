//! The OCI registry transport of Sluice, over `oci-client`: list tags,
//! resolve a reference to its manifest with one request, pull a layer with
//! its digest verified and unpack it safely, and push a Flux-compatible
//! artifact (`flux push artifact`'s media types and annotations) or any
//! manifest with its blobs.
//!
//! TLS is rustls with the aws-lc-rs provider (the one kube uses as well), so
//! a binary linking both has a single crypto provider. Plain HTTP only when
//! the caller says the registry is insecure. Every request is bounded by
//! `Options::timeout`, and downloads and unpacked trees by
//! `Options::max_bytes`.

mod artifact;
mod auth;
mod error;
mod extract;
mod token;

pub use artifact::{
    CREATED_ANNOTATION, FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, Metadata,
    OCI_MANIFEST_MEDIA_TYPE, REVISION_ANNOTATION, SOURCE_ANNOTATION,
};
pub use auth::Credentials;
pub use error::{Error, Result};
pub use extract::Extracted;

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Manifest media types a pull accepts: OCI and Docker, manifests and indexes.
const MANIFEST_TYPES: &[&str] = &[
    OCI_MANIFEST_MEDIA_TYPE,
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct Options {
    pub credentials: Credentials,
    /// Plain HTTP instead of HTTPS.
    pub insecure: bool,
    /// Cap on the bytes of one download and, separately, of one unpacked tree.
    pub max_bytes: u64,
    /// Cap on each registry operation.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            credentials: Credentials::Anonymous,
            insecure: false,
            max_bytes: 512 << 20,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A manifest as the registry serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:<hex>` of the manifest bytes.
    pub digest: String,
    pub media_type: String,
    pub json: String,
}

/// What a push produced.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    /// `host/repo@sha256:<hex>`.
    pub reference: String,
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A client for the registries of one set of credentials.
pub struct Registry {
    client: Client,
    options: Options,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(options: Options) -> Registry {
        let client = Client::new(ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            // An artifact is not an image: an index is reported, not resolved.
            platform_resolver: None,
            connect_timeout: Some(options.timeout),
            read_timeout: Some(options.timeout),
            user_agent: concat!("sluice/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        });
        Registry { client, options }
    }

    fn scheme(&self) -> &'static str {
        if self.options.insecure {
            "http"
        } else {
            "https"
        }
    }

    /// The repository's API root, which push errors name.
    fn repository_url(&self, parsed: &Reference) -> String {
        format!(
            "{}://{}/v2/{}/",
            self.scheme(),
            parsed.registry(),
            parsed.repository()
        )
    }

    /// Every tag of `repository` (`host[:port]/path`), following the
    /// registry's pagination.
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<String>> {
        let reference = parse_repository(repository)?;
        let url = format!(
            "{}://{}/v2/{}/tags/list",
            self.scheme(),
            reference.registry(),
            reference.repository()
        );
        let what = format!("repository {repository}");
        self.bounded(&what, async {
            let auth = self.auth(&reference, RegistryOperation::Pull).await?;
            const PAGE: usize = 1000;
            let mut tags: Vec<String> = Vec::new();
            loop {
                let page = self
                    .client
                    .list_tags(
                        &reference,
                        &auth,
                        Some(PAGE),
                        tags.last().map(String::as_str),
                    )
                    .await
                    .map_err(|e| Error::from_client(e, &url, &what))?;
                let n = page.tags.len();
                tags.extend(page.tags);
                if n < PAGE {
                    return Ok(tags);
                }
            }
        })
        .await
    }

    /// Resolves `reference` (`host/repo:tag` or `host/repo@sha256:…`) to its
    /// manifest with one GET (after the registry's auth handshake); the
    /// digest is checked against the bytes and, for a digest reference,
    /// against the reference.
    pub async fn manifest(&self, reference: &str) -> Result<Manifest> {
        let parsed = parse_reference(reference)?;
        let url = format!(
            "{}://{}/v2/{}/manifests/{}",
            self.scheme(),
            parsed.registry(),
            parsed.repository(),
            parsed.digest().or(parsed.tag()).unwrap_or("latest")
        );
        let what = format!("manifest of {reference}");
        self.bounded(&what, async {
            let auth = self.auth(&parsed, RegistryOperation::Pull).await?;
            let (body, digest) = self
                .client
                .pull_manifest_raw(&parsed, &auth, MANIFEST_TYPES)
                .await
                .map_err(|e| Error::from_client(e, &url, &what))?;
            let json = String::from_utf8(body.to_vec()).map_err(|_| Error::Registry {
                url: url.clone(),
                message: "the manifest is not UTF-8 JSON".into(),
            })?;
            let value: serde_json::Value =
                serde_json::from_str(&json).map_err(|e| Error::Registry {
                    url: url.clone(),
                    message: format!("the manifest is not JSON: {e}"),
                })?;
            let media_type = match value.get("mediaType").and_then(|m| m.as_str()) {
                Some(m) => m.to_string(),
                None if value.get("manifests").is_some() => MANIFEST_TYPES[1].to_string(),
                None => OCI_MANIFEST_MEDIA_TYPE.to_string(),
            };
            Ok(Manifest {
                digest,
                media_type,
                json,
            })
        })
        .await
    }

    /// Downloads blob `digest` of `repository`, verifies it and unpacks it
    /// (tar, gzip detected) into `dest`: a new directory, or an existing
    /// empty one. Everything is staged in a temporary directory beside
    /// `dest` and moved in only when complete, so on error `dest` is as it
    /// was and nothing is left beside it.
    pub async fn pull_layer(
        &self,
        repository: &str,
        digest: &str,
        dest: &Path,
    ) -> Result<Extracted> {
        let staging = staging_dir(dest)?;
        let blob = staging.path().join("layer");
        self.download(repository, digest, &blob).await?;
        let tree = staging.path().join("tree");
        std::fs::create_dir(&tree).map_err(Error::io(&tree))?;
        let max = self.options.max_bytes;
        let dest = dest.to_path_buf();
        let out = tokio::task::spawn_blocking(move || {
            let out = extract::unpack(&blob, &tree, max)?;
            extract::install(&tree, &dest)?;
            drop(staging);
            Ok::<_, Error>(out)
        })
        .await
        .map_err(|e| Error::Archive(format!("the unpacking task failed: {e}")))??;
        Ok(out)
    }

    /// Downloads blob `digest` of `repository`, verifies it and stores it as
    /// the file `dest` (which must not exist), unpacking nothing.
    pub async fn copy_layer(&self, repository: &str, digest: &str, dest: &Path) -> Result<u64> {
        let staging = staging_dir(dest)?;
        let blob = staging.path().join("layer");
        let n = self.download(repository, digest, &blob).await?;
        if dest.symlink_metadata().is_ok() {
            return Err(Error::Io {
                path: dest.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists"),
            });
        }
        std::fs::rename(&blob, dest).map_err(Error::io(dest))?;
        Ok(n)
    }

    async fn download(&self, repository: &str, digest: &str, to: &Path) -> Result<u64> {
        check_digest(digest)?;
        let reference = parse_repository(repository)?;
        let url = format!(
            "{}://{}/v2/{}/blobs/{digest}",
            self.scheme(),
            reference.registry(),
            reference.repository()
        );
        let what = format!("layer {digest} of {repository}");
        let max = self.options.max_bytes;
        self.bounded(&what, async {
            self.sign_in(&reference, RegistryOperation::Pull).await?;
            let mut stream = self
                .client
                .pull_blob_stream(&reference, digest)
                .await
                .map_err(|e| Error::from_client(e, &url, &what))?;
            if stream.content_length.is_some_and(|n| n > max) {
                return Err(Error::TooLarge {
                    what: format!("{what} ({} bytes)", stream.content_length.unwrap_or(0)),
                    limit: max,
                });
            }
            let mut file = tokio::fs::File::create(to).await.map_err(Error::io(to))?;
            let mut hash = Sha256::new();
            let mut total: u64 = 0;
            let mut failure = None;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(bytes) => {
                        total += bytes.len() as u64;
                        if total > max {
                            return Err(Error::TooLarge {
                                what: what.clone(),
                                limit: max,
                            });
                        }
                        hash.update(&bytes);
                        file.write_all(&bytes).await.map_err(Error::io(to))?;
                    }
                    // oci-client's own digest check ends the stream with an
                    // error; ours below names the digests.
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            file.flush().await.map_err(Error::io(to))?;
            let actual = format!("sha256:{}", hex::encode(hash.finalize()));
            if actual != digest && (failure.is_none() || digest.starts_with("sha256:")) {
                return Err(Error::DigestMismatch {
                    what: what.clone(),
                    expected: digest.to_string(),
                    actual,
                });
            }
            if let Some(e) = failure {
                return Err(Error::Unreachable {
                    url: url.clone(),
                    reason: format!("the download broke off after {total} bytes: {e}"),
                });
            }
            Ok(total)
        })
        .await
    }

    /// Blob `digest` of `repository` in memory, verified, at most `max`
    /// bytes: for small blobs read as they are (signature payloads).
    pub async fn blob(&self, repository: &str, digest: &str, max: u64) -> Result<Vec<u8>> {
        check_digest(digest)?;
        let reference = parse_repository(repository)?;
        let url = format!(
            "{}://{}/v2/{}/blobs/{digest}",
            self.scheme(),
            reference.registry(),
            reference.repository()
        );
        let what = format!("blob {digest} of {repository}");
        let max = max.min(self.options.max_bytes);
        self.bounded(&what, async {
            self.sign_in(&reference, RegistryOperation::Pull).await?;
            let mut stream = self
                .client
                .pull_blob_stream(&reference, digest)
                .await
                .map_err(|e| Error::from_client(e, &url, &what))?;
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                // oci-client's digest check ends a bad stream with an error;
                // the comparison below names both digests.
                let Ok(bytes) = chunk else { break };
                if (out.len() + bytes.len()) as u64 > max {
                    return Err(Error::TooLarge {
                        what: what.clone(),
                        limit: max,
                    });
                }
                out.extend_from_slice(&bytes);
            }
            let actual = format!("sha256:{}", hex::encode(Sha256::digest(&out)));
            if actual != digest {
                return Err(Error::DigestMismatch {
                    what: what.clone(),
                    expected: digest.to_string(),
                    actual,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Digests of the manifests referring to `digest` in `repository`
    /// (OCI 1.1), of `artifact_type` only when given: from the referrers
    /// API, or from the `sha256-<hex>` tag-schema index where the registry
    /// has no such API (Distribution 2.8); none when neither exists.
    pub async fn referrers(
        &self,
        repository: &str,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<String>> {
        check_digest(digest)?;
        let reference = parse_reference(&format!("{repository}@{digest}"))?;
        let url = format!(
            "{}://{}/v2/{}/referrers/{digest}",
            self.scheme(),
            reference.registry(),
            reference.repository()
        );
        let what = format!("referrers of {repository}@{digest}");
        self.bounded(&what, async {
            self.sign_in(&reference, RegistryOperation::Pull).await?;
            let index = self
                .client
                .pull_referrers(&reference, artifact_type)
                .await
                .map_err(|e| Error::from_client(e, &url, &what))?;
            Ok(index
                .manifests
                .into_iter()
                .filter(|m| artifact_type.is_none_or(|t| m.artifact_type.as_deref() == Some(t)))
                .map(|m| m.digest)
                .collect())
        })
        .await
    }

    /// Packs `dir` and pushes it to `reference` (`host/repo:tag`) as a Flux
    /// artifact annotated with `metadata`.
    pub async fn push_artifact(
        &self,
        reference: &str,
        dir: &Path,
        metadata: &Metadata,
    ) -> Result<Pushed> {
        let parsed = parse_reference(reference)?;
        if parsed.digest().is_some() {
            return Err(Error::InvalidReference {
                reference: reference.into(),
                reason: "push to a tag, not a digest".into(),
            });
        }
        let dir_owned = dir.to_path_buf();
        let packed = tokio::task::spawn_blocking(move || artifact::pack(&dir_owned))
            .await
            .map_err(|e| Error::Archive(format!("the packing task failed: {e}")))??;
        if packed.data.len() as u64 > self.options.max_bytes {
            return Err(Error::TooLarge {
                what: format!("the packed artifact of {}", dir.display()),
                limit: self.options.max_bytes,
            });
        }
        let layer_digest = artifact::sha256(&packed.data);
        let config = artifact::config_json(&packed.diff_id);
        let annotations = metadata.to_annotations();
        let manifest = artifact::manifest_json(&config, &packed.data, &annotations);
        let digest = artifact::sha256(&manifest);
        let url = self.repository_url(&parsed);
        let what = format!("push to {reference}");
        self.bounded(&what, async {
            self.sign_in(&parsed, RegistryOperation::Push).await?;
            let fail = |e| Error::from_client(e, &url, &what);
            self.client
                .push_blob(&parsed, packed.data, &layer_digest)
                .await
                .map_err(fail)?;
            self.client
                .push_blob(&parsed, config.clone(), &artifact::sha256(&config))
                .await
                .map_err(fail)?;
            self.client
                .push_manifest_raw(
                    &parsed,
                    manifest,
                    OCI_MANIFEST_MEDIA_TYPE
                        .parse()
                        .expect("a valid header value"),
                )
                .await
                .map_err(fail)?;
            Ok(())
        })
        .await?;
        Ok(Pushed {
            reference: format!("{}/{}@{digest}", parsed.registry(), parsed.repository()),
            digest,
            annotations,
        })
    }

    /// Pushes `blobs` (skipping those the repository already holds) and then
    /// `manifest` of `media_type` to `reference` (`host/repo:tag`, or
    /// `host/repo@sha256:…` naming the manifest's own digest): for artifacts
    /// whose manifest the caller builds (bundles, signatures). The caller
    /// makes the manifest reproducible; this adds nothing to it.
    pub async fn push_manifest(
        &self,
        reference: &str,
        blobs: &[&[u8]],
        manifest: &[u8],
        media_type: &str,
    ) -> Result<Pushed> {
        let parsed = parse_reference(reference)?;
        let digest = artifact::sha256(manifest);
        if let Some(pinned) = parsed.digest()
            && pinned != digest
        {
            return Err(Error::DigestMismatch {
                what: format!("the manifest pushed to {reference}"),
                expected: pinned.to_string(),
                actual: digest,
            });
        }
        let header = media_type.parse().map_err(|_| Error::InvalidReference {
            reference: reference.into(),
            reason: format!("'{media_type}' is not a valid media type"),
        })?;
        let url = self.repository_url(&parsed);
        let what = format!("push to {reference}");
        self.bounded(&what, async {
            self.sign_in(&parsed, RegistryOperation::Push).await?;
            let fail = |e| Error::from_client(e, &url, &what);
            for blob in blobs {
                let blob_digest = artifact::sha256(blob);
                if self
                    .client
                    .blob_exists(&parsed, &blob_digest)
                    .await
                    .map_err(fail)?
                {
                    continue;
                }
                self.client
                    .push_blob(&parsed, blob.to_vec(), &blob_digest)
                    .await
                    .map_err(fail)?;
            }
            self.client
                .push_manifest_raw(&parsed, manifest.to_vec(), header)
                .await
                .map_err(fail)?;
            Ok(())
        })
        .await?;
        Ok(Pushed {
            reference: format!("{}/{}@{digest}", parsed.registry(), parsed.repository()),
            digest,
            annotations: Default::default(),
        })
    }

    /// The `oci-client` auth for one repository and operation; an identity
    /// token is exchanged for an access token first.
    async fn auth(&self, reference: &Reference, op: RegistryOperation) -> Result<RegistryAuth> {
        Ok(match &self.options.credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Bearer(token) => RegistryAuth::Bearer(token.clone()),
            Credentials::IdentityToken(refresh) => RegistryAuth::Bearer(
                token::exchange(self.scheme(), reference, op, refresh, self.options.timeout)
                    .await?,
            ),
        })
    }

    /// Credentials for `op` on `reference`, stored in the client for the
    /// blob and referrer calls that take none of their own.
    async fn sign_in(&self, reference: &Reference, op: RegistryOperation) -> Result<()> {
        let auth = self.auth(reference, op).await?;
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &auth)
            .await;
        Ok(())
    }

    async fn bounded<T>(&self, what: &str, f: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.options.timeout, f)
            .await
            .map_err(|_| Error::Timeout {
                what: what.to_string(),
                after: self.options.timeout,
            })?
    }
}

/// `oci://host/repo` → `host/repo`; anything else is returned as is.
pub fn strip_scheme(url: &str) -> &str {
    url.strip_prefix("oci://").unwrap_or(url)
}

/// `host[:port]/path[:tag|@digest]`.
pub fn parse_reference(reference: &str) -> Result<Reference> {
    let s = strip_scheme(reference);
    let parsed: Reference =
        s.parse()
            .map_err(|e: oci_client::ParseError| Error::InvalidReference {
                reference: reference.to_string(),
                reason: e.to_string(),
            })?;
    if !s.contains('/') {
        return Err(Error::InvalidReference {
            reference: reference.to_string(),
            reason: "expected HOST[:PORT]/REPOSITORY".into(),
        });
    }
    Ok(parsed)
}

/// `host[:port]/path` without tag or digest.
fn parse_repository(repository: &str) -> Result<Reference> {
    let parsed = parse_reference(repository)?;
    let bare = format!("{}/{}", parsed.registry(), parsed.repository());
    if bare != strip_scheme(repository) {
        return Err(Error::InvalidReference {
            reference: repository.to_string(),
            reason: "expected a repository (HOST[:PORT]/PATH) without tag or digest".into(),
        });
    }
    Ok(parsed)
}

/// `repository` as `host[:port]/path` for grant checks.
pub fn repository_of(reference: &str) -> Result<String> {
    let parsed = parse_reference(reference)?;
    Ok(format!("{}/{}", parsed.registry(), parsed.repository()))
}

/// Digests become URL path segments: only `sha256:` and `sha512:` with hex.
fn check_digest(digest: &str) -> Result<()> {
    let ok = match digest.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        _ => false,
    } && digest
        .split_once(':')
        .is_some_and(|(_, h)| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidReference {
            reference: digest.to_string(),
            reason: "expected sha256:<64 hex digits>".into(),
        })
    }
}

/// A fresh directory beside `dest` (hidden, removed on drop) for the
/// download and the staged tree: same filesystem, so the final move is a
/// rename.
fn staging_dir(dest: &Path) -> Result<tempfile::TempDir> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}.sluice-"))
        .tempdir_in(&parent)
        .map_err(Error::io(parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_repositories() {
        let r = parse_reference("oci://127.0.0.1:5000/apps/web:v1.2.3").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "apps/web");
        assert_eq!(r.tag(), Some("v1.2.3"));
        assert_eq!(
            repository_of("127.0.0.1:5000/apps/web@sha256:0000000000000000000000000000000000000000000000000000000000000000").unwrap(),
            "127.0.0.1:5000/apps/web"
        );
        assert!(parse_repository("127.0.0.1:5000/apps/web").is_ok());
        assert!(parse_repository("127.0.0.1:5000/apps/web:v1").is_err());
        assert!(check_digest("sha256:../../etc").is_err());
        assert!(check_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }
}
