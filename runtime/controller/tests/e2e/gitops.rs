//! The controller following a real Git repository served by `git daemon`
//! on loopback: three Releases with `dependsOn` from one Source, a commit
//! reaching the cluster at the Source's interval, an object removed from
//! Git pruned (and kept where `prune` is off), and drift — a deleted
//! object, a field another manager changed — corrected at the next
//! interval.

#[path = "../../../../tests/support/servers/git.rs"]
#[allow(dead_code)]
mod servers;

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::support::{Running, is_ready, ready};
use servers::{GitDaemon, commit, init_repo};

const WAIT: Duration = Duration::from_secs(90);

fn config_map(name: &str, greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  greeting: {greeting}\n"
    )
}

/// A Source following `main` of `url`, polled every `interval`.
fn git_source(url: &str, interval: &str) -> serde_json::Value {
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Source",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"url": url, "interval": interval, "config": {"ref": {"branch": "main"}}}
    })
}

fn release(name: &str, depends_on: &[&str], spec: serde_json::Value) -> serde_json::Value {
    let mut full = json!({
        "sourceRef": {"name": "app"},
        "path": format!("./{name}"),
        "interval": "5m",
        "retryInterval": "1s",
        "dependsOn": depends_on.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
    });
    full.as_object_mut()
        .unwrap()
        .extend(spec.as_object().cloned().unwrap_or_default());
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": name, "namespace": "default"},
        "spec": full
    })
}

/// The greeting of ConfigMap `name`, if it exists.
async fn greeting(maps: &Api<ConfigMap>, name: &str) -> Option<String> {
    maps.get_opt(name)
        .await
        .ok()
        .flatten()?
        .data?
        .get("greeting")
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_in_git_reaches_three_dependent_releases() {
    let root = tempfile::tempdir().unwrap();
    let repo = init_repo(root.path(), "app");
    let files: Vec<(String, String)> = ["database", "backend", "frontend"]
        .iter()
        .map(|n| (format!("{n}/config.yaml"), config_map(n, "v1")))
        .collect();
    let first = commit(
        &repo,
        &files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect::<Vec<_>>(),
        "v1",
    );
    let daemon = GitDaemon::start(root.path());
    let cluster = Running::start().await;
    cluster
        .create(release("frontend", &["backend"], json!({})))
        .await;
    cluster
        .create(release("backend", &["database"], json!({})))
        .await;
    cluster.create(release("database", &[], json!({}))).await;
    cluster.create(git_source(&daemon.url("app"), "2s")).await;

    let releases = cluster.releases();
    let all_ready = async |revision: &str| {
        for name in ["database", "backend", "frontend"] {
            let r = releases.get(name).await.ok()?;
            let applied = r.status.as_ref()?.last_applied_revision.as_deref();
            if !is_ready(&r) || applied != Some(revision) {
                return None;
            }
        }
        Some(())
    };
    let v1 = format!("main@sha1:{first}");
    cluster
        .until("all three Ready at the first commit", WAIT, async || {
            all_ready(&v1).await
        })
        .await;
    // Ready in dependency order: each turned Ready no earlier than what
    // it depends on.
    let ready_at = async |name: &str| {
        let r = releases.get(name).await.unwrap();
        let status = r.status.unwrap();
        sluice_types::status::find_condition(&status.conditions, "Ready")
            .unwrap()
            .last_transition_time
            .clone()
    };
    let (database, backend, frontend) = (
        ready_at("database").await,
        ready_at("backend").await,
        ready_at("frontend").await,
    );
    assert!(
        database <= backend && backend <= frontend,
        "{database} {backend} {frontend}"
    );
    let source = cluster.sources().get("app").await.unwrap();
    assert_eq!(source.status.unwrap().artifact.unwrap().revision, v1);

    // A commit: nobody asks, the Source's 2s interval finds it.
    let second = commit(
        &repo,
        &[("backend/config.yaml", &config_map("backend", "v2"))],
        "v2",
    );
    let v2 = format!("main@sha1:{second}");
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    cluster
        .until("the commit's greeting in the cluster", WAIT, async || {
            (greeting(&maps, "backend").await? == "v2").then_some(())
        })
        .await;
    cluster
        .until("all three Ready at the second commit", WAIT, async || {
            all_ready(&v2).await
        })
        .await;
    assert_eq!(greeting(&maps, "frontend").await.as_deref(), Some("v1"));

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_from_git_is_pruned_and_drift_is_corrected_at_the_next_interval() {
    let root = tempfile::tempdir().unwrap();
    let repo = init_repo(root.path(), "app");
    commit(
        &repo,
        &[
            ("pruned/a.yaml", &config_map("pruned-a", "a")),
            ("pruned/b.yaml", &config_map("pruned-b", "b")),
            ("kept/a.yaml", &config_map("kept-a", "a")),
            ("kept/b.yaml", &config_map("kept-b", "b")),
            ("drift/a.yaml", &config_map("drift-a", "a")),
            ("drift/b.yaml", &config_map("drift-b", "b")),
        ],
        "first",
    );
    let daemon = GitDaemon::start(root.path());
    let cluster = Running::start().await;
    cluster.create(git_source(&daemon.url("app"), "2s")).await;
    cluster
        .create(release("pruned", &[], json!({"prune": true})))
        .await;
    cluster
        .create(release("kept", &[], json!({"prune": false})))
        .await;
    // Drift: re-applied every 2s, taking fields back from other managers.
    cluster
        .create(release(
            "drift",
            &[],
            json!({"interval": "2s", "force": true}),
        ))
        .await;
    let releases = cluster.releases();
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    cluster
        .until("the three Releases Ready", WAIT, async || {
            for name in ["pruned", "kept", "drift"] {
                if !is_ready(&releases.get(name).await.ok()?) {
                    return None;
                }
            }
            Some(())
        })
        .await;

    // Prune: b leaves Git; gone from the cluster where prune is on.
    std::fs::remove_file(repo.join("pruned/b.yaml")).unwrap();
    std::fs::remove_file(repo.join("kept/b.yaml")).unwrap();
    let removed = commit(&repo, &[], "remove b");
    let revision = format!("main@sha1:{removed}");
    cluster
        .until("both Releases at the removal", WAIT, async || {
            for name in ["pruned", "kept"] {
                let r = releases.get(name).await.ok()?;
                if !is_ready(&r) || r.status?.last_applied_revision? != revision {
                    return None;
                }
            }
            Some(())
        })
        .await;
    assert_eq!(greeting(&maps, "pruned-b").await, None, "pruned");
    assert_eq!(greeting(&maps, "pruned-a").await.as_deref(), Some("a"));
    assert_eq!(
        greeting(&maps, "kept-b").await.as_deref(),
        Some("b"),
        "prune off: left in place"
    );
    let inventory = |r: sluice_types::crd::Release| -> Vec<String> {
        r.status
            .and_then(|s| s.inventory)
            .map(|i| i.entries.into_iter().map(|e| e.name).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        inventory(releases.get("pruned").await.unwrap()),
        ["pruned-a"]
    );
    assert_eq!(inventory(releases.get("kept").await.unwrap()), ["kept-a"]);

    // Drift: a field changed by another manager, an object deleted by hand.
    let patch = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "drift-a", "namespace": "default"},
        "data": {"greeting": "edited by hand"}
    });
    maps.patch(
        "drift-a",
        &PatchParams::apply("kubectl-edit").force(),
        &Patch::Apply(&patch),
    )
    .await
    .unwrap();
    maps.delete("drift-b", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        greeting(&maps, "drift-a").await.as_deref(),
        Some("edited by hand")
    );
    cluster
        .until("the drift corrected", WAIT, async || {
            let a = greeting(&maps, "drift-a").await?;
            let b = greeting(&maps, "drift-b").await?;
            (a == "a" && b == "b").then_some(())
        })
        .await;
    let drift = releases.get("drift").await.unwrap();
    assert!(is_ready(&drift), "{:?}", ready(&drift));

    cluster.stop().await;
}
