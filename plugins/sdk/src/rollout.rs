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
