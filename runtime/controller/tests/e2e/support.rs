//! A cluster (the local API server with the CRDs installed) and a running
//! controller, both stopped when the test ends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Config};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};
use sluice_pipeline::ArtifactStore;
use sluice_plugin_host::{HostConfig, PluginHost};
use sluice_types::crd::{REQUESTED_AT, Release, Source};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

type Instance = (
    oneshot::Sender<()>,
    JoinHandle<sluice_controller::Result<()>>,
);

pub struct Running {
    pub server: ApiServer,
    pub client: Client,
    config: Config,
    pub health: SocketAddr,
    /// Each instance's stop signal and task, by the index `add_controller`
    /// returned; `None` once stopped or aborted.
    controllers: Vec<Option<Instance>>,
    dirs: tempfile::TempDir,
}

/// Compiled plugins shared by the runs of this test binary.
fn plugin_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("controller-plugins")
}

pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

/// The options every test controller runs with.
pub fn test_options() -> sluice_controller::Options {
    sluice_controller::Options {
        concurrent: 4,
        default_interval: Duration::from_secs(300),
        dependency_requeue: Duration::from_secs(2),
        ..sluice_controller::Options::default()
    }
}

impl Running {
    /// The API server (workloads ready at once), the CRDs, the controller.
    pub async fn start() -> Running {
        Running::start_with(test_options()).await
    }

    /// As [`Running::start`], the controller with `options` (its health
    /// address is set here) and the server recording requests.
    pub async fn start_with(options: sluice_controller::Options) -> Running {
        let server = ApiServer::start(Options {
            audit: true,
            ..Options::default().with_readiness(Duration::ZERO)
        })
        .await
        .expect("API server starts");
        let url = server.url().parse().expect("server url");
        let config = Config::new(url);
        let client = Client::try_from(config.clone()).expect("client");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in sluice_types::crd::definitions() {
            crds.create(&PostParams::default(), &crd)
                .await
                .expect("CRD installed");
        }
        let dirs = tempfile::tempdir().expect("temp dir");
        let health = free_port();
        let mut running = Running {
            server,
            client,
            config,
            health,
            controllers: Vec::new(),
            dirs,
        };
        running
            .add_controller(sluice_controller::Options {
                health_address: Some(health),
                ..options
            })
            .await;
        running
    }

    /// Another controller instance on the same cluster (its own artifact
    /// store), stopped with the others; returns its index.
    pub async fn add_controller(&mut self, options: sluice_controller::Options) -> usize {
        let host = PluginHost::new(HostConfig {
            cache_dir: Some(plugin_cache()),
            ..HostConfig::default()
        })
        .expect("plugin host");
        let dir = self
            .dirs
            .path()
            .join(format!("artifacts-{}", self.controllers.len()));
        let store = ArtifactStore::open(dir).expect("artifact store");
        let (stop, stopped) = oneshot::channel::<()>();
        let controller = tokio::spawn(sluice_controller::run(
            self.client.clone(),
            self.config.clone(),
            host,
            store,
            options,
            async move {
                let _ = stopped.await;
            },
        ));
        self.controllers.push(Some((stop, controller)));
        self.controllers.len() - 1
    }

    /// Stops instance `index` as SIGTERM does and waits for it to finish.
    pub async fn stop_controller(&mut self, index: usize) {
        let instance = self.controllers[index].take().expect("a running instance");
        finish(instance).await;
    }

    /// Ends instance `index` at once, as a killed process ends: nothing it
    /// was doing finishes and it releases nothing.
    pub async fn abort_controller(&mut self, index: usize) {
        let (_stop, task) = self.controllers[index].take().expect("a running instance");
        task.abort();
        let _ = task.await;
    }

    pub fn releases(&self) -> Api<Release> {
        Api::namespaced(self.client.clone(), "default")
    }

    pub fn sources(&self) -> Api<Source> {
        Api::namespaced(self.client.clone(), "default")
    }

    pub async fn create(&self, object: serde_json::Value) {
        match object["kind"].as_str() {
            Some("Source") => {
                let source: Source = serde_json::from_value(object).expect("a Source");
                self.sources()
                    .create(&PostParams::default(), &source)
                    .await
                    .expect("Source created");
            }
            _ => {
                let release: Release = serde_json::from_value(object).expect("a Release");
                self.releases()
                    .create(&PostParams::default(), &release)
                    .await
                    .expect("Release created");
            }
        }
    }

    /// Asks for a reconcile of the Source now, as `flux reconcile source` does.
    pub async fn request_source(&self, name: &str, token: &str) {
        let patch = json!({"metadata": {"annotations": {REQUESTED_AT: token}}});
        self.sources()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("annotation set");
    }

    pub async fn set_suspend(&self, release: &str, suspend: bool) {
        let patch = json!({"spec": {"suspend": suspend}});
        self.releases()
            .patch(release, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("suspend set");
    }

    /// Polls `check` until it returns `Some`, or fails after `timeout`
    /// with the last state of every Release.
    pub async fn until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl AsyncFnMut() -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = check().await {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                let releases = self
                    .releases()
                    .list(&Default::default())
                    .await
                    .expect("list");
                let states: Vec<String> = releases
                    .items
                    .iter()
                    .map(|r| {
                        format!(
                            "{}: {:?}",
                            r.metadata.name.as_deref().unwrap_or("?"),
                            r.status
                        )
                    })
                    .collect();
                panic!(
                    "timed out waiting for {what}; releases:\n{}",
                    states.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the controllers and waits for them to finish their work.
    pub async fn stop(mut self) {
        for instance in self.controllers.drain(..).flatten() {
            finish(instance).await;
        }
    }
}

async fn finish((stop, controller): Instance) {
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), controller)
        .await
        .expect("the controller stops within 30s")
        .expect("the controller task did not panic")
        .expect("the controller ends without error");
}

/// A plain GET over HTTP/1.1: (status code, body).
pub async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("probe port open");
    let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response read");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (code, body)
}

/// The Ready condition of `release`: (status, reason, message).
pub fn ready(release: &Release) -> Option<(String, String, String)> {
    let status = release.status.as_ref()?;
    let c = sluice_types::status::find_condition(&status.conditions, "Ready")?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Ready=True for the release's current generation.
pub fn is_ready(release: &Release) -> bool {
    release
        .status
        .as_ref()
        .is_some_and(|s| s.observed_generation == release.metadata.generation)
        && ready(release).is_some_and(|(status, ..)| status == "True")
}

/// Writes `text` to `file` under `dir`, creating its directories.
pub fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A Source `name` in `default` holding the directory `dir`.
pub fn source(name: &str, dir: &Path) -> serde_json::Value {
    json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Source",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"url": format!("file://{}", dir.display()), "interval": "5m"}
    })
}

/// A Deployment `name` in `default` running `image`, with limits.
pub fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: default
  labels: {{app.kubernetes.io/name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: {image}
          resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}
"
    )
}
