//! A server and a client for one test.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};

pub struct Cluster {
    pub server: ApiServer,
    pub client: Client,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Cluster {
        let server = ApiServer::start(options).await.expect("server starts");
        let client = client_for(&server);
        Cluster { server, client }
    }

    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub async fn namespace(&self, name: &str) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
    }
}

pub fn client_for(server: &ApiServer) -> Client {
    let url = server.url().parse().expect("server url");
    Client::try_from(Config::new(url)).expect("client")
}

pub fn config_map(name: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).expect("config map")
}

/// The `Status` of a failed call.
pub fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A raw request with a body, for what the typed API does not offer.
pub async fn send(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &serde_json::Value,
) -> kube::Result<serde_json::Value> {
    send_text(client, method, path, content_type, body.to_string()).await
}

pub async fn send_text(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: String,
) -> kube::Result<serde_json::Value> {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.into_bytes())
        .expect("request");
    client.request(request).await
}
