use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ready() -> State {
    State {
        phase: Phase::Progressing,
        candidate_ready: true,
        candidate_revision: "main@sha1:bbb".into(),
        ..State::default()
    }
}

fn error_rate(passed: bool) -> Check {
    Check {
        name: "error-rate".into(),
        kind: CheckKind::Metric,
        passed,
        query: "sum(rate(errors[1m]))".into(),
        value: Some(0.12),
        threshold: "<= 0.01".into(),
        message: String::new(),
    }
}

#[test]
fn threshold_reached_rolls_back_naming_the_failing_checks() {
    let state = State {
        failed_analyses: 5,
        last_analysis: vec![
            error_rate(false),
            Check {
                name: "latency".into(),
                passed: true,
                ..error_rate(true)
            },
        ],
        ..ready()
    };
    let step = preflight(&Common::default(), &state).unwrap();
    let Decision::Rollback(reason) = &step.decision else {
        panic!("{step:?}")
    };
    assert_eq!(
        reason,
        "5 failed analyses (threshold 5); last: error-rate (metric): value 0.12, want <= 0.01, query: sum(rate(errors[1m]))"
    );
    assert_eq!(step.notes[0].level, Level::Warning);
}

#[test]
fn below_threshold_the_strategy_decides() {
    let state = State {
        failed_analyses: 4,
        ..ready()
    };
    assert_eq!(preflight(&Common::default(), &state), None);
}

#[test]
fn threshold_wins_over_promoting() {
    let state = State {
        phase: Phase::Promoting,
        failed_analyses: 1,
        ..ready()
    };
    let common = Common {
        threshold: 1,
        ..Common::default()
    };
    let step = preflight(&common, &state).unwrap();
    assert!(
        matches!(step.decision, Decision::Rollback(ref r) if r.contains("no check failed in the latest analysis"))
    );
}

#[test]
fn promoting_ends_when_the_primary_is_ready() {
    let state = State {
        phase: Phase::Promoting,
        ..ready()
    };
    let step = preflight(&Common::default(), &state).unwrap();
    assert_eq!(step.decision, Decision::Done);
    assert!(step.notes[0].message.contains("main@sha1:bbb"));

    let waiting = State {
        candidate_ready: false,
        total_elapsed: secs(3600),
        ..state
    };
    // Past the progress deadline too: a promotion is never rolled back for it.
    let step = preflight(&Common::default(), &waiting).unwrap();
    assert_eq!(step.decision, Decision::Wait(POLL));
}

#[test]
fn a_candidate_not_ready_is_waited_for_until_the_deadline() {
    let common = Common::default();
    let state = State {
        candidate_ready: false,
        total_elapsed: secs(600),
        ..ready()
    };
    let step = preflight(&common, &state).unwrap();
    assert_eq!(step.decision, Decision::Wait(POLL));
    assert_eq!(
        step.notes[0].message,
        "waiting for the candidate to be ready (10m of progressDeadline 10m)"
    );

    let short = Common {
        interval: secs(2),
        ..common.clone()
    };
    let step = preflight(&short, &state).unwrap();
    assert_eq!(step.decision, Decision::Wait(secs(2)));

    let late = State {
        total_elapsed: secs(601),
        ..state
    };
    let step = preflight(&common, &late).unwrap();
    let Decision::Rollback(reason) = step.decision else {
        panic!()
    };
    assert!(
        reason.starts_with(
            "candidate revision main@sha1:bbb not ready after 10m1s (progressDeadline 10m)"
        ),
        "{reason}"
    );
}

#[test]
fn analyses_are_spaced_by_the_interval() {
    let interval = secs(60);
    let fresh = State {
        step_elapsed: secs(20),
        ..ready()
    };
    assert_eq!(next_analysis(&fresh, interval, true), Decision::Analyse);
    assert_eq!(
        next_analysis(&fresh, interval, false),
        Decision::Wait(secs(40))
    );
    let later = State {
        step_elapsed: secs(60),
        ..fresh.clone()
    };
    assert_eq!(next_analysis(&later, interval, false), Decision::Analyse);
    let after_one = State {
        step_elapsed: secs(500),
        since_analysis: Some(secs(45)),
        ..fresh
    };
    assert_eq!(
        next_analysis(&after_one, interval, true),
        Decision::Wait(secs(15))
    );
    let due = State {
        since_analysis: Some(secs(61)),
        ..after_one
    };
    assert_eq!(next_analysis(&due, interval, false), Decision::Analyse);
}

#[test]
fn gates_name_what_blocks_promotion() {
    let policy = Check {
        name: "policies".into(),
        kind: CheckKind::Policy,
        passed: false,
        query: "guardrails".into(),
        value: None,
        threshold: "allow".into(),
        message: "guardrails denied Deployment web: container 'app' uses image 'app:latest'".into(),
    };
    let approval = Check {
        name: "approval".into(),
        kind: CheckKind::Approval,
        passed: false,
        query: String::new(),
        value: None,
        threshold: String::new(),
        message: String::new(),
    };
    let mut state = ready();
    assert_eq!(gates(&state), Ok(()));
    state.gates = vec![policy.clone(), approval.clone()];
    assert_eq!(
        gates(&state),
        Err("promotion blocked by policy gate 'policies': guardrails denied Deployment web: container 'app' uses image 'app:latest'; waiting for approval: run `sluice rollout promote RELEASE`".into())
    );
    state.gates = vec![
        Check {
            passed: true,
            ..policy
        },
        Check {
            message: "run `sluice rollout promote web -n apps`".into(),
            ..approval
        },
    ];
    assert_eq!(
        gates(&state),
        Err("waiting for approval: run `sluice rollout promote web -n apps`".into())
    );
}

#[test]
fn checks_are_described_with_query_value_and_threshold() {
    let no_data = Check {
        value: None,
        message: "query returned no data: sum(rate(errors[1m])); check the metric name and labels"
            .into(),
        ..error_rate(false)
    };
    assert_eq!(
        describe(&no_data),
        "error-rate (metric): want <= 0.01, query returned no data: sum(rate(errors[1m])); check the metric name and labels"
    );
    let hook = Check {
        name: "load-test".into(),
        kind: CheckKind::Webhook,
        passed: false,
        query: "http://loadtester/".into(),
        value: None,
        threshold: "HTTP 2xx".into(),
        message: "answered HTTP 500".into(),
    };
    assert_eq!(
        failing(&[error_rate(true), hook]),
        "load-test (webhook): want HTTP 2xx, answered HTTP 500, query: http://loadtester/"
    );
}

#[test]
fn the_common_config_has_defaults_and_takes_go_durations() {
    #[derive(Deserialize)]
    struct Config {
        #[serde(flatten)]
        common: Common,
    }
    let c: Config = parse_config("{}").unwrap();
    assert_eq!(c.common, Common::default());
    assert_eq!(c.common.interval, secs(60));
    let c: Config =
        parse_config(r#"{"interval":"30s","threshold":2,"progressDeadline":"1m30s"}"#).unwrap();
    assert_eq!(
        c.common,
        Common {
            interval: secs(30),
            threshold: 2,
            progress_deadline: secs(90)
        }
    );
    let err = parse_config::<Config>(r#"{"interval":"soon"}"#)
        .err()
        .unwrap();
    assert!(err.message.contains("'soon' is not a duration"), "{err:?}");
}

#[test]
fn schemas_merge_the_common_fields() {
    let text = schema(
        "test strategy",
        json!({ "iterations": { "type": "integer" } }),
        json!({ "required": ["iterations"] }),
    );
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["iterations"]));
    let properties = schema["properties"].as_object().unwrap();
    let names: Vec<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["interval", "threshold", "progressDeadline", "iterations"]
    );
    assert_eq!(properties["interval"]["default"], "1m");
    assert_eq!(properties["threshold"]["default"], 5);
    assert_eq!(properties["progressDeadline"]["default"], "10m");
}
