use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use sluice_apiserver::Options;

use crate::support::{Cluster, config_map};

fn name(cm: &ConfigMap) -> String {
    cm.metadata.name.clone().unwrap_or_default()
}

#[tokio::test]
async fn watch_from_a_resource_version() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let first = cms
        .create(&PostParams::default(), &config_map("one", json!({})))
        .await
        .expect("created");
    let rv = first.metadata.resource_version.clone().expect("rv");
    cms.create(&PostParams::default(), &config_map("two", json!({})))
        .await
        .expect("created");
    cms.patch(
        "one",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .expect("patched");
    cms.delete("two", &DeleteParams::default())
        .await
        .expect("deleted");

    let stream = cms
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch");
    let events: Vec<String> = stream
        .take(3)
        .map(|e| match e.expect("event") {
            WatchEvent::Added(o) => format!("ADDED {}", name(&o)),
            WatchEvent::Modified(o) => format!("MODIFIED {}", name(&o)),
            WatchEvent::Deleted(o) => format!("DELETED {}", name(&o)),
            other => format!("{other:?}"),
        })
        .collect()
        .await;
    assert_eq!(events, ["ADDED two", "MODIFIED one", "DELETED two"]);
}

#[tokio::test]
async fn bookmarks_timeouts_and_label_transitions() {
    let cluster = Cluster::with(Options {
        bookmark_interval: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let started = Instant::now();
    let params = WatchParams::default().labels("app=web").timeout(1);
    let stream = cms.watch(&params, "0").await.expect("watch");
    let writer = cms.clone();
    tokio::spawn(async move {
        writer
            .create(&PostParams::default(), &config_map("x", json!({})))
            .await
            .expect("created");
        writer
            .patch(
                "x",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
            )
            .await
            .expect("labelled");
        writer
            .patch(
                "x",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
            )
            .await
            .expect("relabelled");
    });
    let events: Vec<_> = stream
        .try_collect()
        .await
        .expect("stream ends cleanly at the timeout");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timeoutSeconds honoured"
    );
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            _ => "OTHER",
        })
        .filter(|k| *k != "BOOKMARK")
        .collect();
    assert_eq!(
        kinds,
        ["ADDED", "DELETED"],
        "entering and leaving the selector"
    );
    assert!(
        events.iter().any(|e| matches!(e, WatchEvent::Bookmark(_))),
        "bookmarks sent"
    );
}

#[tokio::test]
async fn too_old_resource_version_is_gone() {
    let cluster = Cluster::with(Options {
        history_limit: 3,
        ..Options::default()
    })
    .await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let first = cms
        .create(&PostParams::default(), &config_map("c0", json!({})))
        .await
        .expect("created");
    for i in 1..6 {
        cms.create(
            &PostParams::default(),
            &config_map(&format!("c{i}"), json!({})),
        )
        .await
        .expect("created");
    }
    let rv = first.metadata.resource_version.expect("rv");
    let mut stream = cms
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Error(status))) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected 410 Gone, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_runtime_watcher_sees_changes() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    cms.create(&PostParams::default(), &config_map("before", json!({})))
        .await
        .expect("created");
    let mut objects = watcher(cms.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let seen = objects.next().await.expect("event").expect("object");
    assert_eq!(name(&seen), "before");
    cms.create(&PostParams::default(), &config_map("after", json!({})))
        .await
        .expect("created");
    let seen = tokio::time::timeout(Duration::from_secs(5), objects.next())
        .await
        .expect("in time")
        .expect("event")
        .expect("object");
    assert_eq!(name(&seen), "after");
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    for n in ["a", "b"] {
        cms.create(&PostParams::default(), &config_map(n, json!({})))
            .await
            .expect("created");
    }
    let mut events = watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("in time")
            .expect("event")
            .expect("no error");
        match event {
            watcher::Event::InitApply(cm) => initial.push(name(&cm)),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["a", "b"]);
}
