//! Rule evaluations per second on one core, natively:
//! `cd plugins && cargo run --release -p sluice-policy-rules --example bench [-- SECTION…]`
//! (sections: matcher, pattern, deny, foreach, library; all by default).

use serde_json::{Value, json};
use sluice_policy_rules::pattern::Pattern;
use sluice_policy_rules::{Engine, Values};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

fn policy(rule: Value) -> Value {
    json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "bench"},
           "spec": {"validationFailureAction": "Enforce", "rules": [rule]}})
}

/// Time this thread spent on a CPU (Linux's schedstat), so figures taken on
/// a shared machine count our work, not the wait for a core; `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let (start, cpu) = (Instant::now(), cpu_time());
    let out = f();
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu.zip(cpu_time()).map(|(a, b)| (b - a).as_secs_f64());
    (out, wall, cpu)
}

/// `N/s` over wall time and, when known, over CPU time.
fn rates(n: usize, wall: f64, cpu: Option<f64>) -> String {
    let mut s = format!("{wall:.3} s wall: {:.0}/s", n as f64 / wall);
    if let Some(cpu) = cpu {
        s.push_str(&format!("; {cpu:.3} s CPU: {:.0}/s", n as f64 / cpu));
    }
    s
}

fn measure(label: &str, rule: Value, resources: usize) {
    if !wanted(label) {
        return;
    }
    let engine = Engine::new(&[policy(rule)], Values::default()).expect("valid policy");
    let mut pods: Vec<Value> = (0..resources).map(pod).collect();
    let (results, wall, cpu) = timed(|| engine.run(&mut pods));
    let evaluated = results.iter().filter(|r| r.rule == "r").count();
    println!(
        "{label:<8} {evaluated} evaluations in {}",
        rates(evaluated, wall, cpu)
    );
}

/// Whether the command line asks for this section (no arguments: all).
fn wanted(section: &str) -> bool {
    let mut args = std::env::args().skip(1).peekable();
    args.peek().is_none() || args.any(|a| a == section)
}

/// The pattern matcher alone, with the pattern prepared once as a rule holds it.
fn matcher(n: usize) {
    let pods: Vec<Value> = (0..n).map(pod).collect();
    let pattern = Pattern::new(
        &json!({"spec": {"containers": [{"image": "!*:latest", "resources": {"limits": {"memory": "?*"}, "requests": {"cpu": "?*"}}}]}}),
    );
    let (failed, wall, cpu) = timed(|| pods.iter().filter(|p| pattern.check(p).is_err()).count());
    println!(
        "matcher  {n} pattern checks ({failed} failing) in {}",
        rates(n, wall, cpu)
    );
}

/// The policy library's first 25 policies (sorted by folder), as
/// `cargo bench -p sluice-cli --bench policy` picks them.
fn library_policies() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut files = Vec::new();
    for group in [
        "best-practices",
        "pod-security-baseline",
        "pod-security-restricted",
    ] {
        let mut folders: Vec<PathBuf> = std::fs::read_dir(root.join(group))
            .expect("policy folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect();
        folders.sort();
        for f in folders {
            let name = f.file_name().expect("name").to_owned();
            files.push(f.join(name).with_extension("yaml"));
        }
    }
    files.truncate(25);
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("policy file");
            serde_saphyr::from_multiple::<Value>(&text).expect("policy YAML")
        })
        .collect()
}

/// The resource mix of the CLI bench: Deployments, Services, ConfigMaps,
/// Pods, StatefulSets and CronJobs.
fn release_resource(i: usize) -> Value {
    let image = if i.is_multiple_of(10) {
        "shop:latest".to_owned()
    } else {
        format!("registry.example.com/shop-{}:1.{}", i % 7, i % 13)
    };
    let pod_spec = json!({"automountServiceAccountToken": false,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]});
    let meta = json!({"name": format!("r-{i}"), "namespace": format!("ns-{}", i % 20),
        "labels": {"app.kubernetes.io/name": format!("shop-{}", i % 50), "team": format!("t{}", i % 5)}});
    let template = json!({"metadata": {"labels": {"app": format!("r-{i}")}}, "spec": pod_spec});
    let selector = json!({"matchLabels": {"app": format!("r-{i}")}});
    match i % 10 {
        0..=3 => {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                   "spec": {"replicas": 2, "selector": selector, "template": template}})
        }
        4 | 5 => {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                   "spec": {"type": "ClusterIP", "selector": {"app": format!("r-{i}")}, "ports": [{"port": 80, "targetPort": 8080}]}})
        }
        6 => {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"key": format!("value-{i}")}})
        }
        7 => json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}),
        8 => {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
                   "spec": {"replicas": 1, "serviceName": format!("r-{i}"), "selector": selector, "template": template}})
        }
        _ => {
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                   "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template":
                       {"spec": {"restartPolicy": "OnFailure", "automountServiceAccountToken": false,
                                 "securityContext": pod_spec["securityContext"], "containers": pod_spec["containers"]}}}}}})
        }
    }
}

/// 25 library policies over 10,000 resources, the engine alone (what the
/// component runs between parsing its input and encoding its output).
fn library(n: usize) {
    let config = json!({"policies": library_policies()}).to_string();
    let resources: Vec<Value> = (0..n).map(release_resource).collect();
    let (out, wall, cpu) =
        timed(|| sluice_policy_rules::evaluate(&config, resources).expect("library policies load"));
    println!(
        "library  25 policies x {n} resources, {} results in {}",
        out.results.len(),
        rates(out.results.len(), wall, cpu)
    );
}

fn main() {
    let n = 100_000;
    if wanted("matcher") {
        matcher(n);
    }
    let kinds = json!({"any": [{"resources": {"kinds": ["Pod"]}}]});
    measure(
        "pattern",
        json!({"name": "r", "match": kinds, "validate": {"message": "no latest",
            "pattern": {"spec": {"containers": [{"image": "!*:latest", "resources": {"limits": {"memory": "?*"}, "requests": {"cpu": "?*"}}}]}}}}),
        n,
    );
    measure(
        "deny",
        json!({"name": "r", "match": kinds, "validate": {"message": "{{request.object.metadata.name}} needs a team",
            "deny": {"conditions": {"any": [{"key": "{{request.object.metadata.labels.team || ''}}", "operator": "Equals", "value": ""}]}}}}),
        n,
    );
    measure(
        "foreach",
        json!({"name": "r", "match": kinds, "validate": {"message": "registry",
            "foreach": [{"list": "request.object.spec.containers", "pattern": {"image": "registry.example.com/*"}}]}}),
        n,
    );
    if wanted("library") {
        library(10_000);
    }
}
