//! What one plugin call may reach beyond its sandbox.
//!
//! Empty by default (Kubewarden's deny-all): the pipeline grants a source
//! plugin exactly the endpoints of its own `spec.url` and the secrets its
//! `spec.secretRef` names, and every capability checks its request against
//! these grants at the single point where it handles it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Endpoints, secrets and transfer caps for one call.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// URL prefixes the `http` capability may reach.
    pub http: Vec<UrlPrefix>,
    /// Remote URLs the `git` capability may reach, exactly as written.
    pub git: Vec<String>,
    /// Repositories (and their sub-paths) the `oci` capability may reach.
    pub oci: Vec<OciGrant>,
    /// Secrets by name, already resolved by the host.
    pub secrets: BTreeMap<String, Secret>,
    /// What the `cosign` capability may verify; nothing when `None`.
    pub cosign: Option<CosignGrant>,
    pub transfer: TransferLimits,
}

impl Grants {
    /// Whether `url` lies under one of the granted HTTP prefixes.
    pub fn allows_http(&self, url: &str) -> bool {
        self.http.iter().any(|p| p.matches(url))
    }

    /// Whether `url` is a granted Git remote.
    pub fn allows_git(&self, url: &str) -> bool {
        let url = url.trim_end_matches('/');
        self.git.iter().any(|g| g.trim_end_matches('/') == url)
    }

    /// The grant covering `repository` (`host[:port]/path`), if any.
    pub fn oci(&self, repository: &str) -> Option<&OciGrant> {
        self.oci.iter().find(|g| g.covers(repository))
    }

    /// The granted secret called `name`.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }
}

/// A URL prefix matched on whole path segments: `https://h/a` covers
/// `https://h/a` and `https://h/a/b`, not `https://h/ab`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix(String);

impl UrlPrefix {
    pub fn new(prefix: impl Into<String>) -> UrlPrefix {
        UrlPrefix(prefix.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, url: &str) -> bool {
        let prefix = self.0.trim_end_matches('/');
        match url.strip_prefix(prefix) {
            Some(rest) => {
                rest.is_empty() || rest.starts_with(['/', '?', '#']) || self.0.ends_with('/')
            }
            None => false,
        }
    }
}

/// An OCI repository prefix, and whether plain HTTP is allowed to it (only
/// when the user marked the registry insecure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciGrant {
    /// `host[:port]/path`; sub-repositories below it are covered too.
    pub repository: String,
    pub insecure: bool,
}

impl OciGrant {
    pub fn covers(&self, repository: &str) -> bool {
        let granted = self.repository.trim_end_matches('/');
        repository == granted
            || repository
                .strip_prefix(granted)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Signature checks for images in `repositories` (the pipeline grants a
/// policy those of the images in the rendered manifests, a source its own
/// repository), against `trusted_root` for keyless signatures, with
/// results kept in `cache` across calls.
#[derive(Debug, Clone, Default)]
pub struct CosignGrant {
    pub repositories: Vec<OciGrant>,
    pub trusted_root: Option<Arc<sluice_cosign::TrustedRoot>>,
    pub cache: Arc<sluice_cosign::Cache>,
}

impl CosignGrant {
    /// The grant covering `repository` (`host[:port]/path`), if any.
    pub fn repository(&self, repository: &str) -> Option<&OciGrant> {
        self.repositories.iter().find(|g| g.covers(repository))
    }
}

/// The entries of one secret. `Debug` prints the keys only, so a secret
/// cannot reach a log through a stray `{:?}`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub BTreeMap<String, Vec<u8>>);

impl Secret {
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.get(key).map(Vec::as_slice)
    }

    /// The entry `key` as UTF-8 text, trimmed of a trailing newline (files
    /// turned into secrets usually end with one).
    pub fn text(&self, key: &str) -> Option<&str> {
        let bytes = self.get(key)?;
        std::str::from_utf8(bytes)
            .ok()
            .map(|s| s.trim_end_matches(['\n', '\r']))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.keys().map(|k| format!("{k}: <redacted>")))
            .finish()
    }
}

/// Caps on what transports move for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLimits {
    /// Bytes received (and, for extraction, written) in one call.
    pub max_bytes: u64,
    /// Time for one transport request.
    pub timeout: Duration,
}

impl Default for TransferLimits {
    fn default() -> Self {
        TransferLimits {
            max_bytes: 512 << 20,
            timeout: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_prefixes_match_whole_segments() {
        let p = UrlPrefix::new("https://h:9000/bucket");
        assert!(p.matches("https://h:9000/bucket"));
        assert!(p.matches("https://h:9000/bucket/key.yaml"));
        assert!(p.matches("https://h:9000/bucket?list-type=2"));
        assert!(!p.matches("https://h:9000/bucket-other/key"));
        assert!(!p.matches("https://h:90001/bucket"));
        assert!(UrlPrefix::new("https://h/").matches("https://h/x"));
    }

    #[test]
    fn oci_grants_cover_sub_repositories_only() {
        let g = OciGrant {
            repository: "127.0.0.1:5000/apps".into(),
            insecure: true,
        };
        assert!(g.covers("127.0.0.1:5000/apps"));
        assert!(g.covers("127.0.0.1:5000/apps/web"));
        assert!(!g.covers("127.0.0.1:5000/apps-other"));
    }

    #[test]
    fn secrets_do_not_debug_print_values() {
        let s = Secret(BTreeMap::from([("password".into(), b"hunter2".to_vec())]));
        let shown = format!("{s:?}");
        assert!(shown.contains("password"));
        assert!(!shown.contains("hunter2"));
    }
}
