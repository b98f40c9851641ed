//! Plugin objects in the cluster: the controller admits them as the CLI
//! does, except that it has no `sluice.lock`, so a bundle tag must carry its
//! digest; a Plugin asking for a capability `--allow-capabilities` did not
//! allow is refused before its component is read. Both stall the Release
//! with a message that says what to change. A pinned, signed bundle in a
//! real registry (Debian's docker-registry) runs as a Release's policy,
//! and keeps running from the bundle cache when the controller restarts
//! while the registry is down.

use std::time::Duration;

use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use sluice_tests::servers::registry::Registry;
use sluice_types::crd::Plugin;

use crate::support::{Running, deployment, is_ready, ready, source, test_options, write};

const WAIT: Duration = Duration::from_secs(60);

fn plugin(name: &str, spec: serde_json::Value) -> Plugin {
    serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Plugin",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec
    }))
    .expect("a Plugin")
}

fn release(name: &str, policy: &str) -> serde_json::Value {
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "sourceRef": {"name": "app"},
            "interval": "5m",
            "retryInterval": "1s",
            "policies": [{"plugin": policy}]
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpinned_bundles_and_unallowed_capabilities_stall_the_release() {
    let repo = tempfile::tempdir().unwrap();
    write(
        repo.path(),
        "config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: default}\ndata: {a: b}\n",
    );
    let cluster = Running::start_with(sluice_controller::Options {
        allowed_capabilities: "oci".parse().unwrap(),
        ..test_options()
    })
    .await;
    let plugins: Api<Plugin> = Api::namespaced(cluster.client.clone(), "default");
    // Its component does not exist: a refusal before reading it is the
    // only way this Plugin can fail with a message about capabilities.
    let missing = repo.path().join("missing.wasm");
    for p in [
        plugin(
            "fetcher",
            json!({"kind": "policy", "file": missing, "capabilities": ["http", "oci"]}),
        ),
        plugin(
            "tagged",
            json!({"kind": "policy", "bundle": {"url": "oci://127.0.0.1:1/platform:1.0"}}),
        ),
    ] {
        plugins
            .create(&PostParams::default(), &p)
            .await
            .expect("Plugin created");
    }
    cluster.create(source("app", repo.path())).await;
    cluster.create(release("fetching", "fetcher")).await;
    cluster.create(release("tagging", "tagged")).await;

    let stalled = |name: &'static str| {
        let releases = cluster.releases();
        async move || {
            let r = releases.get(name).await.ok()?;
            // Past waiting for the Source's first artifact.
            ready(&r).filter(|(status, reason, _)| status == "False" && reason != "SourceNotReady")
        }
    };
    let (_, reason, message) = cluster
        .until("the fetching release to stall", WAIT, stalled("fetching"))
        .await;
    assert_eq!(reason, "InvalidSpec", "{message}");
    assert!(
        message.contains("Plugin 'fetcher': spec.capabilities: the plugin asks for the capabilities http, oci, but only oci is allowed (not allowed: http)")
            && message.contains("--allow-capabilities http,oci"),
        "{message}"
    );
    assert!(!message.contains("missing.wasm"), "{message}");

    let (_, reason, message) = cluster
        .until("the tagging release to stall", WAIT, stalled("tagging"))
        .await;
    assert_eq!(reason, "InvalidSpec", "{message}");
    assert!(
        message.contains("Plugin 'tagged': spec.bundle.url: oci://127.0.0.1:1/platform:1.0 is not pinned: pin oci://127.0.0.1:1/platform@sha256:…"),
        "{message}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_bundle_plugin_gates_a_release_and_survives_a_registry_outage() {
    let work = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let host = sluice_tests::host(&work.path().join("plugins"));
    let published = sluice_tests::bundles::publish(
        &host,
        &work.path().join("bundle"),
        &registry,
        "platform",
        "platform",
        &["guardrails"],
    )
    .await;

    let repo = work.path().join("repo");
    write(&repo, "deploy.yaml", &deployment("web", "nginx:1.27"));
    let mut cluster = Running::start().await;
    let plugins: Api<Plugin> = Api::namespaced(cluster.client.clone(), "default");
    plugins
        .create(
            &PostParams::default(),
            &plugin(
                "limits",
                json!({"kind": "policy", "bundle": {
                    "url": published.pinned,
                    "plugin": "guardrails",
                    "insecure": true,
                    "verify": {"publicKey": published.public_key}
                }}),
            ),
        )
        .await
        .expect("Plugin created");
    cluster.create(source("app", &repo)).await;
    cluster
        .create(json!({
            "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "sourceRef": {"name": "app"},
                "interval": "5m",
                "retryInterval": "1s",
                "policies": [{"name": "no-latest", "plugin": "limits", "config": {"disallowLatestTag": true}}]
            }
        }))
        .await;
    let releases = cluster.releases();
    let applied = || {
        let releases = releases.clone();
        async move || {
            let r = releases.get("web").await.ok()?;
            is_ready(&r).then_some(())
        }
    };
    let denied = || {
        let releases = releases.clone();
        async move || {
            let r = releases.get("web").await.ok()?;
            ready(&r).filter(|(status, reason, _)| status == "False" && reason == "PolicyDenied")
        }
    };

    // Good manifests pass the bundle's policy.
    cluster
        .until(
            "the release Ready through the bundle's plugin",
            WAIT,
            applied(),
        )
        .await;

    // A floating tag is denied by it.
    write(&repo, "deploy.yaml", &deployment("web", "nginx:latest"));
    cluster.request_source("app", "latest").await;
    let (_, _, message) = cluster
        .until("the bundle's plugin to deny", WAIT, denied())
        .await;
    assert!(
        message.contains("policy 'no-latest' denied") && message.contains(":latest"),
        "{message}"
    );

    // The registry goes away and the controller restarts: the pinned
    // bundle, its blobs and its verified signature come from the cache, so
    // the release is still judged by the same plugin, offline.
    drop(registry);
    cluster.stop_controller(0).await;
    write(&repo, "deploy.yaml", &deployment("web", "nginx:1.28"));
    cluster.add_controller(test_options()).await;
    cluster
        .until("the release Ready again, offline", WAIT, applied())
        .await;
    write(&repo, "deploy.yaml", &deployment("web", "nginx:latest"));
    cluster.request_source("app", "latest-again").await;
    let (_, _, message) = cluster
        .until("the bundle's plugin to deny, offline", WAIT, denied())
        .await;
    assert!(message.contains("policy 'no-latest' denied"), "{message}");
    cluster.stop().await;
}
