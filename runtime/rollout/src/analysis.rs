//! Whether the candidate is good: PromQL instant queries against
//! Prometheus' HTTP API and webhooks, with Flagger's templating, payload
//! and webhook types. Every result keeps what was asked (query text or
//! URL), what came back and the threshold, so `sluice rollout status` can
//! say why; a query that returns nothing says so with its text, instead of
//! Flagger's bare "no values found".
//!
//! A failed check is a result, not an error: the strategy counts failures.
//! Errors are only configuration no analysis can run with (an unknown
//! template variable, a metric without a provider).

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use sluice_http::{Client, Limits, Request};
use sluice_types::rollout::{
    Analysis, CheckKind, CheckResult, Metric, MetricProvider, RolloutPhase, ThresholdRange,
    Webhook, WebhookType,
};

use crate::error::{Error, Result};

/// Flagger's default webhook timeout.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Prometheus answers are small; a query that matches thousands of series
/// is cut off here (it fails anyway: one value is expected).
const MAX_ANSWER: u64 = 4 << 20;
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Flagger's default metric window.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// What is analysed: the values templates and payloads refer to.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub release: &'a str,
    pub namespace: &'a str,
    /// The target Deployment's name (`{{ target }}`, the apex Service's
    /// `{{ service }}`, the webhook payload's `name`).
    pub target: &'a str,
    /// The candidate revision (`{{ revision }}`).
    pub revision: &'a str,
    /// The candidate's template hash (the payload's `checksum`).
    pub checksum: &'a str,
    pub phase: RolloutPhase,
}

/// One analysis run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub checks: Vec<CheckResult>,
    /// Set when a `rollback` webhook answered 2xx: roll back now.
    pub rollback: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The metrics, the `rollout` webhooks and the `rollback` webhooks.
pub async fn analyse(http: &Client, analysis: &Analysis, subject: Subject<'_>) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    for (index, metric) in analysis.metrics.iter().enumerate() {
        let check = query_metric(http, index, metric, analysis.provider.as_ref(), subject).await?;
        outcome.checks.push(check);
    }
    outcome
        .checks
        .extend(webhooks(http, analysis, WebhookType::Rollout, subject).await);
    for hook in hooks(analysis, WebhookType::Rollback) {
        let (check, status) = call(http, hook, subject).await;
        let triggered = status.is_some_and(|s| (200..300).contains(&s));
        if triggered && outcome.rollback.is_none() {
            outcome.rollback = Some(format!(
                "rollback webhook '{}' ({}) answered HTTP {}",
                hook.name,
                hook.url,
                status.unwrap_or_default()
            ));
        }
        outcome.checks.push(CheckResult {
            passed: !triggered,
            threshold: "not 2xx (2xx rolls back)".into(),
            message: if triggered {
                "answered 2xx: roll back".into()
            } else {
                String::new()
            },
            ..check
        });
    }
    Ok(outcome)
}

fn hooks(analysis: &Analysis, kind: WebhookType) -> impl Iterator<Item = &Webhook> {
    analysis.webhooks.iter().filter(move |w| w.type_ == kind)
}

/// Calls the webhooks of one type; each passes on a 2xx answer.
pub async fn webhooks(
    http: &Client,
    analysis: &Analysis,
    kind: WebhookType,
    subject: Subject<'_>,
) -> Vec<CheckResult> {
    let mut checks = Vec::new();
    for hook in hooks(analysis, kind) {
        checks.push(call(http, hook, subject).await.0);
    }
    checks
}

/// Flagger's phase names, as webhook payloads carry them.
fn flagger_phase(phase: RolloutPhase) -> &'static str {
    match phase {
        RolloutPhase::Initializing => "Initializing",
        RolloutPhase::Progressing => "Progressing",
        RolloutPhase::WaitingPromotion => "WaitingPromotion",
        RolloutPhase::Promoting => "Promoting",
        RolloutPhase::Succeeded => "Succeeded",
        RolloutPhase::RolledBack => "Failed",
    }
}

fn kind_name(kind: WebhookType) -> &'static str {
    match kind {
        WebhookType::PreRollout => "pre-rollout",
        WebhookType::Rollout => "rollout",
        WebhookType::ConfirmPromotion => "confirm-promotion",
        WebhookType::PostRollout => "post-rollout",
        WebhookType::Rollback => "rollback",
    }
}

/// POSTs Flagger's payload; returns the check (passed on 2xx) and the
/// HTTP status when there was an answer.
async fn call(http: &Client, hook: &Webhook, subject: Subject<'_>) -> (CheckResult, Option<u16>) {
    let payload = json!({
        "name": subject.target,
        "namespace": subject.namespace,
        "phase": flagger_phase(subject.phase),
        "checksum": subject.checksum,
        "metadata": hook.metadata,
    });
    let request = Request {
        method: "POST".into(),
        url: hook.url.clone(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(payload.to_string().into_bytes()),
    };
    let limits = Limits {
        max_bytes: 64 << 10,
        timeout: hook.timeout.map(|t| t.0).unwrap_or(WEBHOOK_TIMEOUT),
    };
    let mut check = CheckResult {
        name: hook.name.clone(),
        kind: CheckKind::Webhook,
        passed: false,
        query: hook.url.clone(),
        value: None,
        threshold: "HTTP 2xx".into(),
        message: String::new(),
    };
    let kind = kind_name(hook.type_);
    match http.send(request, limits).await {
        Ok(response) => {
            check.value = Some(f64::from(response.status));
            check.passed = (200..300).contains(&response.status);
            if !check.passed {
                let body = String::from_utf8_lossy(&response.body);
                let body = body.trim();
                let excerpt: String = body.chars().take(200).collect();
                check.message = format!(
                    "{kind} webhook '{}' answered HTTP {}{}",
                    hook.name,
                    response.status,
                    if excerpt.is_empty() {
                        String::new()
                    } else {
                        format!(": {excerpt}")
                    }
                );
            }
            (check, Some(response.status))
        }
        Err(e) => {
            check.message = format!(
                "{kind} webhook '{}' could not be called: {e}; check its url and that the service answers",
                hook.name
            );
            (check, None)
        }
    }
}

/// The accepted range as people write it.
pub fn threshold_text(range: &ThresholdRange) -> String {
    match (range.min, range.max) {
        (Some(min), Some(max)) => format!(">= {min} and <= {max}"),
        (Some(min), None) => format!(">= {min}"),
        (None, Some(max)) => format!("<= {max}"),
        (None, None) => "any value".into(),
    }
}

/// A duration as Prometheus writes one (`1m`, `30s`, `1h`, `250ms`).
pub fn prometheus_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s != 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s != 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Replaces Flagger's `{{ name }}` variables (spaces optional); an unknown
/// one is a problem naming the known ones.
pub fn render_query(query: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("'{{{{' at byte {start} is never closed with '}}}}'"))?;
        let name = after[..end].trim();
        let value = vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let known: Vec<String> =
                    vars.iter().map(|(k, _)| format!("{{{{ {k} }}}}")).collect();
                format!(
                    "unknown variable '{{{{ {name} }}}}' in the query; known: {}",
                    known.join(", ")
                )
            })?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Runs one metric's query and checks its value against the range.
pub async fn query_metric(
    http: &Client,
    index: usize,
    metric: &Metric,
    default_provider: Option<&MetricProvider>,
    subject: Subject<'_>,
) -> Result<CheckResult> {
    let problem = |problem: String| Error::Metric {
        release: subject.release.into(),
        index,
        metric: metric.name.clone(),
        problem,
    };
    let provider = metric.provider.as_ref().or(default_provider).ok_or_else(|| {
        problem(
            "no provider to query: set spec.rollout.analysis.provider.address (or this metric's provider) to the Prometheus URL".into(),
        )
    })?;
    if provider.type_ != "prometheus" {
        return Err(problem(format!(
            "provider type '{}' is not supported; use prometheus",
            provider.type_
        )));
    }
    let interval = prometheus_duration(metric.interval.map(|d| d.0).unwrap_or(DEFAULT_INTERVAL));
    let vars = [
        ("namespace", subject.namespace),
        ("target", subject.target),
        ("service", subject.target),
        ("interval", interval.as_str()),
        ("revision", subject.revision),
    ];
    let query = render_query(&metric.query, &vars).map_err(problem)?;
    let threshold = threshold_text(&metric.threshold_range);
    let mut check = CheckResult {
        name: metric.name.clone(),
        kind: CheckKind::Metric,
        passed: false,
        query: query.clone(),
        value: None,
        threshold: threshold.clone(),
        message: String::new(),
    };
    let address = provider.address.trim_end_matches('/');
    match instant_query(http, address, &query).await {
        Err(message) => check.message = message,
        Ok(None) => {
            check.message = format!(
                "query returned no data: {query}; check in Prometheus ({address}) that the series exists and that its labels match the namespace, target and revision put in"
            );
        }
        Ok(Some(value)) if value.is_nan() => {
            check.message = format!(
                "query returned NaN (no data in the window, or a division by zero): {query}"
            );
        }
        Ok(Some(value)) => {
            check.value = Some(value);
            let range = &metric.threshold_range;
            if let Some(max) = range.max.filter(|max| value > *max) {
                check.message = format!("{} is {value}, above the maximum {max}", metric.name);
            } else if let Some(min) = range.min.filter(|min| value < *min) {
                check.message = format!("{} is {value}, below the minimum {min}", metric.name);
            } else {
                check.passed = true;
            }
        }
    }
    Ok(check)
}

/// `GET /api/v1/query`: the one value of a scalar or single-sample
/// vector, `None` for an empty result, or a message saying what is wrong.
async fn instant_query(http: &Client, address: &str, query: &str) -> Result<Option<f64>, String> {
    let url = format!(
        "{address}/api/v1/query?query={}",
        utf8_percent_encode(query, NON_ALPHANUMERIC)
    );
    let request = Request {
        method: "GET".into(),
        url,
        headers: vec![("accept".into(), "application/json".into())],
        body: None,
    };
    let limits = Limits {
        max_bytes: MAX_ANSWER,
        timeout: QUERY_TIMEOUT,
    };
    let response = http
        .send(request, limits)
        .await
        .map_err(|e| format!("cannot query Prometheus at {address}: {e}"))?;
    let answer: Value = serde_json::from_slice(&response.body).map_err(|_| {
        format!(
            "{address} answered HTTP {} with something that is not a Prometheus API answer; check the provider address",
            response.status
        )
    })?;
    if answer["status"] != "success" {
        return Err(format!(
            "Prometheus at {address} refused the query ({}: {}): {query}",
            answer["errorType"].as_str().unwrap_or("error"),
            answer["error"].as_str().unwrap_or("no reason given")
        ));
    }
    let data = &answer["data"];
    let sample = |pair: &Value| -> Result<f64, String> {
        pair.get(1)
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| {
                format!("Prometheus at {address} answered a sample that is not a number: {pair}")
            })
    };
    match data["resultType"].as_str() {
        Some("scalar") => sample(&data["result"]).map(Some),
        Some("vector") => {
            let series = data["result"].as_array().cloned().unwrap_or_default();
            match series.as_slice() {
                [] => Ok(None),
                [one] => sample(&one["value"]).map(Some),
                many => Err(format!(
                    "query returned {} series; it must return one value (aggregate it, e.g. with sum() or max()): {query}",
                    many.len()
                )),
            }
        }
        other => Err(format!(
            "query returned a {} result; it must return one value (an instant vector of one series, or a scalar): {query}",
            other.unwrap_or("unknown")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_replace_flagger_variables() {
        let vars = [("namespace", "shop"), ("target", "web"), ("interval", "1m")];
        assert_eq!(
            render_query(
                r#"sum(rate(errors{ns="{{ namespace }}",app="{{target}}"}[{{  interval }}]))"#,
                &vars
            )
            .unwrap(),
            r#"sum(rate(errors{ns="shop",app="web"}[1m]))"#
        );
        let error = render_query("x{a=\"{{ nope }}\"}", &vars).unwrap_err();
        assert!(error.contains("'{{ nope }}'"), "{error}");
        assert!(error.contains("{{ namespace }}"), "{error}");
        assert!(
            render_query("x{{ namespace", &vars)
                .unwrap_err()
                .contains("never closed")
        );
    }

    #[test]
    fn durations_as_prometheus_writes_them() {
        assert_eq!(prometheus_duration(Duration::from_secs(60)), "1m");
        assert_eq!(prometheus_duration(Duration::from_secs(90)), "90s");
        assert_eq!(prometheus_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(prometheus_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn thresholds_as_text() {
        let range = |min, max| ThresholdRange { min, max };
        assert_eq!(threshold_text(&range(None, Some(0.01))), "<= 0.01");
        assert_eq!(threshold_text(&range(Some(99.0), None)), ">= 99");
        assert_eq!(
            threshold_text(&range(Some(0.5), Some(2.0))),
            ">= 0.5 and <= 2"
        );
        assert_eq!(threshold_text(&range(None, None)), "any value");
    }
}
