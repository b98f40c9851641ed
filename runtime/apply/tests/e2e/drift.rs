use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use sluice_apply::{Action, ApplyOptions, Error};

use crate::support::{TestCluster, config_map, manifests};

#[tokio::test]
async fn hand_edits_conflict_without_force_and_are_corrected_with_it() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("drift").await;
    let set = manifests([config_map(
        &ns,
        "app",
        json!({"color": "blue", "size": "small"}),
    )]);
    cluster
        .applier("drift", &ns, ApplyOptions::default())
        .apply(&set)
        .await
        .expect("first apply");

    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let edit = json!({"data": {"color": "red"}});
    let params = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    config_maps
        .patch("app", &params, &Patch::Merge(&edit))
        .await
        .expect("hand edit");

    let writes = cluster.writes();
    let err = cluster
        .applier("drift", &ns, ApplyOptions::default())
        .apply(&set)
        .await
        .expect_err("conflict without force");
    let Error::DryRun { failures, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(&failures[0], Error::Conflict { object, .. } if object == &format!("ConfigMap/{ns}/app")),
        "{err}"
    );
    assert_eq!(cluster.writes(), writes, "a conflict stops before writing");

    let force = ApplyOptions {
        force: true,
        ..ApplyOptions::default()
    };
    let report = cluster
        .applier("drift", &ns, force)
        .apply(&set)
        .await
        .expect("forced apply");
    let result = &report.objects[0];
    assert_eq!(result.action, Action::Configured);
    assert_eq!(result.drifted, ["data.color"]);
    assert!(
        report.to_string().contains("drift corrected: data.color"),
        "{report}"
    );
    let data = config_maps
        .get("app")
        .await
        .expect("get")
        .data
        .expect("data");
    assert_eq!(data["color"], "blue");
    cluster.cleanup().await;
}
