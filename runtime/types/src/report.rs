//! What a pipeline run found, for people (`sluice check`) and machines
//! (`--output json`).

use crate::{Diagnostic, FailureAction, Manifest, Verdict};
use serde::Serialize;

/// One policy's outcome for one release.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyOutcome {
    pub policy: String,
    pub plugin: String,
    pub failure_action: FailureAction,
    pub verdict: Verdict,
    pub diagnostics: Vec<Diagnostic>,
}

impl PolicyOutcome {
    /// A deny under `Enforce` stops the release; under `Audit` it is reported only.
    pub fn blocks(&self) -> bool {
        self.verdict == Verdict::Deny && self.failure_action == FailureAction::Enforce
    }
}

/// Everything one release run produced.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseReport {
    pub release: String,
    pub namespace: String,
    pub source_url: String,
    pub revision: String,
    /// Manifests after rendering and after every mutating policy.
    #[serde(skip)]
    pub manifests: Vec<Manifest>,
    /// Findings of the source and renderer (warnings, skipped files).
    pub diagnostics: Vec<Diagnostic>,
    pub policies: Vec<PolicyOutcome>,
}

impl ReleaseReport {
    pub fn blocked(&self) -> bool {
        self.policies.iter().any(PolicyOutcome::blocks)
    }
}
