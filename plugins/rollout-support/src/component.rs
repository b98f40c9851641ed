//! The `rollout` world's bindings and the one `Guest` implementation every
//! strategy shares: WIT types in, [`Strategy::step`] over plain types, WIT
//! types out. A strategy crate exports itself with
//!
//! ```ignore
//! type Plugin = sluice_rollout_support::component::Component<Canary>;
//! sluice_rollout_support::component::export!(Plugin);
//! ```

use crate as plain;
use crate::{ConfigError, Decision, Level, Phase, State, Step, Strategy};
use std::marker::PhantomData;
use std::time::Duration;

wit_bindgen::generate!({
    path: "../../wit",
    world: "rollout",
    pub_export_macro: true,
    default_bindings_module: "sluice_rollout_support::component",
});

use sluice::plugin::types::{PluginKind, Severity};

/// The component of strategy `S`.
pub struct Component<S>(PhantomData<S>);

impl<S: Strategy> Guest for Component<S> {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: S::NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Rollout,
            description: S::DESCRIPTION.into(),
        }
    }

    fn config_schema() -> String {
        S::schema()
    }

    fn step(state: RolloutState) -> Result<StepResult, Vec<Diagnostic>> {
        let plain = state_of(&state);
        match S::step(&state.config, &plain) {
            Ok(step) => Ok(result(step)),
            Err(ConfigError { field, message }) => Err(vec![Diagnostic {
                severity: Severity::Error,
                message: format!("invalid config: {message}"),
                resource: None,
                field_path: field,
                location: None,
                code: Some("invalid-config".into()),
            }]),
        }
    }
}

fn state_of(s: &RolloutState) -> State {
    State {
        phase: match s.phase {
            RolloutPhase::Initializing => Phase::Initializing,
            RolloutPhase::Progressing => Phase::Progressing,
            RolloutPhase::WaitingPromotion => Phase::WaitingPromotion,
            RolloutPhase::Promoting => Phase::Promoting,
        },
        step: s.step,
        canary_weight: s.canary_weight,
        stable_revision: s.stable_revision.clone(),
        candidate_revision: s.candidate_revision.clone(),
        candidate_ready: s.candidate_ready,
        step_elapsed: Duration::from_millis(s.step_elapsed_ms),
        total_elapsed: Duration::from_millis(s.total_elapsed_ms),
        analyses: s.analyses,
        failed_analyses: s.failed_analyses,
        step_passed: s.step_passed,
        since_analysis: s.since_analysis_ms.map(Duration::from_millis),
        last_analysis: s.last_analysis.iter().map(check).collect(),
        gates: s.gates.iter().map(check).collect(),
    }
}

fn check(c: &CheckResult) -> plain::Check {
    plain::Check {
        name: c.name.clone(),
        kind: match c.kind {
            CheckKind::Metric => plain::CheckKind::Metric,
            CheckKind::Webhook => plain::CheckKind::Webhook,
            CheckKind::Policy => plain::CheckKind::Policy,
            CheckKind::Approval => plain::CheckKind::Approval,
        },
        passed: c.passed,
        query: c.query.clone(),
        value: c.value,
        threshold: c.threshold.clone(),
        message: c.message.clone(),
    }
}

fn result(step: Step) -> StepResult {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    StepResult {
        decision: match step.decision {
            Decision::SetWeight(w) => RolloutDecision::SetWeight(w),
            Decision::Analyse => RolloutDecision::Analyse,
            Decision::Wait(d) => RolloutDecision::Wait(millis(d)),
            Decision::Promote => RolloutDecision::Promote,
            Decision::Rollback(reason) => RolloutDecision::Rollback(reason),
            Decision::Done => RolloutDecision::Done,
        },
        diagnostics: step
            .notes
            .into_iter()
            .map(|n| Diagnostic {
                severity: match n.level {
                    Level::Info => Severity::Info,
                    Level::Warning => Severity::Warning,
                },
                message: n.message,
                resource: None,
                field_path: None,
                location: None,
                code: None,
            })
            .collect(),
    }
}
