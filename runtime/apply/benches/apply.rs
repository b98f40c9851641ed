//! Apply engine against the local API server: first apply of 1,000 objects,
//! a no-op re-apply, a re-apply with 10% changed, and a prune of 500, with
//! the requests each issues (reads, server dry-runs, writes).
//!
//! Run: `cargo bench -p sluice-apply --bench apply`

use kube::client::{Body, ClientBuilder};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};
use sluice_apply::{Applier, ApplyOptions};
use sluice_types::Manifest;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Default)]
struct Requests {
    reads: AtomicUsize,
    dry_runs: AtomicUsize,
    writes: AtomicUsize,
}

impl Requests {
    fn take(&self) -> (usize, usize, usize) {
        (
            self.reads.swap(0, Ordering::SeqCst),
            self.dry_runs.swap(0, Ordering::SeqCst),
            self.writes.swap(0, Ordering::SeqCst),
        )
    }
}

fn config_maps(count: usize, changed_every: Option<usize>) -> Vec<Manifest> {
    (0..count)
        .map(|i| {
            let value = match changed_every {
                Some(n) if i % n == 0 => "changed",
                _ => "original",
            };
            Manifest {
                object: json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": format!("cm-{i:04}"), "namespace": "bench", "labels": {"app": "bench"}},
                    "data": {"index": i.to_string(), "value": value},
                }),
                origin: None,
            }
        })
        .collect()
}

fn with_namespace(mut manifests: Vec<Manifest>) -> Vec<Manifest> {
    manifests.insert(
        0,
        Manifest {
            object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}),
            origin: None,
        },
    );
    manifests
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = ApiServer::start(Options::default()).await.expect("server");
    let requests = Arc::new(Requests::default());
    let counter = requests.clone();
    let count = tower::util::MapRequestLayer::new(move |r: http::Request<Body>| {
        let slot = if r.method() == http::Method::GET {
            &counter.reads
        } else if r.uri().query().is_some_and(|q| q.contains("dryRun=All")) {
            &counter.dry_runs
        } else {
            &counter.writes
        };
        slot.fetch_add(1, Ordering::SeqCst);
        r
    });
    let config = kube::Config::new(server.url().parse().expect("url"));
    let client = ClientBuilder::try_from(config)
        .expect("client")
        .with_layer(&count)
        .build();

    println!("| step | objects | time | reads | dry-runs | writes | requests per object |");
    println!("|---|---|---|---|---|---|---|");
    let step = async |name: &str, manifests: Vec<Manifest>, prune: bool| {
        let options = ApplyOptions {
            prune,
            ..ApplyOptions::default()
        };
        let mut applier = Applier::new(client.clone(), "bench", "default", options);
        requests.take();
        let started = Instant::now();
        let report = applier.apply(&manifests).await.expect("apply");
        let took = started.elapsed();
        let (reads, dry_runs, writes) = requests.take();
        let c = report.counts();
        let objects = c.created + c.configured + c.unchanged + c.pruned;
        println!(
            "| {name} | {objects} | {:.2} s | {reads} | {dry_runs} | {writes} | {:.2} |",
            took.as_secs_f64(),
            (reads + dry_runs + writes) as f64 / objects.max(1) as f64
        );
        c
    };
    let first = step(
        "first apply",
        with_namespace(config_maps(1000, None)),
        false,
    )
    .await;
    assert_eq!(first.created, 1001);
    let noop = step(
        "no-op re-apply",
        with_namespace(config_maps(1000, None)),
        false,
    )
    .await;
    assert_eq!(noop.unchanged, 1001);
    let tenth = step(
        "re-apply, 10% changed",
        with_namespace(config_maps(1000, Some(10))),
        false,
    )
    .await;
    assert_eq!(tenth.configured, 100);
    let pruned = step(
        "prune 500 (apply the first 500)",
        with_namespace(config_maps(500, Some(10))),
        true,
    )
    .await;
    assert_eq!(pruned.pruned, 500);
    server.shutdown().await;
}
