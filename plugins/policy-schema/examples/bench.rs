//! Resources validated per second on one core, natively, through the same
//! `evaluate` the component runs (one call: bundle load, lazy compiles,
//! validation): `cd plugins && cargo run --release -p sluice-policy-schema --example bench`.

use serde_json::{Value, json};
use std::time::Instant;

fn deployment(i: usize) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": format!("web-{i}"), "namespace": "shop", "creationTimestamp": null,
                        "labels": {"app.kubernetes.io/name": "web"}},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                     "ports": [{"name": "http", "containerPort": 8080}],
                                     "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                                     "env": [{"name": "A", "value": "1"}],
                                     "resources": {"limits": {"cpu": 1, "memory": "256Mi"}}}]}}}})
}

fn service(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("web-{i}")},
           "spec": {"ports": [{"port": 80, "targetPort": "http"}], "selector": {"app": "web"}}})
}

fn config_map(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("web-{i}")},
           "data": {"a": "1", "b": "2"}})
}

fn crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "backups.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"kind": "Backup", "plural": "backups"},
                    "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"spec": {"type": "object", "required": ["schedule"], "properties": {
                            "schedule": {"type": "string"}, "keep": {"type": "integer", "minimum": 1},
                            "size": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}}}}}]}})
}

fn backup(i: usize) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Backup", "metadata": {"name": format!("b-{i}")},
           "spec": {"schedule": "0 3 * * *", "keep": 7, "size": "10Gi"}})
}

fn measure(label: &str, objects: &[Value]) {
    let start = Instant::now();
    let findings = sluice_policy_schema::evaluate("{}", objects).expect("config");
    let secs = start.elapsed().as_secs_f64();
    assert!(findings.is_empty(), "{findings:?}");
    println!(
        "{label:<28} {:>6} objects in {secs:.3} s: {:.0}/s",
        objects.len(),
        objects.len() as f64 / secs
    );
}

fn main() {
    measure("setup only (no objects)", &[]);
    measure("one Deployment (+compile)", &[deployment(0)]);
    let n = 10_000;
    measure("Deployments", &(0..n).map(deployment).collect::<Vec<_>>());
    let mix: Vec<Value> = (0..n)
        .map(|i| match i % 3 {
            0 => deployment(i),
            1 => service(i),
            _ => config_map(i),
        })
        .collect();
    measure("Deployment/Service/ConfigMap", &mix);
    let mut crs = vec![crd()];
    crs.extend((0..n).map(backup));
    measure("custom resources + CRD", &crs);
}
