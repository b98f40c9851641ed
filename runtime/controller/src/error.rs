//! Controller errors: what stops a reconcile before its outcome could be
//! recorded (the outcome itself goes to the object's status).

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing an object's status failed; the reconcile is retried.
    #[error("cannot write the status of {kind} '{namespace}/{name}'")]
    WriteStatus {
        kind: String,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },

    #[error("cannot serve the health probes on {address}")]
    Probes {
        address: String,
        #[source]
        source: std::io::Error,
    },

    /// Adding or removing the finalizer failed (often a concurrent
    /// change); the reconcile is retried.
    #[error("cannot {what} the finalizer of Release '{namespace}/{name}'")]
    Finalizer {
        what: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },

    /// Deleting a deleted Release's objects failed; the finalizer stays
    /// and the deletion is retried.
    #[error("cannot delete the objects of deleted Release '{namespace}/{name}': {message}")]
    Prune {
        namespace: String,
        name: String,
        message: String,
    },

    /// Another instance leads now, or the Lease could not be renewed in
    /// time; reconciles were cancelled so two leaders never act at once.
    #[error("lost the leader lease {lease} ({why}); restart to stand by for it again")]
    LeaderLost { lease: String, why: String },
}

impl Error {
    /// A fixed label per variant, for logs and (later) metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "StatusWriteFailed",
            Error::Probes { .. } => "ProbesFailed",
            Error::LeaderLost { .. } => "LeaderLost",
            Error::Finalizer { .. } => "FinalizerFailed",
            Error::Prune { .. } => "PruneFailed",
        }
    }
}
