use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::discovery::{Discovery, Scope};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

use crate::support::{Cluster, api_error};

fn definition(plural: &str, kind: &str, scope: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.example.com")},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"plural": plural, "kind": kind, "singular": kind.to_lowercase()},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}},
            }],
        },
    }))
    .expect("crd")
}

async fn establish(cluster: &Cluster, crd: &CustomResourceDefinition) {
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    crds.create(&PostParams::default(), crd)
        .await
        .expect("crd created");
    let name = crd.metadata.name.clone().expect("name");
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .expect("in time")
    .expect("established");
}

#[tokio::test]
async fn custom_resources_are_served_once_established() {
    let cluster = Cluster::start().await;
    let widgets_path = "/apis/example.com/v1/namespaces/default/widgets";
    let before = http::Request::get(widgets_path)
        .body(Vec::new())
        .expect("request");
    assert_eq!(
        api_error(cluster.client.request_text(before).await).code,
        404
    );

    establish(&cluster, &definition("widgets", "Widget", "Namespaced")).await;
    establish(&cluster, &definition("gadgets", "Gadget", "Cluster")).await;

    let discovery = Discovery::new(cluster.client.clone())
        .run()
        .await
        .expect("discovery");
    let (widget, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .expect("widgets discovered");
    assert_eq!(caps.scope, Scope::Namespaced);
    let (gadget, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Gadget"))
        .expect("gadgets discovered");
    assert_eq!(caps.scope, Scope::Cluster);

    let widgets: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), "default", &widget);
    let applied = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1, "tags": ["a", "b"]}});
    let created = widgets
        .patch("w", &PatchParams::apply("sluice"), &Patch::Apply(&applied))
        .await
        .expect("apply creates a widget");
    assert_eq!(created.data["spec"]["size"], 1);
    assert_eq!(created.metadata.generation, Some(1));
    let merged = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"tags": ["c"]}})),
        )
        .await
        .expect("strategic patch is a merge patch on custom resources");
    assert_eq!(merged.data["spec"], json!({"size": 1, "tags": ["c"]}));
    let status = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}})),
        )
        .await
        .expect("status subresource");
    assert_eq!(status.data["status"]["ready"], true);
    assert_eq!(status.metadata.generation, Some(2));

    let gadgets: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &gadget);
    let mut object = DynamicObject::new(
        "g",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Gadget")),
    );
    object.data = json!({"spec": {"on": true}});
    gadgets
        .create(&PostParams::default(), &object)
        .await
        .expect("cluster-scoped custom resource");
    assert_eq!(
        gadgets
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("crd deleted");
    let after = http::Request::get(widgets_path)
        .body(Vec::new())
        .expect("request");
    assert_eq!(
        api_error(cluster.client.request_text(after).await).code,
        404
    );
}

#[tokio::test]
async fn invalid_definitions_are_rejected() {
    let cluster = Cluster::start().await;
    let mut crd = definition("widgets", "Widget", "Namespaced");
    crd.metadata.name = Some("wrong.example.com".into());
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    let status = api_error(crds.create(&PostParams::default(), &crd).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        status.details.expect("details").causes[0].field,
        "metadata.name"
    );
}
