//! What the rollout tests of `sluice-rollout` (the engine) and of
//! `sluice-controller` (the engine driven by the real strategy plugins)
//! share: Debian's real `prometheus` on loopback scraping a test exporter
//! whose per-version error ratio and latency the test sets, a loopback
//! webhook receiver, the trimmed Gateway API HTTPRoute CRD, and readers of
//! the traffic the engine set (route weights, apex selector).
//!
//! Dev-only: both crates list it under `[dev-dependencies]`, and it
//! depends on neither.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use serde_json::Value;

/// The trimmed HTTPRoute CRD, the file `examples/canary` installs too.
pub const HTTPROUTE_CRD: &str =
    include_str!("../../../../examples/canary/gateway-api/httproute-crd.yaml");

/// Installs [`HTTPROUTE_CRD`], as `kubectl apply -f` would.
pub async fn install_httproute_crd(client: &Client) {
    let crd: CustomResourceDefinition =
        serde_saphyr::from_str(HTTPROUTE_CRD).expect("the HTTPRoute CRD parses");
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .expect("the HTTPRoute CRD is created");
}

/// `gateway.networking.k8s.io/v1` `HTTPRoute`, for dynamic reads.
pub fn httproute_resource() -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "HTTPRoute".into(),
        plural: "httproutes".into(),
    }
}

/// `(primary, canary)` weights of HTTPRoute `target` (the generated route
/// is named after the target), checking its backends are `<target>-primary`
/// and `<target>-canary` in that order. `None` while there is no route.
pub async fn route_weights(client: &Client, namespace: &str, target: &str) -> Option<(i64, i64)> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &httproute_resource());
    let route = api.get_opt(target).await.expect("HTTPRoute read")?;
    let route = serde_json::to_value(route).expect("json");
    let backends = &route["spec"]["rules"][0]["backendRefs"];
    assert_eq!(backends[0]["name"], format!("{target}-primary"));
    assert_eq!(backends[1]["name"], format!("{target}-canary"));
    Some((
        backends[0]["weight"].as_i64().expect("weight"),
        backends[1]["weight"].as_i64().expect("weight"),
    ))
}

/// The `sluice.dev/rollout-role` the apex Service `target` selects (empty
/// while there is none).
pub async fn apex_role(client: &Client, namespace: &str, target: &str) -> String {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let Some(service) = api.get_opt(target).await.expect("Service read") else {
        return String::new();
    };
    let service = serde_json::to_value(service).expect("json");
    service["spec"]["selector"]["sluice.dev/rollout-role"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Metric values per version, served in the text exposition format, and
/// webhooks at `/hooks/<name>` answering a set status, recording payloads.
#[derive(Clone, Debug, Default)]
pub struct Exporter {
    pub port: u16,
    values: Arc<Mutex<BTreeMap<String, (f64, f64)>>>,
    hook_status: Arc<Mutex<BTreeMap<String, u16>>>,
    pub payloads: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Exporter {
    pub fn start() -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let exporter = Exporter {
            port: listener.local_addr().expect("addr").port(),
            ..Exporter::default()
        };
        let serving = exporter.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let serving = serving.clone();
                std::thread::spawn(move || serving.answer(stream));
            }
        });
        exporter
    }

    /// Error ratio and latency (seconds) of a version.
    pub fn set(&self, version: &str, error_ratio: f64, latency: f64) {
        self.values
            .lock()
            .expect("lock")
            .insert(version.into(), (error_ratio, latency));
    }

    pub fn hook_answers(&self, name: &str, status: u16) {
        self.hook_status
            .lock()
            .expect("lock")
            .insert(name.into(), status);
    }

    /// The payloads webhook `name` received, oldest first.
    pub fn payloads_of(&self, name: &str) -> Vec<Value> {
        self.payloads
            .lock()
            .expect("lock")
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, payload)| payload.clone())
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn answer(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, text) = if let Some(name) = path.strip_prefix("/hooks/") {
            let payload = serde_json::from_slice(&body).unwrap_or(Value::Null);
            self.payloads
                .lock()
                .expect("lock")
                .push((name.to_string(), payload));
            let status = self
                .hook_status
                .lock()
                .expect("lock")
                .get(name)
                .copied()
                .unwrap_or(200);
            (status, format!("hook {name} says {status}"))
        } else {
            let mut text = String::from(
                "# TYPE sluice_test_error_ratio gauge\n# TYPE sluice_test_latency_seconds gauge\n",
            );
            for (version, (errors, latency)) in self.values.lock().expect("lock").iter() {
                text.push_str(&format!(
                    "sluice_test_error_ratio{{version=\"{version}\"}} {errors}\nsluice_test_latency_seconds{{version=\"{version}\"}} {latency}\n"
                ));
            }
            (200, text)
        };
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
    }
}

/// Debian's Prometheus on a loopback port, scraping the exporter every
/// second; killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    pub address: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts it and waits until it has `versions` series of the error ratio.
    pub async fn start(exporter: &Exporter, versions: usize) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
                exporter.port
            ),
        )
        .expect("config");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs: tests/setup.sh installs Debian's prometheus");
        let prometheus = Prometheus {
            address: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let http = sluice_http::Client::new();
        for _ in 0..300 {
            let request = sluice_http::Request {
                method: "GET".into(),
                url: format!(
                    "{}/api/v1/query?query=sluice_test_error_ratio",
                    prometheus.address
                ),
                ..Default::default()
            };
            let limits = sluice_http::Limits {
                max_bytes: 1 << 20,
                timeout: Duration::from_secs(2),
            };
            if let Ok(response) = http.send(request, limits).await
                && let Ok(answer) = serde_json::from_slice::<Value>(&response.body)
                && answer["data"]["result"].as_array().map(Vec::len) == Some(versions)
            {
                return prometheus;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "prometheus at {} never had the exporter's series",
            prometheus.address
        );
    }
}

/// An exporter serving each `(version, error ratio, latency)`, and
/// Prometheus scraping it, returned once it has them all.
pub async fn serving(series: &[(&str, f64, f64)]) -> (Exporter, Prometheus) {
    let exporter = Exporter::start();
    for &(version, error_ratio, latency) in series {
        exporter.set(version, error_ratio, latency);
    }
    let prometheus = Prometheus::start(&exporter, series.len()).await;
    (exporter, prometheus)
}
