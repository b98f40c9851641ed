//! Failures of the apply engine. Each message names the object
//! (`Kind/namespace/name`), the field when the server said which, and what
//! to do, because these end up in a terminal or a condition message.

use std::time::Duration;

use kube::core::Status;

/// Why an apply, a diff or a wait failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{object}: {message}; fix the manifest")]
    InvalidManifest { object: String, message: String },

    #[error(
        "{object}: apiVersion {api_version} kind {kind} is not served by the cluster; install its CustomResourceDefinition or fix apiVersion/kind"
    )]
    NotServed {
        object: String,
        api_version: String,
        kind: String,
    },

    #[error("{object}: rejected by the API server: {message}; fix the manifest")]
    Rejected {
        object: String,
        /// The first field the server named, for callers that locate it.
        field: Option<String>,
        message: String,
    },

    #[error(
        "{object}: conflict with another field manager: {message}; take the fields over with force or remove them from the manifest"
    )]
    Conflict { object: String, message: String },

    #[error("server-side dry-run failed{}, no object of the set was changed by it:\n{}", partial_note(*.after_definitions), list(.failures))]
    DryRun {
        failures: Vec<Error>,
        /// The CRDs and Namespaces of the set were already applied (their
        /// dependents can only be dry-run once those exist).
        after_definitions: bool,
    },

    #[error(
        "CustomResourceDefinition/{name} is not Established after {timeout:?}: {reason}; check the CRD's conditions"
    )]
    NotEstablished {
        name: String,
        timeout: Duration,
        reason: String,
    },

    #[error("timed out after {timeout:?} waiting for {} object(s) to become ready:\n{}", .pending.len(), list(.pending))]
    WaitTimeout {
        timeout: Duration,
        pending: Vec<String>,
    },

    #[error("{object} failed: {message}")]
    Failed { object: String, message: String },

    #[error("ApplySet parent {parent}: {message}")]
    Inventory { parent: String, message: String },

    #[error("{object}: {action} failed (transient errors were retried): {source}")]
    Api {
        object: String,
        action: &'static str,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// A CamelCase reason for a `Ready` condition, as Flux's controllers set.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidManifest { .. } => "InvalidManifest",
            Error::NotServed { .. } => "KindNotServed",
            Error::Rejected { .. } => "Invalid",
            Error::Conflict { .. } => "FieldConflict",
            Error::DryRun { .. } => "DryRunFailed",
            Error::NotEstablished { .. } => "CRDNotEstablished",
            Error::WaitTimeout { .. } => "HealthCheckFailed",
            Error::Failed { .. } => "ObjectFailed",
            Error::Inventory { .. } => "InventoryFailed",
            Error::Api { .. } => "APIError",
        }
    }

    /// Turns a failed call about `object` into the variant that says what
    /// to do: 422 names the field from `details.causes`, 409 is a conflict.
    pub(crate) fn from_kube(
        object: &impl ToString,
        action: &'static str,
        source: kube::Error,
    ) -> Self {
        let object = object.to_string();
        match source {
            kube::Error::Api(status) if status.code == 422 => Error::Rejected {
                object,
                field: first_field(&status),
                message: cause_messages(&status),
            },
            kube::Error::Api(status) if status.code == 409 && action == "apply" => {
                Error::Conflict {
                    object,
                    message: status.message,
                }
            }
            source => Error::Api {
                object,
                action,
                source,
            },
        }
    }
}

fn first_field(status: &Status) -> Option<String> {
    let causes = &status.details.as_ref()?.causes;
    causes
        .iter()
        .map(|c| c.field.clone())
        .find(|f| !f.is_empty())
}

/// The causes' messages (with their fields), or the status message when
/// the server gave no causes.
fn cause_messages(status: &Status) -> String {
    let causes: Vec<String> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect();
    if causes.is_empty() {
        status.message.clone()
    } else {
        causes.join("; ")
    }
}

fn partial_note(after_definitions: bool) -> &'static str {
    if after_definitions {
        " after the set's CustomResourceDefinitions and Namespaces were applied"
    } else {
        ""
    }
}

fn list(items: &[impl ToString]) -> String {
    items
        .iter()
        .map(|i| format!("  {}", i.to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}
