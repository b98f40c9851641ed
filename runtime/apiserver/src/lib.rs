//! An in-process Kubernetes API server on loopback, for end-to-end tests
//! and `sluice playground`: `kube::Client` talks to it over plain HTTP and
//! gets what a real API server would answer — discovery, CRUD with
//! resourceVersion conflicts, the three patch formats, server-side apply with
//! managedFields and conflicts, watches with bookmarks and `410 Gone`,
//! finalizers, dry-run, the status subresource and CustomResourceDefinitions.
//!
//! Objects are untyped JSON; there is no admission, defaulting, RBAC or
//! garbage collection. Optional simulated controllers make workloads ready
//! (`readiness`), and an optional state file keeps objects across restarts.
//! Pods run nothing: a test writes what their containers print
//! ([`ApiServer::append_log`]) and `pods/{name}/log` serves it.

mod apply;
mod clock;
mod discovery;
mod error;
mod logs;
mod managed_fields;
mod merge;
mod openapi;
mod ops;
mod partial;
mod persist;
mod readiness;
mod request;
mod resources;
mod schema;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;

pub use error::Error;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How many changes watches can replay; older resourceVersions get
    /// `410 Gone`.
    pub history_limit: usize,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// Simulated controllers: `Some(delay)` makes workloads ready, jobs
    /// complete and claims bound `delay` after each write; `None` leaves
    /// status to clients.
    pub readiness: Option<Duration>,
    /// Where to keep all objects across restarts (JSON, rewritten after
    /// each write).
    pub state_file: Option<PathBuf>,
    /// Record every request for [`ApiServer::audit`] (tests that check
    /// who a client acts as: there is no authentication to do it for them).
    pub audit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            history_limit: 1000,
            bookmark_interval: Duration::from_secs(1),
            readiness: None,
            state_file: None,
            audit: false,
        }
    }
}

impl Options {
    /// Simulated readiness after `delay` (`Duration::ZERO` for at once).
    pub fn with_readiness(mut self, delay: Duration) -> Self {
        self.readiness = Some(delay);
        self
    }
}

/// One request, as an audit log would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The HTTP method.
    pub verb: String,
    pub path: String,
    /// The `Impersonate-User` header: who the client asked to act as.
    pub impersonated_user: Option<String>,
    /// The `fieldManager` parameter of a write: which of several clients
    /// with the same credentials wrote (e.g. two controller instances).
    pub field_manager: Option<String>,
}

/// A running server; dropping it stops it.
#[derive(Debug)]
pub struct ApiServer {
    address: SocketAddr,
    shared: Arc<server::Shared>,
    shutdown: signal::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Loads the state file (if any), binds 127.0.0.1 and starts serving.
    pub async fn start(options: Options) -> Result<Self, Error> {
        let (changes_tx, changes_rx) = signal::channel(0);
        let mut state = store::State::open(
            options.history_limit,
            options.state_file.clone(),
            changes_tx,
        )?;
        ops::seed_namespaces(&mut state);
        let requested = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
        let bind_error = |source| Error::Bind {
            address: requested.to_string(),
            source,
        };
        let listener = TcpListener::bind(requested).await.map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        let (shutdown, shutdown_rx) = signal::channel(false);
        let shared = Arc::new(server::Shared::new(
            state,
            changes_rx,
            shutdown_rx,
            address,
            options.bookmark_interval,
            options.readiness,
            options.audit,
        ));
        let task = tokio::spawn(server::serve(listener, shared.clone()));
        tracing::info!(%address, "local Kubernetes API server listening");
        Ok(ApiServer {
            address,
            shared,
            shutdown,
            task: Some(task),
        })
    }

    /// The requests so far, oldest first; empty unless `Options::audit`.
    pub fn audit(&self) -> Vec<AuditEvent> {
        self.shared.audit.as_ref().map_or_else(Vec::new, |audit| {
            audit
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone()
        })
    }

    /// Appends `text` to what `container` of pod `namespace/pod` printed,
    /// as a container runtime would; `GET pods/{pod}/log` answers with it
    /// (and `follow` streams it) while the pod exists.
    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.shared.logs.append(namespace, pod, container, text);
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A kubeconfig whose current context points at this server, for
    /// kubectl or `kube::Config::from_custom_kubeconfig`.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: sluice
  cluster:
    server: {url}
users:
- name: sluice
  user: {{}}
contexts:
- name: sluice
  context:
    cluster: sluice
    user: sluice
current-context: sluice
",
            url = self.url()
        )
    }

    /// Stops accepting, ends watches and waits for open requests.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
