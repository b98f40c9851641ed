use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};

use crate::support::{client_for, config_map};

#[tokio::test]
async fn objects_survive_a_restart_with_a_state_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options {
        state_file: Some(dir.path().join("state.json")),
        ..Options::default()
    };
    let server = ApiServer::start(options.clone()).await.expect("server");
    let cms: Api<ConfigMap> = Api::namespaced(client_for(&server), "default");
    let created = cms
        .create(
            &PostParams::default(),
            &config_map("kept", json!({"a": "1"})),
        )
        .await
        .expect("created");
    server.shutdown().await;

    let server = ApiServer::start(options).await.expect("restarted");
    let cms: Api<ConfigMap> = Api::namespaced(client_for(&server), "default");
    let kept = cms.get("kept").await.expect("still there");
    assert_eq!(kept.metadata.uid, created.metadata.uid);
    assert_eq!(kept.data, created.data);
    let again = cms
        .create(&PostParams::default(), &config_map("next", json!({})))
        .await
        .expect("created");
    let rv = |c: &ConfigMap| {
        c.metadata
            .resource_version
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
    };
    assert!(rv(&again) > rv(&created), "resourceVersion keeps counting");
}
