//! `sluice.lock`: the digest each bundle tag stood for when it was pinned.
//!
//! A bundle reference with a tag (`oci://host/repo:1.0`) may change under
//! the same name; the lock, written by `sluice plugin update` beside the
//! objects and committed with them, records the digest it resolved to, so a
//! run uses exactly what was reviewed. The controller has no lock: its
//! references carry their digest.
//!
//! ```yaml
//! version: 1
//! plugins:
//!   - ref: oci://registry.example/platform:1.0
//!     digest: sha256:…
//! ```

use crate::load::LoadError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The lock file's name, in the directory of the objects.
pub const FILE: &str = "sluice.lock";

/// The pinned references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    #[serde(default)]
    pub plugins: Vec<Pin>,
}

/// One tag reference and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    #[serde(rename = "ref")]
    pub reference: String,
    pub digest: String,
}

impl Default for Lockfile {
    fn default() -> Self {
        Lockfile {
            version: 1,
            plugins: Vec::new(),
        }
    }
}

impl Lockfile {
    /// The lock at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Lockfile>, LoadError> {
        let error = |message: String| LoadError {
            file: path.to_path_buf(),
            line: 0,
            message,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(error(format!("cannot read: {e}"))),
        };
        let lock: Lockfile = serde_saphyr::from_str(&text).map_err(|e| {
            error(format!(
                "not a sluice.lock ({e}); run `sluice plugin update` to write it again"
            ))
        })?;
        if lock.version != 1 {
            return Err(error(format!(
                "version {} is not understood (this sluice writes version 1); run `sluice plugin update`",
                lock.version
            )));
        }
        Ok(Some(lock))
    }

    /// The digest `reference` is pinned to.
    pub fn digest(&self, reference: &str) -> Option<&str> {
        self.plugins
            .iter()
            .find(|p| p.reference == reference)
            .map(|p| p.digest.as_str())
    }

    /// Pins `reference` to `digest`; returns the digest it had before.
    pub fn pin(&mut self, reference: &str, digest: &str) -> Option<String> {
        match self.plugins.iter_mut().find(|p| p.reference == reference) {
            Some(p) => Some(std::mem::replace(&mut p.digest, digest.to_owned())),
            None => {
                self.plugins.push(Pin {
                    reference: reference.to_owned(),
                    digest: digest.to_owned(),
                });
                None
            }
        }
    }

    /// Drops every pin whose reference `keep` rejects; returns them.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) -> Vec<Pin> {
        let (kept, dropped) = std::mem::take(&mut self.plugins)
            .into_iter()
            .partition(|p| keep(&p.reference));
        self.plugins = kept;
        dropped
    }

    /// The lock as written to disk: pins sorted by reference, so the file
    /// changes only where a digest does.
    pub fn to_yaml(&self) -> String {
        let mut sorted = self.clone();
        sorted.plugins.sort_by(|a, b| a.reference.cmp(&b.reference));
        serde_saphyr::to_string(&sorted).expect("a lock file serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn round_trips_and_pins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert_eq!(Lockfile::read(&path).unwrap(), None);
        let mut lock = Lockfile::default();
        assert_eq!(lock.pin("oci://r/b:1.0", DIGEST), None);
        assert_eq!(lock.pin("oci://r/a:1.0", "sha256:x").as_deref(), None);
        assert_eq!(
            lock.pin("oci://r/a:1.0", DIGEST).as_deref(),
            Some("sha256:x")
        );
        let text = lock.to_yaml();
        assert!(text.find("r/a:1.0").unwrap() < text.find("r/b:1.0").unwrap());
        std::fs::write(&path, &text).unwrap();
        let read = Lockfile::read(&path).unwrap().unwrap();
        assert_eq!(read.digest("oci://r/b:1.0"), Some(DIGEST));
        assert_eq!(read.digest("oci://r/c:1.0"), None);
    }

    #[test]
    fn rejects_other_versions_and_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, "version: 2\nplugins: []\n").unwrap();
        let e = Lockfile::read(&path).unwrap_err().to_string();
        assert!(
            e.contains("version 2") && e.contains("sluice plugin update"),
            "{e}"
        );
        std::fs::write(&path, "version: 1\nplugins: [{ref: a, sha: b}]\n").unwrap();
        assert!(Lockfile::read(&path).is_err());
    }
}
