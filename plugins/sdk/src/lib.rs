//! Write Sluice plugins in Rust without touching wit-bindgen.
//!
//! A plugin is a `cdylib` crate that enables the feature of its world
//! (`policy`, `renderer`, `source` or `rollout`), implements that world's
//! trait and exports it:
//!
//! ```
//! # #[cfg(feature = "policy")]
//! # mod example {
//! use sluice_plugin_sdk::policy::{EvaluateRequest, Evaluation, Policy};
//! use sluice_plugin_sdk::{Failure, Metadata};
//!
//! struct MyPolicy;
//!
//! impl Policy for MyPolicy {
//!     fn metadata() -> Metadata {
//!         Metadata::new("my-policy", env!("CARGO_PKG_VERSION"), "What it checks")
//!     }
//!     fn config_schema() -> &'static str {
//!         r#"{"type": "object"}"#
//!     }
//!     fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Failure> {
//!         Ok(Evaluation::allow())
//!     }
//! }
//!
//! sluice_plugin_sdk::export_policy!(MyPolicy);
//! # }
//! ```
//!
//! The records every world shares (diagnostics, manifests, resource
//! references) and the host capabilities are generated once, in
//! [`bindings`], and every world module reuses them, so helpers such as
//! [`Diagnostic::error`] work the same for every kind of plugin. Each world
//! module re-exports only the capabilities its world may import (`policy::kube`,
//! `source::http`, …): a component importing any other is refused at load.

// The export macros and the bindings name this crate by its absolute path,
// which must also resolve inside the crate itself.
extern crate self as sluice_plugin_sdk;

mod config;
mod diagnostic;
pub mod log;
mod manifest;
mod metadata;
mod workload;

#[cfg(feature = "policy")]
pub mod policy;
#[cfg(feature = "renderer")]
pub mod renderer;
#[cfg(feature = "rollout")]
pub mod rollout;
#[cfg(feature = "source")]
pub mod source;

pub use config::parse_config;
pub use manifest::{Object, parse_manifests};
pub use metadata::Metadata;
pub use workload::{PodSpec, WORKLOAD_KINDS, pod_spec};

pub use bindings::sluice::plugin::types::{
    ArtifactRef, Diagnostic, Manifest, PluginKind, PluginMetadata, ResourceRef, Revision, Severity,
    SourceLocation, Verdict,
};

/// Why a call failed: one or more diagnostics (the host adds plugin name and
/// stage).
pub type Failure = Vec<Diagnostic>;

/// Re-exported so that code the export macros expand in a plugin crate finds
/// wit-bindgen's runtime without the plugin depending on it.
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Bindings for the records and capabilities every world shares, generated
/// from the `host` world: it imports everything and exports nothing, so it
/// adds no export a plugin would have to provide, and the component linker
/// keeps only the imports a plugin actually calls (a policy that only logs
/// imports `log` and `types`, whatever `host` lists).
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "host",
        generate_unused_types: true,
        additional_derives: [PartialEq],
        runtime_path: "::sluice_plugin_sdk::__wit_bindgen::rt",
    });
}
