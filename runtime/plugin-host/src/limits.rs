//! Per-call resource limits.

use std::time::Duration;

/// What one call of a plugin may use. Every field has a default that fits
/// the built-in plugins with a wide margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on each linear memory, in bytes.
    pub memory: u64,
    /// Wall-clock deadline for one call, enforced by epoch interruption.
    pub timeout: Duration,
    /// Cap on the bytes a call returns (manifests, diagnostics, schema).
    pub max_output: u64,
    /// Log lines kept per call; the rest are counted and dropped.
    pub max_log_lines: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 256 << 20,
            timeout: Duration::from_secs(10),
            max_output: 64 << 20,
            max_log_lines: 1000,
        }
    }
}

impl Limits {
    /// Applies the non-empty fields of a `Plugin` object's `spec.limits`.
    pub fn with_overrides(mut self, spec: &sluice_types::PluginLimits) -> Limits {
        if let Some(m) = spec.memory {
            self.memory = m.0;
        }
        if let Some(t) = spec.timeout {
            self.timeout = t.0;
        }
        if let Some(o) = spec.max_output {
            self.max_output = o.0;
        }
        self
    }
}
