//! What the rollout strategy plugins (`canary`, `blue-green`) share.
//!
//! The `rollout` world hands a strategy the whole state and takes one
//! decision. The decision logic lives in plain functions over the plain
//! types here ([`State`], [`Step`]), so it is unit-tested natively; the
//! [`component`] module (wasm32 only) converts to and from the WIT types once
//! for every strategy. Both strategies start from the same checks
//! ([`preflight`]: failure threshold, promotion, candidate readiness) and
//! gate promotion the same way ([`gates`]).

pub mod duration;

#[cfg(target_arch = "wasm32")]
pub mod component;

#[cfg(feature = "testing")]
pub mod testing;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

/// How long to wait between looks at something the host drives on its own
/// (a Deployment becoming available), whatever the analysis interval.
pub const POLL: Duration = Duration::from_secs(5);

/// Where a rollout is (the WIT `rollout-phase`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Initializing,
    Progressing,
    WaitingPromotion,
    Promoting,
}

/// Where a check came from (the WIT `check-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    Metric,
    Webhook,
    Policy,
    Approval,
}

/// One check's outcome (the WIT `check-result`).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    pub passed: bool,
    pub query: String,
    pub value: Option<f64>,
    pub threshold: String,
    pub message: String,
}

/// What a strategy is told at each call (the WIT `rollout-state`, less the
/// config, which each strategy parses into its own type).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub phase: Phase,
    pub step: u32,
    pub canary_weight: u8,
    pub stable_revision: String,
    pub candidate_revision: String,
    pub candidate_ready: bool,
    pub step_elapsed: Duration,
    pub total_elapsed: Duration,
    pub analyses: u32,
    pub failed_analyses: u32,
    pub step_passed: u32,
    pub since_analysis: Option<Duration>,
    pub last_analysis: Vec<Check>,
    pub gates: Vec<Check>,
}

/// The one thing the host does next (the WIT `rollout-decision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    SetWeight(u8),
    Analyse,
    Wait(Duration),
    Promote,
    Rollback(String),
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
}

/// A sentence for status and events saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: Level,
    pub message: String,
}

/// A decision and why it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub decision: Decision,
    pub notes: Vec<Note>,
}

impl Step {
    pub fn info(decision: Decision, message: impl Into<String>) -> Step {
        Step::with(decision, Level::Info, message)
    }

    pub fn warning(decision: Decision, message: impl Into<String>) -> Step {
        Step::with(decision, Level::Warning, message)
    }

    fn with(decision: Decision, level: Level, message: impl Into<String>) -> Step {
        Step {
            decision,
            notes: vec![Note {
                level,
                message: message.into(),
            }],
        }
    }

    /// Rolls back; the note repeats the reason so events carry it too.
    pub fn rollback(reason: String) -> Step {
        Step::warning(Decision::Rollback(reason.clone()), reason)
    }
}

/// A config the schema let through but the strategy cannot use
/// (`stepWeights` going down), with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: Option<String>,
    pub message: String,
}

/// One rollout strategy: what the component exports, in plain types.
pub trait Strategy {
    /// The built-in name (`canary`).
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// JSON Schema (draft 2020-12) of the config, built with [`schema`].
    fn schema() -> String;
    /// The next decision; `config` is the JSON text the host validated.
    fn step(config: &str, state: &State) -> Result<Step, ConfigError>;
}

/// Parses a strategy's config; the host has validated it against the
/// schema already, so an error here means schema and type disagree.
pub fn parse_config<T: DeserializeOwned>(config: &str) -> Result<T, ConfigError> {
    serde_json::from_str(config).map_err(|e| ConfigError {
        field: None,
        message: format!("{e}"),
    })
}

/// The config fields every strategy has (`#[serde(flatten)]` it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Common {
    /// Time between analyses, and the shortest time a step lasts.
    #[serde(default = "interval", deserialize_with = "duration::deserialize")]
    pub interval: Duration,
    /// Failed analyses in a rollout that make it roll back.
    #[serde(default = "threshold")]
    pub threshold: u32,
    /// Time the candidate may take to become ready.
    #[serde(default = "deadline", deserialize_with = "duration::deserialize")]
    pub progress_deadline: Duration,
}

fn interval() -> Duration {
    Duration::from_secs(60)
}

fn threshold() -> u32 {
    5
}

fn deadline() -> Duration {
    Duration::from_secs(600)
}

impl Default for Common {
    fn default() -> Self {
        Common {
            interval: interval(),
            threshold: threshold(),
            progress_deadline: deadline(),
        }
    }
}

/// A schema for a duration field with its default.
pub fn duration_property(default: &str, description: &str) -> Value {
    json!({
        "description": description,
        "type": "string",
        "pattern": duration::PATTERN,
        "default": default,
    })
}

/// The config schema: the strategy's own `properties` beside the common
/// ones; unknown fields are refused.
pub fn schema(title: &str, properties: Value, extra: Value) -> String {
    let mut all = json!({
        "interval": duration_property(
            "1m",
            "Time between analyses, and the shortest time a step lasts before the next analysis (Go duration: 30s, 1m, 1h30m)",
        ),
        "threshold": {
            "description": "Failed analyses in one rollout that make it roll back to the stable revision",
            "type": "integer",
            "minimum": 1,
            "default": 5,
        },
        "progressDeadline": duration_property(
            "10m",
            "Time the candidate may take to become ready (all replicas available) before the rollout rolls back (Go duration)",
        ),
    });
    if let (Some(all), Value::Object(own)) = (all.as_object_mut(), properties) {
        all.extend(own);
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": false,
        "properties": all,
    });
    if let (Some(schema), Value::Object(extra)) = (schema.as_object_mut(), extra) {
        schema.extend(extra);
    }
    schema.to_string()
}

/// The checks both strategies make before their own steps, in this order:
/// too many failed analyses roll back; a promotion in progress ends when
/// the primary is ready; a candidate that is not ready is waited for until
/// `progressDeadline`. `None` when the strategy decides.
pub fn preflight(common: &Common, state: &State) -> Option<Step> {
    if state.failed_analyses >= common.threshold {
        return Some(Step::rollback(format!(
            "{} failed analyses (threshold {}); last: {}",
            state.failed_analyses,
            common.threshold,
            failing(&state.last_analysis)
        )));
    }
    if state.phase == Phase::Promoting {
        return Some(if state.candidate_ready {
            Step::info(
                Decision::Done,
                format!(
                    "promoted: the primary runs revision {}",
                    state.candidate_revision
                ),
            )
        } else {
            Step::info(
                Decision::Wait(POLL),
                "promoting: waiting for the primary to be ready",
            )
        });
    }
    if !state.candidate_ready {
        if state.total_elapsed > common.progress_deadline {
            return Some(Step::rollback(format!(
                "candidate revision {} not ready after {} (progressDeadline {}); check its pods with `kubectl describe` and their logs",
                state.candidate_revision,
                duration::format(state.total_elapsed),
                duration::format(common.progress_deadline)
            )));
        }
        return Some(Step::info(
            Decision::Wait(common.interval.min(POLL)),
            format!(
                "waiting for the candidate to be ready ({} of progressDeadline {})",
                duration::format(state.total_elapsed),
                duration::format(common.progress_deadline)
            ),
        ));
    }
    None
}

/// When the step's next analysis is due: now, or after a wait. The first
/// analysis of a step comes `interval` after the step began (traffic has
/// had time to reach the candidate) unless `at_once`; later ones
/// `interval` after the previous one.
pub fn next_analysis(state: &State, interval: Duration, at_once: bool) -> Decision {
    let waited = match state.since_analysis {
        Some(since) => since,
        None if at_once => return Decision::Analyse,
        None => state.step_elapsed,
    };
    if waited >= interval {
        Decision::Analyse
    } else {
        Decision::Wait(interval - waited)
    }
}

/// `Err` with one sentence per failing promotion gate, naming it and what
/// unblocks it.
pub fn gates(state: &State) -> Result<(), String> {
    let blocked: Vec<String> = state
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| match g.kind {
            CheckKind::Approval if g.message.is_empty() => {
                "waiting for approval: run `sluice rollout promote RELEASE`".to_owned()
            }
            CheckKind::Approval => format!("waiting for approval: {}", g.message),
            kind => format!(
                "promotion blocked by {} gate '{}': {}",
                kind_name(kind),
                g.name,
                if g.message.is_empty() {
                    &g.query
                } else {
                    &g.message
                }
            ),
        })
        .collect();
    if blocked.is_empty() {
        Ok(())
    } else {
        Err(blocked.join("; "))
    }
}

fn kind_name(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::Metric => "metric",
        CheckKind::Webhook => "webhook",
        CheckKind::Policy => "policy",
        CheckKind::Approval => "approval",
    }
}

/// The failing checks of an analysis, each with what was asked, what came
/// back and what was expected.
pub fn failing(checks: &[Check]) -> String {
    let failed: Vec<String> = checks.iter().filter(|c| !c.passed).map(describe).collect();
    if failed.is_empty() {
        "no check failed in the latest analysis".into()
    } else {
        failed.join("; ")
    }
}

/// `error-rate (metric): value 0.12, want <= 0.01, query: sum(rate(…))`
pub fn describe(check: &Check) -> String {
    let mut parts = Vec::new();
    if let Some(v) = check.value {
        parts.push(format!("value {v}"));
    }
    if !check.threshold.is_empty() {
        parts.push(format!("want {}", check.threshold));
    }
    if !check.message.is_empty() {
        parts.push(check.message.clone());
    }
    if !check.query.is_empty() && !check.message.contains(&check.query) {
        parts.push(format!("query: {}", check.query));
    }
    format!(
        "{} ({}): {}",
        check.name,
        kind_name(check.kind),
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests;
