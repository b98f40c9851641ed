//! Why a Git operation failed. Every message names the remote (without its
//! credentials) and says what to do.

/// A failed Git operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such ref, commit or repository.
    #[error("{0}")]
    NotFound(String),
    /// Credentials missing or rejected.
    #[error("{0}")]
    Auth(String),
    /// The host did not answer.
    #[error("{0}")]
    Unreachable(String),
    /// The ref no longer points at the commit the caller asked for.
    #[error("{0}")]
    Moved(String),
    /// Over the byte or time limit.
    #[error("{0}")]
    LimitExceeded(String),
    /// The tree holds a path that must not be written: a symbolic link out
    /// of the destination, `..`, or `.git`.
    #[error("{0}")]
    UnsafePath(String),
    /// Anything else the transport or the local disk reported.
    #[error("{0}")]
    Failed(String),
}
