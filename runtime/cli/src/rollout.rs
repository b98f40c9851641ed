//! `sluice rollout status|promote|abort RELEASE`: reading and steering a
//! progressive rollout, as `kubectl argo rollouts` and Flagger's manual
//! gates do. The controller does the work; these commands read
//! `status.rollout` or set the annotations it acts on.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use sluice_types::crd::{REQUESTED_AT, Release};
use sluice_types::rollout::{
    ABORT_ANNOTATION, CheckResult, PROMOTE_ANNOTATION, RolloutPhase, RolloutStatus,
};

use crate::args::{Format, RolloutCommand, Target};
use crate::manage::{columns, connect, token};

pub async fn run(command: &RolloutCommand) -> Result<ExitCode> {
    match command {
        RolloutCommand::Status {
            name,
            target,
            output,
        } => status(name, target, *output).await,
        RolloutCommand::Promote { name, target } => {
            steer(name, target, PROMOTE_ANNOTATION, "promotion approved").await
        }
        RolloutCommand::Abort { name, target } => {
            steer(name, target, ABORT_ANNOTATION, "abort requested").await
        }
    }
}

async fn get(name: &str, target: &Target) -> Result<(Api<Release>, Release, String)> {
    let (client, ns) = connect(target).await?;
    let api = Api::<Release>::namespaced(client, &ns);
    let release = api
        .get(name)
        .await
        .with_context(|| format!("Release '{ns}/{name}' not found"))?;
    if release.spec.rollout.is_none() {
        bail!(
            "Release '{ns}/{name}' has no spec.rollout: it applies all at once; add spec.rollout with a strategy (canary, blue-green) to roll out progressively"
        );
    }
    Ok((api, release, ns))
}

/// `sluice rollout status`: exit 0 when the rollout succeeded, 1 when it was
/// rolled back, 3 while it is still in progress (so scripts can poll).
async fn status(name: &str, target: &Target, output: Format) -> Result<ExitCode> {
    let (_, release, ns) = get(name, target).await?;
    let Some(rollout) = release.status.and_then(|s| s.rollout) else {
        println!("Release {ns}/{name}: no rollout has started yet");
        return Ok(ExitCode::from(3));
    };
    match output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rollout)?),
        Format::Table => print!("{}", describe(&ns, name, &rollout)),
    }
    Ok(match rollout.phase {
        RolloutPhase::Succeeded => ExitCode::SUCCESS,
        RolloutPhase::RolledBack => ExitCode::from(1),
        _ => ExitCode::from(3),
    })
}

/// The text form: a header, then the latest analysis and the gates as tables
/// carrying each check's query, value and threshold.
fn describe(ns: &str, name: &str, r: &RolloutStatus) -> String {
    let mut out = String::new();
    let phase = serde_json::to_value(r.phase).unwrap_or_default();
    let phase = phase.as_str().unwrap_or_default();
    let _ = writeln!(out, "Release:    {ns}/{name}");
    let _ = writeln!(out, "Strategy:   {}", r.strategy);
    let _ = writeln!(out, "Phase:      {phase}");
    let _ = writeln!(
        out,
        "Step:       {}   traffic: {}% candidate, {}% stable",
        r.step,
        r.canary_weight,
        100 - u32::from(r.canary_weight.min(100))
    );
    let _ = writeln!(out, "Stable:     {}", r.stable_revision);
    let _ = writeln!(out, "Candidate:  {}", r.candidate_revision);
    if let Some(started) = &r.started_at {
        let _ = writeln!(out, "Started:    {started}{}", ago(started));
    }
    let _ = writeln!(
        out,
        "Analyses:   {} run, {} failed",
        r.analyses, r.failed_analyses
    );
    if !r.message.is_empty() {
        let _ = writeln!(out, "Message:    {}", r.message);
    }
    if !r.last_analysis.is_empty() {
        let when = r.last_analysis_at.as_deref().map(ago).unwrap_or_default();
        let _ = writeln!(out, "\nLatest analysis (step {}{when}):", r.step);
        out.push_str(&checks(&r.last_analysis));
    }
    if !r.gates.is_empty() {
        out.push_str("\nGates:\n");
        out.push_str(&checks(&r.gates));
    }
    out
}

fn checks(results: &[CheckResult]) -> String {
    let mut rows = vec![
        ["CHECK", "KIND", "RESULT", "VALUE", "THRESHOLD", "QUERY"]
            .map(String::from)
            .to_vec(),
    ];
    let mut notes = Vec::new();
    for c in results {
        let kind = serde_json::to_value(c.kind).unwrap_or_default();
        rows.push(vec![
            c.name.clone(),
            kind.as_str().unwrap_or_default().to_owned(),
            if c.passed { "pass" } else { "FAIL" }.to_owned(),
            c.value.map_or_else(|| "-".to_owned(), |v| format!("{v}")),
            if c.threshold.is_empty() {
                "-".to_owned()
            } else {
                c.threshold.clone()
            },
            c.query.clone(),
        ]);
        if !c.message.is_empty() {
            notes.push(format!("  {}: {}", c.name, c.message));
        }
    }
    let mut out = columns(&rows);
    for n in notes {
        out.push_str(&n);
        out.push('\n');
    }
    out
}

/// ` (3m12s ago)` for an RFC 3339 time, empty when it does not parse.
fn ago(time: &str) -> String {
    let Ok(then) = time.parse::<Timestamp>() else {
        return String::new();
    };
    let secs = Timestamp::now().duration_since(then).as_secs().max(0) as u64;
    let d = sluice_types::quantity::Duration(std::time::Duration::from_secs(secs));
    format!(" ({d} ago)")
}

/// Sets the promote or abort annotation to now and asks for a reconcile;
/// the controller acts on it at its next step.
async fn steer(name: &str, target: &Target, annotation: &str, done: &str) -> Result<ExitCode> {
    let (api, release, ns) = get(name, target).await?;
    let phase = release
        .status
        .and_then(|s| s.rollout)
        .map(|r| r.phase)
        .filter(|p| !p.is_terminal());
    if phase.is_none() {
        bail!(
            "Release '{ns}/{name}' has no rollout in progress; `sluice rollout status {name} -n {ns}` shows the last one"
        );
    }
    let patch = json!({"metadata": {"annotations": {
        annotation: Timestamp::now().to_string(),
        REQUESTED_AT: token(),
    }}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("cannot annotate Release '{ns}/{name}'"))?;
    eprintln!(
        "✔ {done} for Release {ns}/{name}; `sluice rollout status {name} -n {ns}` follows it"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_types::rollout::CheckKind;

    #[test]
    fn status_shows_each_check_with_query_value_and_threshold() {
        let status = RolloutStatus {
            phase: RolloutPhase::RolledBack,
            strategy: "canary".into(),
            stable_revision: "main@sha1:aaa".into(),
            candidate_revision: "main@sha1:bbb".into(),
            step: 2,
            canary_weight: 30,
            analyses: 3,
            failed_analyses: 2,
            last_analysis: vec![
                CheckResult {
                    name: "error-rate".into(),
                    kind: CheckKind::Metric,
                    passed: false,
                    query: "sum(rate(errors[1m]))".into(),
                    value: Some(0.2),
                    threshold: "<= 0.05".into(),
                    message: "error-rate is 0.2, above the maximum 0.05".into(),
                },
                CheckResult {
                    name: "latency".into(),
                    kind: CheckKind::Metric,
                    passed: false,
                    query: "histogram_quantile(0.99, x)".into(),
                    value: None,
                    threshold: "<= 500".into(),
                    message: "query returned no data: histogram_quantile(0.99, x)".into(),
                },
            ],
            message: "rolled back: 2 failed analyses".into(),
            ..RolloutStatus::default()
        };
        let text = describe("apps", "web", &status);
        assert!(text.contains("Phase:      RolledBack"), "{text}");
        assert!(text.contains("30% candidate, 70% stable"), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("error-rate"))
            .expect("a row for error-rate");
        for cell in ["metric", "FAIL", "0.2", "<= 0.05", "sum(rate(errors[1m]))"] {
            assert!(row.contains(cell), "{cell} missing in {row:?}");
        }
        let row = text.lines().find(|l| l.starts_with("latency")).unwrap();
        assert!(row.contains(" - "), "no value shown as '-': {row:?}");
        assert!(
            text.contains("latency: query returned no data: histogram_quantile(0.99, x)"),
            "{text}"
        );
    }
}
