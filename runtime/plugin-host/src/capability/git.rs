//! `git`: list a granted remote's refs and check a commit out into the call's
//! `/artifact`, through `sluice-git`. Only remotes in `grants.git` (the
//! Source's own `spec.url`) are reachable, credentials come from a granted
//! secret, and gix's blocking work runs on tokio's blocking pool so the
//! plugin's executor keeps ticking (and its deadline keeps counting).

use crate::bindings::host::sluice::plugin::{capability_types::CapabilityError, git};
use crate::state::PluginState;
use sluice_git::{Auth, Error, Limits};

impl git::Host for PluginState {
    async fn list_refs(
        &mut self,
        url: String,
        auth_secret: Option<String>,
    ) -> Result<Vec<git::RemoteRef>, CapabilityError> {
        self.check_git_url(&url)?;
        let auth = self.git_auth(auth_secret.as_deref())?;
        let limits = self.git_limits();
        let refs = blocking(move || sluice_git::list_refs(&url, &auth, limits)).await?;
        Ok(refs
            .into_iter()
            .map(|r| git::RemoteRef {
                name: r.name,
                commit: r.commit,
            })
            .collect())
    }

    async fn checkout(
        &mut self,
        url: String,
        ref_name: Option<String>,
        commit: String,
        auth_secret: Option<String>,
    ) -> Result<git::CheckoutInfo, CapabilityError> {
        self.check_git_url(&url)?;
        let auth = self.git_auth(auth_secret.as_deref())?;
        let Some(dest) = self.artifact_dir.clone() else {
            return Err(CapabilityError::Denied(format!(
                "git checkout of {} needs a writable /artifact, which only a source plugin's fetch has",
                sluice_git::redact(&url)
            )));
        };
        let limits = self.git_limits();
        tracing::debug!(plugin = %self.plugin, url = %sluice_git::redact(&url), commit, "git checkout");
        let out = blocking(move || {
            sluice_git::checkout(&url, ref_name.as_deref(), &commit, &auth, &dest, limits)
        })
        .await?;
        Ok(git::CheckoutInfo {
            files: out.files,
            submodules: out.submodules,
        })
    }
}

impl PluginState {
    fn check_git_url(&self, url: &str) -> Result<(), CapabilityError> {
        if self.grants.allows_git(url) {
            return Ok(());
        }
        tracing::warn!(plugin = %self.plugin, url = %sluice_git::redact(url), "denied a Git remote the plugin was not granted");
        Err(CapabilityError::Denied(format!(
            "Git remote {} is not granted to plugin '{}'; a source plugin may reach its Source's spec.url only, so set it as the Source's spec.url",
            sluice_git::redact(url),
            self.plugin
        )))
    }

    /// Credentials from the granted secret `name`, as Flux reads a
    /// GitRepository's secretRef: `bearerToken`, else `username`/`password`.
    fn git_auth(&self, name: Option<&str>) -> Result<Auth, CapabilityError> {
        let Some(name) = name else {
            return Ok(Auth::None);
        };
        let Some(secret) = self.grants.secret(name) else {
            return Err(CapabilityError::Denied(format!(
                "secret '{name}' is not granted to plugin '{}'; reference it from the Source's spec.secretRef",
                self.plugin
            )));
        };
        if let Some(token) = secret.text("bearerToken") {
            return Ok(Auth::Bearer(token.to_owned()));
        }
        match (secret.text("username"), secret.text("password")) {
            (Some(username), Some(password)) => Ok(Auth::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            }),
            (None, None) => Err(CapabilityError::Failed(format!(
                "secret '{name}' has neither 'bearerToken' nor 'username' and 'password' entries; add them for Git HTTP authentication"
            ))),
            _ => Err(CapabilityError::Failed(format!(
                "secret '{name}' needs both 'username' and 'password' for Git basic authentication"
            ))),
        }
    }

    fn git_limits(&self) -> Limits {
        Limits {
            max_bytes: self.grants.transfer.max_bytes,
            timeout: self.grants.transfer.timeout,
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, CapabilityError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(match e {
            Error::NotFound(m) => CapabilityError::NotFound(m),
            Error::LimitExceeded(m) => CapabilityError::LimitExceeded(m),
            Error::Auth(m)
            | Error::Unreachable(m)
            | Error::Moved(m)
            | Error::UnsafePath(m)
            | Error::Failed(m) => CapabilityError::Failed(m),
        }),
        Err(e) => Err(CapabilityError::Failed(format!(
            "the Git worker failed: {e}"
        ))),
    }
}
