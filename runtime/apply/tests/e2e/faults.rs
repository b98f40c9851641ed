//! Requests that hang and runs killed half-way: the next attempt (or run)
//! converges without duplicates and without orphans.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use sluice_apply::{Action, ApplyOptions, Counts, labels};

use crate::support::{Fault, Match, TestCluster, config_map, manifests, unique};

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// `Kind/name` of every member the release's parent lists.
async fn inventory(cluster: &TestCluster, namespace: &str, release: &str) -> Vec<String> {
    let parents: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), namespace);
    let parent = parents
        .get(&format!("sluice-{release}"))
        .await
        .expect("parent");
    let text = &parent.data.expect("data")["inventory"];
    let members: Vec<Value> = serde_json::from_str(text).expect("member list");
    members
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["kind"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn requests_that_hang_are_retried_without_duplicates() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("hang").await;
    // The first dry-run never reaches the server; the answer to the real
    // write is lost after the server applied it.
    cluster.inject(Match::AnyWrite, Fault::Hang { sent: false });
    cluster.inject(
        Match::Write("/configmaps/a".into()),
        Fault::Hang { sent: true },
    );
    let options = ApplyOptions {
        request_timeout: Duration::from_millis(300),
        ..ApplyOptions::default()
    };
    let mut applier = cluster.applier("hang", &ns, options);
    let set = manifests([config_map(&ns, "a", json!({"k": "v"}))]);

    let started = Instant::now();
    let report = applier
        .apply(&set)
        .await
        .expect("apply succeeds after timeouts");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "two timeouts were waited out"
    );
    assert_eq!(cluster.faults_left(), 0);
    assert_eq!(report.objects.len(), 1, "{report}");
    assert_eq!(
        report.action(&format!("ConfigMap/{ns}/a")),
        Some(&Action::Created)
    );

    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let members = config_maps
        .list(&ListParams::default().labels(&format!(
            "{}={}",
            labels::PART_OF,
            applier.applyset().id()
        )))
        .await
        .expect("list");
    let names: Vec<_> = members
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a"]);

    let writes = cluster.writes();
    let report = applier.apply(&set).await.expect("re-apply");
    assert_eq!(
        report.action(&format!("ConfigMap/{ns}/a")),
        Some(&Action::Unchanged)
    );
    assert_eq!(cluster.writes(), writes);
    cluster.cleanup().await;
}

#[tokio::test]
async fn a_run_killed_before_its_inventory_write_leaves_nothing_behind() {
    let cluster = TestCluster::start().await;
    let ns = unique("killed");
    let other = unique("killed-other");
    cluster.created_namespace(&ns);
    cluster.created_namespace(&other);
    let release = "killed";
    let first = manifests([
        config_map(&ns, "a", json!({"k": "v"})),
        config_map(&other, "b", json!({"k": "v"})),
        namespace(&other),
        namespace(&ns),
    ]);
    // The process dies as it sends the parent: the set creates the
    // parent's namespace, so that had to exist first.
    cluster.inject(
        Match::Write(format!("/namespaces/{ns}/configmaps/sluice-{release}")),
        Fault::Hang { sent: false },
    );
    let mut applier = cluster.applier(release, &ns, ApplyOptions::default());
    tokio::select! {
        result = applier.apply(&first) => panic!("the run was not killed: {result:?}"),
        () = cluster.hung() => {}
    }
    drop(applier);
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    assert!(namespaces.get_opt(&ns).await.expect("get").is_some());
    assert!(
        namespaces.get_opt(&other).await.expect("get").is_none(),
        "nothing but the parent's namespace is written before the inventory"
    );

    // The next run no longer has `other`, and prunes.
    let second = manifests([config_map(&ns, "a", json!({"k": "v"})), namespace(&ns)]);
    let prune = ApplyOptions {
        prune: true,
        ..ApplyOptions::default()
    };
    let report = cluster
        .applier(release, &ns, prune.clone())
        .apply(&second)
        .await
        .expect("next run");
    assert_eq!(
        report.counts(),
        Counts {
            created: 1,
            unchanged: 1,
            ..Counts::default()
        },
        "{report}"
    );
    let mut members = inventory(&cluster, &ns, release).await;
    members.sort();
    assert_eq!(
        members,
        ["ConfigMap/a".to_string(), format!("Namespace/{ns}")]
    );
    assert!(namespaces.get_opt(&other).await.expect("get").is_none());

    // Pruning still works from the recovered inventory.
    let third = manifests([namespace(&ns)]);
    let report = cluster
        .applier(release, &ns, prune)
        .apply(&third)
        .await
        .expect("prune run");
    assert_eq!(
        report.action(&format!("ConfigMap/{ns}/a")),
        Some(&Action::Pruned)
    );
    assert_eq!(
        inventory(&cluster, &ns, release).await,
        [format!("Namespace/{ns}")]
    );
    cluster.cleanup().await;
}

#[tokio::test]
async fn a_run_killed_between_prune_and_inventory_write_converges() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("late-kill").await;
    let release = "late-kill";
    let prune = ApplyOptions {
        prune: true,
        ..ApplyOptions::default()
    };
    let both = manifests([
        config_map(&ns, "a", json!({"k": "v"})),
        config_map(&ns, "b", json!({"k": "v"})),
    ]);
    cluster
        .applier(release, &ns, prune.clone())
        .apply(&both)
        .await
        .expect("first run");

    // `b` leaves the set; the run dies after deleting it, as it records that.
    let only_a = manifests([config_map(&ns, "a", json!({"k": "v"}))]);
    cluster.inject(
        Match::Write(format!("/configmaps/sluice-{release}")),
        Fault::Hang { sent: false },
    );
    let mut applier = cluster.applier(release, &ns, prune.clone());
    tokio::select! {
        result = applier.apply(&only_a) => panic!("the run was not killed: {result:?}"),
        () = cluster.hung() => {}
    }
    drop(applier);
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(
        config_maps.get_opt("b").await.expect("get").is_none(),
        "b was pruned"
    );
    let mut stale = inventory(&cluster, &ns, release).await;
    stale.sort();
    assert_eq!(stale, ["ConfigMap/a", "ConfigMap/b"]);

    let report = cluster
        .applier(release, &ns, prune)
        .apply(&only_a)
        .await
        .expect("next run");
    assert_eq!(
        report.counts(),
        Counts {
            unchanged: 1,
            ..Counts::default()
        },
        "{report}"
    );
    assert_eq!(inventory(&cluster, &ns, release).await, ["ConfigMap/a"]);
    cluster.cleanup().await;
}
