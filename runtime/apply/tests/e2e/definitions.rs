use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use sluice_apply::{Action, ApplyOptions, Counts};

use crate::support::{TestCluster, config_map, manifests, unique};

#[tokio::test]
async fn a_crd_and_its_custom_resource_in_one_set() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("crd").await;
    let group = format!("{}.sluice.test", unique("g"));
    cluster.created_crd(&format!("widgets.{group}"));
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let widget = json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w", "namespace": ns}, "spec": {"size": 3}});
    // The custom resource comes first in the input; the CRD is still applied first.
    let set = manifests([widget, crd]);

    let mut applier = cluster.applier("crd", &ns, ApplyOptions::default());
    let report = applier.apply(&set).await.expect("apply");
    assert_eq!(
        report.counts(),
        Counts {
            created: 2,
            ..Counts::default()
        },
        "{report}"
    );
    assert_eq!(report.objects[0].object.kind, "CustomResourceDefinition");
    assert_eq!(
        report.action(&format!("Widget/{ns}/w")),
        Some(&Action::Created)
    );

    let writes = cluster.writes();
    let report = applier.apply(&set).await.expect("re-apply");
    assert_eq!(
        report.counts(),
        Counts {
            unchanged: 2,
            ..Counts::default()
        },
        "{report}"
    );
    assert_eq!(cluster.writes(), writes);
    cluster.cleanup().await;
}

#[tokio::test]
async fn a_namespace_created_by_the_same_set() {
    let cluster = TestCluster::start().await;
    let ns = unique("fresh");
    cluster.created_namespace(&ns);
    let set = manifests([
        config_map(&ns, "inside", json!({"k": "v"})),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    ]);
    let mut applier = cluster.applier("fresh", &ns, ApplyOptions::default());
    let report = applier.apply(&set).await.expect("apply");
    assert_eq!(
        report.counts(),
        Counts {
            created: 2,
            ..Counts::default()
        },
        "{report}"
    );
    assert_eq!(report.objects[0].object.kind, "Namespace");

    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(config_maps.get_opt("inside").await.expect("get").is_some());
    let parent = config_maps
        .get("sluice-fresh")
        .await
        .expect("parent in the new namespace");
    assert!(parent.data.expect("data")["inventory"].contains("\"kind\":\"Namespace\""));
    cluster.cleanup().await;
}
