//! Plugin call latency and failures on `/metrics`, as the pipeline reports
//! them to the controller.

use std::time::Duration;

use serde_json::json;

use crate::support::{Running, get, is_ready, ready, source};

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_calls_are_timed_and_failures_counted() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("good")).unwrap();
    std::fs::write(
        repo.path().join("good/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n  namespace: default\n  labels: {team: a}\n",
    )
    .unwrap();
    // A Kustomization naming a file that is not there: the renderer fails.
    std::fs::create_dir_all(repo.path().join("broken")).unwrap();
    std::fs::write(
        repo.path().join("broken/kustomization.yaml"),
        "resources: [missing.yaml]\n",
    )
    .unwrap();
    let cluster = Running::start().await;
    cluster.create(source("app", repo.path())).await;
    for (name, extra) in [
        (
            "good",
            json!({"policies": [{"name": "labels", "plugin": "guardrails",
                                 "config": {"requiredLabels": ["team"]}}]}),
        ),
        ("broken", json!({})),
    ] {
        let mut spec = json!({"sourceRef": {"name": "app"}, "path": format!("./{name}"),
                              "interval": "5m", "retryInterval": "30s"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap());
        cluster
            .create(json!({
                "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
                "metadata": {"name": name, "namespace": "default"},
                "spec": spec
            }))
            .await;
    }
    let releases = cluster.releases();
    cluster
        .until("good Ready, broken failed", WAIT, async || {
            let good = releases.get("good").await.ok()?;
            let broken = releases.get("broken").await.ok()?;
            let (status, reason, _) = ready(&broken)?;
            (is_ready(&good) && status == "False" && reason == "BuildFailed").then_some(())
        })
        .await;

    let (code, metrics) = get(cluster.health, "/metrics").await;
    assert_eq!(code, 200);
    let value = |series: &str| -> u64 {
        let prefix = format!("{series} ");
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"));
        line[prefix.len()..].parse().unwrap()
    };
    for (plugin, kind) in [
        ("local", "source"),
        ("plain", "renderer"),
        ("guardrails", "policy"),
        ("kustomize", "renderer"),
    ] {
        let labels = format!("{{plugin=\"{plugin}\",kind=\"{kind}\"}}");
        let calls = value(&format!(
            "sluice_plugin_call_duration_seconds_count{labels}"
        ));
        assert!(calls >= 1, "{plugin}: {calls} calls");
        let failures = value(&format!("sluice_plugin_call_failures_total{labels}"));
        if plugin == "kustomize" {
            assert!(failures >= 1, "the broken render counted");
        } else {
            assert_eq!(failures, 0, "{plugin} never failed");
        }
    }
    assert!(
        metrics.contains("# TYPE sluice_plugin_call_duration_seconds histogram\n"),
        "{metrics}"
    );
    cluster.stop().await;
}
