use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, ResourceExt};
use serde_json::json;

use crate::support::{Cluster, api_error, config_map};

async fn seed(cluster: &Cluster) -> Api<ConfigMap> {
    let cms: Api<ConfigMap> = cluster.api("default");
    for (name, app, tier) in [
        ("a", "web", "fe"),
        ("b", "web", "be"),
        ("c", "db", "be"),
        ("d", "db", ""),
        ("e", "", ""),
    ] {
        let mut cm = config_map(name, json!({}));
        let mut labels = std::collections::BTreeMap::new();
        if !app.is_empty() {
            labels.insert("app".to_owned(), app.to_owned());
        }
        if !tier.is_empty() {
            labels.insert("tier".to_owned(), tier.to_owned());
        }
        cm.metadata.labels = Some(labels);
        cms.create(&PostParams::default(), &cm)
            .await
            .expect("created");
    }
    cms
}

async fn names(cms: &Api<ConfigMap>, params: &ListParams) -> Vec<String> {
    cms.list(params)
        .await
        .expect("list")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect()
}

#[tokio::test]
async fn label_and_field_selectors() {
    let cluster = Cluster::start().await;
    let cms = seed(&cluster).await;
    let by = |s: &str| ListParams::default().labels(s);
    assert_eq!(names(&cms, &by("app=web")).await, ["a", "b"]);
    assert_eq!(names(&cms, &by("app==db,tier")).await, ["c"]);
    assert_eq!(names(&cms, &by("app!=web")).await, ["c", "d", "e"]);
    assert_eq!(
        names(&cms, &by("tier in (fe,be),app notin (db)")).await,
        ["a", "b"]
    );
    assert_eq!(names(&cms, &by("!tier")).await, ["d", "e"]);
    assert_eq!(
        names(&cms, &ListParams::default().fields("metadata.name=c")).await,
        ["c"]
    );
    assert_eq!(
        names(
            &cms,
            &ListParams::default()
                .fields("metadata.namespace=default,metadata.name!=a")
                .labels("app")
        )
        .await,
        ["b", "c", "d"]
    );
    let unsupported = api_error(cms.list(&ListParams::default().fields("spec.x=1")).await);
    assert_eq!(unsupported.code, 400);
    let all: Api<ConfigMap> = Api::all(cluster.client.clone());
    assert_eq!(
        all.list(&ListParams::default())
            .await
            .expect("all namespaces")
            .items
            .len(),
        5
    );
}

#[tokio::test]
async fn pagination_with_limit_and_continue() {
    let cluster = Cluster::start().await;
    let cms = seed(&cluster).await;
    let first = cms
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    let names1: Vec<String> = first.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names1, ["a", "b"]);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let rv = first.metadata.resource_version.clone().expect("list rv");
    let token = first.metadata.continue_.clone().expect("continue token");
    let second = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(
        second
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>(),
        ["c", "d"]
    );
    assert_eq!(
        second.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    let token = second.metadata.continue_.clone().expect("continue token");
    let last = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page 3");
    assert_eq!(
        last.items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>(),
        ["e"]
    );
    assert!(
        last.metadata
            .continue_
            .as_deref()
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn metadata_only_and_delete_collection() {
    let cluster = Cluster::start().await;
    let cms = seed(&cluster).await;
    let meta = cms.get_metadata("a").await.expect("metadata only");
    assert_eq!(
        meta.types.map(|t| t.kind).as_deref(),
        Some("PartialObjectMetadata")
    );
    assert_eq!(meta.metadata.labels.expect("labels")["app"], "web");
    let listed = cms
        .list_metadata(&ListParams::default().labels("app=db"))
        .await
        .expect("metadata list");
    assert_eq!(listed.items.len(), 2);

    let stale = kube::api::DeleteParams::default().preconditions(kube::api::Preconditions {
        resource_version: Some("1".into()),
        uid: None,
    });
    let refused = api_error(cms.delete("a", &stale).await);
    assert_eq!((refused.code, refused.reason.as_str()), (409, "Conflict"));

    let gone = cms
        .delete_collection(
            &Default::default(),
            &ListParams::default().labels("app=web"),
        )
        .await
        .expect("delete collection");
    let deleted: Vec<String> = gone
        .left()
        .expect("list")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(deleted, ["a", "b"]);
    assert_eq!(names(&cms, &ListParams::default()).await, ["c", "d", "e"]);
}
