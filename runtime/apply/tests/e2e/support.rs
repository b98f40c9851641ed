//! The cluster a test talks to: the one `SLUICE_TEST_KUBECONFIG` points at,
//! or a fresh local API server. Every client counts the requests that could
//! change something (not GETs, not dry-runs), so tests can prove a no-op
//! apply writes nothing, and can answer the next requests that are not GETs
//! with injected server errors (429, 5xx) to exercise retries.
//!
//! A real cluster is reached over kube's rustls (aws-lc-rs) stack, so an
//! ordinary kubeconfig works. Every test works in namespaces (and CRD
//! groups) of its own and deletes them when it passes.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use kube::client::{Body, ClientBuilder, DynBody};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use sluice_apiserver::{ApiServer, Options};
use sluice_apply::{Applier, ApplyOptions};
use sluice_types::Manifest;

pub struct TestCluster {
    pub client: Client,
    writes: Arc<AtomicUsize>,
    faults: Faults,
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
        let faults = Faults::default();
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
            .with_layer(&Intercept {
                writes: writes.clone(),
                faults: faults.clone(),
            })
            .build();
        TestCluster {
            client,
            writes,
            faults,
            local: server.is_some(),
            created: Mutex::default(),
            _server: server,
        }
    }

    /// Requests so far that could have changed the cluster.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Answers the next requests that are not GETs with these HTTP codes
    /// instead of sending them (429 asks to retry after a second).
    pub fn fail_next(&self, codes: &[u16]) {
        if let Ok(mut queue) = self.faults.lock() {
            queue.extend(codes);
        }
    }

    /// Injected failures not used yet.
    pub fn faults_left(&self) -> usize {
        self.faults.lock().map(|q| q.len()).unwrap_or(0)
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

type Faults = Arc<Mutex<VecDeque<u16>>>;

#[derive(Clone)]
struct Intercept {
    writes: Arc<AtomicUsize>,
    faults: Faults,
}

impl<S> tower::Layer<S> for Intercept {
    type Service = Intercepted<S>;
    fn layer(&self, inner: S) -> Intercepted<S> {
        Intercepted {
            inner,
            writes: self.writes.clone(),
            faults: self.faults.clone(),
        }
    }
}

struct Intercepted<S> {
    inner: S,
    writes: Arc<AtomicUsize>,
    faults: Faults,
}

type Answer = http::Response<Box<DynBody>>;

impl<S> tower::Service<http::Request<Body>> for Intercepted<S>
where
    S: tower::Service<http::Request<Body>, Response = Answer>,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.method() != http::Method::GET {
            let fault = self.faults.lock().ok().and_then(|mut q| q.pop_front());
            if let Some(code) = fault {
                let answer = failure(code);
                return Box::pin(async move { Ok(answer) });
            }
            let dry_run = request
                .uri()
                .query()
                .is_some_and(|q| q.contains("dryRun=All"));
            if !dry_run {
                self.writes.fetch_add(1, Ordering::SeqCst);
            }
        }
        Box::pin(self.inner.call(request))
    }
}

/// The `Status` answer a busy or broken API server gives.
fn failure(code: u16) -> Answer {
    let retry_after = if code == 429 { 1 } else { 0 };
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
        "reason": if code == 429 { "TooManyRequests" } else { "ServiceUnavailable" },
        "message": "injected by the test", "details": {"retryAfterSeconds": retry_after}});
    let body = Full::new(Bytes::from(status.to_string()))
        .map_err(|never| -> Box<dyn std::error::Error + Send + Sync> { match never {} });
    let mut answer = http::Response::new(Box::new(body) as Box<DynBody>);
    *answer.status_mut() = http::StatusCode::from_u16(code).expect("status code");
    answer.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    answer
}
