use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};
use serde_json::json;
use sluice_apiserver::Options;
use sluice_apply::{ApplyOptions, Error};

use crate::support::{Fault, Match, PAUSE, TestCluster, config_map, deployment, manifests};

#[tokio::test]
async fn wait_returns_once_workloads_are_ready() {
    let cluster =
        TestCluster::with(Options::default().with_readiness(Duration::from_millis(300))).await;
    let ns = cluster.namespace("ready").await;
    let set = manifests([
        deployment(&ns, "web", 2, PAUSE),
        config_map(&ns, "settings", json!({"k": "v"})),
    ]);
    let mut applier = cluster.applier("ready", &ns, ApplyOptions::default());
    let report = applier.apply(&set).await.expect("apply");
    let objects = report.applied();

    let mut rounds = Vec::new();
    applier
        .wait(&objects, Duration::from_secs(60), |p| {
            rounds.push((p.ready, p.total))
        })
        .await
        .expect("ready in time");
    assert_eq!(rounds.last(), Some(&(2, 2)));
    if cluster.local {
        assert!(
            rounds.len() > 1,
            "the deployment was not ready at once: {rounds:?}"
        );
    }
    cluster.cleanup().await;
}

#[tokio::test]
async fn wait_timeout_names_each_object_and_why() {
    // No simulated controllers locally; an image that never pulls on a real cluster.
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("late").await;
    let set = manifests([deployment(&ns, "web", 3, "registry.invalid/never:1")]);
    let mut applier = cluster.applier("late", &ns, ApplyOptions::default());
    let report = applier.apply(&set).await.expect("apply");
    let objects = report.applied();

    let err = applier
        .wait(&objects, Duration::from_millis(600), |_| {})
        .await
        .expect_err("times out");
    let message = err.to_string();
    assert!(matches!(err, Error::WaitTimeout { .. }));
    assert!(
        message.contains(&format!("Deployment/{ns}/web: ")),
        "{message}"
    );
    if cluster.local {
        assert!(
            message.contains("waiting for the controller to report status"),
            "{message}"
        );
    }
    assert_eq!(err.reason(), "HealthCheckFailed");
    cluster.cleanup().await;
}

#[tokio::test]
async fn wait_survives_dropped_watches_without_writing() {
    let cluster =
        TestCluster::with(Options::default().with_readiness(Duration::from_millis(500))).await;
    let ns = cluster.namespace("dropped").await;
    let set = manifests([
        deployment(&ns, "web", 2, PAUSE),
        deployment(&ns, "api", 1, PAUSE),
    ]);
    let mut applier = cluster.applier("dropped", &ns, ApplyOptions::default());
    let report = applier.apply(&set).await.expect("apply");
    let objects = report.applied();

    // The first watch breaks at once, the next expires (410 Gone: list
    // again), the third ends after one chunk of events.
    cluster.inject(Match::Watch, Fault::BreakWatch);
    cluster.inject(Match::Watch, Fault::GoneWatch);
    cluster.inject(Match::Watch, Fault::EndWatch { after: 1 });
    let (writes, watches) = (cluster.writes(), cluster.watches());
    let mut last = None;
    applier
        .wait(&objects, Duration::from_secs(120), |p| {
            last = Some((p.ready, p.total))
        })
        .await
        .expect("ready although watches dropped");
    assert_eq!(last, Some((2, 2)));
    assert_eq!(cluster.writes(), writes, "waiting writes nothing");
    if cluster.local {
        assert_eq!(cluster.faults_left(), 0);
        assert!(
            cluster.watches() - watches >= 3,
            "every dropped watch was resumed"
        );
    }

    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns);
    let mut names: Vec<_> = deployments
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|d| d.metadata.name)
        .collect();
    names.sort();
    assert_eq!(names, ["api", "web"], "no duplicates");
    cluster.cleanup().await;
}
