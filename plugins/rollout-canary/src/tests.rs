use super::*;
use serde_json::Value;
use sluice_rollout_support::testing::{analysis, started, walk};
use sluice_rollout_support::{Check, CheckKind, Phase};
use std::time::Duration;

use Decision::{Analyse, Done, Promote, SetWeight, Wait};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(json: &str) -> Config {
    parse_config(json).unwrap()
}

fn decide_with(json: &str) -> impl Fn(&State) -> Step {
    let config = config(json);
    move |state| decide(&config, state).unwrap()
}

/// In the middle of step `step` at `weight`, the candidate ready.
fn at_step(step: u32, weight: u8) -> State {
    State {
        phase: Phase::Progressing,
        step,
        canary_weight: weight,
        ..started()
    }
}

#[test]
fn weights_from_step_weights() {
    assert_eq!(
        config(r#"{"stepWeights":[5,10,25,50]}"#).weights(),
        Ok(vec![5, 10, 25, 50])
    );
}

#[test]
fn weights_from_step_weight_up_to_max_weight() {
    assert_eq!(config("{}").weights(), Ok(vec![10, 20, 30, 40, 50]));
    assert_eq!(
        config(r#"{"stepWeight":20,"maxWeight":50}"#).weights(),
        Ok(vec![20, 40, 50])
    );
    assert_eq!(
        config(r#"{"stepWeight":50,"maxWeight":50}"#).weights(),
        Ok(vec![50])
    );
    assert_eq!(
        config(r#"{"stepWeight":25,"maxWeight":100}"#).weights(),
        Ok(vec![25, 50, 75, 100])
    );
}

#[test]
fn weights_that_cannot_work_name_the_field() {
    let err = config(r#"{"stepWeights":[10,50,30]}"#)
        .weights()
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("stepWeights[2]"));
    assert_eq!(
        err.message,
        "weights must go up step by step, but 30 follows 50"
    );
    let err = config(r#"{"stepWeight":30,"maxWeight":20}"#)
        .weights()
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("maxWeight"));
    // The plugin reports it on the first call, whatever the state.
    let err = Canary::step(r#"{"stepWeights":[10,10]}"#, &started()).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("stepWeights[1]"));
}

#[test]
fn step_zero_analyses_at_once_before_any_traffic() {
    let step = decide(&config("{}"), &started()).unwrap();
    assert_eq!(step.decision, Analyse);
    assert_eq!(step.notes[0].message, "before traffic: analysis 1 of 1");
}

#[test]
fn step_zero_needs_one_pass_whatever_the_iterations() {
    let state = State {
        step_passed: 1,
        since_analysis: Some(Duration::ZERO),
        last_analysis: analysis(true),
        ..started()
    };
    let step = decide(&config(r#"{"iterations":3}"#), &state).unwrap();
    assert_eq!(step.decision, SetWeight(10));
    assert_eq!(step.notes[0].message, "step 1/5: weight 0 → 10");
}

#[test]
fn a_failed_pre_rollout_analysis_is_retried_after_the_interval() {
    let state = State {
        since_analysis: Some(secs(10)),
        analyses: 1,
        failed_analyses: 1,
        last_analysis: analysis(false),
        ..started()
    };
    let step = decide(&config("{}"), &state).unwrap();
    assert_eq!(step.decision, Wait(secs(50)));
    assert_eq!(step.notes[0].level, Level::Warning);
    assert_eq!(
        step.notes[0].message,
        "before traffic: next analysis in 50s (0/1 passed); the last one failed (1/5 failed analyses): error-rate (metric): value 0.2, want <= 0.01, query: sum(rate(errors[1m]))"
    );
}

#[test]
fn the_first_analysis_of_a_step_waits_for_the_interval_since_the_step_began() {
    let c = config(r#"{"interval":"30s","stepWeights":[10,50]}"#);
    let state = State {
        step_elapsed: secs(12),
        ..at_step(1, 10)
    };
    let step = decide(&c, &state).unwrap();
    assert_eq!(step.decision, Wait(secs(18)));
    assert_eq!(
        step.notes[0].message,
        "step 1/2 (weight 10): next analysis in 18s (0/1 passed)"
    );
    let state = State {
        step_elapsed: secs(30),
        ..state
    };
    let step = decide(&c, &state).unwrap();
    assert_eq!(step.decision, Analyse);
    assert_eq!(
        step.notes[0].message,
        "step 1/2 (weight 10): analysis 1 of 1"
    );
}

#[test]
fn iterations_space_analyses_from_the_previous_one() {
    let c = config(r#"{"iterations":3,"stepWeights":[10,50]}"#);
    let state = State {
        step_elapsed: secs(100),
        step_passed: 1,
        since_analysis: Some(secs(25)),
        last_analysis: analysis(true),
        ..at_step(1, 10)
    };
    assert_eq!(decide(&c, &state).unwrap().decision, Wait(secs(35)));
    let state = State {
        since_analysis: Some(secs(60)),
        ..state
    };
    assert_eq!(decide(&c, &state).unwrap().decision, Analyse);
    let state = State {
        step_passed: 3,
        ..state
    };
    let step = decide(&c, &state).unwrap();
    assert_eq!(step.decision, SetWeight(50));
    assert_eq!(step.notes[0].message, "step 2/2: weight 10 → 50");
}

fn gate(kind: CheckKind, name: &str, passed: bool, message: &str) -> Check {
    Check {
        name: name.into(),
        kind,
        passed,
        query: String::new(),
        value: None,
        threshold: String::new(),
        message: message.into(),
    }
}

#[test]
fn after_the_last_step_the_gates_decide_promotion() {
    let c = config(r#"{"stepWeights":[10,50]}"#);
    let done = State {
        step_passed: 1,
        since_analysis: Some(Duration::ZERO),
        last_analysis: analysis(true),
        gates: vec![gate(CheckKind::Policy, "policies", true, "")],
        ..at_step(2, 50)
    };
    let step = decide(&c, &done).unwrap();
    assert_eq!(step.decision, Promote);
    assert_eq!(
        step.notes[0].message,
        "all 2 steps passed: promoting revision main@sha1:bbb"
    );

    let denied = State {
        gates: vec![gate(
            CheckKind::Policy,
            "policies",
            false,
            "guardrails denied Deployment web",
        )],
        ..done.clone()
    };
    let step = decide(&c, &denied).unwrap();
    assert_eq!(step.decision, Wait(secs(60)));
    assert_eq!(step.notes[0].level, Level::Warning);
    assert_eq!(
        step.notes[0].message,
        "promotion blocked by policy gate 'policies': guardrails denied Deployment web"
    );

    let unapproved = State {
        gates: vec![gate(CheckKind::Approval, "approval", false, "")],
        ..done
    };
    let step = decide(&c, &unapproved).unwrap();
    assert_eq!(step.decision, Wait(secs(60)));
    assert_eq!(
        step.notes[0].message,
        "waiting for approval: run `sluice rollout promote RELEASE`"
    );
}

#[test]
fn confirm_promotion_failing_asks_to_promote_again() {
    // The host sets WaitingPromotion when a confirm-promotion webhook says
    // no; the strategy keeps asking and the host keeps checking.
    let c = config(r#"{"stepWeights":[50]}"#);
    let waiting = State {
        phase: Phase::WaitingPromotion,
        step_passed: 1,
        ..at_step(1, 50)
    };
    assert_eq!(decide(&c, &waiting).unwrap().decision, Promote);
}

#[test]
fn rolls_back_at_the_threshold_with_the_failing_checks() {
    let state = State {
        failed_analyses: 2,
        last_analysis: analysis(false),
        ..at_step(3, 30)
    };
    let step = decide(&config(r#"{"threshold":2}"#), &state).unwrap();
    assert_eq!(
        step.decision,
        Decision::Rollback(
            "2 failed analyses (threshold 2); last: error-rate (metric): value 0.2, want <= 0.01, query: sum(rate(errors[1m]))".into()
        )
    );
}

#[test]
fn rolls_back_when_the_candidate_misses_the_progress_deadline() {
    let state = State {
        candidate_ready: false,
        total_elapsed: secs(61),
        ..started()
    };
    let c = config(r#"{"progressDeadline":"1m"}"#);
    assert!(
        matches!(decide(&c, &state).unwrap().decision, Decision::Rollback(r) if r.contains("not ready after 1m1s (progressDeadline 1m)"))
    );
    let state = State {
        total_elapsed: secs(59),
        ..state
    };
    assert_eq!(decide(&c, &state).unwrap().decision, Wait(secs(5)));
}

#[test]
fn promoting_is_done_when_the_primary_is_ready() {
    let promoting = State {
        phase: Phase::Promoting,
        ..at_step(2, 50)
    };
    assert_eq!(decide(&config("{}"), &promoting).unwrap().decision, Done);
}

#[test]
fn a_good_candidate_walks_every_step_weight() {
    let (decisions, end) = walk(
        decide_with(r#"{"interval":"30s","stepWeights":[10,50]}"#),
        started(),
        |_| true,
        50,
    );
    assert_eq!(
        decisions,
        [
            Analyse,
            SetWeight(10),
            Wait(secs(30)),
            Analyse,
            SetWeight(50),
            Wait(secs(30)),
            Analyse,
            Promote,
            Done
        ]
    );
    assert_eq!(end.analyses, 3);
    assert_eq!(end.total_elapsed, secs(60));
}

#[test]
fn a_good_candidate_walks_step_weight_to_max_weight_with_iterations() {
    let (decisions, end) = walk(
        decide_with(r#"{"stepWeight":30,"maxWeight":50,"iterations":2}"#),
        started(),
        |_| true,
        50,
    );
    assert_eq!(
        decisions,
        [
            Analyse,
            SetWeight(30),
            Wait(secs(60)),
            Analyse,
            Wait(secs(60)),
            Analyse,
            SetWeight(50),
            Wait(secs(60)),
            Analyse,
            Wait(secs(60)),
            Analyse,
            Promote,
            Done
        ]
    );
    assert_eq!(end.analyses, 5);
}

#[test]
fn a_bad_candidate_rolls_back_within_the_threshold() {
    // Good before traffic, bad once it serves some.
    let (decisions, end) = walk(
        decide_with(r#"{"threshold":3,"stepWeights":[10,50]}"#),
        started(),
        |n| n == 0,
        50,
    );
    assert_eq!(&decisions[..3], [Analyse, SetWeight(10), Wait(secs(60))]);
    assert!(
        matches!(decisions.last(), Some(Decision::Rollback(r)) if r.starts_with("3 failed analyses (threshold 3)"))
    );
    assert_eq!(end.canary_weight, 10);
    assert_eq!(end.failed_analyses, 3);
    // One interval between the failures: the rollback comes 3 intervals in.
    assert_eq!(end.total_elapsed, secs(180));
}

#[test]
fn the_schema_documents_every_field_and_refuses_mirroring() {
    let schema: Value = serde_json::from_str(&Canary::schema()).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    let properties = schema["properties"].as_object().unwrap();
    for (name, property) in properties {
        assert!(
            property["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name} has no description"
        );
    }
    assert_eq!(properties["mirror"]["const"], false);
    assert!(
        properties["mirror"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Traffic mirroring is not supported")
    );
    assert_eq!(properties["iterations"]["default"], 1);
    assert_eq!(properties["interval"]["default"], "1m");
    assert_eq!(
        schema["dependentSchemas"]["stepWeights"]["properties"]["stepWeight"],
        false
    );
}
