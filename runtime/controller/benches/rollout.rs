//! Rollouts: what one decision costs, and what the host adds beyond the
//! intervals a strategy configures.
//!
//! 1. The `canary` plugin's `Plugin::step` alone, warm (the WebAssembly
//!    call with the state in and the decision out).
//! 2. The engine (`sluice_rollout::Driver`) stepping a canary through the
//!    real plugin with `interval: 0s`, on the in-process API server, with
//!    one metric answered by Debian's Prometheus: per decision, the plugin
//!    call and the host's action on it (analysis: the PromQL query; weight:
//!    the HTTPRoute apply; promotion: the primary's apply).
//! 3. The controller rolling a canary out (`stepWeights: [20, 50, 80]`,
//!    `interval: 1s`) from the Source change to Succeeded, against the
//!    3 s its intervals account for.
//!
//! Run: `cargo bench -p sluice-controller --bench rollout` (needs
//! `prometheus`, which tests/setup.sh installs).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Config};
use serde_json::{Value, json};
use sluice_apiserver::{ApiServer, Options};
use sluice_pipeline::ArtifactStore;
use sluice_plugin_host::{HostConfig, Plugin, PluginHost};
use sluice_rollout::Driver;
use sluice_rollout_testkit::{Exporter, Prometheus, install_httproute_crd};
use sluice_types::Diagnostic;
use sluice_types::crd::{REQUESTED_AT, Release, Source};
use sluice_types::rollout::{Decision, RolloutPhase, RolloutSpec, RolloutStatus, StepInput};

const QUERY: &str = "max(sluice_test_error_ratio{version=\"{{ target }}-canary\"})";

fn host() -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-rollout-plugins")),
        ..HostConfig::default()
    })
    .expect("plugin host")
}

async fn canary(host: &PluginHost) -> Plugin {
    let builtin = sluice_builtins::get("canary").expect("the canary built-in");
    host.load("canary", builtin.wasm, None, None)
        .await
        .expect("canary loads")
}

/// `(p50, p95, mean)` in microseconds.
fn stats(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| us(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len() as f64;
    (at(0.5), at(0.95), mean)
}

fn row(what: &str, samples: Vec<Duration>) {
    let n = samples.len();
    let (p50, p95, mean) = stats(samples);
    println!("| {what} | {n} | {p50:.0} | {p95:.0} | {mean:.0} |");
}

/// The plugin as the engine's strategy, timing each call and the gap
/// before the next one (the host acting on the decision).
struct Timed {
    plugin: Plugin,
    last: Mutex<Option<(Instant, Decision)>>,
    calls: Mutex<Vec<Duration>>,
    actions: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
}

fn kind(decision: &Decision) -> &'static str {
    match decision {
        Decision::SetWeight(_) => "set weight (HTTPRoute apply)",
        Decision::Analyse => "analyse (1 PromQL query)",
        Decision::Wait(_) => "wait",
        Decision::Promote => "promote (primary apply)",
        Decision::Rollback(_) => "roll back",
        Decision::Done => "done",
    }
}

impl sluice_rollout::Strategy for Timed {
    async fn step(&self, input: StepInput) -> sluice_rollout::Result<(Decision, Vec<Diagnostic>)> {
        let start = Instant::now();
        if let Some((end, decision)) = self.last.lock().expect("lock").take() {
            self.actions
                .lock()
                .expect("lock")
                .entry(kind(&decision))
                .or_default()
                .push(start - end);
        }
        let answer = self
            .plugin
            .step(&input)
            .await
            .map_err(|e| sluice_rollout::Error::Strategy(Box::new(e)))?;
        let end = Instant::now();
        self.calls.lock().expect("lock").push(end - start);
        *self.last.lock().expect("lock") = Some((end, answer.0.clone()));
        Ok(answer)
    }
}

fn target(image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image,
                    "ports": [{"name": "http", "containerPort": 8080}]}]}}}})
}

fn rollout(prometheus: &Prometheus, config: Value) -> Value {
    json!({
        "strategy": {"plugin": "canary", "config": config},
        "targetRef": {"name": "web"},
        "service": {"port": 80, "targetPort": "http", "gatewayRefs": [{"name": "public"}]},
        "analysis": {"provider": {"address": prometheus.address},
            "metrics": [{"name": "error-rate", "query": QUERY, "thresholdRange": {"max": 0.05}}]},
    })
}

async fn cluster() -> (ApiServer, Client, Config) {
    let server = ApiServer::start(Options::default().with_readiness(Duration::ZERO))
        .await
        .expect("API server");
    let config = Config::new(server.url().parse().expect("url"));
    let client = Client::try_from(config.clone()).expect("client");
    install_httproute_crd(&client).await;
    (server, client, config)
}

/// 1: `Plugin::step` back to back, at a step that needs an analysis.
async fn plugin_calls(plugin: &Plugin) {
    let input = StepInput {
        config: json!({"stepWeights": [20, 50], "interval": "1m"}),
        phase: RolloutPhase::Progressing,
        step: 1,
        canary_weight: 20,
        stable_revision: "sha256:aaa".into(),
        candidate_revision: "sha256:bbb".into(),
        candidate_ready: true,
        step_elapsed: Duration::from_secs(90),
        total_elapsed: Duration::from_secs(120),
        analyses: 1,
        failed_analyses: 0,
        step_passed: 0,
        since_analysis: None,
        last_analysis: Vec::new(),
        gates: Vec::new(),
    };
    for _ in 0..50 {
        plugin.step(&input).await.expect("step");
    }
    let mut samples = Vec::new();
    for _ in 0..1000 {
        let start = Instant::now();
        let (decision, _) = plugin.step(&input).await.expect("step");
        samples.push(start.elapsed());
        assert_eq!(decision, Decision::Analyse);
    }
    row("`Plugin::step` (canary, warm)", samples);
}

/// 2: whole rollouts through the engine with no waiting in between.
async fn engine(plugin: Plugin, prometheus: &Prometheus) {
    let (_server, client, _) = cluster().await;
    let weights: Vec<u8> = (1..=9).map(|k| k * 10).collect();
    let spec: RolloutSpec = serde_json::from_value(rollout(
        prometheus,
        json!({"stepWeights": weights, "interval": "0s"}),
    ))
    .expect("spec");
    let timed = Timed {
        plugin,
        last: Mutex::default(),
        calls: Mutex::default(),
        actions: Mutex::default(),
    };
    let driver = Driver::new(client);
    let annotations = BTreeMap::new();
    let mut status: Option<RolloutStatus> = None;
    let mut reconciles = Vec::new();
    let rounds = 10;
    for round in 0..=rounds {
        let revision = format!("v{round}");
        let image = format!("web:{round}");
        loop {
            let release = sluice_rollout::Release {
                name: "web",
                namespace: "default",
                annotations: &annotations,
                spec: &spec,
                status: status.as_ref(),
            };
            let start = Instant::now();
            let outcome = driver
                .advance(&release, &revision, &target(&image), Vec::new(), &timed)
                .await
                .expect("advance");
            // The first revision initialises the primary without a decision.
            if round > 0 {
                reconciles.push(start.elapsed());
            }
            *timed.last.lock().expect("lock") = None;
            let done = outcome.status.phase.is_terminal();
            status = Some(outcome.status);
            if done {
                break;
            }
        }
        let status = status.as_ref().expect("status");
        assert_eq!(status.phase, RolloutPhase::Succeeded, "{status:?}");
    }
    println!(
        "\n{rounds} canary rollouts of 9 weights (10..90), `interval: 0s`, one metric each analysis:\n"
    );
    println!("| per decision | n | p50 µs | p95 µs | mean µs |\n|---|---|---|---|---|");
    row(
        "plugin call (`Plugin::step`, in the engine)",
        timed.calls.into_inner().expect("lock"),
    );
    for (what, samples) in timed.actions.into_inner().expect("lock") {
        row(&format!("host: {what}"), samples);
    }
    row("one reconcile (`Driver::advance`)", reconciles);
}

/// 3: the controller, from the Source change to Succeeded.
async fn controller(prometheus: &Prometheus) {
    let (_server, client, config) = cluster().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in sluice_types::crd::definitions() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD");
    }
    let dir = tempfile::tempdir().expect("dir");
    let manifest = |image: &str| {
        let text = serde_saphyr::to_string(&target(image)).expect("yaml");
        std::fs::write(dir.path().join("web.yaml"), text).expect("write");
    };
    manifest("web:1.0");
    let store_dir = tempfile::tempdir().expect("dir");
    let store = ArtifactStore::open(store_dir.path().join("artifacts")).expect("store");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(sluice_controller::run(
        client.clone(),
        config,
        host(),
        store,
        sluice_controller::Options::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let sources: Api<Source> = Api::namespaced(client.clone(), "default");
    let releases: Api<Release> = Api::namespaced(client.clone(), "default");
    let source: Source = serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Source",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"url": format!("file://{}", dir.path().display()), "interval": "10m"}
    }))
    .expect("Source");
    sources
        .create(&PostParams::default(), &source)
        .await
        .expect("Source created");
    let config = json!({"stepWeights": [20, 50, 80], "interval": "1s"});
    let release: Release = serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"sourceRef": {"name": "app"}, "interval": "10m",
            "rollout": rollout(prometheus, config)}
    }))
    .expect("Release");
    releases
        .create(&PostParams::default(), &release)
        .await
        .expect("Release created");
    let rollout_of = async |releases: &Api<Release>| {
        releases
            .get("web")
            .await
            .ok()
            .and_then(|r| r.status)
            .and_then(|s| s.rollout)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stable = loop {
        assert!(Instant::now() < deadline, "no first deployment");
        if let Some(r) = rollout_of(&releases).await
            && r.phase == RolloutPhase::Succeeded
        {
            break r.stable_revision;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    println!("\nThe controller, `stepWeights: [20, 50, 80]`, `interval: 1s` (3 s of intervals):\n");
    println!(
        "| run | source change → first traffic | → Promoting | → Succeeded | beyond the 3 s of intervals |\n|---|---|---|---|---|"
    );
    for run in 1..=3 {
        manifest(&format!("web:{}.0", run + 1));
        let start = Instant::now();
        let patch = json!({"metadata": {"annotations": {REQUESTED_AT: format!("run-{run}")}}});
        sources
            .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("requested");
        let (mut traffic, mut promoting) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        let total = loop {
            assert!(Instant::now() < deadline, "rollout {run} did not finish");
            if let Some(r) = rollout_of(&releases).await
                && r.candidate_revision != stable
            {
                if r.canary_weight > 0 && traffic.is_none() {
                    traffic = Some(start.elapsed());
                }
                if r.phase == RolloutPhase::Promoting && promoting.is_none() {
                    promoting = Some(start.elapsed());
                }
                if r.phase == RolloutPhase::Succeeded {
                    break start.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let ms = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{} ms", d.as_millis()));
        println!(
            "| {run} | {} | {} | {} ms | {} ms |",
            ms(traffic),
            ms(promoting),
            total.as_millis(),
            total.as_millis() - 3000
        );
        // The next run's stable revision is this one's candidate.
        stable = rollout_of(&releases).await.expect("status").stable_revision;
    }
    let _ = stop.send(());
    let _ = running.await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let exporter = Exporter::start();
    exporter.set("web-primary", 0.0, 0.1);
    exporter.set("web-canary", 0.01, 0.1);
    let prometheus = Prometheus::start(&exporter, 2).await;
    let host = host();
    let plugin = canary(&host).await;
    println!("| | n | p50 µs | p95 µs | mean µs |\n|---|---|---|---|---|");
    plugin_calls(&plugin).await;
    engine(plugin, &prometheus).await;
    controller(&prometheus).await;
}
