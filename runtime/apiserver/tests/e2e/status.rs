use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::patch::deployment;
use crate::support::Cluster;

#[tokio::test]
async fn status_subresource_is_isolated_and_generation_tracks_spec() {
    let cluster = Cluster::start().await;
    let deployments: Api<Deployment> = cluster.api("default");
    let mut body = deployment("web", 1);
    body["status"] = json!({"replicas": 7});
    let object: Deployment = serde_json::from_value(body).expect("deployment");
    let created = deployments
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
    assert!(created.status.is_none(), "status is not set by create");
    assert_eq!(created.metadata.generation, Some(1));

    let with_status = deployments
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"replicas": 1, "readyReplicas": 1}, "spec": {"replicas": 9}}),
            ),
        )
        .await
        .expect("status patch");
    assert_eq!(
        with_status.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1)
    );
    assert_eq!(
        with_status.spec.as_ref().and_then(|s| s.replicas),
        Some(1),
        "spec untouched via /status"
    );
    assert_eq!(with_status.metadata.generation, Some(1));

    let labelled = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}, "status": {"replicas": 0}})),
        )
        .await
        .expect("label patch");
    assert_eq!(
        labelled.metadata.generation,
        Some(1),
        "metadata changes keep the generation"
    );
    assert_eq!(
        labelled.status.as_ref().and_then(|s| s.replicas),
        Some(1),
        "status untouched via main"
    );

    let scaled = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    assert_eq!(scaled.metadata.generation, Some(2));

    let mut replaced = scaled.clone();
    replaced.status.as_mut().expect("status").replicas = Some(3);
    let replaced = deployments
        .replace_status("web", &PostParams::default(), &replaced)
        .await
        .expect("replace status");
    assert_eq!(replaced.status.and_then(|s| s.replicas), Some(3));
    let got = deployments.get_status("web").await.expect("get status");
    assert_eq!(got.metadata.generation, Some(2));
}
