use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::{Cluster, config_map};

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let mut held = config_map("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/cleanup".into()]);
    cms.create(&PostParams::default(), &held)
        .await
        .expect("created");

    let answer = cms
        .delete("held", &DeleteParams::background())
        .await
        .expect("delete accepted");
    let pending = answer
        .left()
        .expect("the object comes back while finalizers remain");
    assert!(pending.metadata.deletion_timestamp.is_some());
    let still = cms.get("held").await.expect("still stored");
    assert!(still.metadata.deletion_timestamp.is_some());

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("finalizer removed");
    assert!(
        cms.get_opt("held").await.expect("get").is_none(),
        "gone once finalizers are"
    );
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_objects() {
    let cluster = Cluster::start().await;
    cluster.namespace("team").await;
    let cms: Api<ConfigMap> = cluster.api("team");
    cms.create(&PostParams::default(), &config_map("plain", json!({})))
        .await
        .expect("created");
    let mut held = config_map("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/cleanup".into()]);
    cms.create(&PostParams::default(), &held)
        .await
        .expect("created");

    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    namespaces
        .delete("team", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let terminating = namespaces
        .get("team")
        .await
        .expect("terminating while an object is held");
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    assert!(cms.get_opt("plain").await.expect("get").is_none());
    let refused = cms
        .create(&PostParams::default(), &config_map("late", json!({})))
        .await;
    assert!(matches!(refused, Err(kube::Error::Api(s)) if s.code == 403));

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": []}})),
    )
    .await
    .expect("finalizer removed");
    assert!(
        namespaces.get_opt("team").await.expect("get").is_none(),
        "namespace gone when empty"
    );
}
