//! Sluice bundles: plugins (WebAssembly components), their config schemas
//! and policy lists shipped as one OCI artifact, signed with cosign and
//! verified blob by blob before anything in them runs.
//!
//! A bundle is an OCI image manifest of artifact type
//! [`ARTIFACT_TYPE`] whose config blob is the [`BundleManifest`] (what is
//! inside: each plugin's name, kind, version, digest, capabilities and
//! schema digest, each policy file's digest) and whose layers are the
//! blobs it names. The same bytes live in an OCI image layout directory
//! ([`Layout`], what `sluice bundle build` writes) and in a registry
//! (`push`, [`fetch`]), so a digest names one bundle everywhere.
//!
//! Trust: [`fetch`] checks the manifest against a pinned digest, the
//! cosign signature against a public key when one is given, and every
//! blob against the digest the manifest gives it; a bundle that fails any
//! of these is refused whole, with the reference and both digests.

mod build;
mod layout;
mod remote;
mod source;

pub use build::{Built, build_builtins, build_dir};
pub use layout::Layout;
pub use remote::{FetchOptions, fetch, push, sign};

use serde::{Deserialize, Serialize};
use sluice_types::{Capabilities, PluginKind, PolicyRef};
use std::path::PathBuf;

/// `artifactType` of a bundle manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.sluice.bundle.v1";
/// Media type of the config blob, the [`BundleManifest`] as JSON.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.sluice.bundle.config.v1+json";
/// Media type of a plugin component layer.
pub const PLUGIN_MEDIA_TYPE: &str = "application/vnd.sluice.plugin.v1+wasm";
/// Media type of a plugin's config schema layer.
pub const SCHEMA_MEDIA_TYPE: &str = "application/schema+json";
/// Media type of a policy file layer (a YAML list of `PolicyRef`).
pub const POLICIES_MEDIA_TYPE: &str = "application/vnd.sluice.policies.v1+yaml";

/// What a bundle holds: its config blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleManifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub plugins: Vec<PluginEntry>,
    #[serde(default)]
    pub policies: Vec<PolicyEntry>,
}

/// One plugin of a bundle, as its component describes itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginEntry {
    pub name: String,
    pub kind: PluginKind,
    pub version: String,
    pub description: String,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    pub size: u64,
    /// What it needs beyond `log`, as lowercase names (`[cosign]`); a
    /// manifest naming an unknown one does not parse.
    pub capabilities: Capabilities,
    /// `sha256:<hex>` of its config schema blob.
    pub config_schema: String,
}

/// One policy file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyEntry {
    pub name: String,
    /// `sha256:<hex>` of the YAML file.
    pub digest: String,
}

/// A policy file of a bundle, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Policies {
    pub name: String,
    pub digest: String,
    pub policies: Vec<PolicyRef>,
}

/// A bundle whose blobs are all present and verified.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// `sha256:<hex>` of the OCI manifest: what a lock file pins.
    pub digest: String,
    pub manifest: BundleManifest,
    layout: Layout,
    policies: Vec<Policies>,
}

impl Bundle {
    /// The bundle in `layout`; `from` names it in errors (a reference or a
    /// directory). Every blob the config names must be a layer.
    pub fn from_layout(layout: Layout, from: &str) -> Result<Bundle> {
        let invalid = |message: String| Error::Invalid {
            reference: from.to_string(),
            message,
        };
        let manifest = layout.bundle_manifest().map_err(invalid)?;
        for p in &manifest.plugins {
            for (what, digest) in [
                ("component", &p.digest),
                ("config schema", &p.config_schema),
            ] {
                if !layout.has_layer(digest) {
                    return Err(invalid(format!(
                        "plugin '{}': its {what} {digest} is not a layer of the manifest",
                        p.name
                    )));
                }
            }
        }
        let mut policies = Vec::new();
        for p in &manifest.policies {
            let bytes = layout.layer(&p.digest).ok_or_else(|| {
                invalid(format!(
                    "policies '{}': {} is not a layer of the manifest",
                    p.name, p.digest
                ))
            })?;
            let text = std::str::from_utf8(bytes)
                .map_err(|_| invalid(format!("policies '{}' are not UTF-8 YAML", p.name)))?;
            let list = source::parse_policies(text, &PathBuf::from(format!("{from}#{}", p.name)))?;
            policies.push(Policies {
                name: p.name.clone(),
                digest: p.digest.clone(),
                policies: list,
            });
        }
        Ok(Bundle {
            digest: layout.digest().to_string(),
            manifest,
            layout,
            policies,
        })
    }

    /// The plugin called `name`.
    pub fn plugin(&self, name: &str) -> Result<&PluginEntry> {
        self.manifest
            .plugins
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::NoSuchPlugin {
                bundle: format!("{}@{}", self.manifest.name, self.digest),
                name: name.to_string(),
                available: self
                    .manifest
                    .plugins
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
            })
    }

    /// The component bytes of plugin `name`, verified.
    pub fn component(&self, name: &str) -> Result<&[u8]> {
        let entry = self.plugin(name)?;
        Ok(self
            .layout
            .layer(&entry.digest)
            .expect("checked by from_layout"))
    }

    /// The config schema (JSON text) of plugin `name`.
    pub fn config_schema(&self, name: &str) -> Result<&str> {
        let entry = self.plugin(name)?;
        let bytes = self
            .layout
            .layer(&entry.config_schema)
            .expect("checked by from_layout");
        std::str::from_utf8(bytes).map_err(|_| Error::Invalid {
            reference: self.digest.clone(),
            message: format!("the config schema of '{name}' is not UTF-8"),
        })
    }

    /// The policy files, in bundle order.
    pub fn policies(&self) -> &[Policies] {
        &self.policies
    }

    /// The OCI layout holding it (to write it to disk, or push it).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `bundle.yaml` or a file it names is wrong, at this line.
    #[error("{}:{line}: {message}", file.display())]
    Source {
        file: PathBuf,
        line: u32,
        message: String,
    },
    /// A component of the bundle did not load.
    #[error("{}: {message}", path.display())]
    Plugin { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// An OCI layout directory that is not a bundle's.
    #[error("{}: {message}", path.display())]
    Layout { path: PathBuf, message: String },
    /// The content is well formed but not a bundle, or inconsistent.
    #[error("bundle {reference}: {message}")]
    Invalid { reference: String, message: String },
    #[error("bundle {bundle} has no plugin '{name}'; it has: {}", available.join(", "))]
    NoSuchPlugin {
        bundle: String,
        name: String,
        available: Vec<String>,
    },
    /// Bytes that do not match their digest: a changed registry copy.
    #[error(
        "bundle {reference} was tampered with: {what} has digest {actual} but {expected} was expected. Do not use it: the registry's copy is not what was built and signed. Push the bundle again from its source (`sluice bundle push`), sign the new digest, and check who can write to the repository"
    )]
    Tampered {
        reference: String,
        what: String,
        expected: String,
        actual: String,
    },
    /// A verification key was given and the bundle has no signature.
    #[error(
        "bundle {reference} ({digest}) is not signed: {reason}. Sign it with `sluice bundle sign oci://{repository}@{digest} --key cosign.key` (or `cosign sign --key`), or pin a signed digest"
    )]
    Unsigned {
        reference: String,
        repository: String,
        digest: String,
        reason: String,
    },
    /// Signatures exist but none is by the given keys.
    #[error(
        "bundle {reference} ({digest}) has no valid signature by {keys}: {reason}. Check that the key is the cosign.pub of the key that signed it, or sign this digest with that key"
    )]
    Rejected {
        reference: String,
        digest: String,
        /// `the given key`, `any of the 2 given keys`.
        keys: String,
        reason: String,
    },
    #[error("bundle {reference}: {source}")]
    Registry {
        reference: String,
        #[source]
        source: sluice_oci::Error,
    },
    /// Signing or a bad key; the message names the key file.
    #[error("bundle {reference}: {source}")]
    Cosign {
        reference: String,
        #[source]
        source: sluice_cosign::Error,
    },
}
