//! Mean Time To Production, modelled on Flux's MTTP benchmark: N Releases,
//! each a Deployment, Service and ConfigMap rendered from one Source into
//! its own namespace, created at once; the time until every one is Ready,
//! the controller's requests per Release, and the peak RSS of the process
//! (the controller; the API server runs as `sluice playground` in its own
//! process so its memory is not counted).
//!
//! Run: `cargo build -p sluice-cli && cargo bench -p sluice-controller --bench mttp -- [N...]`
//! (default N: 100 500 1000; `SLUICE_BIN` overrides the `sluice` binary used
//! for the playground).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::PostParams;
use kube::client::{Body, ClientBuilder};
use kube::{Api, Client};
use serde_json::json;
use sluice_pipeline::ArtifactStore;
use sluice_plugin_host::{HostConfig, PluginHost};
use sluice_types::crd::{Release, Source};

const APP: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {greeting: hello}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  selector: {app: app}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, labels: {app: app}}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          image: ghcr.io/stefanprodan/podinfo:6.7.0
          resources: {limits: {cpu: 100m, memory: 64Mi}}
";

/// `sluice playground` on a free port; killed when dropped.
struct Playground(Child);

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sluice_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SLUICE_BIN") {
        return bin.into();
    }
    // The bench binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("bench path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("sluice")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
}

/// Peak resident set size of this process (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024.0
}

async fn playground(dir: &Path) -> (Playground, http::Uri) {
    let bin = sluice_bin();
    let kubeconfig = dir.join("kubeconfig");
    let child = Command::new(&bin)
        .args(["playground", "--ready-after", "0s", "--port"])
        .arg(free_port().to_string())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (build it: cargo build -p sluice-cli): {e}",
                bin.display()
            )
        });
    let guard = Playground(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kubeconfig.exists() {
        assert!(Instant::now() < deadline, "the playground did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server URL");
    (guard, server.parse().expect("server URL"))
}

async fn run(n: usize, cache: &Path) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("repo/app")).expect("repo");
    std::fs::write(dir.path().join("repo/app/app.yaml"), APP).expect("app");
    let (_playground, url) = playground(dir.path()).await;
    let driver = Client::try_from(kube::Config::new(url.clone())).expect("client");

    let crds: Api<CustomResourceDefinition> = Api::all(driver.clone());
    for crd in sluice_types::crd::definitions() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD");
    }
    let namespaces: Api<Namespace> = Api::all(driver.clone());
    futures::stream::iter(0..n)
        .map(|i| {
            let namespaces = namespaces.clone();
            async move {
                let ns: Namespace =
                    serde_json::from_value(json!({"metadata": {"name": format!("app-{i}")}}))
                        .expect("namespace");
                namespaces
                    .create(&PostParams::default(), &ns)
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .expect("namespaces");

    // The controller, in this process, with a client that counts requests.
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let count = tower::util::MapRequestLayer::new(move |r: http::Request<Body>| {
        counter.fetch_add(1, Ordering::Relaxed);
        r
    });
    let config = kube::Config::new(url);
    let client = ClientBuilder::try_from(config.clone())
        .expect("client")
        .with_layer(&count)
        .build();
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..HostConfig::default()
    })
    .expect("host");
    let store = ArtifactStore::open(dir.path().join("artifacts")).expect("store");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(sluice_controller::run(
        client,
        config,
        host,
        store,
        sluice_controller::Options {
            concurrent: 4,
            ..sluice_controller::Options::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));

    let sources: Api<Source> = Api::namespaced(driver.clone(), "default");
    let source: Source = serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Source",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"url": format!("file://{}", dir.path().join("repo").display()), "interval": "10m"}
    }))
    .expect("source");
    sources
        .create(&PostParams::default(), &source)
        .await
        .expect("Source");
    loop {
        let s = sources.get("app").await.expect("Source");
        if s.status.and_then(|s| s.artifact).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let releases: Api<Release> = Api::namespaced(driver.clone(), "default");
    requests.store(0, Ordering::Relaxed);
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let releases = releases.clone();
            async move {
                let release: Release = serde_json::from_value(json!({
                    "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
                    "metadata": {"name": format!("app-{i}"), "namespace": "default"},
                    "spec": {
                        "sourceRef": {"name": "app"}, "path": "./app",
                        "targetNamespace": format!("app-{i}"),
                        "interval": "10m", "retryInterval": "10s", "wait": true
                    }
                }))
                .expect("release");
                releases
                    .create(&PostParams::default(), &release)
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .expect("releases");
    let created = started.elapsed();
    let ready = loop {
        let list = releases.list(&Default::default()).await.expect("list");
        let ready = list
            .items
            .iter()
            .filter(|r| {
                r.status.as_ref().is_some_and(|s| {
                    sluice_types::status::find_condition(&s.conditions, "Ready")
                        .is_some_and(|c| c.is_true())
                })
            })
            .count();
        if ready == n {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{ready}/{n} Ready after 30 min"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let sent = requests.load(Ordering::Relaxed);
    let _ = stop.send(());
    let _ = controller.await;
    println!(
        "| {n} | {:.1} s | {:.1} s | {:.1} | {:.0} MiB |",
        created.as_secs_f64(),
        ready.as_secs_f64(),
        sent as f64 / n as f64,
        peak_rss_mib()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 500, 1000]
    } else {
        sizes
    };
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mttp-plugins");
    println!(
        "| Releases | created in | all Ready after | controller requests per Release | peak RSS (controller process) |"
    );
    println!("|---|---|---|---|---|");
    // Peak RSS is per process: run one size per process for clean figures.
    for n in sizes {
        run(n, &cache).await;
    }
}
