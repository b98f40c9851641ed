//! The HTTP(S) client behind the `http` capability.
//!
//! A plugin's request crosses the sandbox here, so the client is strict:
//! - rustls with the aws-lc-rs provider only (set explicitly, so another
//!   provider compiled into the binary cannot make rustls pick at random),
//!   trusting the platform's roots;
//! - redirects are never followed: a 3xx goes back to the plugin, whose next
//!   request is checked against the allow-list like any other;
//! - the response body is streamed and the exchange aborted as soon as it
//!   passes `max_bytes`, so nothing beyond the cap is ever buffered;
//! - one deadline covers connecting, the headers and the whole body;
//! - `Host` comes from the URL (a plugin cannot aim a granted connection at
//!   another virtual host), and framing headers are hyper's to set.
//!
//! The allow-list itself is checked by the capability, which knows the grants.
//! Errors name the URL without its query or user info, and never a header.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Caps for one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest response body accepted, in bytes.
    pub max_bytes: u64,
    /// Time for connecting, the response headers and the whole body.
    pub timeout: Duration,
}

/// One request. `Debug` shows header names only: values may be credentials.
#[derive(Clone, Default)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &redact(&self.url))
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// In the order received; repeated headers stay separate entries.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request to {url}: {reason}")]
    Invalid { url: String, reason: String },
    #[error("cannot connect to {authority}: {cause}")]
    Connect { authority: String, cause: String },
    #[error("request to {url} failed: {cause}")]
    Transport { url: String, cause: String },
    #[error("{url} did not answer within {}s (the transfer time limit)", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    #[error("the response from {url} is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
}

/// A pooled client; cheap to clone, meant to be shared by every call so
/// polls reuse open connections.
#[derive(Clone)]
pub struct Client {
    inner: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    pub fn new() -> Client {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder =
            match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
                Ok(b) => b,
                // No platform roots at all: HTTPS then fails at the handshake
                // with "unknown issuer", plain HTTP still works.
                Err(_) => HttpsConnectorBuilder::new().with_tls_config(
                    rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .expect("aws-lc-rs supports the default protocol versions")
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                ),
            };
        let https = builder.https_or_http().enable_http1().wrap_connector(http);
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .build(https);
        Client { inner }
    }

    /// Sends `request` and reads the whole response within `limits`.
    pub async fn send(&self, request: Request, limits: Limits) -> Result<Response, Error> {
        let url = redact(&request.url);
        let uri: Uri = request.url.parse().map_err(|e| Error::Invalid {
            url: url.clone(),
            reason: format!("not a URL: {e}"),
        })?;
        let authority = match (uri.scheme_str(), uri.host()) {
            (Some(scheme @ ("http" | "https")), Some(host)) => {
                let port = uri
                    .port_u16()
                    .unwrap_or(if scheme == "https" { 443 } else { 80 });
                format!("{host}:{port}")
            }
            _ => {
                return Err(Error::Invalid {
                    url,
                    reason: "only absolute http:// and https:// URLs can be requested".into(),
                });
            }
        };
        let invalid = |reason: String| Error::Invalid {
            url: url.clone(),
            reason,
        };
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| invalid(format!("bad method '{}'", request.method)))?;
        let mut req = http::Request::new(Full::new(Bytes::from(request.body.unwrap_or_default())));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        for (name, value) in request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("bad header name '{name}'")))?;
            if [HOST, CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&name) {
                continue;
            }
            // The value is not shown: it may be a credential.
            let value = HeaderValue::from_str(&value)
                .map_err(|_| invalid(format!("bad value for header '{name}'")))?;
            req.headers_mut().append(name, value);
        }
        tokio::time::timeout(
            limits.timeout,
            self.exchange(req, &url, &authority, limits.max_bytes),
        )
        .await
        .unwrap_or(Err(Error::Timeout {
            url,
            after: limits.timeout,
        }))
    }

    async fn exchange(
        &self,
        req: http::Request<Full<Bytes>>,
        url: &str,
        authority: &str,
        max_bytes: u64,
    ) -> Result<Response, Error> {
        let response = self.inner.request(req).await.map_err(|e| {
            if e.is_connect() {
                Error::Connect {
                    authority: authority.to_string(),
                    cause: causes(&e),
                }
            } else {
                Error::Transport {
                    url: url.to_string(),
                    cause: causes(&e),
                }
            }
        })?;
        let too_large = || Error::TooLarge {
            url: url.to_string(),
            limit: max_bytes,
        };
        let (parts, mut body) = response.into_parts();
        let announced = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        let mut data = Vec::with_capacity(announced.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::Transport {
                url: url.to_string(),
                cause: causes(&e),
            })?;
            if let Ok(chunk) = frame.into_data() {
                if (data.len() + chunk.len()) as u64 > max_bytes {
                    return Err(too_large());
                }
                data.extend_from_slice(&chunk);
            }
        }
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: data,
        })
    }
}

/// `url` without user info or query (presigned URLs carry signatures there).
pub fn redact(url: &str) -> String {
    let Ok(uri) = url.parse::<Uri>() else {
        return url.split(['?', '#']).next().unwrap_or_default().to_string();
    };
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return uri.path().to_string();
    };
    let port = uri.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{}", uri.path())
}

/// The error and its sources, without repeats ("tcp connect error: Connection
/// refused (os error 111)").
fn causes(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests;
