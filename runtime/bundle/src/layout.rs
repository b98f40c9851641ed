//! A bundle's bytes: the OCI manifest and the blobs it names, in memory,
//! each verified against its digest, and their OCI image layout on disk
//! (`oci-layout`, `index.json`, `blobs/sha256/<hex>`).
//!
//! Everything is written byte for byte the same for the same content (no
//! times, fields in a fixed order), so building twice, or pulling what was
//! pushed, gives identical files and the same digest.

use crate::{ARTIFACT_TYPE, BundleManifest, CONFIG_MEDIA_TYPE, Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_oci::OCI_MANIFEST_MEDIA_TYPE;
use std::collections::BTreeMap;
use std::path::Path;

const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
const VERSION_ANNOTATION: &str = "org.opencontainers.image.version";
const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageManifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

/// A bundle's manifest and blobs, every one checked against its digest.
#[derive(Clone)]
pub struct Layout {
    manifest: Vec<u8>,
    digest: String,
    parsed: ImageManifest,
    /// By digest: the config and the layers.
    blobs: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layout")
            .field("digest", &self.digest)
            .field("blobs", &self.blobs.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// One layer to be: media type, file name (title annotation), bytes.
pub(crate) struct NewLayer {
    pub media_type: &'static str,
    pub title: String,
    pub data: Vec<u8>,
}

impl Layout {
    /// The layout of `config` with `layers` (a layer whose bytes another
    /// one already has is left out: one blob, one descriptor).
    pub(crate) fn assemble(config: &BundleManifest, layers: Vec<NewLayer>) -> Layout {
        let config_json = serde_json::to_vec(config).expect("the manifest serialises");
        let mut blobs = BTreeMap::new();
        let mut descriptors = Vec::new();
        for layer in layers {
            let digest = sha256(&layer.data);
            if blobs.contains_key(&digest) {
                continue;
            }
            descriptors.push(Descriptor {
                media_type: layer.media_type.to_string(),
                digest: digest.clone(),
                size: layer.data.len() as u64,
                artifact_type: None,
                annotations: BTreeMap::from([(TITLE_ANNOTATION.to_string(), layer.title)]),
            });
            blobs.insert(digest, layer.data);
        }
        let parsed = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_string()),
            artifact_type: Some(ARTIFACT_TYPE.to_string()),
            config: Descriptor {
                media_type: CONFIG_MEDIA_TYPE.to_string(),
                digest: sha256(&config_json),
                size: config_json.len() as u64,
                artifact_type: None,
                annotations: BTreeMap::new(),
            },
            layers: descriptors,
            annotations: BTreeMap::from([
                (TITLE_ANNOTATION.to_string(), config.name.clone()),
                (VERSION_ANNOTATION.to_string(), config.version.clone()),
            ]),
        };
        blobs.insert(parsed.config.digest.clone(), config_json);
        let manifest = serde_json::to_vec(&parsed).expect("the manifest serialises");
        Layout {
            digest: sha256(&manifest),
            manifest,
            parsed,
            blobs,
        }
    }

    /// A layout from a manifest and blobs fetched from `from`: every blob
    /// the manifest names must be there with its digest and size.
    pub(crate) fn from_parts(
        manifest: Vec<u8>,
        blobs: BTreeMap<String, Vec<u8>>,
        from: &str,
    ) -> Result<Layout> {
        let parsed = parse_manifest(&manifest, from)?;
        let digest = sha256(&manifest);
        let mut kept = BTreeMap::new();
        for d in std::iter::once(&parsed.config).chain(&parsed.layers) {
            let data = blobs.get(&d.digest).ok_or_else(|| Error::Invalid {
                reference: from.to_string(),
                message: format!("blob {} is missing", d.digest),
            })?;
            let actual = sha256(data);
            if actual != d.digest {
                return Err(Error::Tampered {
                    reference: from.to_string(),
                    what: format!("blob {}", describe(d)),
                    expected: d.digest.clone(),
                    actual,
                });
            }
            if data.len() as u64 != d.size {
                return Err(Error::Invalid {
                    reference: from.to_string(),
                    message: format!(
                        "blob {} has {} bytes but the manifest says {}",
                        describe(d),
                        data.len(),
                        d.size
                    ),
                });
            }
            kept.insert(d.digest.clone(), data.clone());
        }
        Ok(Layout {
            manifest,
            digest,
            parsed,
            blobs: kept,
        })
    }

    /// `sha256:<hex>` of the manifest.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The manifest bytes as pushed.
    pub fn manifest_json(&self) -> &[u8] {
        &self.manifest
    }

    /// The blobs (config first, then the layers in manifest order).
    pub fn blobs(&self) -> Vec<&[u8]> {
        std::iter::once(&self.parsed.config)
            .chain(&self.parsed.layers)
            .map(|d| self.blobs[&d.digest].as_slice())
            .collect()
    }

    /// Bytes of the manifest and all blobs.
    pub fn size(&self) -> u64 {
        self.manifest.len() as u64 + self.blobs.values().map(|b| b.len() as u64).sum::<u64>()
    }

    pub(crate) fn has_layer(&self, digest: &str) -> bool {
        self.parsed.layers.iter().any(|l| l.digest == digest)
    }

    pub(crate) fn layer(&self, digest: &str) -> Option<&[u8]> {
        self.has_layer(digest)
            .then(|| self.blobs.get(digest).map(Vec::as_slice))
            .flatten()
    }

    /// The config blob, parsed.
    pub(crate) fn bundle_manifest(&self) -> Result<BundleManifest, String> {
        serde_json::from_slice(&self.blobs[&self.parsed.config.digest])
            .map_err(|e| format!("the bundle manifest (config blob) is not valid: {e}"))
    }

    /// Writes the OCI image layout into `dir`: created, or replaced when it
    /// already holds an OCI layout; anything else there is refused.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |e: std::io::Error| Error::Io {
                path,
                message: e.to_string(),
            }
        };
        if dir.exists() {
            let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
            if !empty && !dir.join("oci-layout").is_file() {
                return Err(Error::Layout {
                    path: dir.to_path_buf(),
                    message: "exists and is not an OCI layout; name a new or empty directory"
                        .into(),
                });
            }
        }
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let staging = tempfile::Builder::new()
            .prefix(".sluice-bundle-")
            .tempdir_in(parent)
            .map_err(io(parent))?;
        let root = staging.path();
        let blobs = root.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
        std::fs::write(
            root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .map_err(io(root))?;
        let index = Index {
            schema_version: 2,
            media_type: Some(INDEX_MEDIA_TYPE.to_string()),
            manifests: vec![Descriptor {
                media_type: OCI_MANIFEST_MEDIA_TYPE.to_string(),
                digest: self.digest.clone(),
                size: self.manifest.len() as u64,
                artifact_type: Some(ARTIFACT_TYPE.to_string()),
                annotations: self
                    .parsed
                    .annotations
                    .get(VERSION_ANNOTATION)
                    .map(|v| BTreeMap::from([(REF_NAME_ANNOTATION.to_string(), v.clone())]))
                    .unwrap_or_default(),
            }],
        };
        std::fs::write(
            root.join("index.json"),
            serde_json::to_vec(&index).expect("the index serialises"),
        )
        .map_err(io(root))?;
        for (digest, data) in
            std::iter::once((&self.digest, &self.manifest)).chain(self.blobs.iter())
        {
            let path = blobs.join(hex_of(digest));
            std::fs::write(&path, data).map_err(io(&path))?;
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io(dir))?;
        }
        let staged = staging.keep();
        std::fs::rename(&staged, dir).map_err(io(dir))?;
        Ok(())
    }

    /// Reads the bundle of the OCI image layout in `dir`, verifying every
    /// blob.
    pub fn read(dir: &Path) -> Result<Layout> {
        let shown = dir.display().to_string();
        let layout_error = |message: String| Error::Layout {
            path: dir.to_path_buf(),
            message,
        };
        if !dir.join("oci-layout").is_file() {
            return Err(layout_error(
                "not an OCI image layout (no oci-layout file); build one with `sluice bundle build`"
                    .into(),
            ));
        }
        let index_path = dir.join("index.json");
        let index: Index = serde_json::from_slice(&read(&index_path)?)
            .map_err(|e| layout_error(format!("index.json is not an OCI index: {e}")))?;
        let bundles: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|m| m.artifact_type.as_deref() == Some(ARTIFACT_TYPE))
            .collect();
        let entry: &Descriptor = match bundles.len() {
            1 => bundles[0],
            0 if index.manifests.len() == 1 => &index.manifests[0],
            0 => return Err(layout_error("index.json names no bundle manifest".into())),
            _ => {
                return Err(layout_error(
                    "index.json names several bundles; a bundle layout holds one".into(),
                ));
            }
        };
        let blob = |digest: &str| -> Result<Vec<u8>> {
            check_digest(digest).map_err(&layout_error)?;
            read(&dir.join("blobs/sha256").join(hex_of(digest)))
        };
        let manifest = blob(&entry.digest)?;
        let actual = sha256(&manifest);
        if actual != entry.digest {
            return Err(Error::Tampered {
                reference: shown,
                what: "the manifest".into(),
                expected: entry.digest.clone(),
                actual,
            });
        }
        let parsed = parse_manifest(&manifest, &shown)?;
        let mut blobs = BTreeMap::new();
        for d in std::iter::once(&parsed.config).chain(&parsed.layers) {
            blobs.insert(d.digest.clone(), blob(&d.digest)?);
        }
        Layout::from_parts(manifest, blobs, &shown)
    }
}

/// The manifest, if it is a bundle's.
pub(crate) fn parse_manifest(manifest: &[u8], from: &str) -> Result<ImageManifest> {
    let invalid = |message: String| Error::Invalid {
        reference: from.to_string(),
        message,
    };
    let parsed: ImageManifest = serde_json::from_slice(manifest)
        .map_err(|e| invalid(format!("the manifest is not an OCI image manifest: {e}")))?;
    if parsed.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(invalid(format!(
            "not a Sluice bundle: its config is {} (artifact type {}), a bundle's is {CONFIG_MEDIA_TYPE}",
            parsed.config.media_type,
            parsed.artifact_type.as_deref().unwrap_or("none")
        )));
    }
    for d in std::iter::once(&parsed.config).chain(&parsed.layers) {
        check_digest(&d.digest).map_err(&invalid)?;
    }
    Ok(parsed)
}

/// `blob sha256:… (NAME.wasm)` for messages.
pub(crate) fn describe(d: &Descriptor) -> String {
    match d.annotations.get(TITLE_ANNOTATION) {
        Some(title) => format!("{} ({title})", d.digest),
        None => d.digest.clone(),
    }
}

/// Digests become file names: `sha256:` and 64 lowercase hex digits only.
fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
            Ok(())
        }
        _ => Err(format!("'{digest}' is not a sha256 digest")),
    }
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PLUGIN_MEDIA_TYPE, POLICIES_MEDIA_TYPE};

    fn sample() -> Layout {
        let config = BundleManifest {
            name: "platform".into(),
            version: "1.0.0".into(),
            plugins: Vec::new(),
            policies: Vec::new(),
        };
        Layout::assemble(
            &config,
            vec![
                NewLayer {
                    media_type: PLUGIN_MEDIA_TYPE,
                    title: "a.wasm".into(),
                    data: b"\0asm component".to_vec(),
                },
                NewLayer {
                    media_type: POLICIES_MEDIA_TYPE,
                    title: "p.yaml".into(),
                    data: b"- plugin: a\n".to_vec(),
                },
                // The same bytes again: one blob, one layer.
                NewLayer {
                    media_type: PLUGIN_MEDIA_TYPE,
                    title: "b.wasm".into(),
                    data: b"\0asm component".to_vec(),
                },
            ],
        )
    }

    #[test]
    fn written_and_read_back_unchanged_and_reproducible() {
        let layout = sample();
        assert_eq!(layout.blobs().len(), 3, "config and two distinct layers");
        assert_eq!(layout.digest(), sample().digest());
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        layout.write(&out).unwrap();
        let read = Layout::read(&out).unwrap();
        assert_eq!(read.digest(), layout.digest());
        assert_eq!(read.manifest_json(), layout.manifest_json());
        // Writing over a layout replaces it; over anything else is refused.
        layout.write(&out).unwrap();
        std::fs::write(dir.path().join("other"), "x").unwrap();
        let e = layout.write(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is not an OCI layout"), "{e}");
    }

    #[test]
    fn a_changed_blob_in_a_layout_is_refused() {
        let layout = sample();
        let dir = tempfile::tempdir().unwrap();
        layout.write(dir.path()).unwrap();
        let wasm = sha256(b"\0asm component");
        let file = dir.path().join("blobs/sha256").join(hex_of(&wasm));
        std::fs::write(&file, b"\0asm something else").unwrap();
        let e = Layout::read(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(&format!("blob {wasm} (a.wasm) has digest sha256:"))
                && e.contains(&format!("but {wasm} was expected")),
            "{e}"
        );
    }
}
