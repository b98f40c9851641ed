//! `oci`: registry reads for the repositories granted to this call (the
//! Source's `spec.url`), over `sluice-oci`. Plain HTTP only where the grant
//! says the registry is insecure; credentials only from a granted secret's
//! `.dockerconfigjson`; layers land in the call's writable `/artifact`,
//! staged beside it and moved in whole, so a failed pull leaves it empty.

use crate::bindings::host::sluice::plugin::{capability_types::CapabilityError, oci};
use crate::grants::OciGrant;
use crate::state::PluginState;
use sluice_oci::{Credentials, Error, Options, Registry};
use std::path::{Component, Path, PathBuf};

/// The key of a `kubernetes.io/dockerconfigjson` Secret.
const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";

impl PluginState {
    /// A client for `reference`'s repository, or why the plugin may not have one.
    fn oci_registry(
        &self,
        reference: &str,
        auth_secret: Option<&str>,
    ) -> Result<(Registry, String), CapabilityError> {
        let repository = sluice_oci::repository_of(reference)
            .map_err(|e| CapabilityError::Failed(e.to_string()))?;
        let Some(OciGrant { insecure, .. }) = self.grants.oci(&repository).cloned() else {
            tracing::warn!(plugin = %self.plugin, %repository, "denied an OCI repository outside the grants");
            let granted = match self.grants.oci.as_slice() {
                [] => "no repository is granted to it".to_string(),
                grants => format!(
                    "it may reach only {}",
                    grants
                        .iter()
                        .map(|g| format!("oci://{}", g.repository))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(CapabilityError::Denied(format!(
                "plugin '{}' may not reach the OCI repository {repository}: {granted}; set oci://{repository} as the Source's spec.url",
                self.plugin
            )));
        };
        let host = repository.split('/').next().unwrap_or_default();
        let credentials = self.registry_credentials(auth_secret, host)?;
        let registry = Registry::new(Options {
            credentials,
            insecure,
            max_bytes: self.grants.transfer.max_bytes,
            timeout: self.grants.transfer.timeout,
        });
        Ok((registry, repository))
    }

    /// Credentials for `host` from the granted secret `auth_secret` names
    /// (its `.dockerconfigjson`); anonymous without one.
    pub(crate) fn registry_credentials(
        &self,
        auth_secret: Option<&str>,
        host: &str,
    ) -> Result<Credentials, CapabilityError> {
        let Some(name) = auth_secret else {
            return Ok(Credentials::Anonymous);
        };
        let Some(secret) = self.grants.secret(name) else {
            tracing::warn!(plugin = %self.plugin, secret = %name, "denied a secret the plugin was not granted");
            return Err(CapabilityError::Denied(format!(
                "secret '{name}' is not granted to plugin '{}'; reference it from the Source's spec.secretRef",
                self.plugin
            )));
        };
        let json = secret.get(DOCKER_CONFIG_KEY).ok_or_else(|| {
            CapabilityError::Failed(format!(
                "secret '{name}' has no {DOCKER_CONFIG_KEY} entry; make it a kubernetes.io/dockerconfigjson Secret"
            ))
        })?;
        Credentials::from_docker_config(json, host).map_err(|e| {
            CapabilityError::Failed(format!("secret '{name}' {DOCKER_CONFIG_KEY}: {e}"))
        })
    }

    fn oci_artifact_dir(&self) -> Result<PathBuf, CapabilityError> {
        self.artifact_dir.clone().ok_or_else(|| {
            CapabilityError::Denied(format!(
                "plugin '{}' has no writable artifact directory: layers are pulled only by source plugins",
                self.plugin
            ))
        })
    }
}

/// The capability's variant for a transport error; the message names the
/// reference or URL and what to do.
fn failure(e: Error) -> CapabilityError {
    let message = e.to_string();
    match e {
        Error::NotFound { .. } => CapabilityError::NotFound(message),
        Error::TooLarge { .. } | Error::Timeout { .. } => CapabilityError::LimitExceeded(message),
        _ => CapabilityError::Failed(message),
    }
}

impl oci::Host for PluginState {
    async fn list_tags(
        &mut self,
        repository: String,
        auth_secret: Option<String>,
    ) -> Result<Vec<String>, CapabilityError> {
        let (registry, repository) = self.oci_registry(&repository, auth_secret.as_deref())?;
        tracing::debug!(plugin = %self.plugin, %repository, "oci list tags");
        registry.list_tags(&repository).await.map_err(failure)
    }

    async fn get_manifest(
        &mut self,
        reference: String,
        auth_secret: Option<String>,
    ) -> Result<oci::ManifestInfo, CapabilityError> {
        let (registry, _) = self.oci_registry(&reference, auth_secret.as_deref())?;
        tracing::debug!(plugin = %self.plugin, %reference, "oci get manifest");
        let m = registry.manifest(&reference).await.map_err(failure)?;
        Ok(oci::ManifestInfo {
            digest: m.digest,
            media_type: m.media_type,
            json: m.json,
        })
    }

    async fn extract_layer(
        &mut self,
        repository: String,
        digest: String,
        auth_secret: Option<String>,
    ) -> Result<(), CapabilityError> {
        let (registry, repository) = self.oci_registry(&repository, auth_secret.as_deref())?;
        let dir = self.oci_artifact_dir()?;
        tracing::debug!(plugin = %self.plugin, %repository, %digest, "oci extract layer");
        let out = registry
            .pull_layer(&repository, &digest, &dir)
            .await
            .map_err(failure)?;
        tracing::debug!(plugin = %self.plugin, files = out.files, bytes = out.bytes, "layer extracted");
        Ok(())
    }

    async fn copy_layer(
        &mut self,
        repository: String,
        digest: String,
        file_name: String,
        auth_secret: Option<String>,
    ) -> Result<(), CapabilityError> {
        let (registry, repository) = self.oci_registry(&repository, auth_secret.as_deref())?;
        let dir = self.oci_artifact_dir()?;
        let mut parts = Path::new(&file_name).components();
        let (Some(Component::Normal(name)), None) = (parts.next(), parts.next()) else {
            return Err(CapabilityError::Failed(format!(
                "copy-layer file name '{file_name}' must be a single path segment"
            )));
        };
        tracing::debug!(plugin = %self.plugin, %repository, %digest, "oci copy layer");
        registry
            .copy_layer(&repository, &digest, &dir.join(name))
            .await
            .map_err(failure)?;
        Ok(())
    }
}
