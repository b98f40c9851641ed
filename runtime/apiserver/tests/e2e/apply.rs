use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::patch::deployment;
use crate::support::{Cluster, api_error, send_text};

fn managers(object: &Deployment) -> Vec<(String, String)> {
    object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn fields_of(object: &Deployment, manager: &str) -> Value {
    let entry = object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some(manager))
        .unwrap_or_else(|| panic!("{manager} owns fields"));
    serde_json::to_value(&entry.fields_v1).expect("fieldsV1")
}

#[tokio::test]
async fn shared_fields_conflicts_and_force() {
    let cluster = Cluster::start().await;
    let deployments: Api<Deployment> = cluster.api("default");
    let alice = PatchParams::apply("alice");
    let bob = PatchParams::apply("bob");

    let created = deployments
        .patch("web", &alice, &Patch::Apply(deployment("web", 2)))
        .await
        .expect("apply creates");
    assert_eq!(
        managers(&created),
        [("alice".to_owned(), "Apply".to_owned())]
    );
    let fields = fields_of(&created, "alice");
    assert!(
        fields
            .pointer("/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"web\"}/f:image")
            .is_some(),
        "{fields}"
    );

    let same = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}});
    let shared = deployments
        .patch("web", &bob, &Patch::Apply(&same))
        .await
        .expect("same value: no conflict");
    assert!(
        fields_of(&shared, "alice")
            .pointer("/f:spec/f:replicas")
            .is_some()
    );
    assert!(
        fields_of(&shared, "bob")
            .pointer("/f:spec/f:replicas")
            .is_some()
    );

    let different = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:9"}]}}}});
    let conflict = api_error(
        deployments
            .patch("web", &bob, &Patch::Apply(&different))
            .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    let causes = conflict.details.expect("details").causes;
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            ".spec.replicas",
            ".spec.template.spec.containers[name=\"web\"].image"
        ],
        "{causes:?}"
    );
    assert!(causes.iter().all(|c| c.reason == "FieldManagerConflict"));
    assert_eq!(causes[0].message, "conflict with \"alice\" using apps/v1");

    let forced = deployments
        .patch("web", &bob.clone().force(), &Patch::Apply(&different))
        .await
        .expect("force takes ownership");
    let spec = forced.spec.clone().expect("spec");
    assert_eq!(spec.replicas, Some(5));
    assert!(
        fields_of(&forced, "alice")
            .pointer("/f:spec/f:replicas")
            .is_none()
    );
    assert!(
        fields_of(&forced, "bob")
            .pointer("/f:spec/f:replicas")
            .is_some()
    );
    let web = &spec.template.spec.expect("pod").containers[0];
    assert_eq!(
        (web.image.as_deref(), web.ports.as_ref().map(Vec::len)),
        (Some("nginx:9"), Some(1))
    );
}

#[tokio::test]
async fn fields_no_longer_applied_are_removed_unless_shared() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data});
    let alice = PatchParams::apply("alice");
    cms.patch(
        "cfg",
        &alice,
        &Patch::Apply(cm(json!({"a": "1", "b": "2", "c": "3"}))),
    )
    .await
    .expect("alice applies");
    cms.patch(
        "cfg",
        &PatchParams::apply("bob"),
        &Patch::Apply(cm(json!({"c": "3"}))),
    )
    .await
    .expect("bob shares c");
    let after = cms
        .patch("cfg", &alice, &Patch::Apply(cm(json!({"a": "1"}))))
        .await
        .expect("alice drops b and c");
    let data = after.data.expect("data");
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["a", "c"],
        "b pruned, c kept for bob"
    );

    let labelled = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"owner": "alice"}}, "data": {"a": "1"}});
    cms.patch("cfg", &alice, &Patch::Apply(&labelled))
        .await
        .expect("alice labels");
    cms.patch(
        "cfg",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "ops"}}})),
    )
    .await
    .expect("someone else adds a label");
    let unlabelled = cms
        .patch("cfg", &alice, &Patch::Apply(cm(json!({"a": "1"}))))
        .await
        .expect("alice drops her labels");
    let labels = unlabelled.metadata.labels.expect("labels map kept");
    assert_eq!(
        labels.keys().collect::<Vec<_>>(),
        ["team"],
        "only alice's label pruned"
    );
}

#[tokio::test]
async fn yaml_apply_and_manager_rules() {
    let cluster = Cluster::start().await;
    let path = "/api/v1/namespaces/default/configmaps/from-yaml";
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  mode: \"0755\"\n  flag: \"yes\"\n";
    let created = send_text(
        &cluster.client,
        "PATCH",
        &format!("{path}?fieldManager=yaml-user"),
        "application/apply-patch+yaml",
        yaml.into(),
    )
    .await
    .expect("yaml apply");
    assert_eq!(created["data"], json!({"mode": "0755", "flag": "yes"}));
    assert_eq!(
        created["metadata"]["managedFields"][0]["manager"],
        "yaml-user"
    );

    let nameless = api_error(
        send_text(
            &cluster.client,
            "PATCH",
            path,
            "application/apply-patch+yaml",
            yaml.into(),
        )
        .await,
    );
    assert_eq!(nameless.code, 422);
    assert!(
        nameless.message.contains("fieldManager"),
        "{}",
        nameless.message
    );

    let updated = send_text(
        &cluster.client,
        "PATCH",
        &format!("{path}?fieldManager=editor"),
        "application/merge-patch+json",
        json!({"data": {"mode": "0644"}}).to_string(),
    )
    .await
    .expect("merge patch by another manager");
    let entries = updated["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let editor = entries
        .iter()
        .find(|e| e["manager"] == "editor")
        .expect("editor entry");
    assert_eq!(editor["operation"], "Update");
    assert!(
        editor["fieldsV1"].pointer("/f:data/f:mode").is_some(),
        "{editor}"
    );
    let yaml_user = entries
        .iter()
        .find(|e| e["manager"] == "yaml-user")
        .expect("yaml-user entry");
    assert!(
        yaml_user["fieldsV1"].pointer("/f:data/f:mode").is_none(),
        "ownership moved: {yaml_user}"
    );
}
