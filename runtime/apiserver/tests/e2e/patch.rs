use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::support::{Cluster, api_error, config_map, send};

pub fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}],
                     "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1"},
                ]},
            },
        },
    })
}

#[tokio::test]
async fn merge_and_json_patch() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    cms.create(
        &PostParams::default(),
        &config_map("cfg", json!({"a": "1", "b": "2"})),
    )
    .await
    .expect("created");
    let merged = cms
        .patch(
            "cfg",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        serde_json::to_value(&merged.data).expect("data"),
        json!({"b": "2", "c": "3"})
    );

    let path = "/api/v1/namespaces/default/configmaps/cfg";
    let ops = json!([
        {"op": "test", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/b", "value": "20"},
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
    ]);
    let patched = send(
        &cluster.client,
        "PATCH",
        path,
        "application/json-patch+json",
        &ops,
    )
    .await
    .expect("json patch");
    assert_eq!(patched["data"]["b"], "20");
    assert_eq!(patched["metadata"]["labels"]["x"], "y");

    let failing = json!([{"op": "test", "path": "/data/b", "value": "nope"}]);
    let status = api_error(
        send(
            &cluster.client,
            "PATCH",
            path,
            "application/json-patch+json",
            &failing,
        )
        .await,
    );
    assert_eq!(status.code, 422);
}

#[tokio::test]
async fn strategic_merge_uses_merge_keys() {
    let cluster = Cluster::start().await;
    let deployments: Api<Deployment> = cluster.api("default");
    let object: Deployment = serde_json::from_value(deployment("web", 1)).expect("deployment");
    deployments
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]},
    ]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("strategic patch");
    let spec = patched.spec.expect("spec").template.spec.expect("pod spec");
    assert_eq!(spec.containers.len(), 2, "the sidecar stays");
    let web = &spec.containers[0];
    assert_eq!(web.image.as_deref(), Some("nginx:2"));
    let env: Vec<&str> = web.env.iter().flatten().map(|e| e.name.as_str()).collect();
    assert_eq!(env, ["A", "B"]);
    assert_eq!(web.ports.as_ref().map(Vec::len), Some(1));

    let removal = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"},
    ]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(removal))
        .await
        .expect("delete directive");
    assert_eq!(
        patched
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod")
            .containers
            .len(),
        1
    );
    assert_eq!(patched.metadata.generation, Some(3));
}
