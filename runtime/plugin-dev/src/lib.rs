//! Writing Sluice plugins outside this repository: the project file
//! (`sluice-plugin.yaml`), scaffolds for each (kind, language) pair, one build
//! driver per language, componentizing core modules against the Sluice WIT,
//! and the fixture tests behind `sluice plugin test`.
//!
//! Everything a scaffold needs (WIT, templates, SDKs) is embedded by the build
//! script, so the `sluice` binary alone is enough to start a plugin.

pub mod build;
pub mod componentize;
pub mod project;
pub mod scaffold;
pub mod test;
pub mod wit;

pub use build::{Lang, build};
pub use componentize::componentize;
pub use project::{Capability, Project};

/// The files embedded by `build.rs`: `WIT` (file name, text), `TEMPLATES`
/// (`<lang>/<kind|common>/<path>`, bytes) and `SDKS` (`<sdk dir>/<path>`, bytes).
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}
