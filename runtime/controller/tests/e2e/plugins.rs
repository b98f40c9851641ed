//! Plugin objects in the cluster: the controller admits them as the CLI
//! does, except that it has no `sluice.lock`, so a bundle tag must carry its
//! digest; a Plugin asking for a capability `--allow-capabilities` did not
//! allow is refused before its component is read. Both stall the Release
//! with a message that says what to change.

use std::time::Duration;

use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use sluice_types::crd::Plugin;

use crate::support::{Running, ready, source, test_options, write};

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
