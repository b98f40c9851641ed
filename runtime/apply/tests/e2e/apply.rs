use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use sluice_apply::{Action, ApplyOptions, Counts, labels};

use crate::support::{PAUSE, TestCluster, config_map, deployment, manifests};

#[tokio::test]
async fn first_apply_creates_then_reapply_writes_nothing_then_change_configures() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("first").await;
    let mut set = manifests([
        deployment(&ns, "web", 2, PAUSE),
        config_map(&ns, "settings", json!({"mode": "one"})),
    ]);

    let mut applier = cluster.applier("web", &ns, ApplyOptions::default());
    let report = applier.apply(&set).await.expect("first apply");
    assert_eq!(
        report.counts(),
        Counts {
            created: 2,
            ..Counts::default()
        },
        "{report}"
    );

    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let member = config_maps.get("settings").await.expect("member");
    let id = applier.applyset().id().to_owned();
    assert_eq!(member.metadata.labels.expect("labels")[labels::PART_OF], id);
    let parent = config_maps.get("sluice-web").await.expect("parent");
    assert_eq!(parent.metadata.labels.expect("labels")[labels::ID], id);
    let annotations = parent.metadata.annotations.expect("annotations");
    assert_eq!(annotations[labels::TOOLING], "sluice/v0.1.0");
    assert_eq!(
        annotations[labels::GROUP_KINDS],
        "ConfigMap,Deployment.apps"
    );
    assert!(!annotations.contains_key(labels::ADDITIONAL_NAMESPACES));
    let inventory = &parent.data.expect("data")["inventory"];
    assert!(inventory.contains("\"kind\":\"Deployment\""), "{inventory}");

    // A fresh applier (cold discovery cache), as the next run would be.
    let writes = cluster.writes();
    let mut again = cluster.applier("web", &ns, ApplyOptions::default());
    let report = again.apply(&set).await.expect("re-apply");
    assert_eq!(
        report.counts(),
        Counts {
            unchanged: 2,
            ..Counts::default()
        },
        "{report}"
    );
    assert_eq!(cluster.writes(), writes, "a no-op apply must not write");

    set[1].object["data"]["mode"] = json!("two");
    let report = again.apply(&set).await.expect("change");
    let settings = format!("ConfigMap/{ns}/settings");
    assert_eq!(report.action(&settings), Some(&Action::Configured));
    assert_eq!(
        report.action(&format!("Deployment/{ns}/web")),
        Some(&Action::Unchanged)
    );
    let data = config_maps
        .get("settings")
        .await
        .expect("member")
        .data
        .expect("data");
    assert_eq!(data["mode"], "two");
    cluster.cleanup().await;
}

#[tokio::test]
async fn kinds_not_served_are_named_with_their_api_version() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("unserved").await;
    let set = manifests([
        json!({"apiVersion": "nothing.example.invalid/v1", "kind": "Gizmo",
        "metadata": {"name": "g", "namespace": ns}}),
    ]);
    let err = cluster
        .applier("unserved", &ns, ApplyOptions::default())
        .apply(&set)
        .await
        .expect_err("not served");
    let message = err.to_string();
    assert!(message.contains(&format!("Gizmo/{ns}/g")), "{message}");
    assert!(message.contains("nothing.example.invalid/v1"), "{message}");
    assert_eq!(err.reason(), "KindNotServed");
    assert_eq!(cluster.writes(), 1, "only the test's namespace was written");
    cluster.cleanup().await;
}

#[tokio::test]
async fn a_set_spanning_namespaces_lists_the_others_on_its_parent() {
    let cluster = TestCluster::start().await;
    let home = cluster.namespace("home").await;
    let away = cluster.namespace("away").await;
    let set = manifests([
        config_map(&home, "here", json!({"k": "v"})),
        config_map(&away, "there", json!({"k": "v"})),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "defaulted"}, "data": {}}),
    ]);
    let mut applier = cluster.applier("span", &home, ApplyOptions::default());
    let report = applier.apply(&set).await.expect("apply");
    assert_eq!(
        report.action(&format!("ConfigMap/{home}/defaulted")),
        Some(&Action::Created),
        "namespaced objects without a namespace go to the release's: {report}"
    );
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &home);
    let parent = config_maps.get("sluice-span").await.expect("parent");
    let annotations = parent.metadata.annotations.expect("annotations");
    assert_eq!(annotations[labels::ADDITIONAL_NAMESPACES], away);
    assert_eq!(annotations[labels::GROUP_KINDS], "ConfigMap");
    cluster.cleanup().await;
}
