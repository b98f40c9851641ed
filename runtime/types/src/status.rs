//! What the controller reports on objects in a cluster, in the kstatus
//! shape tools already read (`kubectl wait --for=condition=Ready`, Flux's
//! CLI, kstatus): a `Ready` condition (True, False or Unknown), plus
//! `Reconciling` while work is under way and `Stalled` when retrying cannot
//! help, each with a CamelCase reason and a message.

use crate::{FailureAction, Verdict};
use serde::{Deserialize, Serialize};

/// Condition types.
pub mod condition {
    pub const READY: &str = "Ready";
    pub const RECONCILING: &str = "Reconciling";
    pub const STALLED: &str = "Stalled";
}

/// Condition reasons, one per outcome; also the label of metrics later.
pub mod reason {
    pub const SUCCEEDED: &str = "ReconciliationSucceeded";
    pub const FAILED: &str = "ReconciliationFailed";
    pub const PROGRESSING: &str = "Progressing";
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    pub const SOURCE_NOT_READY: &str = "SourceNotReady";
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    pub const BUILD_FAILED: &str = "BuildFailed";
    pub const POLICY_DENIED: &str = "PolicyDenied";
    pub const APPLY_FAILED: &str = "ApplyFailed";
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// A spec no retry can fix (a bad reference, a config the plugin
    /// rejects); also sets `Stalled=True`.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A reference the controller's flags forbid (another namespace under
    /// `--no-cross-namespace-refs`), as Flux's `AccessDenied`; stalls.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// A progressive rollout's candidate failed its analysis (or was
    /// aborted); the stable revision serves all traffic again.
    pub const ROLLED_BACK: &str = "RolledBack";
}

/// Longest condition message kept, as Flux's `MaxConditionMessageLength`;
/// longer ones are cut with a note.
pub const MAX_MESSAGE: usize = 20_000;

/// A status condition, as `metav1.Condition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    #[serde(default)]
    pub message: String,
    /// RFC 3339; changes only when `status` does.
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// Sets `new` in `conditions` (replacing the one of its type), keeping the
/// old transition time when the status did not change.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
    new.message = bounded(&new.message);
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time.clone();
            }
            *old = new;
        }
        None => conditions.push(new),
    }
}

/// Drops the condition of `type_`, if any.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The condition of `type_`, if set.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn bounded(message: &str) -> String {
    if message.len() <= MAX_MESSAGE {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut)", &message[..end])
}

/// What the controller last did with a Release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReleaseStatus {
    /// The `metadata.generation` the conditions speak about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The source revision of the last attempt, applied or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The source revision now running in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// The `sluice.dev/requestedAt` annotation value last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The objects the last applied revision made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// The verdict of every policy on the last attempted revision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyStatus>,
    /// The progressive rollout in progress or last ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutStatus>,
}

/// The objects a release applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// The kubectl ApplySet that records them in the cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub applyset: String,
    #[serde(default)]
    pub entries: Vec<InventoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryEntry {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

/// One policy's verdict on a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatus {
    pub policy: String,
    pub plugin: String,
    pub verdict: Verdict,
    pub failure_action: FailureAction,
    /// The first findings (at most [`MAX_FINDINGS`]), one per line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Findings kept per policy in status; the rest are counted.
pub const MAX_FINDINGS: usize = 5;

/// What the controller last fetched from a Source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// The last artifact fetched from a Source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ArtifactStatus {
    pub url: String,
    pub revision: String,
    /// RFC 3339.
    pub last_update_time: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(status: &str, at: &str) -> Condition {
        Condition {
            type_: condition::READY.into(),
            status: status.into(),
            reason: reason::SUCCEEDED.into(),
            message: "m".into(),
            last_transition_time: at.into(),
            observed_generation: Some(1),
        }
    }

    #[test]
    fn transition_time_moves_only_with_status() {
        let mut conditions = vec![ready("True", "t1")];
        set_condition(&mut conditions, ready("True", "t2"));
        assert_eq!(conditions[0].last_transition_time, "t1");
        set_condition(&mut conditions, ready("False", "t3"));
        assert_eq!(conditions[0].last_transition_time, "t3");
        assert_eq!(conditions.len(), 1);
    }

    #[test]
    fn long_messages_are_cut() {
        let mut conditions = Vec::new();
        let mut c = ready("False", "t");
        c.message = "é".repeat(MAX_MESSAGE);
        set_condition(&mut conditions, c);
        assert!(conditions[0].message.len() <= MAX_MESSAGE + 10);
        assert!(conditions[0].message.ends_with("(cut)"));
    }
}
