//! Errors of the plugin host. Each names the plugin and the step, and says
//! what to do; the reconciler turns them into diagnostics and conditions.

use sluice_types::{Diagnostic, PluginKind};
use std::path::PathBuf;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A config value that does not match the plugin's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path with indices (`config.requiredLabels[0]`).
    pub path: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to set up the wasmtime engine")]
    Engine(#[source] wasmtime::Error),

    #[error("plugin '{plugin}': cannot read the component at {path}: {source}")]
    Read {
        plugin: String,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "plugin '{plugin}': digest is {actual} but {expected} was pinned; rebuild the plugin or update spec.digest"
    )]
    Digest {
        plugin: String,
        expected: String,
        actual: String,
    },

    #[error(
        "plugin '{plugin}': not a valid WebAssembly component; build it for wasm32-wasip2 (or componentize a core module)"
    )]
    Compile {
        plugin: String,
        #[source]
        source: wasmtime::Error,
    },

    #[error("plugin '{plugin}': {message}")]
    Link { plugin: String, message: String },

    #[error("plugin '{plugin}' is not a {expected} plugin: {found}")]
    WrongWorld {
        plugin: String,
        expected: PluginKind,
        found: String,
    },

    #[error("plugin '{plugin}': config schema is not valid JSON Schema: {message}")]
    Schema { plugin: String, message: String },

    #[error("plugin '{plugin}': invalid config: {}", errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; "))]
    InvalidConfig {
        plugin: String,
        errors: Vec<ConfigError>,
    },

    #[error("plugin '{plugin}' did not finish '{step}' within its deadline of {}ms; fix the plugin or raise spec.limits.timeout", timeout.as_millis())]
    Deadline {
        plugin: String,
        step: &'static str,
        timeout: Duration,
    },

    #[error("plugin '{plugin}' ran out of memory in '{step}' (limit {} MiB); raise spec.limits.memory if the input is that large", limit >> 20)]
    Memory {
        plugin: String,
        step: &'static str,
        limit: u64,
    },

    #[error(
        "plugin '{plugin}' returned {size} bytes from '{step}', over the limit of {limit}; raise spec.limits.maxOutput or render less"
    )]
    OutputTooLarge {
        plugin: String,
        step: &'static str,
        size: u64,
        limit: u64,
    },

    #[error("plugin '{plugin}' crashed in '{step}': {message}")]
    Trap {
        plugin: String,
        step: &'static str,
        message: String,
    },

    #[error("plugin '{plugin}' returned invalid data from '{step}': {message}")]
    Protocol {
        plugin: String,
        step: &'static str,
        message: String,
    },

    #[error("plugin '{plugin}' failed in '{step}': {}", diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Failed {
        plugin: String,
        step: &'static str,
        diagnostics: Vec<Diagnostic>,
    },

    #[error("plugin '{plugin}': cannot prepare the sandbox: {message}")]
    Sandbox { plugin: String, message: String },

    #[error(
        "plugin '{plugin}': the rollout is already {phase:?}, nothing is left to decide; a new candidate starts a new rollout"
    )]
    RolloutFinished {
        plugin: String,
        phase: sluice_types::rollout::RolloutPhase,
    },
}

impl Error {
    /// A fixed label per variant, for condition reasons and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Engine(_) => "EngineFailed",
            Error::Read { .. } | Error::Digest { .. } | Error::Compile { .. } => "PluginLoadFailed",
            Error::Link { .. } | Error::WrongWorld { .. } | Error::Schema { .. } => "PluginInvalid",
            Error::InvalidConfig { .. } => "ConfigInvalid",
            Error::Deadline { .. } => "PluginDeadlineExceeded",
            Error::Memory { .. } => "PluginOutOfMemory",
            Error::OutputTooLarge { .. } => "PluginOutputTooLarge",
            Error::Trap { .. } | Error::Protocol { .. } | Error::Sandbox { .. } => "PluginCrashed",
            Error::Failed { .. } => "PluginFailed",
            Error::RolloutFinished { .. } => "RolloutFinished",
        }
    }
}
