//! Between the generated WIT types and Sluice's own types.

use crate::bindings::rollout;
use crate::bindings::types as wit;
use sluice_types::rollout::{CheckKind, CheckResult, Decision, RolloutPhase, StepInput};
use sluice_types::{
    Diagnostic, Manifest, PluginKind, PluginMetadata, ResourceRef, Severity, SourceLocation,
    Verdict,
};

pub fn kind(k: wit::PluginKind) -> PluginKind {
    match k {
        wit::PluginKind::Source => PluginKind::Source,
        wit::PluginKind::Renderer => PluginKind::Renderer,
        wit::PluginKind::Policy => PluginKind::Policy,
        wit::PluginKind::Rollout => PluginKind::Rollout,
    }
}

pub fn metadata(m: wit::PluginMetadata) -> PluginMetadata {
    PluginMetadata {
        name: m.name,
        version: m.version,
        kind: kind(m.kind),
        description: m.description,
    }
}

pub fn verdict(v: wit::Verdict) -> Verdict {
    match v {
        wit::Verdict::Allow => Verdict::Allow,
        wit::Verdict::Warn => Verdict::Warn,
        wit::Verdict::Deny => Verdict::Deny,
    }
}

fn location(l: wit::SourceLocation) -> SourceLocation {
    SourceLocation {
        file: l.file,
        line: l.line,
        column: l.column,
    }
}

fn location_to_wit(l: &SourceLocation) -> wit::SourceLocation {
    wit::SourceLocation {
        file: l.file.clone(),
        line: l.line,
        column: l.column,
    }
}

pub fn diagnostic(d: wit::Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: match d.severity {
            wit::Severity::Error => Severity::Error,
            wit::Severity::Warning => Severity::Warning,
            wit::Severity::Info => Severity::Info,
        },
        message: d.message,
        resource: d.resource.map(|r| ResourceRef {
            api_version: r.api_version,
            kind: r.kind,
            namespace: r.namespace,
            name: r.name,
        }),
        field_path: d.field_path,
        location: d.location.map(location),
        code: d.code,
    }
}

pub fn diagnostics(ds: Vec<wit::Diagnostic>) -> Vec<Diagnostic> {
    ds.into_iter().map(diagnostic).collect()
}

pub fn manifest_to_wit(m: &Manifest) -> wit::Manifest {
    wit::Manifest {
        json: m.object.to_string(),
        origin: m.origin.as_ref().map(location_to_wit),
    }
}

/// Parses a manifest a plugin returned; `Err` names which one is not JSON.
pub fn manifest(m: wit::Manifest, index: usize) -> Result<Manifest, String> {
    let object: serde_json::Value = serde_json::from_str(&m.json)
        .map_err(|e| format!("manifest {index} is not valid JSON: {e}"))?;
    if !object.is_object() {
        return Err(format!("manifest {index} is not a JSON object"));
    }
    Ok(Manifest {
        object,
        origin: m.origin.map(location),
    })
}

/// Bytes of text in diagnostics, for the output cap.
pub fn diagnostics_size(ds: &[wit::Diagnostic]) -> u64 {
    ds.iter()
        .map(|d| {
            d.message.len()
                + d.field_path.as_ref().map_or(0, String::len)
                + d.location.as_ref().map_or(0, |l| l.file.len())
                + d.resource.as_ref().map_or(0, |r| {
                    r.name.len() + r.kind.len() + r.namespace.len() + r.api_version.len()
                })
        })
        .sum::<usize>() as u64
}

pub fn manifests_size(ms: &[wit::Manifest]) -> u64 {
    ms.iter().map(|m| m.json.len() as u64).sum()
}

/// The state a rollout strategy is given; `None` for a finished rollout,
/// which the `rollout` world has no phase for.
pub fn rollout_state(input: &StepInput) -> Option<rollout::RolloutState> {
    let phase = match input.phase {
        RolloutPhase::Initializing => rollout::RolloutPhase::Initializing,
        RolloutPhase::Progressing => rollout::RolloutPhase::Progressing,
        RolloutPhase::WaitingPromotion => rollout::RolloutPhase::WaitingPromotion,
        RolloutPhase::Promoting => rollout::RolloutPhase::Promoting,
        RolloutPhase::Succeeded | RolloutPhase::RolledBack => return None,
    };
    let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Some(rollout::RolloutState {
        config: input.config.to_string(),
        phase,
        step: input.step,
        canary_weight: input.canary_weight,
        stable_revision: input.stable_revision.clone(),
        candidate_revision: input.candidate_revision.clone(),
        candidate_ready: input.candidate_ready,
        step_elapsed_ms: millis(input.step_elapsed),
        total_elapsed_ms: millis(input.total_elapsed),
        analyses: input.analyses,
        failed_analyses: input.failed_analyses,
        step_passed: input.step_passed,
        since_analysis_ms: input.since_analysis.map(millis),
        last_analysis: input.last_analysis.iter().map(check_to_wit).collect(),
        gates: input.gates.iter().map(check_to_wit).collect(),
    })
}

fn check_to_wit(c: &CheckResult) -> rollout::CheckResult {
    rollout::CheckResult {
        name: c.name.clone(),
        kind: match c.kind {
            CheckKind::Metric => rollout::CheckKind::Metric,
            CheckKind::Webhook => rollout::CheckKind::Webhook,
            CheckKind::Policy => rollout::CheckKind::Policy,
            CheckKind::Approval => rollout::CheckKind::Approval,
        },
        passed: c.passed,
        query: c.query.clone(),
        value: c.value,
        threshold: c.threshold.clone(),
        message: c.message.clone(),
    }
}

/// The strategy's decision; `Err` says what is wrong with it.
pub fn decision(d: rollout::RolloutDecision) -> Result<Decision, String> {
    Ok(match d {
        rollout::RolloutDecision::SetWeight(w) if w > 100 => {
            return Err(format!("set-weight({w}) is over 100"));
        }
        rollout::RolloutDecision::SetWeight(w) => Decision::SetWeight(w),
        rollout::RolloutDecision::Analyse => Decision::Analyse,
        rollout::RolloutDecision::Wait(ms) => Decision::Wait(std::time::Duration::from_millis(ms)),
        rollout::RolloutDecision::Promote => Decision::Promote,
        rollout::RolloutDecision::Rollback(reason) => Decision::Rollback(reason),
        rollout::RolloutDecision::Done => Decision::Done,
    })
}

/// Bytes of text in a step result, for the output cap.
pub fn step_result_size(r: &rollout::StepResult) -> u64 {
    let reason = match &r.decision {
        rollout::RolloutDecision::Rollback(reason) => reason.len() as u64,
        _ => 0,
    };
    reason + diagnostics_size(&r.diagnostics)
}
