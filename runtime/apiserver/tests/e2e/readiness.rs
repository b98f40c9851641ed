use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use serde_json::json;
use sluice_apiserver::Options;

use crate::patch::deployment;
use crate::support::Cluster;

async fn wait_for<K, C>(api: Api<K>, name: &str, condition: C) -> K
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    C: Condition<K>,
{
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(api, name, condition),
    )
    .await
    .expect("in time")
    .expect("watch")
    .expect("object exists")
}

#[tokio::test]
async fn workloads_become_ready_after_the_delay() {
    let cluster =
        Cluster::with(Options::default().with_readiness(Duration::from_millis(200))).await;
    let deployments: Api<Deployment> = cluster.api("default");
    let created = deployments
        .patch(
            "web",
            &PatchParams::apply("sluice"),
            &Patch::Apply(deployment("web", 3)),
        )
        .await
        .expect("applied");
    assert!(created.status.is_none(), "not ready at once");
    let ready = wait_for(deployments.clone(), "web", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.ready_replicas)
            == Some(3)
    })
    .await;
    let status = ready.status.expect("status");
    assert_eq!(
        (status.observed_generation, status.available_replicas),
        (Some(1), Some(3))
    );
    let available = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Available")
        .expect("Available");
    assert_eq!(available.status, "True");

    let jobs: Api<Job> = cluster.api("default");
    let job: Job = serde_json::from_value(
        json!({"metadata": {"name": "once"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
    )
    .expect("job");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("job created");
    let done = wait_for(jobs, "once", |j: Option<&Job>| {
        j.and_then(|j| j.status.as_ref()).and_then(|s| s.succeeded) == Some(1)
    })
    .await;
    let conditions = done.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
    );

    let claims: Api<PersistentVolumeClaim> = cluster.api("default");
    let claim: PersistentVolumeClaim =
        serde_json::from_value(json!({"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
        .expect("claim");
    claims
        .create(&PostParams::default(), &claim)
        .await
        .expect("claim created");
    let bound = wait_for(claims, "data", |c: Option<&PersistentVolumeClaim>| {
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            == Some("Bound")
    })
    .await;
    assert!(bound.status.and_then(|s| s.capacity).is_some());
}
