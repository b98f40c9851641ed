//! Runs a Release through its stages: source → render → policies.
//!
//! Plugins are resolved by name, `Plugin` objects first, then built-ins, and
//! loaded once per pipeline; a `Plugin` object is admitted only with the
//! capabilities the admin allows ([`Authority`]) and, from a bundle, only
//! pinned and verified. Every error says which object, which field and
//! which plugin, and what to do.

mod authority;
mod bundle;
mod catalog;
mod cosign;
mod error;
mod namespace;
mod observe;
mod run;
mod source;

pub use authority::{Authority, Trust};
pub use bundle::split_tag;
pub use catalog::{Catalog, Lookup};
pub use error::{Error, Result};
pub use observe::{Observer, PluginCall};
pub use run::{Mode, Pipeline};
pub use sluice_artifacts::ArtifactStore;
