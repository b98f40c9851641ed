use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::Api;
use serde_json::json;
use sluice_apply::{ApplyOptions, Error};

use crate::support::{TestCluster, config_map, manifests, unique};

#[tokio::test]
async fn an_invalid_object_stops_the_release_before_any_write() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("invalid").await;
    let set = manifests([
        config_map(&ns, "good", json!({"k": "v"})),
        config_map(&ns, "Bad_Name", json!({"k": "v"})),
    ]);
    let writes = cluster.writes();
    let err = cluster
        .applier("invalid", &ns, ApplyOptions::default())
        .apply(&set)
        .await
        .expect_err("dry-run fails");
    let message = err.to_string();
    assert!(
        message.contains(&format!("ConfigMap/{ns}/Bad_Name")),
        "{message}"
    );
    assert!(message.contains("metadata.name"), "{message}");
    assert_eq!(err.reason(), "DryRunFailed");
    let Error::DryRun { failures, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(&failures[0], Error::Rejected { field: Some(f), .. } if f == "metadata.name"));

    assert_eq!(cluster.writes(), writes, "nothing written");
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(config_maps.get_opt("good").await.expect("get").is_none());
    assert!(
        config_maps
            .get_opt("sluice-invalid")
            .await
            .expect("get")
            .is_none()
    );
    cluster.cleanup().await;
}

#[tokio::test]
async fn objects_in_a_new_namespace_are_dry_run_after_it_exists() {
    let cluster = TestCluster::start().await;
    let ns = unique("later");
    cluster.created_namespace(&ns);
    let set = manifests([
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        config_map(&ns, "Bad_Name", json!({"k": "v"})),
    ]);
    let err = cluster
        .applier("later", &ns, ApplyOptions::default())
        .apply(&set)
        .await
        .expect_err("dry-run of the dependent fails");
    let Error::DryRun {
        failures,
        after_definitions,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(after_definitions, "{err}");
    assert!(
        err.to_string()
            .contains("after the set's CustomResourceDefinitions and Namespaces were applied")
    );
    assert!(
        matches!(&failures[0], Error::Rejected { object, .. } if object == &format!("ConfigMap/{ns}/Bad_Name"))
    );
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    assert!(
        namespaces.get_opt(&ns).await.expect("get").is_some(),
        "the namespace phase ran"
    );
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(
        config_maps
            .get_opt("Bad_Name")
            .await
            .expect("get")
            .is_none()
    );
    cluster.cleanup().await;
}
