//! What can go wrong talking to a registry or unpacking a layer, sorted by
//! what the user has to do about it.

use oci_client::errors::{OciDistributionError, OciErrorCode};
use std::path::PathBuf;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid reference '{reference}': {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error(
        "cannot reach the registry at {url}: {reason}; check the host and port, and set spec.insecure for a plain-HTTP registry"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "the registry refused the credentials for {url} (401/403); check the secret's .dockerconfigjson entry for this registry"
    )]
    Unauthorized { url: String },
    #[error("{what} was not found: {detail}")]
    NotFound { what: String, detail: String },
    #[error(
        "digest mismatch for {what}: expected {expected}, got {actual}; the registry served corrupted or altered content"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what} exceeds the size limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("{what} took longer than {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("refused archive entry '{entry}': {reason}")]
    UnsafeEntry { entry: String, reason: String },
    #[error("corrupt layer archive: {0}")]
    Archive(String),
    #[error("registry error from {url}: {message}")]
    Registry { url: String, message: String },
    #[error("invalid registry credentials: {0}")]
    Credentials(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// Sorts an `oci-client` error. `url` is what was asked for, `what`
    /// names it for a person (`manifest of reg/app:v1`).
    pub(crate) fn from_client(e: OciDistributionError, url: &str, what: &str) -> Error {
        use OciDistributionError as E;
        match e {
            E::RequestError(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                Error::Unreachable {
                    url: url.to_string(),
                    reason: root_cause(&e),
                }
            }
            E::UnauthorizedError { url } => Error::Unauthorized { url },
            E::AuthenticationFailure(_) => Error::Unauthorized {
                url: url.to_string(),
            },
            E::RegistryError { envelope, url } => {
                let codes: Vec<_> = envelope.errors.iter().map(|e| &e.code).collect();
                let detail = envelope
                    .errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                if codes.iter().any(|c| {
                    matches!(
                        c,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                    )
                }) {
                    Error::NotFound {
                        what: what.to_string(),
                        detail,
                    }
                } else if codes
                    .iter()
                    .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
                {
                    Error::Unauthorized { url }
                } else {
                    Error::Registry {
                        url,
                        message: detail,
                    }
                }
            }
            E::ServerError { code, url, message } => match code {
                401 | 403 => Error::Unauthorized { url },
                404 => Error::NotFound {
                    what: what.to_string(),
                    detail: format!("{url} answered 404"),
                },
                _ => Error::Registry {
                    url,
                    message: format!("HTTP {code}: {}", message.trim()),
                },
            },
            E::DigestError(oci_client::errors::DigestError::VerificationError {
                expected,
                actual,
            }) => Error::DigestMismatch {
                what: what.to_string(),
                expected,
                actual,
            },
            other => Error::Registry {
                url: url.to_string(),
                message: other.to_string(),
            },
        }
    }
}

/// The innermost message of an error chain: "Connection refused" rather
/// than reqwest's "error sending request".
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
