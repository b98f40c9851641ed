use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::{Cluster, api_error, config_map};

#[tokio::test]
async fn create_get_replace_delete() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let created = cms
        .create(
            &PostParams::default(),
            &config_map("app", json!({"a": "1"})),
        )
        .await
        .expect("created");
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    let first_rv: u64 = meta
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("rv");

    let again = api_error(
        cms.create(&PostParams::default(), &config_map("app", json!({})))
            .await,
    );
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));

    let mut stale = created.clone();
    stale.data = Some([("a".to_owned(), "2".to_owned())].into());
    let updated = cms
        .replace("app", &PostParams::default(), &stale)
        .await
        .expect("replaced");
    let second_rv: u64 = updated
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("rv");
    assert!(second_rv > first_rv);
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    let conflict = api_error(cms.replace("app", &PostParams::default(), &stale).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("the object has been modified"),
        "{}",
        conflict.message
    );

    let deleted = cms
        .delete("app", &DeleteParams::default())
        .await
        .expect("deleted");
    assert!(deleted.is_right(), "immediate delete answers a Status");
    let missing = api_error(cms.get("app").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "configmaps \"app\" not found");
}

#[tokio::test]
async fn generate_name_and_validation() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let generated: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "cfg-"}})).expect("cm");
    let created = cms
        .create(&PostParams::default(), &generated)
        .await
        .expect("created");
    let name = created.metadata.name.expect("name");
    assert!(name.starts_with("cfg-") && name.len() == 9, "{name}");

    let bad = api_error(
        cms.create(&PostParams::default(), &config_map("Bad_Name", json!({})))
            .await,
    );
    assert_eq!((bad.code, bad.reason.as_str()), (422, "Invalid"));
    let causes = bad.details.expect("details").causes;
    assert_eq!(causes[0].field, "metadata.name");
    assert!(
        causes[0].message.contains("RFC 1123 subdomain"),
        "{}",
        causes[0].message
    );

    let nameless = api_error(
        cms.create(&PostParams::default(), &ConfigMap::default())
            .await,
    );
    assert_eq!(nameless.code, 422);
    assert!(
        nameless
            .message
            .contains("name or generateName is required"),
        "{}",
        nameless.message
    );

    let elsewhere: Api<ConfigMap> = cluster.api("nowhere");
    let no_namespace = api_error(
        elsewhere
            .create(&PostParams::default(), &config_map("x", json!({})))
            .await,
    );
    assert_eq!(
        (no_namespace.code, no_namespace.reason.as_str()),
        (404, "NotFound")
    );
    assert_eq!(no_namespace.message, "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn dry_run_stores_nothing() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let answered = cms
        .create(&dry, &config_map("dry", json!({"a": "1"})))
        .await
        .expect("dry create");
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert!(cms.get_opt("dry").await.expect("get").is_none());

    let applied = PatchParams::apply("sluice").dry_run();
    let patch = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"b": "2"}});
    cms.patch("dry", &applied, &Patch::Apply(&patch))
        .await
        .expect("dry apply");
    assert!(cms.get_opt("dry").await.expect("get").is_none());

    let real = cms
        .create(
            &PostParams::default(),
            &config_map("real", json!({"a": "1"})),
        )
        .await
        .expect("created");
    let mut changed = real.clone();
    changed.data = Some([("a".to_owned(), "2".to_owned())].into());
    cms.replace("real", &dry, &changed)
        .await
        .expect("dry replace");
    let merge = PatchParams::default().dry_run();
    cms.patch("real", &merge, &Patch::Merge(json!({"data": {"c": "3"}})))
        .await
        .expect("dry patch");
    cms.delete("real", &DeleteParams::default().dry_run())
        .await
        .expect("dry delete");
    let stored = cms.get("real").await.expect("still there");
    assert_eq!(stored.data, real.data);
    assert_eq!(
        stored.metadata.resource_version,
        real.metadata.resource_version
    );
}

#[tokio::test]
async fn method_and_media_type_errors() {
    let cluster = Cluster::start().await;
    let cms: Api<ConfigMap> = cluster.api("default");
    cms.create(&PostParams::default(), &config_map("x", json!({})))
        .await
        .expect("created");
    let post_to_object = http::Request::post("/api/v1/namespaces/default/configmaps/x")
        .header("content-type", "application/json")
        .body(b"{}".to_vec())
        .expect("request");
    let status = api_error(cluster.client.request_text(post_to_object).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (405, "MethodNotAllowed")
    );

    let odd_patch = http::Request::patch("/api/v1/namespaces/default/configmaps/x")
        .header("content-type", "text/plain")
        .body(b"{}".to_vec())
        .expect("request");
    let status = api_error(cluster.client.request_text(odd_patch).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (415, "UnsupportedMediaType")
    );

    let unknown = http::Request::get("/apis/example.com/v1/widgets")
        .body(Vec::new())
        .expect("request");
    assert_eq!(
        api_error(cluster.client.request_text(unknown).await).code,
        404
    );
}
