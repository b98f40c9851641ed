//! `canary`: moves traffic to the candidate in steps of weight, as
//! Flagger's canary analysis does, and promotes it when every step passed.
//!
//! Step 0 runs one analysis before any traffic moves (the host runs the
//! `pre-rollout` webhooks there; Flagger runs them once too). Then, per
//! weight (`stepWeights`, or `stepWeight` up to `maxWeight`), the host moves
//! traffic, and `iterations` analyses must pass, each `interval` after the
//! step began or after the previous one, before the next weight. After the
//! last weight the promotion gates (policies, approval) must pass. Failed
//! analyses count over the whole rollout; at `threshold` it rolls back.

use serde::Deserialize;
use serde_json::json;
use sluice_rollout_support::{
    Common, ConfigError, Decision, Level, Note, State, Step, Strategy, duration, failing, gates,
    next_analysis, parse_config, preflight,
};

/// `spec.rollout.strategy.config` of a canary rollout.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub step_weights: Option<Vec<u8>>,
    #[serde(default = "step_weight")]
    pub step_weight: u8,
    #[serde(default = "max_weight")]
    pub max_weight: u8,
    #[serde(default = "iterations")]
    pub iterations: u32,
}

fn step_weight() -> u8 {
    10
}

fn max_weight() -> u8 {
    50
}

fn iterations() -> u32 {
    1
}

impl Config {
    /// The canary weight of each step, in order: `stepWeights`, or
    /// `stepWeight`, twice it, … up to `maxWeight` (the last step capped
    /// at it).
    pub fn weights(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(weights) = &self.step_weights {
            for (i, pair) in weights.windows(2).enumerate() {
                if pair[1] <= pair[0] {
                    return Err(ConfigError {
                        field: Some(format!("stepWeights[{}]", i + 1)),
                        message: format!(
                            "weights must go up step by step, but {} follows {}",
                            pair[1], pair[0]
                        ),
                    });
                }
            }
            return Ok(weights.clone());
        }
        if self.max_weight < self.step_weight {
            return Err(ConfigError {
                field: Some("maxWeight".into()),
                message: format!(
                    "maxWeight {} is below stepWeight {}; raise maxWeight or lower stepWeight",
                    self.max_weight, self.step_weight
                ),
            });
        }
        let mut weights: Vec<u8> = (1..)
            .map(|k| u32::from(self.step_weight) * k)
            .take_while(|w| *w < u32::from(self.max_weight))
            .map(|w| w as u8)
            .collect();
        weights.push(self.max_weight);
        Ok(weights)
    }
}

/// The next decision of a canary rollout.
pub fn decide(config: &Config, state: &State) -> Result<Step, ConfigError> {
    let weights = config.weights()?;
    if let Some(step) = preflight(&config.common, state) {
        return Ok(step);
    }
    let interval = config.common.interval;
    let index = state.step as usize;
    let steps = weights.len();
    let at = if index == 0 {
        "before traffic".to_owned()
    } else {
        format!("step {index}/{steps} (weight {})", state.canary_weight)
    };
    // Step 0 is the pre-rollout check: one passing analysis is enough.
    let needed = if index == 0 { 1 } else { config.iterations };
    if state.step_passed < needed {
        let decision = next_analysis(state, interval, index == 0);
        let mut message = match decision {
            Decision::Wait(d) => format!(
                "{at}: next analysis in {} ({}/{needed} passed)",
                duration::format(d),
                state.step_passed
            ),
            _ => format!("{at}: analysis {} of {needed}", state.step_passed + 1),
        };
        let last_failed = state.last_analysis.iter().any(|c| !c.passed);
        let level = if last_failed {
            message.push_str(&format!(
                "; the last one failed ({}/{} failed analyses): {}",
                state.failed_analyses,
                config.common.threshold,
                failing(&state.last_analysis)
            ));
            Level::Warning
        } else {
            Level::Info
        };
        return Ok(Step {
            decision,
            notes: vec![Note { level, message }],
        });
    }
    if let Some(&next) = weights.get(index) {
        return Ok(Step::info(
            Decision::SetWeight(next),
            format!(
                "step {}/{steps}: weight {} → {next}",
                index + 1,
                state.canary_weight
            ),
        ));
    }
    Ok(match gates(state) {
        Ok(()) => Step::info(
            Decision::Promote,
            format!(
                "all {steps} steps passed: promoting revision {}",
                state.candidate_revision
            ),
        ),
        Err(blocked) => Step::warning(Decision::Wait(interval), blocked),
    })
}

pub struct Canary;

impl Strategy for Canary {
    const NAME: &'static str = "canary";
    const DESCRIPTION: &'static str = "Shifts traffic to the candidate in weighted steps through a Gateway API HTTPRoute, analysing each step, and promotes it when all pass (Flagger's canary)";

    fn schema() -> String {
        sluice_rollout_support::schema(
            "canary rollout",
            json!({
                "stepWeights": {
                    "description": "The candidate's traffic weight at each step, in order, each higher than the one before (Flagger's stepWeights), e.g. [5, 10, 25, 50]; when set, stepWeight and maxWeight are not allowed",
                    "type": "array",
                    "items": { "type": "integer", "minimum": 1, "maximum": 100 },
                    "minItems": 1,
                },
                "stepWeight": {
                    "description": "Weight added to the candidate at each step when stepWeights is not set",
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 100,
                    "default": 10,
                },
                "maxWeight": {
                    "description": "The candidate's weight at the last step when stepWeights is not set; steps of stepWeight go up to it",
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 100,
                    "default": 50,
                },
                "iterations": {
                    "description": "Analyses that must pass at each weight before the next step",
                    "type": "integer",
                    "minimum": 1,
                    "default": 1,
                },
                "mirror": {
                    "description": "Traffic mirroring is not supported: HTTPRoute weights split requests between primary and candidate, they do not copy them; leave it unset or false",
                    "const": false,
                    "default": false,
                },
            }),
            json!({
                "dependentSchemas": {
                    "stepWeights": {
                        "properties": { "stepWeight": false, "maxWeight": false },
                    },
                },
            }),
        )
    }

    fn step(config: &str, state: &State) -> Result<Step, ConfigError> {
        decide(&parse_config(config)?, state)
    }
}

#[cfg(target_arch = "wasm32")]
mod component {
    type Plugin = sluice_rollout_support::component::Component<super::Canary>;
    sluice_rollout_support::component::export!(Plugin);
}

#[cfg(test)]
mod tests;
