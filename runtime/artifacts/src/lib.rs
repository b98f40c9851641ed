//! The artifact store: source trees kept content-addressed on disk.
//!
//! ```text
//! <root>/trees/<tree digest>/…   committed trees, never changed in place
//! <root>/staging/<random>/       fetches in progress (same filesystem, so a
//!                                commit is one rename)
//! <root>/sources/<key>.json      per source: URL, last revision, its tree
//!                                digest and the digests still kept
//! ```
//!
//! A source plugin writes into a [`Staging`] directory; only a successful
//! fetch is committed, so a failed one leaves the last good artifact where
//! it was. Trees are verified against their digest when loaded, and trees no
//! source refers to any more are collected after each commit.

mod digest;
mod error;

pub use digest::tree_digest;
pub use error::{Error, Result};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Revisions kept per source (the current one and the one before, so a
/// render in flight during a commit still finds its tree).
const KEPT_PER_SOURCE: usize = 2;

/// How long an unreferenced tree is left alone: another process sharing the
/// store may have just committed it and be rendering from it.
const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);

/// An artifact store rooted at a directory.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
    grace: Duration,
}

/// A directory a fetch writes into; removed on drop unless committed.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
}

impl Staging {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// What the store remembers of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub url: String,
    pub revision: String,
    /// `sha256:<hex>` of the tree (see [`tree_digest`]).
    pub digest: String,
    /// Digests kept for this source, newest first.
    pub kept: Vec<String>,
}

/// A committed tree, ready to be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub revision: String,
    pub digest: String,
    pub dir: PathBuf,
}

impl ArtifactStore {
    /// Opens (creating) a store; directories are private to the user.
    pub fn open(root: impl Into<PathBuf>) -> Result<ArtifactStore> {
        let root = root.into();
        for sub in ["trees", "staging", "sources"] {
            create_private_dir(&root.join(sub))?;
        }
        Ok(ArtifactStore {
            root,
            grace: DEFAULT_GRACE,
        })
    }

    /// Sets how long unreferenced trees are kept before collection.
    pub fn with_grace(mut self, grace: Duration) -> ArtifactStore {
        self.grace = grace;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh, empty directory for a fetch.
    pub fn stage(&self) -> Result<Staging> {
        let dir = tempfile::Builder::new()
            .prefix("fetch-")
            .tempdir_in(self.root.join("staging"))
            .map_err(|e| Error::io(self.root.join("staging"), e))?;
        Ok(Staging { dir })
    }

    /// The last committed revision of the source `key`, if any. Reading the
    /// record does not touch the tree: a poll that finds nothing new stays
    /// cheap.
    pub fn last(&self, key: &str) -> Result<Option<Record>> {
        let path = self.record_path(key);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Corrupt {
                    path,
                    message: format!("unreadable record ({e}); delete it to fetch afresh"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// The last committed tree of `key`, verified against its digest. A tree
    /// that no longer matches is removed and reported, so the caller fetches
    /// again instead of rendering tampered files.
    pub fn load(&self, key: &str) -> Result<Option<Stored>> {
        let Some(record) = self.last(key)? else {
            return Ok(None);
        };
        let dir = self.tree_path(&record.digest)?;
        let actual = if dir.is_dir() {
            tree_digest(&dir)?
        } else {
            "missing".to_owned()
        };
        if actual != record.digest {
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_file(self.record_path(key));
            return Err(Error::Corrupt {
                path: dir,
                message: format!(
                    "stored tree of revision '{}' does not match its digest {} (found {actual}); it was removed and will be fetched again",
                    record.revision, record.digest
                ),
            });
        }
        Ok(Some(Stored {
            revision: record.revision,
            digest: record.digest,
            dir,
        }))
    }

    /// Commits a fetched tree as the new revision of `key`, then collects
    /// trees no source keeps any more.
    pub fn commit(&self, staging: Staging, key: &str, url: &str, revision: &str) -> Result<Stored> {
        let digest = tree_digest(staging.path())?;
        let dir = self.tree_path(&digest)?;
        if dir.exists() {
            // Fresh again: collection in another process leaves it alone.
            let _ = std::fs::File::open(&dir).and_then(|f| f.set_modified(SystemTime::now()));
        } else {
            let staged = staging.dir.keep();
            std::fs::rename(&staged, &dir).map_err(|e| Error::io(&dir, e))?;
            let _ = std::fs::File::open(&dir).and_then(|f| f.set_modified(SystemTime::now()));
        }
        let mut kept = self
            .last(key)
            .ok()
            .flatten()
            .map(|r| r.kept)
            .unwrap_or_default();
        kept.retain(|d| d != &digest);
        kept.insert(0, digest.clone());
        kept.truncate(KEPT_PER_SOURCE);
        let record = Record {
            url: url.to_owned(),
            revision: revision.to_owned(),
            digest: digest.clone(),
            kept,
        };
        write_atomic(
            &self.record_path(key),
            &serde_json::to_vec_pretty(&record).expect("a record serialises"),
        )?;
        self.collect()?;
        Ok(Stored {
            revision: revision.to_owned(),
            digest,
            dir,
        })
    }

    /// Removes trees that no source record keeps and that were not committed
    /// within the grace period.
    pub fn collect(&self) -> Result<usize> {
        let mut live = std::collections::HashSet::new();
        let sources = self.root.join("sources");
        for entry in read_dir(&sources)? {
            if let Ok(bytes) = std::fs::read(entry.path())
                && let Ok(record) = serde_json::from_slice::<Record>(&bytes)
            {
                live.extend(
                    record
                        .kept
                        .iter()
                        .filter_map(|d| hex_of(d).map(str::to_owned)),
                );
            }
        }
        let mut removed = 0;
        for entry in read_dir(&self.root.join("trees"))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let recent = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < self.grace);
            if !live.contains(&name) && !recent {
                std::fs::remove_dir_all(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn record_path(&self, key: &str) -> PathBuf {
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        self.root.join("sources").join(format!("{name}.json"))
    }

    fn tree_path(&self, digest: &str) -> Result<PathBuf> {
        let hex = hex_of(digest).ok_or_else(|| Error::Corrupt {
            path: self.root.join("sources"),
            message: format!("'{digest}' is not a sha256 digest"),
        })?;
        Ok(self.root.join("trees").join(hex))
    }
}

/// The hex part of a well-formed `sha256:<hex>` digest.
fn hex_of(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    std::fs::read_dir(dir)
        .and_then(|it| it.collect::<std::io::Result<Vec<_>>>())
        .map_err(|e| Error::io(dir, e))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io(dir, e))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("records live in a directory");
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests;
