//! The wasmtime host for Sluice plugins.
//!
//! One shared [`Engine`](wasmtime::Engine) with epoch interruption and the
//! pooling allocator; components compiled once and cached on disk; a fresh,
//! limited [`Store`](wasmtime::Store) per call built from an `InstancePre`.
//! Plugins get no environment, no ambient files, no network and a wall clock
//! frozen at the Unix epoch; what they need comes from the capabilities in
//! [`capability`].

mod bindings;
pub mod capability;
mod convert;
mod engine;
mod error;
mod grants;
mod limits;
mod plugin;
mod state;

pub use engine::{HostConfig, PluginHost, PoolConfig};
pub use error::{ConfigError, Error, Result};
pub use grants::{CosignGrant, Grants, OciGrant, Secret, TransferLimits, UrlPrefix};
pub use limits::Limits;
pub use plugin::{
    Evaluation, FetchOutcome, FetchRequest, FetchResult, Plugin, RenderRequest, RenderResult,
};
/// The cosign verifier behind the `cosign` capability, for building grants.
pub use sluice_cosign as cosign;
