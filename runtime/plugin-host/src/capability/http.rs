//! `http`: HTTP(S) to the URLs granted to this call (the Source's `spec.url`,
//! or a bucket's endpoints), over `sluice-http`. The response bytes of one
//! call add up against the transfer limit, so many small objects cannot
//! exceed it either. Only the method and the URL without its query are
//! logged; headers (`Authorization`, …) and bodies never are.

use crate::bindings::host::sluice::plugin::{capability_types::CapabilityError, http};
use crate::state::PluginState;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// One pooled client for the process: polls reuse open connections.
fn client() -> &'static sluice_http::Client {
    static CLIENT: OnceLock<sluice_http::Client> = OnceLock::new();
    CLIENT.get_or_init(sluice_http::Client::new)
}

impl PluginState {
    fn http_denied(&self, url: &str) -> CapabilityError {
        tracing::warn!(plugin = %self.plugin, url, "denied an HTTP request outside the grants");
        let granted = match self.grants.http.as_slice() {
            [] => "no URL is granted to it".to_string(),
            prefixes => format!(
                "it may reach only {}",
                prefixes
                    .iter()
                    .map(|p| sluice_http::redact(p.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        CapabilityError::Denied(format!(
            "plugin '{}' may not reach {url}: {granted} (the Source's spec.url)",
            self.plugin
        ))
    }
}

impl http::Host for PluginState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, CapabilityError> {
        let url = sluice_http::redact(&request.url);
        if !self.grants.allows_http(&request.url) {
            return Err(self.http_denied(&url));
        }
        let limit = self.grants.transfer.max_bytes;
        let limits = sluice_http::Limits {
            max_bytes: limit.saturating_sub(self.http_received),
            timeout: self.grants.transfer.timeout,
        };
        tracing::debug!(plugin = %self.plugin, method = %request.method, %url, "http request");
        let response = client()
            .send(
                sluice_http::Request {
                    method: request.method,
                    url: request.url,
                    headers: request.headers,
                    body: request.body,
                },
                limits,
            )
            .await
            .map_err(|e| match e {
                sluice_http::Error::TooLarge { url, .. } => CapabilityError::LimitExceeded(format!(
                    "the response from {url} takes the bytes received in this fetch over the transfer limit of {limit} bytes"
                )),
                sluice_http::Error::Timeout { .. } => CapabilityError::LimitExceeded(format!(
                    "{e}; raise the Source's spec.timeout if the endpoint is slow"
                )),
                other => CapabilityError::Failed(other.to_string()),
            })?;
        self.http_received += response.body.len() as u64;
        tracing::debug!(plugin = %self.plugin, %url, status = response.status, bytes = response.body.len(), "http response");
        Ok(http::Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }

    async fn now(&mut self) -> Result<u64, CapabilityError> {
        if self.grants.http.is_empty() {
            return self.denied("http");
        }
        Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()))
    }
}
