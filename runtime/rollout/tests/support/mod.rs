//! What the engine tests run against: the in-process API server (with the
//! trimmed Gateway API HTTPRoute CRD and simulated readiness), and, from
//! `sluice-rollout-testkit`, Debian's real `prometheus` on loopback scraping
//! a test exporter that also receives webhooks; a scripted strategy.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::{Client, Config};
use serde_json::{Value, json};
use sluice_apiserver::{ApiServer, Options};
use sluice_rollout::{Driver, Outcome, Release};
pub use sluice_rollout_testkit::{Exporter, Prometheus, serving};
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
        sluice_rollout_testkit::install_httproute_crd(&client).await;
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
    sluice_rollout_testkit::route_weights(client, "shop", "web")
        .await
        .expect("the route exists")
}

/// The apex Service's role selector.
pub async fn apex_role(client: &Client) -> String {
    sluice_rollout_testkit::apex_role(client, "shop", "web").await
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
    let gates = Vec::new();
    drive_gated(
        driver,
        spec,
        annotations,
        status,
        (revision, gates),
        strategy,
        stop,
    )
    .await
}

/// [`drive`] with the caller's promotion gates.
pub async fn drive_gated(
    driver: &Driver,
    spec: &RolloutSpec,
    annotations: &BTreeMap<String, String>,
    status: &mut Option<RolloutStatus>,
    (revision, gates): (&str, Vec<CheckResult>),
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
            .advance(
                &release,
                revision,
                &target(revision),
                gates.clone(),
                strategy,
            )
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

/// A cluster where `v1` is initialised under `spec`: the driver and the
/// strategy that rolled it out, and the status as persisted.
pub struct Rig {
    pub cluster: Cluster,
    pub spec: RolloutSpec,
    pub driver: Driver,
    pub script: Script,
    pub status: Option<RolloutStatus>,
}

impl Rig {
    /// Starts the cluster, makes the strategy with `script` and
    /// [`initialise`]s.
    pub async fn start(spec: RolloutSpec, script: impl FnOnce(&Client) -> Script) -> Rig {
        let cluster = Cluster::start().await;
        let driver = Driver::new(cluster.client.clone());
        let script = script(&cluster.client);
        let status = initialise(&driver, &spec, &script).await;
        Rig {
            cluster,
            spec,
            driver,
            script,
            status,
        }
    }

    /// [`drive`]s `revision` to its end, without annotations.
    pub async fn run(&mut self, revision: &str) -> Outcome {
        let none = BTreeMap::new();
        drive(
            &self.driver,
            &self.spec,
            &none,
            &mut self.status,
            revision,
            &self.script,
            |_| false,
        )
        .await
    }

    /// When the current rollout started, the value the promote and abort
    /// annotations name.
    pub fn started_at(&self) -> String {
        self.status
            .as_ref()
            .and_then(|s| s.started_at.clone())
            .expect("started")
    }

    pub async fn deployment(&self, name: &str) -> Value {
        self.cluster
            .get("apps/v1", "Deployment", "deployments", name)
            .await
    }

    /// The image the primary Deployment runs.
    pub async fn primary_image(&self) -> Value {
        self.deployment("web-primary").await["spec"]["template"]["spec"]["containers"][0]["image"]
            .clone()
    }

    pub async fn canary_replicas(&self) -> Value {
        self.deployment("web-canary").await["spec"]["replicas"].clone()
    }
}
