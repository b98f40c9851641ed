//! `secrets`: the entries of the secrets granted to this call, by name. The
//! values cross into the plugin and nowhere else: no log line carries them.

use crate::bindings::host::sluice::plugin::{capability_types::CapabilityError, secrets};
use crate::state::PluginState;

impl secrets::Host for PluginState {
    async fn get(&mut self, name: String) -> Result<Vec<(String, Vec<u8>)>, CapabilityError> {
        match self.grants.secret(&name) {
            Some(secret) => Ok(secret
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()),
            None => {
                tracing::warn!(plugin = %self.plugin, secret = %name, "denied a secret the plugin was not granted");
                Err(CapabilityError::Denied(format!(
                    "secret '{name}' is not granted to plugin '{}'; reference it from the object's spec.secretRef",
                    self.plugin
                )))
            }
        }
    }
}
