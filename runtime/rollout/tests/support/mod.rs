//! What the rollout tests run against: the in-process API server (with the
//! trimmed Gateway API HTTPRoute CRD and simulated readiness), Debian's
//! real `prometheus` on loopback scraping a test exporter whose per-version
//! error ratio and latency the test sets, and a loopback webhook receiver.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::{Client, Config};
use serde_json::{Value, json};
use sluice_apiserver::{ApiServer, Options};
use sluice_rollout::{Driver, Outcome, Release};
use sluice_types::diagnostic::Diagnostic;
use sluice_types::rollout::{
    CheckResult, Decision, RolloutPhase, RolloutSpec, RolloutStatus, StepInput,
};

pub struct Cluster {
    pub client: Client,
    _server: ApiServer,
}

impl Cluster {
    /// A fresh API server with the HTTPRoute CRD and namespace `shop`.
    pub async fn start() -> Cluster {
        let server = ApiServer::start(Options::default().with_readiness(Duration::ZERO))
            .await
            .expect("server starts");
        let config = Config::new(server.url().parse().expect("server url"));
        let client = Client::try_from(config).expect("client");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/httproute-crd.yaml"),
        )
        .expect("fixture");
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).expect("CRD parses");
        Api::<CustomResourceDefinition>::all(client.clone())
            .create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let ns = serde_json::from_value(json!({"metadata": {"name": "shop"}})).expect("namespace");
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        Cluster {
            client,
            _server: server,
        }
    }

    pub async fn get(&self, api_version: &str, kind: &str, plural: &str, name: &str) -> Value {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let ar = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), "shop", &ar);
        let object = api.get(name).await.expect("object exists");
        serde_json::to_value(object).expect("json")
    }

    /// `(primary, canary)` weights of the HTTPRoute `web`.
    pub async fn route_weights(&self) -> (i64, i64) {
        route_weights(&self.client).await
    }
}

pub async fn route_weights(client: &Client) -> (i64, i64) {
    let ar = ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "HTTPRoute".into(),
        plural: "httproutes".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "shop", &ar);
    let route = serde_json::to_value(api.get("web").await.expect("route")).expect("json");
    let backends = &route["spec"]["rules"][0]["backendRefs"];
    assert_eq!(backends[0]["name"], "web-primary");
    assert_eq!(backends[1]["name"], "web-canary");
    (
        backends[0]["weight"].as_i64().expect("weight"),
        backends[1]["weight"].as_i64().expect("weight"),
    )
}

/// The apex Service's role selector.
pub async fn apex_role(client: &Client) -> String {
    let api: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), "shop");
    let service = serde_json::to_value(api.get("web").await.expect("apex")).expect("json");
    service["spec"]["selector"]["sluice.dev/rollout-role"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The rendered target for a version (`v1` → image `web:v1`).
pub fn target(version: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": format!("web:{version}"),
                    "ports": [{"name": "http", "containerPort": 8080}]}]}}}})
}

pub fn spec(strategy: &str, analysis: Value) -> RolloutSpec {
    serde_json::from_value(json!({
        "strategy": {"plugin": strategy},
        "targetRef": {"name": "web"},
        "service": {"port": 80, "targetPort": "http",
            "gatewayRefs": [{"name": "public", "namespace": "gateways"}],
            "hosts": ["web.example.com"]},
        "analysis": analysis,
    }))
    .expect("spec")
}

/// What the strategy saw at one call, with the traffic as it was then.
#[derive(Debug, Clone)]
pub struct Seen {
    pub input: StepInput,
    pub route: Option<(i64, i64)>,
    pub apex: String,
}

/// A rule-based strategy (a small canary / blue-green): roll back at
/// `threshold` failed analyses; wait for readiness; `iterations` passing
/// analyses per step; then the next weight, then promote. It records the
/// traffic it observes at every call.
pub struct Script {
    pub client: Client,
    pub weights: Vec<u8>,
    pub iterations: u32,
    pub threshold: u32,
    pub weighted: bool,
    pub seen: Mutex<Vec<Seen>>,
}

impl Script {
    pub fn new(client: &Client, weights: &[u8], iterations: u32, threshold: u32) -> Script {
        Script {
            client: client.clone(),
            weights: weights.to_vec(),
            iterations,
            threshold,
            weighted: true,
            seen: Mutex::default(),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn failing(checks: &[CheckResult]) -> String {
    checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{} ({})", c.name, c.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl sluice_rollout::Strategy for Script {
    async fn step(&self, input: StepInput) -> sluice_rollout::Result<(Decision, Vec<Diagnostic>)> {
        let route = if self.weighted {
            Some(route_weights(&self.client).await)
        } else {
            None
        };
        let apex = apex_role(&self.client).await;
        self.seen.lock().expect("lock").push(Seen {
            input: input.clone(),
            route,
            apex,
        });
        let wait = Decision::Wait(Duration::from_millis(50));
        let decision = if input.failed_analyses >= self.threshold {
            Decision::Rollback(format!(
                "{} failed analyses (threshold {}); last: {}",
                input.failed_analyses,
                self.threshold,
                failing(&input.last_analysis)
            ))
        } else if input.phase == RolloutPhase::Promoting {
            if input.candidate_ready {
                Decision::Done
            } else {
                wait
            }
        } else if !input.candidate_ready {
            wait
        } else if input.step_passed < self.iterations {
            Decision::Analyse
        } else if let Some(weight) = self.weights.get(input.step as usize) {
            Decision::SetWeight(*weight)
        } else {
            Decision::Promote
        };
        let note = Diagnostic {
            severity: sluice_types::diagnostic::Severity::Info,
            ..Diagnostic::error(format!("step {}: {decision:?}", input.step))
        };
        Ok((decision, vec![note]))
    }
}

/// Reconciles like the controller: persist the status (through JSON, as
/// the API server would keep it), wait as asked, until the rollout ends or
/// `stop` says so.
pub async fn drive(
    driver: &Driver,
    spec: &RolloutSpec,
    annotations: &BTreeMap<String, String>,
    status: &mut Option<RolloutStatus>,
    revision: &str,
    strategy: &Script,
    stop: impl Fn(&RolloutStatus) -> bool,
) -> Outcome {
    for _ in 0..200 {
        let release = Release {
            name: "shop",
            namespace: "shop",
            annotations,
            spec,
            status: status.as_ref(),
        };
        let outcome = driver
            .advance(&release, revision, &target(revision), Vec::new(), strategy)
            .await
            .expect("advance");
        let persisted = serde_json::to_value(&outcome.status).expect("status serialises");
        *status = Some(serde_json::from_value(persisted).expect("status deserialises"));
        if outcome.status.phase.is_terminal() || stop(&outcome.status) {
            return outcome;
        }
        let pause = outcome.requeue_after.unwrap_or_default();
        tokio::time::sleep(pause.min(Duration::from_millis(100))).await;
    }
    panic!("the rollout did not end: {status:?}");
}

/// First deployment of `v1`: the primary, Services and route, no analysis.
pub async fn initialise(
    driver: &Driver,
    spec: &RolloutSpec,
    script: &Script,
) -> Option<RolloutStatus> {
    let mut status = None;
    let outcome = drive(
        driver,
        spec,
        &BTreeMap::new(),
        &mut status,
        "v1",
        script,
        |_| false,
    )
    .await;
    assert_eq!(outcome.status.phase, RolloutPhase::Succeeded);
    assert_eq!(outcome.status.stable_revision, "v1");
    assert!(
        script.seen().is_empty(),
        "no strategy call at initialisation"
    );
    status
}

/// Metric values per version, served in the text exposition format, and
/// webhooks at `/hooks/<name>` answering a set status, recording payloads.
#[derive(Clone, Default)]
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
