//! Rule evaluations per second on one core, natively:
//! `cd plugins && cargo run --release -p sluice-policy-rules --example bench`.

use serde_json::{Value, json};
use sluice_policy_rules::{Engine, Values};
use std::time::Instant;

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

fn measure(label: &str, rule: Value, resources: usize) {
    let engine = Engine::new(&[policy(rule)], Values::default()).expect("valid policy");
    let mut pods: Vec<Value> = (0..resources).map(pod).collect();
    let start = Instant::now();
    let results = engine.run(&mut pods);
    let secs = start.elapsed().as_secs_f64();
    let evaluated = results.iter().filter(|r| r.rule == "r").count();
    println!(
        "{label:<8} {evaluated} evaluations in {:.3} s: {:.0}/s",
        secs,
        evaluated as f64 / secs
    );
}

fn main() {
    let n = 100_000;
    let pods: Vec<Value> = (0..n).map(pod).collect();
    let pattern = json!({"spec": {"containers": [{"image": "!*:latest", "resources": {"limits": {"memory": "?*"}, "requests": {"cpu": "?*"}}}]}});
    let start = Instant::now();
    let failed = pods
        .iter()
        .filter(|p| sluice_policy_rules::pattern::validate(p, &pattern).is_err())
        .count();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "matcher  {n} pattern checks ({failed} failing) in {secs:.3} s: {:.0}/s",
        n as f64 / secs
    );
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
}
