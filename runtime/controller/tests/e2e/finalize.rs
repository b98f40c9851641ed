//! Deleting Releases: the finalizer holds the deletion until the objects
//! of a pruning Release are gone (except those that opt out); a suspended
//! Release goes without touching its objects.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::ResourceExt;
use kube::api::DeleteParams;
use serde_json::json;
use sluice_controller::FINALIZER;

use crate::support::{Running, is_ready, source, write};

const WAIT: Duration = Duration::from_secs(90);

fn config_map(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n  annotations: {{{annotations}}}\ndata:\n  owner: {name}\n"
    )
}

fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: default
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
"
    )
}

fn release(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"sourceRef": {"name": "app"}, "path": format!("./{name}"),
                 "interval": "5m", "retryInterval": "1s", "prune": true}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_release_deletes_its_objects_unless_suspended() {
    let repo = tempfile::tempdir().unwrap();
    write(repo.path(), "pruned/config.yaml", &config_map("pruned", ""));
    write(repo.path(), "pruned/deploy.yaml", &deployment("pruned"));
    write(
        repo.path(),
        "pruned/keep.yaml",
        &config_map("kept", "sluice.dev/prune: disabled"),
    );
    write(repo.path(), "held/config.yaml", &config_map("held", ""));
    let cluster = Running::start().await;
    cluster.create(source("app", repo.path())).await;
    cluster.create(release("pruned")).await;
    cluster.create(release("held")).await;
    let releases = cluster.releases();
    cluster
        .until("both releases Ready", WAIT, async || {
            let pruned = releases.get("pruned").await.ok()?;
            let held = releases.get("held").await.ok()?;
            (is_ready(&pruned) && is_ready(&held)).then_some(())
        })
        .await;
    for name in ["pruned", "held"] {
        let r = releases.get(name).await.unwrap();
        assert_eq!(r.finalizers(), [FINALIZER], "finalizers of {name}");
    }
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    for name in ["pruned", "kept", "held", "sluice-pruned", "sluice-held"] {
        assert!(
            maps.get_opt(name).await.unwrap().is_some(),
            "{name} applied"
        );
    }

    // Pruning: its objects, then its inventory, then the Release go.
    releases
        .delete("pruned", &DeleteParams::default())
        .await
        .unwrap();
    cluster
        .until("the pruned Release gone", WAIT, async || {
            releases
                .get_opt("pruned")
                .await
                .ok()?
                .is_none()
                .then_some(())
        })
        .await;
    assert!(maps.get_opt("pruned").await.unwrap().is_none());
    assert!(deployments.get_opt("pruned").await.unwrap().is_none());
    assert!(
        maps.get_opt("sluice-pruned").await.unwrap().is_none(),
        "the inventory ConfigMap goes too"
    );
    assert!(
        maps.get_opt("kept").await.unwrap().is_some(),
        "sluice.dev/prune: disabled keeps an object"
    );

    // Suspended: the Release goes, its objects stay.
    cluster.set_suspend("held", true).await;
    releases
        .delete("held", &DeleteParams::default())
        .await
        .unwrap();
    cluster
        .until("the suspended Release gone", WAIT, async || {
            releases.get_opt("held").await.ok()?.is_none().then_some(())
        })
        .await;
    assert!(maps.get_opt("held").await.unwrap().is_some());
    assert!(maps.get_opt("sluice-held").await.unwrap().is_some());
    cluster.stop().await;
}
