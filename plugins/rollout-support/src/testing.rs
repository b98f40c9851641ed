//! The host's side of the loop, as the rollout design describes it, so a
//! strategy's tests can walk a whole rollout: each decision is applied to
//! the state the way the host does, time passes only by `Wait`, and the
//! candidate (then the primary) is ready throughout.

use crate::{Check, CheckKind, Decision, Phase, State, Step};
use std::time::Duration;

/// One analysis' result, as the host would record it.
pub fn analysis(passed: bool) -> Vec<Check> {
    vec![Check {
        name: "error-rate".into(),
        kind: CheckKind::Metric,
        passed,
        query: "sum(rate(errors[1m]))".into(),
        value: Some(if passed { 0.001 } else { 0.2 }),
        threshold: "<= 0.01".into(),
        message: String::new(),
    }]
}

/// A rollout that has just started: candidate deployed and ready.
pub fn started() -> State {
    State {
        phase: Phase::Initializing,
        stable_revision: "main@sha1:aaa".into(),
        candidate_revision: "main@sha1:bbb".into(),
        candidate_ready: true,
        ..State::default()
    }
}

/// Runs `decide` from `state` until it rolls back or is done (at most
/// `limit` decisions), answering the `n`th analysis with `passes(n)`.
/// Returns every decision taken and the final state.
pub fn walk(
    decide: impl Fn(&State) -> Step,
    mut state: State,
    mut passes: impl FnMut(u32) -> bool,
    limit: usize,
) -> (Vec<Decision>, State) {
    let mut taken = Vec::new();
    for _ in 0..limit {
        let decision = decide(&state).decision;
        taken.push(decision.clone());
        match decision {
            Decision::SetWeight(w) => {
                state.step += 1;
                state.canary_weight = w;
                state.phase = Phase::Progressing;
                state.step_elapsed = Duration::ZERO;
                state.step_passed = 0;
                state.since_analysis = None;
                state.last_analysis.clear();
            }
            Decision::Analyse => {
                let passed = passes(state.analyses);
                state.analyses += 1;
                if passed {
                    state.step_passed += 1;
                } else {
                    state.failed_analyses += 1;
                }
                state.last_analysis = analysis(passed);
                state.since_analysis = Some(Duration::ZERO);
            }
            Decision::Wait(d) => {
                state.step_elapsed += d;
                state.total_elapsed += d;
                state.since_analysis = state.since_analysis.map(|s| s + d);
            }
            Decision::Promote => state.phase = Phase::Promoting,
            Decision::Rollback(_) | Decision::Done => break,
        }
    }
    (taken, state)
}
