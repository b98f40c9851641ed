//! Sluice's objects and the data that flows between stages.
//!
//! The same schema drives offline files (`sluice build`, `sluice check`) and
//! the in-cluster CRDs. Nothing here depends on wasmtime; kube and schemars
//! come in only with the `crd` feature (the `crd` module).

pub mod capability;
pub mod configmap;
#[cfg(feature = "crd")]
pub mod crd;
pub mod diagnostic;
pub mod load;
pub mod locate;
pub mod lock;
pub mod object;
pub mod quantity;
pub mod report;
pub mod rollout;
pub mod secret;
pub mod status;
pub mod verdict;

pub use capability::{Capabilities, Capability};
pub use configmap::ConfigMapData;
pub use diagnostic::{
    Diagnostic, Manifest, PluginKind, PluginMetadata, ResourceRef, Severity, SourceLocation,
    Verdict,
};
pub use load::{LoadError, Loaded, Objects};
pub use lock::Lockfile;
pub use object::{
    API_VERSION, BundleLocation, BundleVerify, FailureAction, HealthCheck, Object, ObjectMeta,
    PluginBundle, PluginLimits, PluginRef, PluginSpec, PolicyRef, PolicySetBundle, PolicySetSpec,
    PostBuild, ReleaseSpec, SourceSpec, SubstituteKind, SubstituteReference,
};
pub use report::{PolicyOutcome, ReleaseReport};
pub use secret::SecretData;
pub use verdict::{RuleResult, Verdict as RuleVerdict};
