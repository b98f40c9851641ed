//! Capabilities that no plugin can be granted yet, so the single answer is a
//! denial that names the capability; each interface gets its own module when
//! its grant arrives.

use crate::bindings::host::sluice::plugin::{capability_types::CapabilityError, kube, metrics};
use crate::state::PluginState;

impl PluginState {
    pub(crate) fn denied<T>(&self, capability: &str) -> Result<T, CapabilityError> {
        tracing::warn!(plugin = %self.plugin, capability, "denied a capability the plugin was not granted");
        Err(CapabilityError::Denied(format!(
            "capability '{capability}' is not granted to plugin '{}'",
            self.plugin
        )))
    }
}

impl kube::Host for PluginState {
    async fn get(
        &mut self,
        _: String,
        _: String,
        _: Option<String>,
        _: String,
    ) -> Result<Option<String>, CapabilityError> {
        self.denied("kube")
    }
    async fn list(
        &mut self,
        _: String,
        _: String,
        _: Option<String>,
        _: Option<String>,
    ) -> Result<Vec<String>, CapabilityError> {
        self.denied("kube")
    }
}

impl metrics::Host for PluginState {
    async fn query(&mut self, _: String, _: String) -> Result<Option<f64>, CapabilityError> {
        self.denied("metrics")
    }
}
