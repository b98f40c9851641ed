//! The rollout engine end to end: the in-process API server holds the
//! Deployments, Services and HTTPRoute; Debian's Prometheus scrapes a test
//! exporter; webhooks are a loopback server; a scripted strategy decides.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use sluice_rollout::{Driver, ReadyReason};
use sluice_types::rollout::{
    ABORT_ANNOTATION, CheckKind, CheckResult, PROMOTE_ANNOTATION, RolloutPhase, RolloutStatus,
};
use support::{Exporter, Prometheus, Rig, Script, apex_role, drive, drive_gated, serving, spec};

fn metrics(prometheus: &Prometheus) -> serde_json::Value {
    json!({
        "provider": {"address": prometheus.address},
        "metrics": [
            {"name": "error-rate", "query": "max(sluice_test_error_ratio{version=\"{{ revision }}\"})",
             "thresholdRange": {"max": 0.05}},
            {"name": "latency", "query": "max(sluice_test_latency_seconds{version=\"{{revision}}\"})",
             "thresholdRange": {"max": 0.5}, "interval": "30s"},
        ],
    })
}

#[tokio::test]
async fn a_good_canary_walks_every_step_and_is_promoted() {
    let (_exporter, prometheus) = serving(&[("v1", 0.0, 0.1), ("v2", 0.01, 0.2)]).await;
    let spec = spec("canary", metrics(&prometheus));
    let mut rig = Rig::start(spec, |c| Script::new(c, &[10, 50, 80], 1, 2)).await;
    assert_eq!(rig.cluster.route_weights().await, (100, 0));
    assert_eq!(rig.canary_replicas().await, 0);

    let outcome = rig.run("v2").await;
    let status = &outcome.status;
    assert_eq!(status.phase, RolloutPhase::Succeeded, "{status:?}");
    assert_eq!(status.stable_revision, "v2");
    assert_eq!(status.failed_analyses, 0);
    assert!(outcome.ready.ready);
    assert_eq!(outcome.ready.reason, ReadyReason::Succeeded);

    // Every weight was on the route while its step ran, in order.
    let seen = rig.script.seen();
    for (step, weight) in [(1, 10), (2, 50), (3, 80)] {
        let at_step: Vec<_> = seen.iter().filter(|s| s.input.step == step).collect();
        assert!(!at_step.is_empty(), "step {step} was never reached");
        for s in at_step {
            assert_eq!(s.route, Some((100 - weight, weight)), "step {step}");
        }
    }
    // Each step after the first analysed the real metrics, which passed.
    let analysed = seen
        .iter()
        .find(|s| s.input.step == 2 && !s.input.last_analysis.is_empty())
        .expect("an analysis at step 2");
    let error_rate = &analysed.input.last_analysis[0];
    assert_eq!(error_rate.kind, CheckKind::Metric);
    assert!(error_rate.passed);
    assert_eq!(
        error_rate.query,
        "max(sluice_test_error_ratio{version=\"v2\"})"
    );
    assert_eq!(error_rate.value, Some(0.01));
    assert_eq!(analysed.input.last_analysis[1].value, Some(0.2));

    // Promoted: the primary runs the candidate, all traffic on it, canary off.
    let primary = rig.deployment("web-primary").await;
    assert_eq!(
        primary["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:v2"
    );
    assert_eq!(
        primary["spec"]["template"]["metadata"]["labels"]["sluice.dev/rollout-role"],
        "primary"
    );
    assert_eq!(rig.cluster.route_weights().await, (100, 0));
    assert_eq!(rig.canary_replicas().await, 0);
    assert_eq!(apex_role(&rig.cluster.client).await, "primary");
}

#[tokio::test]
async fn a_bad_canary_is_rolled_back_within_the_failure_limit() {
    let (_exporter, prometheus) = serving(&[("v1", 0.0, 0.1), ("v2", 0.2, 0.1)]).await;
    let spec = spec("canary", metrics(&prometheus));
    let mut rig = Rig::start(spec, |c| Script::new(c, &[10, 50], 1, 2)).await;

    let outcome = rig.run("v2").await;
    let status = outcome.status;
    assert_eq!(status.phase, RolloutPhase::RolledBack, "{status:?}");
    assert_eq!(status.failed_analyses, 2);
    assert_eq!(status.step, 1, "never got past the first weight");
    assert_eq!(status.stable_revision, "v1");
    let check = &status.last_analysis[0];
    assert!(!check.passed);
    assert_eq!(check.query, "max(sluice_test_error_ratio{version=\"v2\"})");
    assert_eq!(check.value, Some(0.2));
    assert_eq!(check.threshold, "<= 0.05");
    assert!(
        status
            .message
            .contains("error-rate is 0.2, above the maximum 0.05"),
        "{}",
        status.message
    );
    assert!(!outcome.ready.ready);
    assert_eq!(outcome.ready.reason, ReadyReason::RolledBack);

    assert_eq!(rig.cluster.route_weights().await, (100, 0));
    assert_eq!(rig.canary_replicas().await, 0);
    assert_eq!(rig.primary_image().await, "web:v1");

    // The same candidate is not tried again.
    let calls = rig.script.seen().len();
    rig.status = Some(status);
    let again = rig.run("v2").await;
    assert_eq!(again.status.phase, RolloutPhase::RolledBack);
    assert_eq!(rig.script.seen().len(), calls);
}

#[tokio::test]
async fn a_failing_pre_rollout_webhook_stops_it_before_any_traffic_moves() {
    let exporter = Exporter::start();
    exporter.hook_answers("smoke", 500);
    let spec = spec(
        "canary",
        json!({"webhooks": [
            {"name": "smoke", "type": "pre-rollout", "url": exporter.url("/hooks/smoke"),
             "metadata": {"suite": "smoke"}},
            {"name": "done", "type": "post-rollout", "url": exporter.url("/hooks/done")},
        ]}),
    );
    let mut rig = Rig::start(spec, |c| Script::new(c, &[10, 50], 1, 3)).await;

    let status = rig.run("v2").await.status;
    assert_eq!(status.phase, RolloutPhase::RolledBack, "{status:?}");
    assert_eq!(status.step, 0);
    assert_eq!(status.failed_analyses, 3);
    assert!(
        status
            .message
            .contains("pre-rollout webhook 'smoke' answered HTTP 500"),
        "{}",
        status.message
    );
    assert_eq!(status.last_analysis[0].query, exporter.url("/hooks/smoke"));
    assert_eq!(status.last_analysis[0].value, Some(500.0));
    for seen in rig.script.seen() {
        assert_eq!(seen.route, Some((100, 0)), "traffic moved: {seen:?}");
    }
    assert_eq!(rig.cluster.route_weights().await, (100, 0));

    // Flagger's payload; the post-rollout hook heard of the failure.
    let payloads = exporter.payloads.lock().unwrap().clone();
    let (_, smoke) = payloads
        .iter()
        .find(|(n, _)| n == "smoke")
        .expect("smoke called");
    assert_eq!(smoke["name"], "web");
    assert_eq!(smoke["namespace"], "shop");
    assert_eq!(smoke["phase"], "Initializing");
    assert_eq!(smoke["checksum"], status.candidate_hash);
    assert_eq!(smoke["metadata"]["suite"], "smoke");
    let (_, done) = payloads
        .iter()
        .find(|(n, _)| n == "done")
        .expect("post-rollout called");
    assert_eq!(done["phase"], "Failed");
}

#[tokio::test]
async fn blue_green_switches_the_apex_only_after_the_analysis_passed() {
    let (_exporter, prometheus) = serving(&[("v1", 0.0, 0.1), ("v2", 0.0, 0.1)]).await;
    let spec = spec("blue-green", metrics(&prometheus));
    let mut rig = Rig::start(spec, |c| Script {
        weighted: false,
        ..Script::new(c, &[100], 2, 2)
    })
    .await;
    assert_eq!(apex_role(&rig.cluster.client).await, "primary");

    let status = rig.run("v2").await.status;
    assert_eq!(status.phase, RolloutPhase::Succeeded, "{status:?}");
    let seen = rig.script.seen();
    let switched = seen
        .iter()
        .position(|s| s.apex == "canary")
        .expect("the apex switched");
    // Before the switch: two passing metric analyses on the green side.
    let before = &seen[switched - 1].input;
    assert_eq!(before.step, 0);
    assert_eq!(before.step_passed, 2);
    assert!(
        before
            .last_analysis
            .iter()
            .all(|c| c.passed && c.kind == CheckKind::Metric)
    );
    assert_eq!(before.last_analysis.len(), 2);
    assert!(seen[..switched].iter().all(|s| s.apex == "primary"));
    assert_eq!(seen[switched].input.canary_weight, 100);
    // Promoted: the apex selects the primary (now the candidate) again.
    assert_eq!(apex_role(&rig.cluster.client).await, "primary");
    assert_eq!(rig.primary_image().await, "web:v2");
}

#[tokio::test]
async fn a_query_with_no_data_fails_with_the_query_text() {
    let (_exporter, prometheus) = serving(&[("v1", 0.0, 0.1)]).await;
    let spec = spec(
        "canary",
        json!({"provider": {"address": prometheus.address}, "metrics": [
            {"name": "requests", "query": "sum(rate(sluice_test_requests_total{namespace=\"{{ namespace }}\",version=\"{{ revision }}\"}[{{ interval }}]))",
             "thresholdRange": {"min": 1}},
        ]}),
    );
    let mut rig = Rig::start(spec, |c| Script::new(c, &[20], 1, 1)).await;

    let outcome = rig.run("v2").await;
    assert_eq!(outcome.status.phase, RolloutPhase::RolledBack);
    let check = &outcome.status.last_analysis[0];
    let query = "sum(rate(sluice_test_requests_total{namespace=\"shop\",version=\"v2\"}[1m]))";
    assert_eq!(check.query, query);
    assert_eq!(check.value, None);
    assert_eq!(check.threshold, ">= 1");
    assert!(
        check
            .message
            .starts_with(&format!("query returned no data: {query};")),
        "{}",
        check.message
    );
    assert!(
        check.message.contains(&prometheus.address),
        "{}",
        check.message
    );
}

#[tokio::test]
async fn a_restart_resumes_from_the_persisted_status_at_the_same_step() {
    let (_exporter, prometheus) = serving(&[("v1", 0.0, 0.1), ("v2", 0.0, 0.1)]).await;
    let spec = spec("canary", metrics(&prometheus));
    let mut rig = Rig::start(spec, |c| Script::new(c, &[10, 50], 1, 2)).await;
    let one_at_a_time = rig.driver.clone().with_max_decisions(1);
    let at_step_one = |s: &RolloutStatus| s.step == 1 && s.step_passed == 1;
    let outcome = drive(
        &one_at_a_time,
        &rig.spec,
        &BTreeMap::new(),
        &mut rig.status,
        "v2",
        &rig.script,
        at_step_one,
    )
    .await;
    assert_eq!(outcome.status.canary_weight, 10);
    assert_eq!(
        outcome.requeue_after,
        Some(std::time::Duration::from_secs(1)),
        "budget spent"
    );
    assert_eq!(rig.cluster.route_weights().await, (90, 10));

    // A controller restart: a new driver and strategy, only the persisted
    // status kept.
    rig.driver = Driver::new(rig.cluster.client.clone());
    rig.script = Script::new(&rig.cluster.client, &[10, 50], 1, 2);
    let outcome = rig.run("v2").await;
    assert_eq!(outcome.status.phase, RolloutPhase::Succeeded);
    let first = &rig.script.seen()[0];
    assert_eq!(first.input.step, 1);
    assert_eq!(first.input.canary_weight, 10);
    assert_eq!(first.input.step_passed, 1);
    assert_eq!(first.route, Some((90, 10)));
    assert!(
        rig.script
            .seen()
            .iter()
            .any(|s| s.input.step == 2 && s.route == Some((50, 50)))
    );
    assert_eq!(
        outcome.status.analyses, 3,
        "step 0, 1 and 2 each analysed once"
    );
}

#[tokio::test]
async fn policy_and_approval_gates_hold_promotion_and_abort_rolls_back() {
    let mut spec = spec("canary", json!({}));
    spec.manual_approval = true;
    let mut rig = Rig::start(spec, |c| Script::new(c, &[50], 1, 2)).await;
    let policy = |passed: bool| CheckResult {
        name: "policies".into(),
        kind: CheckKind::Policy,
        passed,
        query: "guardrails".into(),
        value: None,
        threshold: "allow".into(),
        message: if passed {
            String::new()
        } else {
            "guardrails denies: image uses :latest".into()
        },
    };
    // Drives `v2` with the policy gate as given, under `annotations`.
    let gated = async |rig: &mut Rig,
                       annotations: &BTreeMap<String, String>,
                       passed: bool,
                       stop: fn(&RolloutStatus) -> bool| {
        drive_gated(
            &rig.driver,
            &rig.spec,
            annotations,
            &mut rig.status,
            ("v2", vec![policy(passed)]),
            &rig.script,
            stop,
        )
        .await
    };
    let waiting = |s: &RolloutStatus| s.phase == RolloutPhase::WaitingPromotion;
    let none = BTreeMap::new();
    let outcome = gated(&mut rig, &none, false, waiting).await;
    assert_eq!(outcome.ready.reason, ReadyReason::WaitingPromotion);
    assert!(!outcome.ready.ready);
    let message = &outcome.status.message;
    assert!(
        message.contains("policies: guardrails denies: image uses :latest"),
        "{message}"
    );
    assert!(
        message.contains("waiting for approval: run `sluice rollout promote shop -n shop`"),
        "{message}"
    );
    assert_eq!(outcome.status.gates.len(), 2);
    assert_eq!(
        rig.cluster.route_weights().await,
        (50, 50),
        "traffic stays while waiting"
    );

    // Policies pass, but approval is still missing.
    let outcome = gated(&mut rig, &none, true, waiting).await;
    assert!(
        !outcome.status.message.contains("policies"),
        "{}",
        outcome.status.message
    );
    assert!(
        outcome.status.message.contains("approval"),
        "{}",
        outcome.status.message
    );

    // `sluice rollout promote`: promoted.
    let approved = BTreeMap::from([(PROMOTE_ANNOTATION.to_string(), rig.started_at())]);
    let status = gated(&mut rig, &approved, true, |_| false).await.status;
    assert_eq!(status.phase, RolloutPhase::Succeeded, "{status:?}");
    assert!(status.gates.iter().all(|g| g.passed));

    // A next candidate, aborted mid-way with `sluice rollout abort`.
    let at_weight = |s: &RolloutStatus| s.canary_weight == 50;
    let (driver, spec, script) = (&rig.driver, &rig.spec, &rig.script);
    drive(
        driver,
        spec,
        &none,
        &mut rig.status,
        "v3",
        script,
        at_weight,
    )
    .await;
    let aborted = BTreeMap::from([(ABORT_ANNOTATION.to_string(), rig.started_at())]);
    let outcome = drive(
        driver,
        spec,
        &aborted,
        &mut rig.status,
        "v3",
        script,
        |_| false,
    )
    .await;
    assert_eq!(outcome.status.phase, RolloutPhase::RolledBack);
    assert!(
        outcome
            .status
            .message
            .contains("aborted via `sluice rollout abort`"),
        "{}",
        outcome.status.message
    );
    assert_eq!(outcome.status.stable_revision, "v2");
    assert_eq!(rig.cluster.route_weights().await, (100, 0));
}

#[tokio::test]
async fn a_newer_candidate_mid_rollout_restarts_with_it() {
    let spec = spec("canary", json!({}));
    let mut rig = Rig::start(spec, |c| Script::new(c, &[50, 80], 1, 2)).await;
    let at_half = |s: &RolloutStatus| s.canary_weight == 50;
    let one_at_a_time = rig.driver.clone().with_max_decisions(1);
    let none = BTreeMap::new();
    drive(
        &one_at_a_time,
        &rig.spec,
        &none,
        &mut rig.status,
        "v2",
        &rig.script,
        at_half,
    )
    .await;
    assert_eq!(rig.cluster.route_weights().await, (50, 50));

    rig.script = Script::new(&rig.cluster.client, &[50, 80], 1, 2);
    let outcome = rig.run("v3").await;
    assert_eq!(outcome.status.phase, RolloutPhase::Succeeded);
    assert_eq!(outcome.status.stable_revision, "v3");
    let first = &rig.script.seen()[0];
    assert_eq!(first.input.candidate_revision, "v3");
    assert_eq!((first.input.step, first.input.canary_weight), (0, 0));
    assert_eq!(
        first.route,
        Some((100, 0)),
        "traffic went back to the primary first"
    );
    assert_eq!(rig.primary_image().await, "web:v3");
}
