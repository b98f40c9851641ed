//! The cluster a test talks to: the one `SLUICE_TEST_KUBECONFIG` points at,
//! or a fresh local API server. Every client counts the requests that could
//! change something (not GETs, not dry-runs), so tests can prove a no-op
//! apply writes nothing, and injects faults between client and server:
//! error answers (429, 5xx), requests that hang (sent or not), and watches
//! that end, break or expire (`410 Gone`). They work the same against a
//! real cluster.
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

use http_body::Frame;
use tokio::sync::Notify;

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
    watches: Arc<AtomicUsize>,
    faults: Faults,
    hung: Arc<Notify>,
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
        let watches = Arc::new(AtomicUsize::new(0));
        let faults = Faults::default();
        let hung = Arc::new(Notify::new());
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
                watches: watches.clone(),
                faults: faults.clone(),
                hung: hung.clone(),
            })
            .build();
        TestCluster {
            client,
            writes,
            watches,
            faults,
            hung,
            local: server.is_some(),
            created: Mutex::default(),
            _server: server,
        }
    }

    /// Requests so far that could have changed the cluster.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Watch requests so far.
    pub fn watches(&self) -> usize {
        self.watches.load(Ordering::SeqCst)
    }

    /// Answers the next requests that are not GETs with these HTTP codes
    /// instead of sending them (429 asks to retry after a second).
    pub fn fail_next(&self, codes: &[u16]) {
        for code in codes {
            self.inject(Match::AnyWrite, Fault::Status(*code));
        }
    }

    /// The next request `on` matches gets `fault` (faults apply in the
    /// order they were injected, each once).
    pub fn inject(&self, on: Match, fault: Fault) {
        if let Ok(mut queue) = self.faults.lock() {
            queue.push_back((on, fault));
        }
    }

    /// Resolves once a request hit a [`Fault::Hang`]: the moment to
    /// "kill the process" by dropping the future that made it.
    pub async fn hung(&self) {
        self.hung.notified().await;
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

/// Which request a fault hits.
#[derive(Debug, Clone)]
pub enum Match {
    /// Any request that is not a GET, dry-runs included.
    AnyWrite,
    /// A write that is not a dry-run, to a path ending in this (such as
    /// `/configmaps/sluice-web`).
    Write(String),
    /// A watch request.
    Watch,
}

impl Match {
    fn matches(&self, request: &http::Request<Body>) -> bool {
        let get = request.method() == http::Method::GET;
        let query = request.uri().query().unwrap_or_default();
        match self {
            Match::AnyWrite => !get,
            Match::Write(suffix) => {
                !get && !query.contains("dryRun=All") && request.uri().path().ends_with(suffix)
            }
            Match::Watch => get && query.contains("watch=true"),
        }
    }
}

/// What happens to the matched request.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// This HTTP status instead of sending it (429 asks to retry after a second).
    Status(u16),
    /// No answer ever; `sent` says whether the server got the request (a
    /// lost answer) or not (a dead connection, or a killed process).
    Hang { sent: bool },
    /// The watch stream ends cleanly after this many chunks (events).
    EndWatch { after: usize },
    /// The watch stream breaks with a read error before any event.
    BreakWatch,
    /// The watch answers with an ERROR event `410 Gone`, as a server whose
    /// history no longer reaches the requested resourceVersion does.
    GoneWatch,
}

type Faults = Arc<Mutex<VecDeque<(Match, Fault)>>>;

#[derive(Clone)]
struct Intercept {
    writes: Arc<AtomicUsize>,
    watches: Arc<AtomicUsize>,
    faults: Faults,
    hung: Arc<Notify>,
}

impl<S> tower::Layer<S> for Intercept {
    type Service = Intercepted<S>;
    fn layer(&self, inner: S) -> Intercepted<S> {
        Intercepted {
            inner,
            shared: self.clone(),
        }
    }
}

struct Intercepted<S> {
    inner: S,
    shared: Intercept,
}

impl Intercept {
    /// Takes the first queued fault that matches `request`.
    fn fault_for(&self, request: &http::Request<Body>) -> Option<Fault> {
        let mut queue = self.faults.lock().ok()?;
        let at = queue.iter().position(|(on, _)| on.matches(request))?;
        queue.remove(at).map(|(_, fault)| fault)
    }
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
        let shared = &self.shared;
        if Match::Watch.matches(&request) {
            shared.watches.fetch_add(1, Ordering::SeqCst);
        }
        let fault = shared.fault_for(&request);
        if let Some(Fault::Status(code)) = fault {
            let answer = failure(code);
            return Box::pin(async move { Ok(answer) });
        }
        if let Some(Fault::GoneWatch) = fault {
            let answer = gone();
            return Box::pin(async move { Ok(answer) });
        }
        if let Some(Fault::Hang { sent: false }) = fault {
            let hung = shared.hung.clone();
            return Box::pin(async move {
                hung.notify_one();
                std::future::pending().await
            });
        }
        let dry_run = request
            .uri()
            .query()
            .is_some_and(|q| q.contains("dryRun=All"));
        if request.method() != http::Method::GET && !dry_run {
            shared.writes.fetch_add(1, Ordering::SeqCst);
        }
        let answer = self.inner.call(request);
        let hung = shared.hung.clone();
        Box::pin(async move {
            let answer = answer.await?;
            let cut = |answer: Answer, after, broken| {
                answer.map(|body| {
                    Box::new(Cut {
                        body,
                        after,
                        broken,
                    }) as Box<DynBody>
                })
            };
            match fault {
                Some(Fault::Hang { .. }) => {
                    hung.notify_one();
                    std::future::pending().await
                }
                Some(Fault::EndWatch { after }) => Ok(cut(answer, after, false)),
                Some(Fault::BreakWatch) => Ok(cut(answer, 0, true)),
                _ => Ok(answer),
            }
        })
    }
}

/// A response body that ends (or breaks) after `after` chunks.
struct Cut {
    body: Box<DynBody>,
    after: usize,
    broken: bool,
}

impl http_body::Body for Cut {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.after == 0 {
            let error = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "watch connection reset by the test",
            );
            return Poll::Ready(self.broken.then(|| Err(error.into())));
        }
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &frame
            && f.is_data()
        {
            self.after -= 1;
        }
        frame
    }
}

/// A watch that says the requested resourceVersion is too old.
fn gone() -> Answer {
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
        "reason": "Expired", "message": "too old resource version (injected by the test)"});
    let event = json!({"type": "ERROR", "object": status});
    answer(200, format!("{event}\n"))
}

/// The `Status` answer a busy or broken API server gives.
fn failure(code: u16) -> Answer {
    let retry_after = if code == 429 { 1 } else { 0 };
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
        "reason": if code == 429 { "TooManyRequests" } else { "ServiceUnavailable" },
        "message": "injected by the test", "details": {"retryAfterSeconds": retry_after}});
    answer(code, status.to_string())
}

fn answer(code: u16, text: String) -> Answer {
    let body = Full::new(Bytes::from(text))
        .map_err(|never| -> Box<dyn std::error::Error + Send + Sync> { match never {} });
    let mut answer = http::Response::new(Box::new(body) as Box<DynBody>);
    *answer.status_mut() = http::StatusCode::from_u16(code).expect("status code");
    answer.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    answer
}
