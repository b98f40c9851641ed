//! Runs a Release through its stages: source → render → policies.
//!
//! Plugins are resolved by name, built-ins first, then `Plugin` objects, and
//! loaded once per pipeline. Every error says which object, which field and
//! which plugin, and what to do.

mod catalog;
mod cosign;
mod error;
mod namespace;
mod observe;
mod run;
mod source;

pub use catalog::{Catalog, Lookup};
pub use error::{Error, Result};
pub use observe::{Observer, PluginCall};
pub use run::{Mode, Pipeline};
pub use sluice_artifacts::ArtifactStore;
