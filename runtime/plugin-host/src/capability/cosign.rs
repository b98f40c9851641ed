//! `cosign`: signature verification by the host (`sluice-cosign`), offline,
//! for images in the repositories the call's cosign grant names (a
//! policy's: those of the images in the rendered manifests; a source's:
//! its own repository), against the trusted root the Release or Source
//! names, with results cached across calls by digest.

use crate::bindings::host::sluice::plugin::{capability_types::CapabilityError, cosign};
use crate::state::PluginState;
use sluice_cosign::{Authority, Error, Identity, Request};
use sluice_oci::{Options, Registry};

impl cosign::Host for PluginState {
    async fn verify(
        &mut self,
        request: cosign::VerifyRequest,
    ) -> Result<cosign::Verified, CapabilityError> {
        let Some(grant) = self.grants.cosign.clone() else {
            return self.denied("cosign");
        };
        let image = sluice_cosign::normalize(&request.image)
            .map_err(|e| CapabilityError::Failed(format!("cosign verify: {e}")))?;
        let repository = sluice_oci::repository_of(&image)
            .map_err(|e| CapabilityError::Failed(format!("cosign verify: {e}")))?;
        let Some(oci) = grant.repository(&repository).cloned() else {
            tracing::warn!(plugin = %self.plugin, %repository, "denied a signature check outside the grants");
            let granted = grant
                .repositories
                .iter()
                .map(|g| g.repository.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CapabilityError::Denied(format!(
                "plugin '{}' may not verify {image}: it may check only the images of the rendered manifests ({})",
                self.plugin,
                if granted.is_empty() { "none" } else { &granted }
            )));
        };
        let host = repository.split('/').next().unwrap_or_default();
        let credentials = self.registry_credentials(request.auth_secret.as_deref(), host)?;
        let registry = Registry::new(Options {
            credentials,
            insecure: oci.insecure,
            max_bytes: self.grants.transfer.max_bytes,
            timeout: self.grants.transfer.timeout,
        });
        let authorities = request
            .authorities
            .into_iter()
            .map(|a| match a {
                cosign::Authority::PublicKey(pem) => Authority::PublicKey(pem),
                cosign::Authority::Keyless(id) => Authority::Keyless(Identity {
                    issuer: id.issuer,
                    subject: id.subject,
                }),
            })
            .collect();
        let request = Request {
            image,
            authorities,
            annotations: request.annotations,
        };
        tracing::debug!(plugin = %self.plugin, image = %request.image, "cosign verify");
        match sluice_cosign::verify(
            &registry,
            grant.trusted_root.as_deref(),
            &grant.cache,
            &request,
        )
        .await
        {
            Ok(v) => Ok(cosign::Verified {
                digest: v.digest,
                identity: v.identity,
            }),
            Err(e) => {
                let message = e.to_string();
                Err(match e {
                    Error::Unsigned { .. }
                    | Error::Registry {
                        source: sluice_oci::Error::NotFound { .. },
                        ..
                    } => CapabilityError::NotFound(message),
                    Error::Registry {
                        source:
                            sluice_oci::Error::TooLarge { .. } | sluice_oci::Error::Timeout { .. },
                        ..
                    } => CapabilityError::LimitExceeded(message),
                    _ => CapabilityError::Failed(message),
                })
            }
        }
    }
}
