//! `pods/{name}/log` through kube's `logs` and `log_stream`: the
//! container choice and its errors, `tailLines`, `follow` ending with the
//! pod.

use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, LogParams, PostParams};
use serde_json::json;

use crate::support::{Cluster, api_error};

fn pod(name: &str, containers: &[&str]) -> Pod {
    let containers: Vec<_> = containers
        .iter()
        .map(|c| json!({"name": c, "image": "app"}))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": containers}}))
        .expect("pod")
}

#[tokio::test]
async fn logs_answer_as_the_kubelet_would() {
    let cluster = Cluster::start().await;
    let pods = cluster.api::<Pod>("default");
    pods.create(&PostParams::default(), &pod("one", &["app"]))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("two", &["app", "sidecar"]))
        .await
        .unwrap();
    cluster.server.append_log("default", "one", "app", "a\nb\n");
    cluster.server.append_log("default", "one", "app", "c\n");
    cluster
        .server
        .append_log("default", "two", "sidecar", "proxy\n");

    let all = pods.logs("one", &LogParams::default()).await.unwrap();
    assert_eq!(all, "a\nb\nc\n", "the only container by default");
    let tail = LogParams {
        tail_lines: Some(2),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("one", &tail).await.unwrap(), "b\nc\n");
    let sidecar = LogParams {
        container: Some("sidecar".into()),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("two", &sidecar).await.unwrap(), "proxy\n");

    let status = api_error(pods.logs("two", &LogParams::default()).await);
    assert_eq!(status.code, 400);
    assert_eq!(
        status.message,
        "a container name must be specified for pod two, choose one of: [app sidecar]"
    );
    let other = LogParams {
        container: Some("db".into()),
        ..LogParams::default()
    };
    let status = api_error(pods.logs("one", &other).await);
    assert_eq!(status.message, "container db is not valid for pod one");
    let status = api_error(pods.logs("three", &LogParams::default()).await);
    assert_eq!(
        (status.code, status.message.as_str()),
        (404, "pods \"three\" not found")
    );

    // follow: what is there, what comes, and the end when the pod goes.
    let follow = LogParams {
        follow: true,
        tail_lines: Some(1),
        ..LogParams::default()
    };
    let mut lines = pods.log_stream("one", &follow).await.unwrap().lines();
    assert_eq!(lines.next().await.unwrap().unwrap(), "c");
    cluster.server.append_log("default", "one", "app", "d\n");
    assert_eq!(lines.next().await.unwrap().unwrap(), "d");
    pods.delete("one", &DeleteParams::default()).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), lines.next())
        .await
        .expect("the stream ends with the pod");
    assert!(end.is_none(), "{end:?}");
}
