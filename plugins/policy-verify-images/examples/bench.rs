//! The plugin's own cost per evaluation, natively and without the host's
//! signature checks (answered from memory): discovery, normalisation, glob
//! matching, request dedupe, findings and pinning over N Deployments.
//! `cd plugins && cargo run --release -p sluice-policy-verify-images --example bench [-- N]`

use serde_json::{Value, json};
use sluice_policy_verify_images::evaluate;
use sluice_policy_verify_images::verify::{CallError, Request, Verified, Verifier};
use std::time::Instant;

/// Every image is signed; counts the requests that reach it.
struct Signed(usize);

impl Verifier for Signed {
    fn verify(&mut self, _: &Request) -> Result<Verified, CallError> {
        self.0 += 1;
        Ok(Verified {
            digest: format!("sha256:{}", "ab".repeat(32)),
            identity: "key SHA256:bench".into(),
        })
    }
}

fn deployment(i: usize) -> Value {
    let image = |n: usize| format!("registry.example/team-{}/app-{n}:1.{}", i % 5, i % 10);
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("web-{i}"), "namespace": "shop"},
           "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
               "initContainers": [{"name": "init", "image": image(0)}],
               "containers": [{"name": "app", "image": image(1), "ports": [{"containerPort": 8080}]},
                              {"name": "log", "image": "docker.io/fluent/fluent-bit:3.0"}]}}}})
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1000, |a| a.parse().expect("N: a number of Deployments"));
    let objects: Vec<Value> = (0..n).map(deployment).collect();
    let key = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
    for (label, mutate) in [("verify", false), ("verify + mutateDigest", true)] {
        let config = json!({"rules": [
            {"images": ["registry.example/*"], "authorities": [{"key": key}], "mutateDigest": mutate},
            {"images": ["docker.io/*"], "authorities": [{"keyless": {"issuer": "https://issuer.example", "subjectRegExp": ".*"}}]},
        ]})
        .to_string();
        let mut best = f64::MAX;
        let mut calls = 0;
        for _ in 0..5 {
            let mut verifier = Signed(0);
            let start = Instant::now();
            let out = evaluate(&config, &objects, &mut verifier).expect("valid config");
            best = best.min(start.elapsed().as_secs_f64());
            assert_eq!(out.findings.len(), n * 3, "one finding per image field");
            assert_eq!(out.mutated.is_some(), mutate);
            calls = verifier.0;
        }
        println!(
            "{label}: {n} Deployments ({} image fields, {calls} distinct requests) in {:.2} ms (best of 5), {:.0} image fields/s",
            n * 3,
            best * 1e3,
            (n * 3) as f64 / best
        );
    }
}
