//! {{name}}: {{description}}
//!
//! A starting point: analyses the candidate `iterations` times, `interval`
//! apart, before it gets any traffic, then promotes it once the promotion
//! gates pass; rolls back after `threshold` failed analyses. The host moves
//! traffic, runs the analyses, evaluates the gates and keeps the state; the
//! plugin only decides the next step from the state it is given, so
//! `decide` is a plain function tested natively below (`cargo test`).

use serde::Deserialize;
use sluice_plugin_sdk::rollout::{
    Rollout, RolloutDecision, RolloutPhase, RolloutState, StepResult,
};
use sluice_plugin_sdk::{Failure, Metadata, parse_config};

/// Who the plugin is (`sluice plugin inspect`); the same name as in
/// `sluice-plugin.yaml`.
const NAME: &str = "{{name}}";
const DESCRIPTION: &str = "{{description}}";

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "iterations": {"description": "Analyses that must pass before promotion (default 3)", "type": "integer", "minimum": 1},
    "intervalSeconds": {"description": "Seconds between analyses (default 60)", "type": "integer", "minimum": 1},
    "threshold": {"description": "Failed analyses that roll back (default 2)", "type": "integer", "minimum": 1}
  }
}"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default = "default_iterations")]
    iterations: u32,
    #[serde(default = "default_interval")]
    interval_seconds: u64,
    #[serde(default = "default_threshold")]
    threshold: u32,
}

fn default_iterations() -> u32 {
    3
}

fn default_interval() -> u64 {
    60
}

fn default_threshold() -> u32 {
    2
}

struct Plugin;

impl Rollout for Plugin {
    fn metadata() -> Metadata {
        Metadata::new(NAME, env!("CARGO_PKG_VERSION"), DESCRIPTION)
    }

    fn config_schema() -> &'static str {
        SCHEMA
    }

    fn step(state: RolloutState) -> Result<StepResult, Failure> {
        let config: Config = parse_config(&state.config)?;
        Ok(decide(&config, &state))
    }
}

sluice_plugin_sdk::export_rollout!(Plugin);

fn decide(config: &Config, state: &RolloutState) -> StepResult {
    use RolloutDecision::*;
    let interval_ms = config.interval_seconds * 1000;
    if state.failed_analyses >= config.threshold {
        let failing: Vec<String> = state
            .failed_checks()
            .map(|c| format!("{}: {}", c.name, c.message))
            .collect();
        return StepResult::because(
            Rollback(format!(
                "{} failed analyses (threshold {}); last: {}",
                state.failed_analyses,
                config.threshold,
                failing.join("; ")
            )),
            "rolling back",
        );
    }
    if state.phase == RolloutPhase::Promoting {
        return if state.candidate_ready {
            StepResult::because(Done, "promoted")
        } else {
            StepResult::because(Wait(5_000), "waiting for the promoted primary to be ready")
        };
    }
    if !state.candidate_ready {
        return StepResult::because(Wait(5_000), "waiting for the candidate to be ready");
    }
    if state.step_passed < config.iterations {
        let waited = state.since_analysis_ms.unwrap_or(interval_ms);
        return if waited >= interval_ms {
            StepResult::because(
                Analyse,
                format!(
                    "analysis {} of {}",
                    state.step_passed + 1,
                    config.iterations
                ),
            )
        } else {
            StepResult::because(Wait(interval_ms - waited), "waiting for the next analysis")
        };
    }
    let closed: Vec<&str> = state.closed_gates().map(|g| g.name.as_str()).collect();
    if !closed.is_empty() {
        return StepResult::because(
            Wait(interval_ms),
            format!("promotion waits for: {}", closed.join(", ")),
        );
    }
    StepResult::because(Promote, "every analysis passed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_plugin_sdk::rollout::{CheckKind, CheckResult};

    fn state() -> RolloutState {
        RolloutState {
            config: "{}".into(),
            phase: RolloutPhase::Initializing,
            step: 0,
            canary_weight: 0,
            stable_revision: "v1".into(),
            candidate_revision: "v2".into(),
            candidate_ready: true,
            step_elapsed_ms: 0,
            total_elapsed_ms: 0,
            analyses: 0,
            failed_analyses: 0,
            step_passed: 0,
            since_analysis_ms: None,
            last_analysis: Vec::new(),
            gates: Vec::new(),
        }
    }

    fn config() -> Config {
        parse_config("{}").unwrap()
    }

    #[test]
    fn analyses_then_promotes_then_is_done() {
        let mut s = state();
        assert_eq!(decide(&config(), &s).decision, RolloutDecision::Analyse);
        s.step_passed = 1;
        s.since_analysis_ms = Some(20_000);
        assert_eq!(
            decide(&config(), &s).decision,
            RolloutDecision::Wait(40_000)
        );
        s.step_passed = 3;
        assert_eq!(decide(&config(), &s).decision, RolloutDecision::Promote);
        s.phase = RolloutPhase::Promoting;
        assert_eq!(decide(&config(), &s).decision, RolloutDecision::Done);
    }

    #[test]
    fn rolls_back_at_the_threshold_and_waits_for_gates() {
        let mut s = state();
        s.step_passed = 3;
        s.gates = vec![CheckResult {
            name: "approval".into(),
            kind: CheckKind::Approval,
            passed: false,
            query: String::new(),
            value: None,
            threshold: String::new(),
            message: "run sluice rollout promote".into(),
        }];
        assert_eq!(
            decide(&config(), &s).decision,
            RolloutDecision::Wait(60_000)
        );
        s.failed_analyses = 2;
        assert!(matches!(
            decide(&config(), &s).decision,
            RolloutDecision::Rollback(_)
        ));
    }
}
