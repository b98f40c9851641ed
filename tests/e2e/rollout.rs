//! The built-in rollout strategies (`canary`, `blue-green`) through the
//! plugin host: the state goes in as `sluice_types::rollout::StepInput`,
//! the decision comes back as `Decision`, with the reasons; configs are
//! checked against the plugins' schemas with field paths.

use serde_json::{Value, json};
use sluice_plugin_host::{Error, Plugin};
use sluice_tests::host;
use sluice_types::Severity;
use sluice_types::rollout::{CheckKind, CheckResult, Decision, RolloutPhase, StepInput};
use std::time::Duration;

async fn load(cache: &std::path::Path, name: &str) -> Plugin {
    let builtin = sluice_builtins::get(name).unwrap();
    host(cache)
        .load(name, builtin.wasm, None, None)
        .await
        .unwrap()
}

fn input(config: Value) -> StepInput {
    StepInput {
        config,
        phase: RolloutPhase::Initializing,
        step: 0,
        canary_weight: 0,
        stable_revision: "main@sha1:aaa".into(),
        candidate_revision: "main@sha1:bbb".into(),
        candidate_ready: true,
        step_elapsed: Duration::ZERO,
        total_elapsed: Duration::ZERO,
        analyses: 0,
        failed_analyses: 0,
        step_passed: 0,
        since_analysis: None,
        last_analysis: Vec::new(),
        gates: Vec::new(),
    }
}

fn error_rate(passed: bool, value: f64) -> CheckResult {
    CheckResult {
        name: "error-rate".into(),
        kind: CheckKind::Metric,
        passed,
        query: "sum(rate(http_errors{app=\"web\"}[1m]))".into(),
        value: Some(value),
        threshold: "<= 0.01".into(),
        message: String::new(),
    }
}

#[tokio::test]
async fn canary_steps_through_the_host() {
    let cache = tempfile::tempdir().unwrap();
    let canary = load(cache.path(), "canary").await;
    assert_eq!(canary.kind().to_string(), "rollout");
    let config = json!({"interval": "30s", "stepWeights": [20, 60], "threshold": 2});

    // Before any traffic: analyse at once.
    let start = input(config.clone());
    let (decision, notes) = canary.step(&start).await.unwrap();
    assert_eq!(decision, Decision::Analyse);
    assert_eq!(notes[0].message, "before traffic: analysis 1 of 1");
    assert_eq!(notes[0].severity, Severity::Info);

    // It passed: the first weight.
    let passed = StepInput {
        analyses: 1,
        step_passed: 1,
        since_analysis: Some(Duration::from_millis(40)),
        last_analysis: vec![error_rate(true, 0.001)],
        ..start.clone()
    };
    let (decision, notes) = canary.step(&passed).await.unwrap();
    assert_eq!(decision, Decision::SetWeight(20));
    assert_eq!(notes[0].message, "step 1/2: weight 0 → 20");

    // At 20%, 12.5 s into the step: wait for the rest of the interval.
    let at_20 = StepInput {
        phase: RolloutPhase::Progressing,
        step: 1,
        canary_weight: 20,
        step_elapsed: Duration::from_millis(12_500),
        total_elapsed: Duration::from_secs(13),
        step_passed: 0,
        since_analysis: None,
        last_analysis: Vec::new(),
        ..passed
    };
    let (decision, _) = canary.step(&at_20).await.unwrap();
    assert_eq!(decision, Decision::Wait(Duration::from_millis(17_500)));

    // Two failed analyses reach the threshold: roll back, saying why.
    let failing = StepInput {
        analyses: 3,
        failed_analyses: 2,
        since_analysis: Some(Duration::ZERO),
        last_analysis: vec![error_rate(false, 0.12)],
        ..at_20.clone()
    };
    let (decision, notes) = canary.step(&failing).await.unwrap();
    let expected = "2 failed analyses (threshold 2); last: error-rate (metric): value 0.12, want <= 0.01, query: sum(rate(http_errors{app=\"web\"}[1m]))";
    assert_eq!(decision, Decision::Rollback(expected.into()));
    assert_eq!(notes[0].severity, Severity::Warning);

    // After the last step a policy gate blocks promotion, naming itself.
    let last = StepInput {
        step: 2,
        canary_weight: 60,
        step_passed: 1,
        since_analysis: Some(Duration::ZERO),
        last_analysis: vec![error_rate(true, 0.0)],
        gates: vec![CheckResult {
            name: "policies".into(),
            kind: CheckKind::Policy,
            passed: false,
            query: "guardrails".into(),
            value: None,
            threshold: "allow".into(),
            message: "guardrails denied Deployment web".into(),
        }],
        ..at_20
    };
    let (decision, notes) = canary.step(&last).await.unwrap();
    assert_eq!(decision, Decision::Wait(Duration::from_secs(30)));
    assert_eq!(
        notes[0].message,
        "promotion blocked by policy gate 'policies': guardrails denied Deployment web"
    );
    let approved = StepInput {
        gates: Vec::new(),
        ..last
    };
    assert_eq!(canary.step(&approved).await.unwrap().0, Decision::Promote);
    let promoting = StepInput {
        phase: RolloutPhase::Promoting,
        ..approved
    };
    assert_eq!(canary.step(&promoting).await.unwrap().0, Decision::Done);
}

#[tokio::test]
async fn blue_green_switches_after_analysis_and_promotes_after_keeping_blue() {
    let cache = tempfile::tempdir().unwrap();
    let blue_green = load(cache.path(), "blue-green").await;
    let config = json!({"iterations": 2, "keepBlueFor": "2m"});
    let green = StepInput {
        phase: RolloutPhase::Progressing,
        step: 1,
        step_elapsed: Duration::from_secs(130),
        step_passed: 2,
        since_analysis: Some(Duration::from_secs(10)),
        last_analysis: vec![error_rate(true, 0.0)],
        ..input(config)
    };
    let (decision, notes) = blue_green.step(&green).await.unwrap();
    assert_eq!(decision, Decision::SetWeight(100));
    assert_eq!(
        notes[0].message,
        "green passed 2 analyses: switching all traffic to revision main@sha1:bbb"
    );

    let switched = StepInput {
        step: 2,
        canary_weight: 100,
        step_elapsed: Duration::from_secs(90),
        step_passed: 1,
        since_analysis: Some(Duration::from_secs(30)),
        ..green
    };
    let (decision, notes) = blue_green.step(&switched).await.unwrap();
    // The next analysis is due in 30 s, the end of keepBlueFor in 30 s.
    assert_eq!(decision, Decision::Wait(Duration::from_secs(30)));
    assert_eq!(notes[1].message, "keeping blue for 30s more");

    let kept = StepInput {
        step_elapsed: Duration::from_secs(120),
        ..switched
    };
    assert_eq!(blue_green.step(&kept).await.unwrap().0, Decision::Promote);
}

#[tokio::test]
async fn config_errors_name_the_field() {
    let cache = tempfile::tempdir().unwrap();
    let canary = load(cache.path(), "canary").await;
    let bad = input(json!({
        "interval": "soon",
        "stepWeights": [10, 200],
        "mirror": true,
        "maxWeight": 50,
        "canaryWeight": 5,
    }));
    let err = canary.step(&bad).await.unwrap_err();
    let Error::InvalidConfig { errors, .. } = &err else {
        panic!("{err}")
    };
    let mut paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["", "interval", "maxWeight", "mirror", "stepWeights[1]"],
        "{err}"
    );
    let mirror = errors.iter().find(|e| e.path == "mirror").unwrap();
    assert!(
        mirror
            .message
            .contains("Traffic mirroring is not supported"),
        "{}",
        mirror.message
    );
    let unknown = errors.iter().find(|e| e.path.is_empty()).unwrap();
    assert!(
        unknown.message.contains("canaryWeight"),
        "{}",
        unknown.message
    );

    // What the schema cannot say, the plugin does, with the field.
    let down = input(json!({"stepWeights": [50, 10]}));
    let err = canary.step(&down).await.unwrap_err();
    let Error::Failed { diagnostics, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(diagnostics[0].field_path.as_deref(), Some("stepWeights[1]"));
    assert_eq!(diagnostics[0].code.as_deref(), Some("invalid-config"));

    let blue_green = load(cache.path(), "blue-green").await;
    let err = blue_green
        .step(&input(json!({"keepBlueFor": 600, "iterations": 0})))
        .await
        .unwrap_err();
    let Error::InvalidConfig { errors, .. } = &err else {
        panic!("{err}")
    };
    let mut paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["iterations", "keepBlueFor"], "{err}");
}

#[tokio::test]
async fn a_finished_rollout_or_another_kind_of_plugin_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let canary = load(cache.path(), "canary").await;
    let done = StepInput {
        phase: RolloutPhase::Succeeded,
        ..input(json!({}))
    };
    let err = canary.step(&done).await.unwrap_err();
    assert!(matches!(err, Error::RolloutFinished { .. }), "{err}");
    assert_eq!(err.reason(), "RolloutFinished");

    let guardrails = load(cache.path(), "guardrails").await;
    let err = guardrails.step(&input(json!({}))).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is not a rollout plugin: it is a policy plugin"),
        "{err}"
    );
}
