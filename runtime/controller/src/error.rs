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
}

impl Error {
    /// A fixed label per variant, for logs and (later) metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "StatusWriteFailed",
            Error::Probes { .. } => "ProbesFailed",
        }
    }
}
