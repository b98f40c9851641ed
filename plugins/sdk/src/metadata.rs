//! What a plugin says about itself; the kind comes from the world, so it
//! cannot disagree with the exports.

use crate::{PluginKind, PluginMetadata};

/// Name, version and description of a plugin (`sluice plugin inspect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Short unique name, lowercase with dashes; the same as `name:` in
    /// `sluice-plugin.yaml`.
    pub name: String,
    /// Semantic version of the plugin (usually `env!("CARGO_PKG_VERSION")`).
    pub version: String,
    /// One sentence for people choosing a plugin.
    pub description: String,
}

impl Metadata {
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Metadata {
        Metadata {
            name: name.into(),
            version: version.into(),
            description: description.into(),
        }
    }

    /// The WIT record for a plugin of this kind.
    #[doc(hidden)]
    pub fn into_wit(self, kind: PluginKind) -> PluginMetadata {
        PluginMetadata {
            name: self.name,
            version: self.version,
            kind,
            description: self.description,
        }
    }
}
