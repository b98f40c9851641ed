//! The `rollout` world: decide, from the whole state the host keeps, the
//! one next step of a progressive rollout. No files, network or clock.
//!
//! Imports: `log` only.

wit_bindgen::generate!({
    path: "../../wit",
    world: "rollout",
    with: {
        "sluice:plugin/types@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::types,
        "sluice:plugin/log@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::log,
    },
    additional_derives: [PartialEq],
    runtime_path: "::sluice_plugin_sdk::__wit_bindgen::rt",
    pub_export_macro: true,
    export_macro_name: "__export_rollout_world",
    default_bindings_module: "::sluice_plugin_sdk::rollout",
});

use crate::Metadata;

/// A rollout strategy; export it with [`export_rollout!`](crate::export_rollout).
pub trait Rollout {
    fn metadata() -> Metadata;
    /// JSON Schema (draft 2020-12) for `spec.rollout.strategy.config`.
    fn config_schema() -> &'static str;
    fn step(state: RolloutState) -> Result<StepResult, Failure>;
}

impl StepResult {
    /// `decision`, explained by one info diagnostic (shown in status and
    /// events).
    pub fn because(decision: RolloutDecision, why: impl Into<String>) -> StepResult {
        StepResult {
            decision,
            diagnostics: vec![Diagnostic::info(why)],
        }
    }
}

impl RolloutState {
    /// The checks of the latest analysis that failed.
    pub fn failed_checks(&self) -> impl Iterator<Item = &CheckResult> {
        self.last_analysis.iter().filter(|c| !c.passed)
    }

    /// The promotion gates that did not pass.
    pub fn closed_gates(&self) -> impl Iterator<Item = &CheckResult> {
        self.gates.iter().filter(|c| !c.passed)
    }
}

/// Exports a type implementing [`Rollout`] as the component's `rollout`
/// world.
#[macro_export]
macro_rules! export_rollout {
    ($plugin:ty) => {
        const _: () = {
            struct SluiceRolloutExport;

            impl $crate::rollout::Guest for SluiceRolloutExport {
                fn metadata() -> $crate::PluginMetadata {
                    <$plugin as $crate::rollout::Rollout>::metadata()
                        .into_wit($crate::PluginKind::Rollout)
                }
                fn config_schema() -> ::std::string::String {
                    <$plugin as $crate::rollout::Rollout>::config_schema().into()
                }
                fn step(
                    state: $crate::rollout::RolloutState,
                ) -> ::std::result::Result<$crate::rollout::StepResult, $crate::Failure> {
                    <$plugin as $crate::rollout::Rollout>::step(state)
                }
            }

            $crate::rollout::__export_rollout_world!(SluiceRolloutExport);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, passed: bool) -> CheckResult {
        CheckResult {
            name: name.into(),
            kind: CheckKind::Metric,
            passed,
            query: "rate(errors[1m])".into(),
            value: Some(0.5),
            threshold: "<= 0.01".into(),
            message: String::new(),
        }
    }

    #[test]
    fn failed_checks_and_closed_gates() {
        let state = RolloutState {
            config: "{}".into(),
            phase: RolloutPhase::Progressing,
            step: 1,
            canary_weight: 10,
            stable_revision: "v1".into(),
            candidate_revision: "v2".into(),
            candidate_ready: true,
            step_elapsed_ms: 0,
            total_elapsed_ms: 0,
            analyses: 1,
            failed_analyses: 1,
            step_passed: 0,
            since_analysis_ms: Some(0),
            last_analysis: vec![check("errors", false), check("latency", true)],
            gates: vec![check("policies", true), check("approval", false)],
        };
        let failed: Vec<&str> = state.failed_checks().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, ["errors"]);
        let closed: Vec<&str> = state.closed_gates().map(|c| c.name.as_str()).collect();
        assert_eq!(closed, ["approval"]);

        let step = StepResult::because(RolloutDecision::Analyse, "analysis 1 of 3");
        assert_eq!(step.decision, RolloutDecision::Analyse);
        assert_eq!(step.diagnostics[0].severity, crate::Severity::Info);
    }
}
