//! `blue-green`: analyses the candidate (green) while the stable revision
//! (blue) serves all traffic, switches all traffic at once when green
//! passed, and keeps blue for `keepBlueFor` so a rollback is instant.
//!
//! The walk, in steps the host counts:
//! - step 0: one analysis before anything moves (the host runs the
//!   `pre-rollout` webhooks there), then `set-weight(0)`;
//! - weight 0: `iterations` analyses of green, `interval` apart (the host
//!   runs the metrics and `rollout` webhooks now), then `set-weight(100)`,
//!   the switch of the apex Service to green;
//! - weight 100: an analysis every `interval`; once `keepBlueFor` has passed
//!   since the switch, the latest analysis did not fail and the promotion
//!   gates (policies, approval) pass, promote.
//!
//! Failed analyses count over the whole rollout; at `threshold` it rolls
//! back, which before promotion only points the apex back at blue.

use serde::Deserialize;
use serde_json::json;
use sluice_rollout_support::{
    Common, ConfigError, Decision, Level, Note, State, Step, Strategy, duration, duration_property,
    failing, gates, next_analysis, parse_config, preflight,
};
use std::time::Duration;

/// `spec.rollout.strategy.config` of a blue-green rollout.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "iterations")]
    pub iterations: u32,
    #[serde(default = "keep_blue_for", deserialize_with = "duration::deserialize")]
    pub keep_blue_for: Duration,
}

fn iterations() -> u32 {
    3
}

fn keep_blue_for() -> Duration {
    Duration::from_secs(600)
}

/// The next decision of a blue-green rollout.
pub fn decide(config: &Config, state: &State) -> Step {
    if let Some(step) = preflight(&config.common, state) {
        return step;
    }
    if state.step == 0 {
        if state.step_passed == 0 {
            return analysing(config, state, "before traffic", 1, true);
        }
        return Step::info(
            Decision::SetWeight(0),
            format!(
                "pre-rollout checks passed: analysing green (revision {}) before the switch",
                state.candidate_revision
            ),
        );
    }
    if state.canary_weight == 0 {
        if state.step_passed < config.iterations {
            return analysing(
                config,
                state,
                "green before the switch",
                config.iterations,
                false,
            );
        }
        return Step::info(
            Decision::SetWeight(100),
            format!(
                "green passed {} analyses: switching all traffic to revision {}",
                config.iterations, state.candidate_revision
            ),
        );
    }
    let keep = config.keep_blue_for;
    let last_failed = state.last_analysis.iter().any(|c| !c.passed);
    let blocked = if state.step_elapsed >= keep && !last_failed {
        match gates(state) {
            Ok(()) => {
                return Step::info(
                    Decision::Promote,
                    format!(
                        "green served all traffic for {} with passing analyses: promoting revision {}",
                        duration::format(state.step_elapsed),
                        state.candidate_revision
                    ),
                );
            }
            Err(blocked) => Some(blocked),
        }
    } else {
        None
    };
    let mut step = analysing(config, state, "switched to green", 0, false);
    if let Decision::Wait(d) = step.decision
        && state.step_elapsed < keep
    {
        // Wake up for the end of keepBlueFor if it comes before the next
        // analysis.
        step.decision = Decision::Wait(d.min(keep - state.step_elapsed));
    }
    if state.step_elapsed < keep {
        step.notes.push(Note {
            level: Level::Info,
            message: format!(
                "keeping blue for {} more",
                duration::format(keep - state.step_elapsed)
            ),
        });
    } else if let Some(blocked) = blocked {
        step.notes.push(Note {
            level: Level::Warning,
            message: blocked,
        });
    }
    step
}

/// Analyse now or wait for the next analysis, saying where the rollout is;
/// `needed` 0 means analyses go on without a count.
fn analysing(config: &Config, state: &State, at: &str, needed: u32, at_once: bool) -> Step {
    let decision = next_analysis(state, config.common.interval, at_once);
    let count = if needed == 0 {
        String::new()
    } else {
        format!(" ({}/{needed} passed)", state.step_passed)
    };
    let mut message = match decision {
        Decision::Wait(d) => format!("{at}: next analysis in {}{count}", duration::format(d)),
        _ => format!("{at}: analysing{count}"),
    };
    let mut level = Level::Info;
    if state.last_analysis.iter().any(|c| !c.passed) {
        level = Level::Warning;
        message.push_str(&format!(
            "; the last one failed ({}/{} failed analyses): {}",
            state.failed_analyses,
            config.common.threshold,
            failing(&state.last_analysis)
        ));
    }
    Step {
        decision,
        notes: vec![Note { level, message }],
    }
}

pub struct BlueGreen;

impl Strategy for BlueGreen {
    const NAME: &'static str = "blue-green";
    const DESCRIPTION: &'static str = "Analyses the candidate beside the stable revision, switches all traffic to it at once by the Service selector, keeps the old side for instant rollback, then promotes";

    fn schema() -> String {
        sluice_rollout_support::schema(
            "blue-green rollout",
            json!({
                "iterations": {
                    "description": "Analyses of the candidate that must pass, interval apart, before all traffic switches to it",
                    "type": "integer",
                    "minimum": 1,
                    "default": 3,
                },
                "keepBlueFor": duration_property(
                    "10m",
                    "How long the old side (blue) is kept after the switch so a rollback is instant; analysis goes on meanwhile and promotion waits for it (Go duration: 30s, 10m)",
                ),
            }),
            json!({}),
        )
    }

    fn step(config: &str, state: &State) -> Result<Step, ConfigError> {
        Ok(decide(&parse_config(config)?, state))
    }
}

#[cfg(target_arch = "wasm32")]
mod component {
    type Plugin = sluice_rollout_support::component::Component<super::BlueGreen>;
    sluice_rollout_support::component::export!(Plugin);
}

#[cfg(test)]
mod tests;
