//! Multi-tenancy and sharding: applies as the Release's service account,
//! cross-namespace references refused under `--no-cross-namespace-refs`,
//! two instances splitting the objects by the shard label.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::{Value, json};
use sluice_controller::SHARD_LABEL;
use sluice_types::status::find_condition;

use crate::support::{Running, is_ready, ready, test_options};

const WAIT: Duration = Duration::from_secs(90);

/// A repository with one ConfigMap per directory in `names`.
fn repo(names: &[&str]) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    for name in names {
        let dir = repo.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  owner: {name}\n"
            ),
        )
        .unwrap();
    }
    repo
}

fn source(name: &str, dir: &Path, labels: Value) -> Value {
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Source",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"url": format!("file://{}", dir.display()), "interval": "5m"}
    })
}

fn release(name: &str, source_ref: Value, labels: Value, extra: Value) -> Value {
    let mut spec = json!({
        "sourceRef": source_ref,
        "path": format!("./{name}"),
        "interval": "5m",
        "retryInterval": "1s",
        "prune": true,
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": spec
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_release_applies_as_its_service_account_and_cross_namespace_refs_are_refused() {
    let repo = repo(&["tenant", "intruder"]);
    std::fs::write(
        repo.path().join("tenant/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tenant\n  namespace: default\ndata:\n  owner: ${owner}\n",
    )
    .unwrap();
    let cluster = Running::start_with(sluice_controller::Options {
        no_cross_namespace_refs: true,
        ..test_options()
    })
    .await;
    let vars: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "vars", "namespace": "default"},
        "data": {"owner": "team-a"}
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(cluster.client.clone(), "default")
        .create(&Default::default(), &vars)
        .await
        .unwrap();
    cluster.create(source("app", repo.path(), json!({}))).await;
    cluster
        .create(release(
            "tenant",
            json!({"name": "app"}),
            json!({}),
            json!({
                "serviceAccountName": "deployer",
                "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]},
            }),
        ))
        .await;
    cluster
        .create(release(
            "intruder",
            json!({"name": "app", "namespace": "flux-system"}),
            json!({}),
            json!({}),
        ))
        .await;

    let releases = cluster.releases();
    cluster
        .until("the tenant's release Ready", WAIT, async || {
            let r = releases.get("tenant").await.ok()?;
            is_ready(&r).then_some(())
        })
        .await;

    // Every write of the tenant's ConfigMap asked to act as the account;
    // the Release's own status is the controller's.
    let audit = cluster.server.audit();
    let applies: Vec<_> = audit
        .iter()
        .filter(|e| e.verb != "GET" && e.path == "/api/v1/namespaces/default/configmaps/tenant")
        .collect();
    assert!(!applies.is_empty(), "the ConfigMap was applied: {audit:#?}");
    for apply in &applies {
        assert_eq!(
            apply.impersonated_user.as_deref(),
            Some("system:serviceaccount:default:deployer"),
            "{apply:?}"
        );
    }
    // So was reading its substitution variables.
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let applied = config_maps.get("tenant").await.unwrap();
    assert_eq!(applied.data.unwrap()["owner"], "team-a");
    let reads: Vec<_> = audit
        .iter()
        .filter(|e| e.path == "/api/v1/namespaces/default/configmaps/vars")
        .collect();
    assert!(!reads.is_empty(), "substituteFrom was read");
    assert!(
        reads
            .iter()
            .all(|e| e.impersonated_user.as_deref()
                == Some("system:serviceaccount:default:deployer")),
        "{reads:?}"
    );
    let status_writes: Vec<_> = audit
        .iter()
        .filter(|e| e.path.ends_with("/releases/tenant/status"))
        .collect();
    assert!(!status_writes.is_empty());
    assert!(
        status_writes.iter().all(|e| e.impersonated_user.is_none()),
        "{status_writes:?}"
    );

    // The cross-namespace sourceRef: Stalled, AccessDenied, nothing applied.
    let refused = cluster
        .until("the intruder refused", WAIT, async || {
            let r = releases.get("intruder").await.ok()?;
            let (status, reason, message) = ready(&r)?;
            (status == "False" && reason == "AccessDenied").then_some((r, message))
        })
        .await;
    let (intruder, message) = refused;
    assert!(
        message.contains("'flux-system/app'")
            && message.contains("spec.sourceRef")
            && message.contains("cross-namespace references are not allowed"),
        "{message}"
    );
    let conditions = &intruder.status.as_ref().unwrap().conditions;
    let stalled = find_condition(conditions, "Stalled").expect("a Stalled condition");
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "AccessDenied")
    );
    assert!(config_maps.get_opt("intruder").await.unwrap().is_none());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sharded_instances_split_the_releases() {
    let repo = repo(&["one", "two", "unsharded"]);
    let shard = |key: &str| json!({ SHARD_LABEL: key });
    let mut cluster = Running::start_with(sluice_controller::Options {
        watch_label_selector: Some(format!("{SHARD_LABEL}=shard1")),
        field_manager: "sluice-shard1".into(),
        ..test_options()
    })
    .await;
    cluster
        .add_controller(sluice_controller::Options {
            watch_label_selector: Some(format!("{SHARD_LABEL}=shard2")),
            field_manager: "sluice-shard2".into(),
            ..test_options()
        })
        .await;
    // Each shard fetches its own Source, as Flux's sharded
    // source-controllers do.
    for (name, key) in [("app1", "shard1"), ("app2", "shard2")] {
        cluster.create(source(name, repo.path(), shard(key))).await;
    }
    cluster
        .create(release(
            "one",
            json!({"name": "app1"}),
            shard("shard1"),
            json!({}),
        ))
        .await;
    cluster
        .create(release(
            "two",
            json!({"name": "app2"}),
            shard("shard2"),
            json!({}),
        ))
        .await;
    cluster
        .create(release(
            "unsharded",
            json!({"name": "app1"}),
            json!({}),
            json!({}),
        ))
        .await;

    let releases = cluster.releases();
    cluster
        .until("both sharded releases Ready", WAIT, async || {
            let one = releases.get("one").await.ok()?;
            let two = releases.get("two").await.ok()?;
            (is_ready(&one) && is_ready(&two)).then_some(())
        })
        .await;

    // Who applied each ConfigMap: its field managers.
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    for (name, manager) in [("one", "sluice-shard1"), ("two", "sluice-shard2")] {
        let cm = config_maps.get(name).await.unwrap();
        let managers: Vec<String> = cm
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.manager)
            .collect();
        assert_eq!(managers, [manager], "field managers of ConfigMap {name}");
    }
    for (name, manager) in [("one", "sluice-shard1"), ("two", "sluice-shard2")] {
        let r = releases.get(name).await.unwrap();
        let managers: Vec<String> = r
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.subresource.as_deref() == Some("status"))
            .filter_map(|m| m.manager)
            .collect();
        assert_eq!(managers, [manager], "status writers of Release {name}");
    }
    // No instance owns the unlabelled Release.
    let unsharded = releases.get("unsharded").await.unwrap();
    assert!(unsharded.status.is_none(), "{:?}", unsharded.status);
    assert!(config_maps.get_opt("unsharded").await.unwrap().is_none());
    cluster.stop().await;
}
