//! The cluster a test talks to: the one `SLUICE_TEST_KUBECONFIG` points at,
//! or a fresh local API server. Every client counts the requests that could
//! change something (not GETs, not dry-runs), so tests can prove a no-op
//! apply writes nothing.
//!
//! A real cluster is reached with kube's HTTP stack only (TLS is off in
//! this workspace for now): point the kubeconfig at `kubectl proxy`
//! (`server: http://127.0.0.1:8001`). Every test works in namespaces (and
//! CRD groups) of its own and deletes them when it passes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use sluice_apiserver::{ApiServer, Options};
use sluice_apply::{Applier, ApplyOptions};
use sluice_types::Manifest;

pub struct TestCluster {
    pub client: Client,
    writes: Arc<AtomicUsize>,
    /// Whether this is the local server (simulated readiness applies).
    pub local: bool,
    /// Namespaces and CRDs to delete from a real cluster afterwards.
    created: Mutex<Vec<(&'static str, String)>>,
    _server: Option<ApiServer>,
}

impl TestCluster {
    pub async fn start() -> TestCluster {
        TestCluster::with(Options::default()).await
    }

    /// `options` configure the local server; a real cluster ignores them.
    pub async fn with(options: Options) -> TestCluster {
        let writes = Arc::new(AtomicUsize::new(0));
        let (config, server) = match std::env::var("SLUICE_TEST_KUBECONFIG") {
            Ok(path) => {
                let kubeconfig =
                    Kubeconfig::read_from(&path).expect("SLUICE_TEST_KUBECONFIG is readable");
                let config =
                    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                        .await
                        .expect("kubeconfig is usable");
                (config, None)
            }
            Err(_) => {
                let server = ApiServer::start(options).await.expect("server starts");
                let config = Config::new(server.url().parse().expect("server url"));
                (config, Some(server))
            }
        };
        let client = ClientBuilder::try_from(config)
            .expect("client")
            .with_layer(&CountWrites(writes.clone()))
            .build();
        TestCluster {
            client,
            writes,
            local: server.is_some(),
            created: Mutex::default(),
            _server: server,
        }
    }

    /// Requests so far that could have changed the cluster.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn applier(&self, release: &str, namespace: &str, options: ApplyOptions) -> Applier {
        Applier::new(self.client.clone(), release, namespace, options)
    }

    /// Creates a namespace with a unique name starting with `prefix`.
    pub async fn namespace(&self, prefix: &str) -> String {
        let name = unique(prefix);
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        self.created_namespace(&name);
        name
    }

    /// Remembers a namespace a test's set creates, for [`Self::cleanup`].
    pub fn created_namespace(&self, name: &str) {
        self.remember("Namespace", name);
    }

    pub fn created_crd(&self, name: &str) {
        self.remember("CustomResourceDefinition", name);
    }

    fn remember(&self, kind: &'static str, name: &str) {
        if let Ok(mut created) = self.created.lock() {
            created.push((kind, name.to_owned()));
        }
    }

    /// Deletes what the test created on a real cluster (the local server
    /// goes away with the test).
    pub async fn cleanup(self) {
        if self.local {
            return;
        }
        let created = self.created.lock().map(|c| c.clone()).unwrap_or_default();
        let params = DeleteParams::background();
        for (kind, name) in created {
            let result = if kind == "Namespace" {
                let api: Api<Namespace> = Api::all(self.client.clone());
                api.delete(&name, &params).await.map(|_| ())
            } else {
                let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
                api.delete(&name, &params).await.map(|_| ())
            };
            if let Err(e) = result {
                eprintln!("cleanup of {kind}/{name} failed: {e}");
            }
        }
    }
}

/// `prefix-<hex>`, unique per process and across runs on a shared cluster.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{:x}{}",
        nanos,
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn manifests(objects: impl IntoIterator<Item = Value>) -> Vec<Manifest> {
    objects
        .into_iter()
        .map(|object| Manifest {
            object,
            origin: None,
        })
        .collect()
}

pub fn config_map(namespace: &str, name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace}, "data": data})
}

/// A Deployment that runs on a real cluster too (the pause image).
pub fn deployment(namespace: &str, name: &str, replicas: u32, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]}}}})
}

pub const PAUSE: &str = "registry.k8s.io/pause:3.10";

#[derive(Clone)]
struct CountWrites(Arc<AtomicUsize>);

impl<S> tower::Layer<S> for CountWrites {
    type Service = Counted<S>;
    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            writes: self.0.clone(),
        }
    }
}

struct Counted<S> {
    inner: S,
    writes: Arc<AtomicUsize>,
}

impl<S, B> tower::Service<http::Request<B>> for Counted<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let dry_run = request
            .uri()
            .query()
            .is_some_and(|q| q.contains("dryRun=All"));
        if request.method() != http::Method::GET && !dry_run {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.call(request)
    }
}
