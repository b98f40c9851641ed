use super::*;
use serde_json::Value;
use sluice_rollout_support::testing::{analysis, started, walk};
use sluice_rollout_support::{Check, CheckKind, Phase};

use Decision::{Analyse, Done, Promote, SetWeight, Wait};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(json: &str) -> Config {
    parse_config(json).unwrap()
}

fn at_weight(step: u32, weight: u8) -> State {
    State {
        phase: Phase::Progressing,
        step,
        canary_weight: weight,
        ..started()
    }
}

fn messages(step: &Step) -> Vec<&str> {
    step.notes.iter().map(|n| n.message.as_str()).collect()
}

#[test]
fn defaults() {
    let c = config("{}");
    assert_eq!(c.iterations, 3);
    assert_eq!(c.keep_blue_for, secs(600));
    assert_eq!(c.common.interval, secs(60));
}

#[test]
fn step_zero_checks_once_then_deploys_green_without_traffic() {
    let c = config("{}");
    let step = decide(&c, &started());
    assert_eq!(step.decision, Analyse);
    assert_eq!(messages(&step), ["before traffic: analysing (0/1 passed)"]);
    let passed = State {
        step_passed: 1,
        since_analysis: Some(Duration::ZERO),
        last_analysis: analysis(true),
        ..started()
    };
    let step = decide(&c, &passed);
    assert_eq!(step.decision, SetWeight(0));
    assert_eq!(
        messages(&step),
        ["pre-rollout checks passed: analysing green (revision main@sha1:bbb) before the switch"]
    );
}

#[test]
fn green_is_analysed_iterations_times_before_the_switch() {
    let c = config(r#"{"iterations":2,"interval":"30s"}"#);
    let fresh = State {
        step_elapsed: secs(10),
        ..at_weight(1, 0)
    };
    let step = decide(&c, &fresh);
    assert_eq!(step.decision, Wait(secs(20)));
    assert_eq!(
        messages(&step),
        ["green before the switch: next analysis in 20s (0/2 passed)"]
    );
    let one = State {
        step_elapsed: secs(40),
        step_passed: 1,
        since_analysis: Some(secs(10)),
        last_analysis: analysis(true),
        ..fresh
    };
    assert_eq!(decide(&c, &one).decision, Wait(secs(20)));
    let due = State {
        since_analysis: Some(secs(30)),
        ..one.clone()
    };
    assert_eq!(decide(&c, &due).decision, Analyse);
    let both = State {
        step_passed: 2,
        ..one
    };
    let step = decide(&c, &both);
    assert_eq!(step.decision, SetWeight(100));
    assert_eq!(
        messages(&step),
        ["green passed 2 analyses: switching all traffic to revision main@sha1:bbb"]
    );
}

#[test]
fn after_the_switch_analysis_goes_on_and_blue_is_kept() {
    let c = config(r#"{"keepBlueFor":"5m"}"#);
    let switched = State {
        step_elapsed: secs(100),
        step_passed: 1,
        since_analysis: Some(secs(40)),
        last_analysis: analysis(true),
        ..at_weight(2, 100)
    };
    let step = decide(&c, &switched);
    assert_eq!(step.decision, Wait(secs(20)));
    assert_eq!(
        messages(&step),
        [
            "switched to green: next analysis in 20s",
            "keeping blue for 3m20s more"
        ]
    );
    // The end of keepBlueFor comes before the next analysis: wake for it.
    let near_end = State {
        step_elapsed: secs(290),
        ..switched
    };
    assert_eq!(decide(&c, &near_end).decision, Wait(secs(10)));
}

#[test]
fn promotes_after_keep_blue_for_when_the_last_analysis_passed_and_gates_pass() {
    let c = config(r#"{"keepBlueFor":"5m"}"#);
    let kept = State {
        step_elapsed: secs(300),
        step_passed: 4,
        since_analysis: Some(secs(60)),
        last_analysis: analysis(true),
        ..at_weight(2, 100)
    };
    let step = decide(&c, &kept);
    assert_eq!(step.decision, Promote);
    assert_eq!(
        messages(&step),
        ["green served all traffic for 5m with passing analyses: promoting revision main@sha1:bbb"]
    );

    // A failed last analysis is analysed again first (it counts against
    // the threshold).
    let failed = State {
        last_analysis: analysis(false),
        failed_analyses: 1,
        ..kept.clone()
    };
    let step = decide(&c, &failed);
    assert_eq!(step.decision, Analyse);
    assert_eq!(step.notes[0].level, Level::Warning);
}

#[test]
fn a_failing_gate_blocks_promotion_and_analysis_goes_on() {
    let c = config(r#"{"keepBlueFor":"5m"}"#);
    let blocked = State {
        step_elapsed: secs(330),
        step_passed: 5,
        since_analysis: Some(secs(30)),
        last_analysis: analysis(true),
        gates: vec![Check {
            name: "policies".into(),
            kind: CheckKind::Policy,
            passed: false,
            query: "guardrails".into(),
            value: None,
            threshold: "allow".into(),
            message: "guardrails denied Deployment web".into(),
        }],
        ..at_weight(2, 100)
    };
    let step = decide(&c, &blocked);
    assert_eq!(step.decision, Wait(secs(30)));
    assert_eq!(
        messages(&step),
        [
            "switched to green: next analysis in 30s",
            "promotion blocked by policy gate 'policies': guardrails denied Deployment web"
        ]
    );
    assert_eq!(step.notes[1].level, Level::Warning);
}

#[test]
fn rolls_back_at_the_threshold_even_after_the_switch() {
    let state = State {
        failed_analyses: 5,
        last_analysis: analysis(false),
        ..at_weight(2, 100)
    };
    let step = decide(&config("{}"), &state);
    assert!(
        matches!(step.decision, Decision::Rollback(ref r) if r.starts_with("5 failed analyses (threshold 5); last: error-rate (metric): value 0.2"))
    );
}

#[test]
fn promoting_is_done_when_the_primary_is_ready() {
    let promoting = State {
        phase: Phase::Promoting,
        ..at_weight(2, 100)
    };
    assert_eq!(decide(&config("{}"), &promoting).decision, Done);
    let not_yet = State {
        candidate_ready: false,
        ..promoting
    };
    assert_eq!(decide(&config("{}"), &not_yet).decision, Wait(secs(5)));
}

#[test]
fn a_good_candidate_is_analysed_switched_kept_and_promoted() {
    let c = config(r#"{"iterations":2,"keepBlueFor":"90s"}"#);
    let (decisions, end) = walk(|s| decide(&c, s), started(), |_| true, 50);
    assert_eq!(
        decisions,
        [
            Analyse,
            SetWeight(0),
            Wait(secs(60)),
            Analyse,
            Wait(secs(60)),
            Analyse,
            SetWeight(100),
            Wait(secs(60)),
            Analyse,
            Wait(secs(30)),
            Promote,
            Done
        ]
    );
    assert_eq!(end.analyses, 4);
}

#[test]
fn a_bad_candidate_never_gets_the_traffic() {
    let c = config(r#"{"threshold":2}"#);
    let (decisions, end) = walk(|s| decide(&c, s), started(), |n| n == 0, 50);
    assert!(!decisions.contains(&SetWeight(100)));
    assert!(matches!(decisions.last(), Some(Decision::Rollback(_))));
    assert_eq!(end.canary_weight, 0);
}

#[test]
fn the_schema_documents_every_field() {
    let schema: Value = serde_json::from_str(&BlueGreen::schema()).unwrap();
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
    assert_eq!(properties["iterations"]["default"], 3);
    assert_eq!(properties["keepBlueFor"]["default"], "10m");
    assert_eq!(properties["keepBlueFor"]["pattern"], duration::PATTERN);
}
