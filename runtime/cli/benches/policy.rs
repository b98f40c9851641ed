//! The `rules` policy plugin as sluice runs it: rule evaluations per second
//! through the built-in component (plugin host, boundary copies and all),
//! `sluice policy test policies/` wall time, and 25 library policies over
//! 10,000 generated resources with `sluice policy apply`.
//!
//! Run: `cargo bench -p sluice-cli --bench policy [-- SECTION…]` (sections:
//! component, test, apply; all by default). Figures in benches/README.md.

use serde_json::{Value, json};
use sluice_plugin_host::{HostConfig, Limits, Plugin, PluginHost};
use sluice_types::Manifest;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether the command line asks for this section (no arguments: all).
fn wanted(section: &str) -> bool {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    args.is_empty() || args.iter().any(|a| a == section)
}

/// CPU time of this thread (Linux's schedstat): on a shared machine it
/// counts our work, not the wait for a core. The guest runs on this thread.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    )
}

/// CPU time (user + system) of this process's waited-for children, from
/// /proc/self/stat (`cutime`, `cstime`, in clock ticks of 10 ms).
fn children_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The Pod of the native bench (`plugins/policy-rules/examples/bench.rs`).
fn pod(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": format!("pod-{i}"), "namespace": "shop", "labels": {"app": "shop", "team": "a"}},
           "spec": {"containers": [
               {"name": "app", "image": if i.is_multiple_of(10) { "shop:latest" } else { "registry.example.com/shop:1.2" },
                "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "ports": [{"containerPort": 8080}]},
               {"name": "log", "image": "registry.example.com/log:3",
                "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "10m", "memory": "32Mi"}}}]}})
}

fn one_rule(rule: Value) -> Value {
    json!({"policies": [{"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "bench"},
           "spec": {"validationFailureAction": "Enforce", "rules": [rule]}}]})
}

/// Evaluations per second of one rule over `n` Pods in one `evaluate` call
/// (best of three: the machine is shared).
async fn through_component(plugin: &Plugin, label: &str, rule: Value, n: usize) {
    let config = one_rule(rule);
    let manifests: Vec<Manifest> = (0..n)
        .map(|i| Manifest {
            object: pod(i),
            origin: None,
        })
        .collect();
    let mut best = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    let mut evaluated = 0;
    let expected = if label == "none" { 0 } else { n };
    for _ in 0..3 {
        let (start, cpu) = (Instant::now(), thread_cpu());
        let eval = plugin
            .evaluate("file://bench", "", &manifests, &config)
            .await
            .expect("evaluate");
        best = best.min(start.elapsed());
        best_cpu = best_cpu.min(thread_cpu() - cpu);
        evaluated = eval
            .diagnostics
            .iter()
            .filter(|d| d.code.as_deref().is_some_and(|c| c.ends_with(":bench:r")))
            .count();
    }
    assert_eq!(evaluated, expected, "{label}: one result per Pod");
    println!(
        "component {label:<8} {n} Pods, {evaluated} evaluations: {:.3} s wall ({:.0} Pods/s), {:.3} s CPU ({:.0} Pods/s)",
        best.as_secs_f64(),
        n as f64 / best.as_secs_f64(),
        best_cpu.as_secs_f64(),
        n as f64 / best_cpu.as_secs_f64()
    );
}

async fn component(n: usize) {
    let cache = tempfile::tempdir().expect("tempdir");
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        limits: Limits {
            timeout: Duration::from_secs(120),
            ..Limits::default()
        },
        ..HostConfig::default()
    })
    .expect("host");
    let builtin = sluice_builtins::BUILTINS
        .iter()
        .find(|b| b.name == "rules")
        .expect("the rules built-in");
    let plugin = host
        .load(builtin.name, builtin.wasm, None, None)
        .await
        .expect("load rules");
    // A first call compiles nothing more but warms the instance pool.
    plugin
        .evaluate("file://bench", "", &[], &one_rule(json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"pattern": {"kind": "Pod"}}})))
        .await
        .expect("warm-up");
    // The cost of the call itself: manifests across, parsed, nothing matched.
    through_component(
        &plugin,
        "none",
        json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Secret"]}}]},
            "validate": {"pattern": {"kind": "Secret"}}}),
        n,
    )
    .await;
    let kinds = json!({"any": [{"resources": {"kinds": ["Pod"]}}]});
    through_component(
        &plugin,
        "pattern",
        json!({"name": "r", "match": kinds, "validate": {"message": "no latest",
            "pattern": {"spec": {"containers": [{"image": "!*:latest", "resources": {"limits": {"memory": "?*"}, "requests": {"cpu": "?*"}}}]}}}}),
        n,
    )
    .await;
    through_component(
        &plugin,
        "deny",
        json!({"name": "r", "match": kinds, "validate": {"message": "{{request.object.metadata.name}} needs a team",
            "deny": {"conditions": {"any": [{"key": "{{request.object.metadata.labels.team || ''}}", "operator": "Equals", "value": ""}]}}}}),
        n,
    )
    .await;
    through_component(
        &plugin,
        "foreach",
        json!({"name": "r", "match": kinds, "validate": {"message": "registry",
            "foreach": [{"list": "request.object.spec.containers", "pattern": {"image": "registry.example.com/*"}}]}}),
        n,
    )
    .await;
}

/// Runs sluice; wall time, CPU time and output.
fn sluice(cache: &Path, args: &[&str]) -> (Duration, Duration, std::process::Output) {
    let (start, cpu) = (Instant::now(), children_cpu());
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo())
        .env("SLUICE_CACHE_DIR", cache)
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice");
    (start.elapsed(), children_cpu() - cpu, out)
}

/// `sluice policy test policies/`: the first run compiles the component
/// into an empty cache, the next seven load it.
fn policy_test() {
    let cache = tempfile::tempdir().expect("tempdir");
    let (cold, _, out) = sluice(cache.path(), &["policy", "test", "policies"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let runs: Vec<(Duration, Duration)> = (0..7)
        .map(|_| {
            let (wall, cpu, _) = sluice(cache.path(), &["policy", "test", "policies"]);
            (wall, cpu)
        })
        .collect();
    let warm: Vec<Duration> = runs.iter().map(|r| r.0).collect();
    let cpu = median(runs.iter().map(|r| r.1).collect());
    let (min, max) = (
        warm.iter().min().expect("runs"),
        warm.iter().max().expect("runs"),
    );
    println!(
        "policy test policies/: cold {:.2} s, cached median {:.3} s wall ({:.3}–{:.3} s over 7 runs), {:.2} s CPU",
        cold.as_secs_f64(),
        median(warm.clone()).as_secs_f64(),
        min.as_secs_f64(),
        max.as_secs_f64(),
        cpu.as_secs_f64()
    );
}

/// The policy library's first 25 policies (sorted by folder).
fn library_policies() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for group in [
        "best-practices",
        "pod-security-baseline",
        "pod-security-restricted",
    ] {
        let dir = repo().join("policies").join(group);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("policy folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect();
        names.sort();
        for folder in names {
            let name = folder.file_name().expect("name").to_owned();
            out.push(folder.join(name).with_extension("yaml"));
        }
    }
    out.truncate(25);
    out
}

/// 10,000 resources as a release renders them: Deployments, Services,
/// ConfigMaps, Pods, StatefulSets and CronJobs, in 20 YAML files of 500.
fn write_resources(dir: &Path, n: usize) {
    let container = |i: usize| {
        format!(
            "      - name: app\n        image: {}\n        imagePullPolicy: IfNotPresent\n        ports: [{{containerPort: 8080}}]\n        resources:\n          requests: {{cpu: 100m, memory: 128Mi}}\n          limits: {{memory: 256Mi}}\n        securityContext:\n          runAsNonRoot: true\n          allowPrivilegeEscalation: false\n          readOnlyRootFilesystem: true\n          capabilities: {{drop: [ALL]}}\n        livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}\n        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}\n",
            if i.is_multiple_of(10) {
                "shop:latest".to_owned()
            } else {
                format!("registry.example.com/shop-{}:1.{}", i % 7, i % 13)
            }
        )
    };
    let pod_spec = |i: usize, indent: &str| {
        let body = format!(
            "automountServiceAccountToken: false\nsecurityContext:\n  seccompProfile: {{type: RuntimeDefault}}\ncontainers:\n{}",
            container(i)
        );
        body.lines()
            .map(|l| format!("{indent}{l}\n"))
            .collect::<String>()
    };
    let labels = |i: usize| {
        format!(
            "  labels: {{app.kubernetes.io/name: shop-{}, team: t{}}}\n",
            i % 50,
            i % 5
        )
    };
    for file in 0..20 {
        let mut text = String::new();
        for j in 0..n / 20 {
            let i = file * (n / 20) + j;
            let meta = format!(
                "metadata:\n  name: r-{i}\n  namespace: ns-{}\n{}",
                i % 20,
                labels(i)
            );
            let doc = match i % 10 {
                0..=3 => format!(
                    "apiVersion: apps/v1\nkind: Deployment\n{meta}spec:\n  replicas: 2\n  selector: {{matchLabels: {{app: r-{i}}}}}\n  template:\n    metadata: {{labels: {{app: r-{i}}}}}\n    spec:\n{}",
                    pod_spec(i, "      ")
                ),
                4 | 5 => format!(
                    "apiVersion: v1\nkind: Service\n{meta}spec:\n  type: ClusterIP\n  selector: {{app: r-{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
                ),
                6 => format!("apiVersion: v1\nkind: ConfigMap\n{meta}data:\n  key: value-{i}\n"),
                7 => format!(
                    "apiVersion: v1\nkind: Pod\n{meta}spec:\n{}",
                    pod_spec(i, "  ")
                ),
                8 => format!(
                    "apiVersion: apps/v1\nkind: StatefulSet\n{meta}spec:\n  replicas: 1\n  serviceName: r-{i}\n  selector: {{matchLabels: {{app: r-{i}}}}}\n  template:\n    metadata: {{labels: {{app: r-{i}}}}}\n    spec:\n{}",
                    pod_spec(i, "      ")
                ),
                _ => format!(
                    "apiVersion: batch/v1\nkind: CronJob\n{meta}spec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n{}",
                    pod_spec(i, "          ")
                ),
            };
            text.push_str("---\n");
            text.push_str(&doc);
        }
        std::fs::write(dir.join(format!("resources-{file:02}.yaml")), text).expect("write");
    }
}

/// `sluice policy apply -p <25 policies> -r <10,000 resources>`, end to end
/// (read, parse, evaluate, report), median of three after a run that fills
/// the compiled-component cache.
fn policy_apply(n: usize) {
    let work = tempfile::tempdir().expect("tempdir");
    let resources = work.path().join("resources");
    std::fs::create_dir(&resources).expect("mkdir");
    write_resources(&resources, n);
    let cache = work.path().join("cache");
    let policies = library_policies();
    let mut args: Vec<String> = vec!["policy".into(), "apply".into()];
    for p in &policies {
        args.push("-p".into());
        args.push(p.display().to_string());
    }
    args.push("-r".into());
    args.push(resources.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, _, first) = sluice(&cache, &args);
    let stdout = String::from_utf8_lossy(&first.stdout);
    let summary = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(
        summary.starts_with("pass:"),
        "policy apply failed: {}\n{}",
        summary,
        String::from_utf8_lossy(&first.stderr)
    );
    let runs: Vec<(Duration, Duration)> = (0..3)
        .map(|_| {
            let (wall, cpu, _) = sluice(&cache, &args);
            (wall, cpu)
        })
        .collect();
    println!(
        "policy apply {} policies x {n} resources: median {:.2} s wall, {:.2} s CPU (runs {}); {summary}",
        policies.len(),
        median(runs.iter().map(|r| r.0).collect()).as_secs_f64(),
        median(runs.iter().map(|r| r.1).collect()).as_secs_f64(),
        runs.iter()
            .map(|(w, c)| format!("{:.2}/{:.2}", w.as_secs_f64(), c.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if wanted("component") {
        component(10_000).await;
    }
    if wanted("test") {
        policy_test();
    }
    if wanted("apply") {
        policy_apply(10_000);
    }
}
