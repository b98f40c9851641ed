//! Progressive rollouts through the controller: Releases with
//! `spec.rollout` driven by the real `canary` and `blue-green` plugins,
//! Debian's Prometheus scraping the test exporter (its `version` label names
//! the Deployment a series comes from), webhooks on loopback, the Gateway
//! API HTTPRoute CRD installed in the API server. Intervals are 1s, so each
//! rollout takes seconds.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::{Value, json};
use sluice_rollout_testkit::{Exporter, Prometheus, apex_role, install_httproute_crd, serving};
use sluice_types::crd::Release;
use sluice_types::rollout::{CheckKind, RolloutPhase, RolloutStatus};

use crate::support::{Running, ready, source, test_options, write};

const WAIT: Duration = Duration::from_secs(60);

/// The error ratio of the canary Deployment, as a Flagger metric template
/// would select its pods.
const ERROR_RATE: &str = "max(sluice_test_error_ratio{version=\"{{ target }}-canary\"})";

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: {image}
          ports: [{{name: http, containerPort: 8080}}]
"
    )
}

fn error_rate(prometheus: &Prometheus) -> Value {
    json!({
        "provider": {"address": prometheus.address},
        "metrics": [{"name": "error-rate", "query": ERROR_RATE, "thresholdRange": {"max": 0.05}}],
    })
}

/// `spec.rollout` for target `web` behind port 80.
fn rollout(strategy: &str, config: Value, analysis: Value) -> Value {
    json!({
        "strategy": {"plugin": strategy, "config": config},
        "targetRef": {"name": "web"},
        "service": {"port": 80, "targetPort": "http",
            "gatewayRefs": [{"name": "public", "namespace": "gateways"}],
            "hosts": ["web.example.com"]},
        "analysis": analysis,
    })
}

/// What the tests saw while a rollout ran: each distinct status (in
/// order), and each change of the route's canary weight and of the apex
/// Service's role.
#[derive(Debug, Default)]
struct Trace {
    statuses: Vec<RolloutStatus>,
    weights: Vec<i64>,
    roles: Vec<String>,
}

impl Trace {
    fn push<T: PartialEq>(list: &mut Vec<T>, item: T) {
        if list.last() != Some(&item) {
            list.push(item);
        }
    }

    /// The last status seen.
    fn last(&self) -> RolloutStatus {
        self.statuses.last().expect("a status").clone()
    }
}

/// The Release's rollout status.
fn rollout_status(release: &Release) -> RolloutStatus {
    let status = release.status.as_ref().and_then(|s| s.rollout.clone());
    status.expect("rollout")
}

/// Asserts the Release's Ready condition has `(status, reason)`; returns
/// its message.
fn assert_ready(release: &Release, expected: (&str, &str)) -> String {
    let (ready, reason, message) = ready(release).expect("Ready");
    assert_eq!((ready.as_str(), reason.as_str()), expected, "{message}");
    message
}

/// A Source directory holding Deployment `web`, the cluster with the
/// HTTPRoute CRD, and Release `web` rolled out by `spec.rollout`.
struct App {
    repo: tempfile::TempDir,
    cluster: Running,
    /// The first revision, deployed straight to the primary.
    stable: String,
}

impl App {
    /// Deploys `web:1.0` and waits for the rollout's initialisation.
    async fn start(rollout: Value, policies: Value) -> App {
        let repo = tempfile::tempdir().expect("temp dir");
        write(repo.path(), "deploy.yaml", &deployment("web:1.0"));
        let cluster = Running::start().await;
        install_httproute_crd(&cluster.client).await;
        cluster.create(source("app", repo.path())).await;
        cluster
            .create(json!({
                "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"sourceRef": {"name": "app"}, "path": "./", "interval": "5m",
                    "retryInterval": "1s", "prune": true, "policies": policies,
                    "rollout": rollout}
            }))
            .await;
        let status = cluster
            .until("the primary deployed", WAIT, async || {
                let release = cluster.releases().get("web").await.ok()?;
                let rollout = release.status.as_ref()?.rollout.clone()?;
                let ready = ready(&release).is_some_and(|(s, ..)| s == "True");
                (ready && rollout.phase == RolloutPhase::Succeeded).then_some(rollout)
            })
            .await;
        assert!(!status.stable_revision.is_empty(), "{status:?}");
        App {
            repo,
            cluster,
            stable: status.stable_revision,
        }
    }

    /// [`App::start`] without policies, `strategy` analysing the error
    /// rate, the canary's at `canary_error_ratio` (the primary's 0); the
    /// exporter and Prometheus are returned to live as long as the App.
    async fn with_error_rate(
        strategy: &str,
        config: Value,
        canary_error_ratio: f64,
    ) -> (App, (Exporter, Prometheus)) {
        let series = [
            ("web-primary", 0.0, 0.1),
            ("web-canary", canary_error_ratio, 0.1),
        ];
        let (exporter, prometheus) = serving(&series).await;
        let analysis = error_rate(&prometheus);
        let app = App::start(rollout(strategy, config, analysis), json!([])).await;
        (app, (exporter, prometheus))
    }

    /// Commits `image` to the Source and asks for its reconcile.
    async fn release_image(&self, image: &str) {
        write(self.repo.path(), "deploy.yaml", &deployment(image));
        self.cluster.request_source("app", image).await;
    }

    /// Releases `image` and [`App::follow`]s its rollout until `done`.
    async fn roll_out(&self, image: &str, done: impl Fn(&RolloutStatus) -> bool) -> Trace {
        self.release_image(image).await;
        let mut trace = Trace::default();
        self.follow(&mut trace, done).await;
        trace
    }

    async fn release(&self) -> Release {
        self.cluster.releases().get("web").await.expect("Release")
    }

    async fn image(&self, deployment: &str) -> String {
        let api: Api<Deployment> = Api::namespaced(self.cluster.client.clone(), "default");
        let d = api.get(deployment).await.expect("Deployment");
        let spec = d.spec.expect("spec").template.spec.expect("pod spec");
        spec.containers[0].image.clone().expect("image")
    }

    async fn replicas(&self, deployment: &str) -> i32 {
        let api: Api<Deployment> = Api::namespaced(self.cluster.client.clone(), "default");
        let d = api.get(deployment).await.expect("Deployment");
        d.spec.expect("spec").replicas.expect("replicas")
    }

    /// `(primary, canary)` weights of the generated HTTPRoute.
    async fn weights(&self) -> (i64, i64) {
        sluice_rollout_testkit::route_weights(&self.cluster.client, "default", "web")
            .await
            .expect("the HTTPRoute exists")
    }

    /// Polls the Release, the route and the apex Service until `done`
    /// holds for a rollout of another revision than the first one,
    /// recording what changed on the way.
    async fn follow(&self, trace: &mut Trace, done: impl Fn(&RolloutStatus) -> bool) {
        self.cluster
            .until("the rollout", WAIT, async || {
                let release = self.release().await;
                let status = release.status.and_then(|s| s.rollout)?;
                let route =
                    sluice_rollout_testkit::route_weights(&self.cluster.client, "default", "web")
                        .await;
                if let Some((_, canary)) = route {
                    Trace::push(&mut trace.weights, canary);
                }
                let role = apex_role(&self.cluster.client, "default", "web").await;
                Trace::push(&mut trace.roles, role);
                let ours = status.candidate_revision != self.stable;
                let finished = ours && done(&status);
                if ours {
                    Trace::push(&mut trace.statuses, status);
                }
                finished.then_some(())
            })
            .await;
    }
}

/// `(step, canary weight)` of each status, in order, without repeats.
fn steps(trace: &Trace) -> Vec<(u32, u8)> {
    let mut steps = Vec::new();
    for s in &trace.statuses {
        Trace::push(&mut steps, (s.step, s.canary_weight));
    }
    steps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_canary_walks_every_step_and_is_promoted() {
    let config = json!({"stepWeights": [20, 50], "interval": "1s", "threshold": 2});
    let (app, _metrics) = App::with_error_rate("canary", config, 0.01).await;
    assert_eq!(app.weights().await, (100, 0));
    assert_eq!(app.replicas("web-canary").await, 0);

    let started = Instant::now();
    let trace = app.roll_out("web:2.0", |s| s.phase.is_terminal()).await;
    let took = started.elapsed();

    // Every weight reached the route, in order, then all back to the primary.
    assert_eq!(trace.weights, [0, 20, 50, 0], "{trace:?}");
    assert_eq!(steps(&trace).last(), Some(&(2, 0)), "{trace:?}");
    assert!(
        steps(&trace).windows(2).any(|w| w == [(1, 20), (2, 50)]),
        "{trace:?}"
    );
    assert!(took >= Duration::from_secs(2), "one interval per weight");
    let status = trace.last();
    assert_eq!(status.phase, RolloutPhase::Succeeded, "{status:?}");
    assert_eq!(status.stable_revision, status.candidate_revision);
    assert_eq!(status.strategy, "canary");
    assert_eq!(status.failed_analyses, 0);
    assert_eq!(status.analyses, 3, "before traffic, then once per weight");
    // The metric as the last step saw it, through the real Prometheus.
    let check = &status.last_analysis[0];
    assert_eq!(check.kind, CheckKind::Metric);
    assert!(check.passed, "{check:?}");
    assert_eq!(
        check.query,
        "max(sluice_test_error_ratio{version=\"web-canary\"})"
    );
    assert_eq!(check.value, Some(0.01));
    assert_eq!(check.threshold, "<= 0.05");

    // Promoted: the primary runs the candidate; the canary is off.
    assert_eq!(app.image("web-primary").await, "web:2.0");
    assert_eq!(app.replicas("web-canary").await, 0);
    assert_eq!(app.weights().await, (100, 0));
    let release = app.release().await;
    let message = assert_ready(&release, ("True", "ReconciliationSucceeded"));
    assert!(message.contains(&status.candidate_revision), "{message}");
    assert_eq!(
        release.status.expect("status").last_applied_revision,
        Some(status.candidate_revision)
    );
    app.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_canary_is_rolled_back_within_the_failure_limit() {
    let config = json!({"stepWeights": [20, 50], "interval": "1s", "threshold": 2});
    let (app, _metrics) = App::with_error_rate("canary", config, 0.2).await;

    let trace = app.roll_out("web:2.0", |s| s.phase.is_terminal()).await;

    let status = trace.last();
    assert_eq!(status.phase, RolloutPhase::RolledBack, "{status:?}");
    assert_eq!(status.failed_analyses, 2, "rolled back at the threshold");
    assert_eq!(status.step, 1, "never past the first weight");
    assert_eq!(trace.weights, [0, 20, 0], "{trace:?}");
    assert_eq!(status.stable_revision, app.stable);
    let check = &status.last_analysis[0];
    assert!(!check.passed);
    assert_eq!(
        check.query,
        "max(sluice_test_error_ratio{version=\"web-canary\"})"
    );
    assert_eq!(check.value, Some(0.2));
    assert_eq!(check.threshold, "<= 0.05");
    assert!(
        status.message.contains("2 failed analyses (threshold 2)"),
        "{}",
        status.message
    );

    // The stable revision serves everything; the Release says why.
    assert_eq!(app.image("web-primary").await, "web:1.0");
    assert_eq!(app.replicas("web-canary").await, 0);
    let message = assert_ready(&app.release().await, ("False", "RolledBack"));
    assert!(message.contains("error-rate"), "{message}");
    assert!(message.contains("0.2"), "{message}");
    app.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pre_rollout_webhook_stops_it_before_any_traffic_moves() {
    let exporter = Exporter::start();
    exporter.hook_answers("smoke", 500);
    let analysis = json!({"webhooks": [
        {"name": "smoke", "type": "pre-rollout", "url": exporter.url("/hooks/smoke")},
        {"name": "done", "type": "post-rollout", "url": exporter.url("/hooks/done")},
    ]});
    let config = json!({"stepWeights": [20, 50], "interval": "1s", "threshold": 2});
    let app = App::start(rollout("canary", config, analysis), json!([])).await;

    let trace = app.roll_out("web:2.0", |s| s.phase.is_terminal()).await;

    let status = trace.last();
    assert_eq!(status.phase, RolloutPhase::RolledBack, "{status:?}");
    assert_eq!(trace.weights, [0], "traffic moved: {trace:?}");
    assert!(trace.statuses.iter().all(|s| s.step == 0), "{trace:?}");
    assert_eq!(status.failed_analyses, 2);
    assert!(
        status
            .message
            .contains("pre-rollout webhook 'smoke' answered HTTP 500"),
        "{}",
        status.message
    );
    let smoke = exporter.payloads_of("smoke");
    assert_eq!(smoke.len(), 2, "called once per analysis");
    assert_eq!(smoke[0]["name"], "web");
    assert_eq!(smoke[0]["namespace"], "default");
    assert_eq!(smoke[0]["checksum"], status.candidate_hash);
    assert_eq!(exporter.payloads_of("done")[0]["phase"], "Failed");
    assert_eq!(app.image("web-primary").await, "web:1.0");
    assert_ready(&app.release().await, ("False", "RolledBack"));
    app.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_denial_of_the_candidate_blocks_promotion() {
    // Audited, so the candidate is deployed and analysed, but never promoted.
    let policies = json!([{"plugin": "guardrails", "failureAction": "Audit",
        "config": {"disallowLatestTag": true}}]);
    let config = json!({"stepWeights": [20, 50], "interval": "1s"});
    let app = App::start(rollout("canary", config, json!({})), policies).await;

    let blocked = "promotion blocked by policy gate 'policies'";
    let trace = app
        .roll_out("web:latest", |s| s.message.starts_with(blocked))
        .await;
    // Held: three more intervals change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let release = app.release().await;
    let status = rollout_status(&release);
    // Every step passed and the strategy waits on the gate; no promotion
    // was attempted, so the phase is the strategy's.
    assert!(
        matches!(
            status.phase,
            RolloutPhase::Progressing | RolloutPhase::WaitingPromotion
        ),
        "{status:?}"
    );
    assert!(status.message.starts_with(blocked), "{}", status.message);
    assert_eq!((status.step, status.canary_weight), (2, 50));
    assert_eq!(trace.weights, [0, 20, 50], "{trace:?}");
    let gate = status
        .gates
        .iter()
        .find(|g| g.kind == CheckKind::Policy)
        .expect("the policies gate");
    assert!(!gate.passed);
    assert!(
        gate.message.contains("policy guardrails denied"),
        "{gate:?}"
    );
    assert_eq!(status.failed_analyses, 0);
    assert_eq!(app.image("web-primary").await, "web:1.0");
    assert_eq!(app.image("web-canary").await, "web:latest");
    assert_eq!(app.weights().await, (50, 50));
    let (ready, ..) = crate::support::ready(&release).expect("Ready");
    assert_ne!(ready, "True");
    app.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_restart_mid_rollout_resumes_at_the_same_step() {
    let config = json!({"stepWeights": [20, 50, 80], "interval": "2s"});
    let (mut app, _metrics) = App::with_error_rate("canary", config, 0.0).await;

    app.roll_out("web:2.0", |s| s.step == 2).await;
    app.cluster.stop_controller(0).await;
    let stopped = rollout_status(&app.release().await);
    assert_eq!(
        (stopped.step, stopped.canary_weight),
        (2, 50),
        "{stopped:?}"
    );
    assert_eq!(app.weights().await, (50, 50));

    app.cluster.add_controller(test_options()).await;
    let mut after = Trace::default();
    app.follow(&mut after, |s| s.phase.is_terminal()).await;
    let first = &after.statuses[0];
    assert_eq!(first.started_at, stopped.started_at, "the same rollout");
    assert!(
        after
            .statuses
            .iter()
            .all(|s| s.step >= 2 || s.phase.is_terminal()),
        "{after:?}"
    );
    assert_eq!(after.weights, [50, 80, 0], "{after:?}");
    let status = after.last();
    assert_eq!(status.phase, RolloutPhase::Succeeded, "{status:?}");
    assert_eq!(status.analyses, 4, "before traffic, then once per weight");
    assert_eq!(app.image("web-primary").await, "web:2.0");
    app.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_only_after_the_analysis_passed() {
    let config = json!({"iterations": 2, "interval": "1s", "keepBlueFor": "1s"});
    let (app, _metrics) = App::with_error_rate("blue-green", config, 0.0).await;
    assert_eq!(
        apex_role(&app.cluster.client, "default", "web").await,
        "primary"
    );

    let trace = app.roll_out("web:2.0", |s| s.phase.is_terminal()).await;

    assert_eq!(trace.roles, ["primary", "canary", "primary"], "{trace:?}");
    let switched = trace
        .statuses
        .iter()
        .position(|s| s.canary_weight == 100)
        .expect("the switch");
    // Before it, on the green side with no traffic: metric analyses that
    // passed, the `iterations` of them after the first one by the switch.
    let before = &trace.statuses[switched - 1];
    assert_eq!(before.canary_weight, 0, "{trace:?}");
    assert!(
        before
            .last_analysis
            .iter()
            .all(|c| c.passed && c.kind == CheckKind::Metric),
        "{before:?}"
    );
    assert!(!before.last_analysis.is_empty(), "{before:?}");
    let at_switch = &trace.statuses[switched];
    assert_eq!((at_switch.analyses, at_switch.failed_analyses), (3, 0));
    let status = trace.last();
    assert_eq!(status.phase, RolloutPhase::Succeeded, "{status:?}");
    assert_eq!(app.image("web-primary").await, "web:2.0");
    app.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enforced_denial_of_a_new_candidate_mid_rollout_deploys_nothing_of_it() {
    let policies = json!([{"plugin": "guardrails", "failureAction": "Enforce",
        "config": {"disallowLatestTag": true}}]);
    let config = json!({"stepWeights": [20, 50, 80], "interval": "2s"});
    let app = App::start(rollout("canary", config, json!({})), policies).await;

    let rolling = app.roll_out("web:2.0", |s| s.step == 1).await.last();

    // A denied candidate replaces 2.0 in the Source mid-rollout.
    app.release_image("web:latest").await;
    let release = app
        .cluster
        .until("the denial", WAIT, async || {
            let release = app.release().await;
            let (_, reason, _) = ready(&release)?;
            (reason == "PolicyDenied").then_some(release)
        })
        .await;
    let (ready, _, message) = ready(&release).expect("Ready");
    assert_eq!(ready, "False");
    assert!(message.contains("web:latest"), "{message}");
    // Nothing of it reached the cluster: the canary still runs 2.0, and the
    // rollout of 2.0 was not replaced by one of the denied candidate.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.image("web-canary").await, "web:2.0");
    assert_eq!(app.image("web-primary").await, "web:1.0");
    let status = rollout_status(&app.release().await);
    assert_eq!(status.candidate_hash, rolling.candidate_hash);
    assert_eq!(status.started_at, rolling.started_at);
    app.cluster.stop().await;
}
