//! What an apply did, object by object, for the CLI and for conditions.

use std::fmt;

use serde::Serialize;
use sluice_types::ResourceRef;

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "action", content = "reason")]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    Pruned,
    /// Left alone, and why (prune disabled, owned by another set).
    Skipped(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Created => f.write_str("created"),
            Action::Configured => f.write_str("configured"),
            Action::Unchanged => f.write_str("unchanged"),
            Action::Pruned => f.write_str("pruned"),
            Action::Skipped(why) => write!(f, "skipped ({why})"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    pub object: ResourceRef,
    #[serde(flatten)]
    pub action: Action,
    /// Fields another manager had changed, put back by this apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<String>,
}

/// How many objects got each action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: usize,
    pub configured: usize,
    pub unchanged: usize,
    pub pruned: usize,
    pub skipped: usize,
}

/// Every object of one apply, in the order they were handled.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    /// The ApplySet id members are labelled with.
    pub applyset: String,
    pub objects: Vec<ObjectResult>,
}

impl ApplyReport {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for result in &self.objects {
            let slot = match result.action {
                Action::Created => &mut counts.created,
                Action::Configured => &mut counts.configured,
                Action::Unchanged => &mut counts.unchanged,
                Action::Pruned => &mut counts.pruned,
                Action::Skipped(_) => &mut counts.skipped,
            };
            *slot += 1;
        }
        counts
    }

    /// The objects now in the cluster as the set wants them (created,
    /// configured or unchanged): what to [`wait`](crate::Applier::wait) for.
    pub fn applied(&self) -> Vec<ResourceRef> {
        self.objects
            .iter()
            .filter(|r| {
                matches!(
                    r.action,
                    Action::Created | Action::Configured | Action::Unchanged
                )
            })
            .map(|r| r.object.clone())
            .collect()
    }

    /// The action taken on `object` (`Kind/namespace/name`), if it was handled.
    pub fn action(&self, object: &str) -> Option<&Action> {
        self.objects
            .iter()
            .find(|r| r.object.to_string() == object)
            .map(|r| &r.action)
    }
}

impl fmt::Display for ApplyReport {
    /// `kubectl apply`-style lines, then the counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.objects {
            write!(f, "{} {}", result.object, result.action)?;
            if !result.drifted.is_empty() {
                write!(f, " (drift corrected: {})", result.drifted.join(", "))?;
            }
            writeln!(f)?;
        }
        let c = self.counts();
        write!(
            f,
            "{} created, {} configured, {} unchanged, {} pruned, {} skipped",
            c.created, c.configured, c.unchanged, c.pruned, c.skipped
        )
    }
}
