//! Progressive delivery: how a Release rolls a new revision out
//! (`spec.rollout`) and where a rollout is (`status.rollout`).
//!
//! The shape follows Flagger's `Canary` (target, service, analysis with
//! metrics and webhooks) so its users recognise it; the step logic itself is
//! a `rollout` plugin's (`strategy`), the host only observes and acts. The
//! status holds everything the host needs to resume after a restart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::object::PluginRef;
use crate::quantity::Duration;

/// `spec.rollout`: absent means all at once (a plain apply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutSpec {
    /// The strategy plugin (`canary`, `blue-green`, or a `Plugin` object)
    /// and its config, checked against the plugin's JSON Schema.
    pub strategy: PluginRef,
    /// The workload rolled out; it must be in the render.
    pub target_ref: TargetRef,
    /// The Services the host generates for the target (apex, `-primary`,
    /// `-canary`), as Flagger's `service`.
    pub service: RolloutService,
    /// Metrics, webhooks and gates that decide whether the candidate is good.
    #[serde(default)]
    pub analysis: Analysis,
    /// Promotion also waits for `sluice rollout promote`.
    #[serde(default)]
    pub manual_approval: bool,
}

/// The rolled-out workload. Only Deployments are supported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetRef {
    #[serde(default = "apps_v1")]
    pub api_version: String,
    #[serde(default = "deployment")]
    pub kind: String,
    pub name: String,
}

fn apps_v1() -> String {
    "apps/v1".into()
}

fn deployment() -> String {
    "Deployment".into()
}

/// The Services in front of the target and, for canaries, the Gateway API
/// `HTTPRoute` that splits traffic between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutService {
    /// Port the Services expose.
    pub port: u16,
    /// Container port (number or name); `port` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "crd", schemars(schema_with = "crate::crd::int_or_string"))]
    pub target_port: Option<serde_json::Value>,
    /// Name of the port in the Services; `http` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    /// `parentRefs` of the generated HTTPRoute (Gateway API), as written
    /// there: `name`, and optionally `namespace`, `sectionName`, `port`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "crd",
        schemars(schema_with = "crate::crd::list_of_any_object")
    )]
    pub gateway_refs: Vec<serde_json::Value>,
    /// `hostnames` of the generated HTTPRoute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// Flagger's `analysis`: what is checked at each analysis run. How often and
/// how many failures are tolerated is the strategy's config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Analysis {
    /// The provider metrics use when they name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<MetricProvider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
}

/// Where metric queries go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricProvider {
    /// Only `prometheus` for now.
    #[serde(rename = "type", default = "prometheus")]
    pub type_: String,
    /// Base URL of the Prometheus HTTP API (`http://prometheus:9090`).
    pub address: String,
}

fn prometheus() -> String {
    "prometheus".into()
}

/// One metric check, as a Flagger `MetricTemplate` inlined: a PromQL query
/// whose single value must fall in `thresholdRange`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    /// PromQL; `{{ namespace }}`, `{{ target }}`, `{{ service }}`,
    /// `{{ interval }}` and `{{ revision }}` are replaced first.
    pub query: String,
    #[serde(default)]
    pub threshold_range: ThresholdRange,
    /// Window for `{{ interval }}`; `1m` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Overrides `analysis.provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<MetricProvider>,
}

/// Inclusive bounds; an unset bound is open.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThresholdRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A webhook, with Flagger's types and payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    pub name: String,
    #[serde(rename = "type", default)]
    pub type_: WebhookType,
    pub url: String,
    /// Per call; `10s` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Sent as the payload's `metadata`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// When a webhook is called, as Flagger defines them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum WebhookType {
    /// Before the candidate gets traffic; a failure counts as a failed analysis.
    PreRollout,
    /// At every analysis run, beside the metrics.
    #[default]
    Rollout,
    /// Before promotion; promotion waits until it answers 2xx.
    ConfirmPromotion,
    /// After promotion or rollback; the result is only recorded.
    PostRollout,
    /// While progressing; a 2xx answer rolls back.
    Rollback,
}

/// Where a rollout is; persisted in `status.rollout` so a restarted
/// controller resumes at the same step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    pub phase: RolloutPhase,
    /// The strategy plugin driving it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub strategy: String,
    /// Revision the primary runs, and the one being rolled out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_revision: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub candidate_revision: String,
    /// Hash of the candidate's pod template: a new one restarts the rollout.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub candidate_hash: String,
    #[serde(default)]
    pub step: u32,
    #[serde(default)]
    pub canary_weight: u8,
    /// RFC 3339 times the rollout and its current step began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<String>,
    #[serde(default)]
    pub analyses: u32,
    #[serde(default)]
    pub failed_analyses: u32,
    /// Analyses passed in the current step.
    #[serde(default)]
    pub step_passed: u32,
    /// RFC 3339 time of the latest analysis of the current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_analysis_at: Option<String>,
    /// The checks of the latest analysis of the current step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_analysis: Vec<CheckResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<CheckResult>,
    /// What happened last, for people (`rolled back: error-rate …`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Phases as Flagger names them, plus the terminal ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum RolloutPhase {
    /// Candidate deployed, no traffic decision taken yet.
    #[default]
    Initializing,
    /// Traffic is moving and analysis runs.
    Progressing,
    /// Every step passed; waiting for the promotion gates.
    WaitingPromotion,
    /// Candidate copied to the primary; waiting for it to be ready.
    Promoting,
    /// The candidate is the primary and serves all traffic.
    Succeeded,
    /// The stable revision serves all traffic again; `message` says why.
    RolledBack,
}

impl RolloutPhase {
    /// Whether the rollout has ended (nothing more to do for this candidate).
    pub fn is_terminal(self) -> bool {
        matches!(self, RolloutPhase::Succeeded | RolloutPhase::RolledBack)
    }
}

/// One check's outcome, with what was asked and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub name: String,
    pub kind: CheckKind,
    pub passed: bool,
    /// The PromQL text, the webhook URL, the policy names.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The accepted range or expectation, as text (`<= 0.01`, `HTTP 2xx`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub threshold: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum CheckKind {
    Metric,
    Webhook,
    Policy,
    Approval,
}

/// What the strategy is given at each step (the WIT `rollout-state`).
/// Serialised with the WIT's names in camelCase (durations as `…Ms`), so a
/// `sluice plugin test` fixture can state one partially: absent fields are
/// zero, empty, `false` or `Initializing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct StepInput {
    /// The strategy's config, already validated against its schema.
    pub config: serde_json::Value,
    pub phase: RolloutPhase,
    pub step: u32,
    pub canary_weight: u8,
    pub stable_revision: String,
    pub candidate_revision: String,
    pub candidate_ready: bool,
    #[serde(rename = "stepElapsedMs", with = "millis")]
    pub step_elapsed: std::time::Duration,
    #[serde(rename = "totalElapsedMs", with = "millis")]
    pub total_elapsed: std::time::Duration,
    pub analyses: u32,
    pub failed_analyses: u32,
    pub step_passed: u32,
    #[serde(rename = "sinceAnalysisMs", with = "optional_millis")]
    pub since_analysis: Option<std::time::Duration>,
    /// The latest analysis of the current step; empty before its first.
    pub last_analysis: Vec<CheckResult>,
    pub gates: Vec<CheckResult>,
}

/// A duration as whole milliseconds, as the WIT carries it.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod optional_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::millis::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

/// The strategy's answer (the WIT `rollout-decision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Move this much traffic (0–100) to the candidate; the step advances.
    SetWeight(u8),
    /// Run the analysis now and call again with its results.
    Analyse,
    /// Call again after this long.
    Wait(std::time::Duration),
    /// Copy the candidate to the primary and route all traffic there.
    Promote,
    /// Restore the stable revision, with the reason.
    Rollback(String),
    /// The promoted primary serves all traffic; nothing left to do.
    Done,
}

/// Annotation `sluice rollout promote` sets (RFC 3339): approves promotion
/// of a rollout that started before it.
pub const PROMOTE_ANNOTATION: &str = "sluice.dev/promote";

/// Annotation `sluice rollout abort` sets (RFC 3339): rolls back a rollout
/// that started before it.
pub const ABORT_ANNOTATION: &str = "sluice.dev/abort";

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn step_input_reads_partially_with_millisecond_durations() {
        let input: StepInput = serde_json::from_value(serde_json::json!({
            "phase": "Progressing",
            "candidateReady": true,
            "stepPassed": 2,
            "sinceAnalysisMs": 1500,
            "totalElapsedMs": 60000,
        }))
        .unwrap();
        assert_eq!(input.phase, RolloutPhase::Progressing);
        assert!(input.candidate_ready);
        assert_eq!(input.step_passed, 2);
        assert_eq!(input.since_analysis, Some(Duration::from_millis(1500)));
        assert_eq!(input.total_elapsed, Duration::from_secs(60));
        assert_eq!(input.step_elapsed, Duration::ZERO);
        assert_eq!(input.config, serde_json::Value::Null);
        let back: StepInput =
            serde_json::from_value(serde_json::to_value(&input).unwrap()).unwrap();
        assert_eq!(back, input);
        let err =
            serde_json::from_value::<StepInput>(serde_json::json!({"stepElapsed": 1})).unwrap_err();
        assert!(err.to_string().contains("stepElapsed"), "{err}");
    }
}
