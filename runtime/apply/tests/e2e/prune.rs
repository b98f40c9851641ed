use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use sluice_apply::{Action, ApplyOptions, PRUNE_ANNOTATION, labels};

use crate::support::{TestCluster, config_map, manifests};

#[tokio::test]
async fn prune_deletes_what_left_the_set_but_not_what_opted_out_or_belongs_elsewhere() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("prune").await;
    let mut kept = config_map(&ns, "kept", json!({"k": "v"}));
    kept["metadata"]["annotations"] = json!({PRUNE_ANNOTATION: "disabled"});
    let full = manifests([
        config_map(&ns, "stays", json!({"k": "v"})),
        config_map(&ns, "goes", json!({"k": "v"})),
        kept,
        config_map(&ns, "shared", json!({"k": "v"})),
    ]);
    let prune = ApplyOptions {
        prune: true,
        ..ApplyOptions::default()
    };
    let mut applier = cluster.applier("prune", &ns, prune.clone());
    applier.apply(&full).await.expect("first apply");

    // Another release's set may not take an object this one owns.
    let mut other = cluster.applier("other", &ns, prune.clone());
    let shared = format!("ConfigMap/{ns}/shared");
    let report = other
        .apply(&manifests([config_map(
            &ns,
            "shared",
            json!({"k": "theirs"}),
        )]))
        .await
        .expect("other apply");
    assert!(
        matches!(report.action(&shared), Some(Action::Skipped(why)) if why.contains(applier.applyset().id())),
        "{report}"
    );

    // Moved to the other set by hand: this set must no longer delete it.
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let relabel = json!({"metadata": {"labels": {labels::PART_OF: other.applyset().id()}}});
    config_maps
        .patch("shared", &PatchParams::default(), &Patch::Merge(&relabel))
        .await
        .expect("relabel");

    let report = applier.apply(&full[..1]).await.expect("prune apply");
    assert_eq!(
        report.action(&format!("ConfigMap/{ns}/stays")),
        Some(&Action::Unchanged)
    );
    assert_eq!(
        report.action(&format!("ConfigMap/{ns}/goes")),
        Some(&Action::Pruned)
    );
    assert!(
        matches!(report.action(&format!("ConfigMap/{ns}/kept")), Some(Action::Skipped(why)) if why.contains("disabled"))
    );
    assert!(
        matches!(report.action(&shared), Some(Action::Skipped(why)) if why.contains("another ApplySet")),
        "{report}"
    );
    assert_eq!(report.counts().pruned, 1);

    assert!(config_maps.get_opt("goes").await.expect("get").is_none());
    for name in ["stays", "kept", "shared"] {
        assert!(
            config_maps.get_opt(name).await.expect("get").is_some(),
            "{name}"
        );
    }
    let parent = config_maps.get("sluice-prune").await.expect("parent");
    let inventory = parent.data.expect("data")["inventory"].clone();
    assert!(
        inventory.contains("stays") && !inventory.contains("goes") && !inventory.contains("kept"),
        "{inventory}"
    );

    // Without prune, what leaves the set stays (and stays tracked).
    let mut keep = cluster.applier("prune", &ns, ApplyOptions::default());
    let report = keep.apply(&[]).await.expect("empty apply");
    assert_eq!(report.objects.len(), 0);
    assert!(config_maps.get_opt("stays").await.expect("get").is_some());
    cluster.cleanup().await;
}
