//! The controller reconciling Sources and Releases on the local API server.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use crate::support::{Running, deployment, get, is_ready, ready, source, write};

const WAIT: Duration = Duration::from_secs(90);

fn config_map(name: &str, greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  greeting: {greeting}\n"
    )
}

fn release(
    name: &str,
    path: &str,
    depends_on: &[&str],
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut spec = json!({
        "sourceRef": {"name": "app"},
        "path": path,
        "interval": "5m",
        "retryInterval": "1s",
        "prune": true,
        "wait": true,
        "dependsOn": depends_on.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_releases_become_ready_in_dependency_order_and_follow_a_change() {
    let repo = tempfile::tempdir().unwrap();
    for name in ["database", "backend", "frontend"] {
        write(
            repo.path(),
            &format!("{name}/config.yaml"),
            &config_map(name, "v1"),
        );
        write(
            repo.path(),
            &format!("{name}/deploy.yaml"),
            &deployment(name, "nginx:1.27"),
        );
    }
    let cluster = Running::start().await;
    // The last in the chain first, so only dependsOn can order them.
    cluster
        .create(release("frontend", "./frontend", &["backend"], json!({})))
        .await;
    cluster
        .create(release("backend", "./backend", &["database"], json!({})))
        .await;
    cluster
        .create(release("database", "./database", &[], json!({})))
        .await;
    cluster.create(source("app", repo.path())).await;

    // Watch events come in write order, so the first Ready of each is
    // ordered exactly as the controller wrote it.
    let releases = cluster.releases();
    let mut events =
        std::pin::pin!(watcher(releases.clone(), watcher::Config::default()).applied_objects());
    let mut order: Vec<String> = Vec::new();
    cluster
        .until("all three releases Ready", WAIT, async || {
            let next = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
            if let Ok(Some(Ok(r))) = next {
                let name = r.metadata.name.clone().unwrap_or_default();
                if is_ready(&r) && !order.contains(&name) {
                    order.push(name);
                }
            }
            (order.len() == 3).then_some(())
        })
        .await;
    assert_eq!(
        order,
        ["database", "backend", "frontend"],
        "Ready in dependency order"
    );

    let backend = releases.get("backend").await.unwrap();
    let status = backend.status.clone().unwrap();
    let revision = status
        .last_applied_revision
        .clone()
        .expect("an applied revision");
    assert!(revision.starts_with("sha256:"), "{revision}");
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some(revision.as_str())
    );
    let (_, reason, message) = ready(&backend).unwrap();
    assert_eq!(reason, "ReconciliationSucceeded");
    assert_eq!(message, format!("Applied revision: {revision}"));
    let inventory: Vec<String> = status
        .inventory
        .expect("an inventory")
        .entries
        .iter()
        .map(|e| format!("{}/{}", e.kind, e.name))
        .collect();
    assert_eq!(inventory.len(), 2, "{inventory:?}");
    assert!(
        inventory.contains(&"ConfigMap/backend".to_owned()),
        "{inventory:?}"
    );
    assert!(
        inventory.contains(&"Deployment/backend".to_owned()),
        "{inventory:?}"
    );

    let (code, _) = get(cluster.health, "/healthz").await;
    assert_eq!(code, 200);
    let (code, body) = get(cluster.health, "/readyz").await;
    assert_eq!((code, body.as_str()), (200, "ok"));
    let (code, _) = get(cluster.health, "/metricz").await;
    assert_eq!(code, 404);
    let (code, metrics) = get(cluster.health, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("sluice_condition{kind=\"Release\",namespace=\"default\",name=\"backend\",type=\"Ready\",status=\"True\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sluice_reconcile_duration_seconds_count{kind=\"Release\"}"),
        "{metrics}"
    );
    // Each Release announced its way to Ready.
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let backend_events: Vec<Event> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("backend"))
        .collect();
    let succeeded = backend_events
        .iter()
        .find(|e| e.reason.as_deref() == Some("ReconciliationSucceeded"))
        .expect("a ReconciliationSucceeded event for backend");
    assert_eq!(succeeded.type_.as_deref(), Some("Normal"));
    assert_eq!(succeeded.involved_object.kind.as_deref(), Some("Release"));
    assert_eq!(
        succeeded
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("sluice.dev/revision")),
        Some(&revision)
    );

    // A change in the source reaches the cluster once the Source is polled.
    write(
        repo.path(),
        "backend/config.yaml",
        &config_map("backend", "v2"),
    );
    cluster.request_source("app", "1").await;
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    cluster
        .until("the new greeting in the cluster", WAIT, async || {
            let map = maps.get("backend").await.ok()?;
            (map.data?.get("greeting")? == "v2").then_some(())
        })
        .await;
    let after = cluster
        .until("the new revision in status", WAIT, async || {
            let r = releases.get("backend").await.ok()?;
            let applied = r.status.as_ref()?.last_applied_revision.clone()?;
            (applied != revision && is_ready(&r)).then_some(applied)
        })
        .await;
    let source = cluster.sources().get("app").await.unwrap();
    let source_status = source.status.unwrap();
    assert_eq!(
        source_status.artifact.unwrap().revision,
        after,
        "the Source records the revision"
    );
    assert_eq!(
        source_status.last_handled_reconcile_at.as_deref(),
        Some("1")
    );

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_revision_keeps_the_last_good_one_and_suspend_holds_changes() {
    let repo = tempfile::tempdir().unwrap();
    write(
        repo.path(),
        "web/deploy.yaml",
        &deployment("web", "nginx:1.27"),
    );
    let cluster = Running::start().await;
    let gated = json!({"policies": [{"name": "no-latest", "plugin": "guardrails", "config": {"disallowLatestTag": true}}]});
    cluster.create(source("app", repo.path())).await;
    cluster.create(release("web", "./web", &[], gated)).await;
    let releases = cluster.releases();
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let image = async || -> Option<String> {
        let d = deployments.get("web").await.ok()?;
        d.spec?.template.spec?.containers.first()?.image.clone()
    };

    let good = cluster
        .until("the first revision Ready", WAIT, async || {
            let r = releases.get("web").await.ok()?;
            is_ready(&r).then(|| r.status?.last_applied_revision)?
        })
        .await;
    assert_eq!(image().await.as_deref(), Some("nginx:1.27"));

    // A floating tag is denied: nothing applied, Ready=False with the verdict.
    write(
        repo.path(),
        "web/deploy.yaml",
        &deployment("web", "nginx:latest"),
    );
    cluster.request_source("app", "deny").await;
    let denied = cluster
        .until("the denial in status", WAIT, async || {
            let r = releases.get("web").await.ok()?;
            let (status, reason, _) = ready(&r)?;
            (status == "False" && reason == "PolicyDenied").then_some(r)
        })
        .await;
    let (_, _, message) = ready(&denied).unwrap();
    assert!(message.contains("policy 'no-latest' denied"), "{message}");
    assert!(message.contains(":latest"), "{message}");
    assert!(
        message.contains("last applied revision keeps running"),
        "{message}"
    );
    let status = denied.status.unwrap();
    assert_eq!(status.last_applied_revision.as_deref(), Some(good.as_str()));
    let attempted = status.last_attempted_revision.clone().unwrap();
    assert_ne!(attempted, good);
    assert_eq!(status.policies.len(), 1);
    assert_eq!(status.policies[0].verdict, sluice_types::Verdict::Deny);
    assert!(
        status.policies[0].message.contains("Deployment"),
        "{}",
        status.policies[0].message
    );
    let reconciling =
        sluice_types::status::find_condition(&status.conditions, "Reconciling").unwrap();
    assert_eq!(reconciling.reason, "ProgressingWithRetry");
    assert_eq!(
        image().await.as_deref(),
        Some("nginx:1.27"),
        "the last good revision keeps running"
    );
    let (_, metrics) = get(cluster.health, "/metrics").await;
    assert!(
        metrics.contains("sluice_policy_verdicts_total{policy=\"no-latest\",verdict=\"deny\"}"),
        "{metrics}"
    );
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let warned = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .any(|e| {
            e.reason.as_deref() == Some("PolicyDenied") && e.type_.as_deref() == Some("Warning")
        });
    assert!(warned, "a PolicyDenied warning event");

    // Suspended: a fixed revision is fetched but not applied.
    cluster.set_suspend("web", true).await;
    write(
        repo.path(),
        "web/deploy.yaml",
        &deployment("web", "nginx:1.28"),
    );
    cluster.request_source("app", "fixed").await;
    let sources = cluster.sources();
    let fixed = cluster
        .until("the Source at the fixed revision", WAIT, async || {
            let s = sources.get("app").await.ok()?;
            let revision = s.status?.artifact?.revision;
            (revision != attempted).then_some(revision)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        image().await.as_deref(),
        Some("nginx:1.27"),
        "nothing applied while suspended"
    );
    let held = releases.get("web").await.unwrap().status.unwrap();
    assert_eq!(
        held.last_attempted_revision.as_deref(),
        Some(attempted.as_str())
    );

    // Resumed: the fixed revision goes out.
    cluster.set_suspend("web", false).await;
    cluster
        .until("the fixed revision Ready", WAIT, async || {
            let r = releases.get("web").await.ok()?;
            (is_ready(&r) && r.status?.last_applied_revision? == fixed).then_some(())
        })
        .await;
    assert_eq!(image().await.as_deref(), Some("nginx:1.28"));
    let status = releases.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.policies[0].verdict, sluice_types::Verdict::Allow);

    cluster.stop().await;
}
