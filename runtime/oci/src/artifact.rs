//! Flux-compatible artifacts, as `flux push artifact` makes them: one
//! tar+gzip layer of a directory, an OCI image manifest with Flux's config
//! and content media types and the `org.opencontainers.image.*` source,
//! revision and creation annotations.
//!
//! The tarball is reproducible: entries in byte order of their paths,
//! modification times at the epoch, owner 0:0 without names, modes reduced
//! to 0644/0755 and a gzip header without a timestamp, so the same tree
//! always gives the same layer digest.

use crate::error::{Error, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Media type of the config blob of a Flux artifact.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// Media type of the content layer of a Flux artifact.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";
pub const REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Where an artifact came from, stored as manifest annotations.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// The origin, usually a Git URL (`--source`).
    pub source: String,
    /// The origin's revision, e.g. `main@sha1:<hex>` (`--revision`).
    pub revision: String,
    /// RFC 3339 UTC; now when `None`.
    pub created: Option<String>,
    /// Further annotations (`--annotation key=value`).
    pub annotations: BTreeMap<String, String>,
}

impl Metadata {
    pub(crate) fn to_annotations(&self) -> BTreeMap<String, String> {
        let mut out = self.annotations.clone();
        let created = self
            .created
            .clone()
            .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
        out.insert(CREATED_ANNOTATION.into(), created);
        if !self.source.is_empty() {
            out.insert(SOURCE_ANNOTATION.into(), self.source.clone());
        }
        if !self.revision.is_empty() {
            out.insert(REVISION_ANNOTATION.into(), self.revision.clone());
        }
        out
    }
}

/// A packed directory: the gzip bytes and the digest of the uncompressed
/// tar (the layer's `diff_id` in the image config).
pub(crate) struct Packed {
    pub data: Vec<u8>,
    pub diff_id: String,
}

/// Packs the tree under `dir` (regular files and directories; links and
/// special files are left out, as Flux does).
pub(crate) fn pack(dir: &Path) -> Result<Packed> {
    if !dir.is_dir() {
        return Err(Error::Io {
            path: dir.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let gz = GzEncoder::new(Vec::new(), Compression::default());
    let mut hashing = HashingWriter {
        inner: gz,
        hash: Sha256::new(),
    };
    {
        let mut tar = tar::Builder::new(&mut hashing);
        walk(dir, Path::new(""), &mut tar)?;
        tar.finish().map_err(Error::io(dir))?;
    }
    let diff_id = format!("sha256:{}", hex::encode(hashing.hash.finalize()));
    let data = hashing.inner.finish().map_err(Error::io(dir))?;
    Ok(Packed { data, diff_id })
}

fn walk<W: Write>(root: &Path, rel: &Path, tar: &mut tar::Builder<W>) -> Result<()> {
    let here = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&here)
        .map_err(Error::io(&here))?
        .collect::<io::Result<_>>()
        .map_err(Error::io(&here))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = rel.join(entry.file_name());
        let full = root.join(&path);
        let kind = entry.file_type().map_err(Error::io(&full))?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, &path, io::empty())
                .map_err(Error::io(&full))?;
            walk(root, &path, tar)?;
        } else if kind.is_file() {
            let meta = entry.metadata().map_err(Error::io(&full))?;
            let exec = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if exec { 0o755 } else { 0o644 });
            header.set_size(meta.len());
            let file = fs::File::open(&full).map_err(Error::io(&full))?;
            tar.append_data(&mut header, &path, file)
                .map_err(Error::io(&full))?;
        } else {
            tracing::warn!(path = %full.display(), "left out of the artifact: not a regular file or directory");
        }
    }
    Ok(())
}

struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The image config of a Flux artifact: go-containerregistry's empty image
/// config with the layer appended, which is what Flux pushes.
pub(crate) fn config_json(diff_id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }))
    .expect("a JSON value serialises")
}

/// The OCI image manifest for one config and one layer.
pub(crate) fn manifest_json(
    config: &[u8],
    layer: &[u8],
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let descriptor = |media_type: &str, data: &[u8]| {
        serde_json::json!({
            "mediaType": media_type,
            "size": data.len(),
            "digest": sha256(data),
        })
    };
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": descriptor(FLUX_CONFIG_MEDIA_TYPE, config),
        "layers": [descriptor(FLUX_CONTENT_MEDIA_TYPE, layer)],
        "annotations": annotations,
    }))
    .expect("a JSON value serialises")
}

pub(crate) fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_tree_same_digest_whatever_the_mtimes() {
        let a = tempfile::tempdir().unwrap();
        fs::create_dir_all(a.path().join("deploy/base")).unwrap();
        fs::write(a.path().join("deploy/base/app.yaml"), "kind: Deployment\n").unwrap();
        fs::write(a.path().join("kustomization.yaml"), "resources: []\n").unwrap();
        let first = pack(a.path()).unwrap();
        // Rewrite the same content later: new mtimes, same bytes.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        fs::write(a.path().join("kustomization.yaml"), "resources: []\n").unwrap();
        let second = pack(a.path()).unwrap();
        assert_eq!(sha256(&first.data), sha256(&second.data));
        assert_eq!(first.diff_id, second.diff_id);

        fs::write(a.path().join("kustomization.yaml"), "resources: [x]\n").unwrap();
        assert_ne!(sha256(&pack(a.path()).unwrap().data), sha256(&first.data));
    }

    #[test]
    fn annotations_carry_source_revision_and_created() {
        let meta = Metadata {
            source: "https://github.com/org/repo.git".into(),
            revision: "main@sha1:abc".into(),
            created: None,
            annotations: BTreeMap::from([("team".into(), "web".into())]),
        };
        let a = meta.to_annotations();
        assert_eq!(a[SOURCE_ANNOTATION], "https://github.com/org/repo.git");
        assert_eq!(a[REVISION_ANNOTATION], "main@sha1:abc");
        assert_eq!(a["team"], "web");
        let created = &a[CREATED_ANNOTATION];
        assert!(
            created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
            "{created}"
        );
    }
}
