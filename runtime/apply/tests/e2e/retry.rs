use std::time::{Duration, Instant};

use serde_json::json;
use sluice_apply::{Action, ApplyOptions};

use crate::support::{TestCluster, config_map, manifests};

#[tokio::test]
async fn busy_and_failing_servers_are_retried() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("busy").await;
    cluster.fail_next(&[429, 503, 500]);
    let started = Instant::now();
    let report = cluster
        .applier("busy", &ns, ApplyOptions::default())
        .apply(&manifests([config_map(&ns, "a", json!({"k": "v"}))]))
        .await
        .expect("apply succeeds after retries");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the 429's Retry-After (1 s) was honoured"
    );
    assert_eq!(
        report.action(&format!("ConfigMap/{ns}/a")),
        Some(&Action::Created)
    );
    assert_eq!(cluster.faults_left(), 0);
    cluster.cleanup().await;
}

#[tokio::test]
async fn retries_are_bounded_and_the_error_names_the_object() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("down").await;
    cluster.fail_next(&[503; 5]);
    let err = cluster
        .applier("down", &ns, ApplyOptions::default())
        .apply(&manifests([config_map(&ns, "a", json!({"k": "v"}))]))
        .await
        .expect_err("gives up");
    let message = err.to_string();
    assert!(message.contains(&format!("ConfigMap/{ns}/a")), "{message}");
    assert!(message.contains("retried"), "{message}");
    assert_eq!(cluster.faults_left(), 0);
    cluster.cleanup().await;
}
