//! OCI transport figures (issue 4), each beside its peer in the same run
//! against the same docker-registry on loopback:
//! - pulling a 50 MB artifact (download, digest check, safe extraction)
//!   beside `curl` fetching the same blob raw to /dev/null;
//! - the no-change poll of the `oci` built-in (one manifest request)
//!   beside `curl` of the same manifest.
//!
//! Run: `cargo bench -p sluice-tests --bench oci`

use sluice_oci::{Metadata, Options};
use sluice_plugin_host::{
    FetchOutcome, FetchRequest, Grants, HostConfig, Limits, OciGrant, PluginHost, TransferLimits,
};
use sluice_tests::servers::registry::Registry;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PULLS: usize = 5;
const POLLS: usize = 200;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

fn curl(url: &str, accept: Option<&str>) -> Duration {
    let mut cmd = Command::new("curl");
    cmd.args(["-sf", "-o", "/dev/null", url]);
    if let Some(a) = accept {
        cmd.args(["-H", &format!("Accept: {a}")]);
    }
    let t = Instant::now();
    let status = cmd.status().expect("curl");
    assert!(status.success(), "curl {url}");
    t.elapsed()
}

/// 50 MB that gzip cannot shrink (xorshift), so the layer is 50 MB too.
fn incompressible(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

async fn run() {
    let registry = Registry::start();
    let repo = registry.repository("bench/app");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.bin"), incompressible(50 << 20)).unwrap();
    std::fs::write(dir.path().join("app.yaml"), "kind: ConfigMap\n").unwrap();
    let client = sluice_oci::Registry::new(Options {
        insecure: true,
        timeout: Duration::from_secs(120),
        ..Options::default()
    });
    let pushed = client
        .push_artifact(&format!("{repo}:v1.0.0"), dir.path(), &Metadata::default())
        .await
        .expect("push");
    let manifest = client.manifest(&format!("{repo}:v1.0.0")).await.unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&manifest.json).unwrap();
    let layer = parsed["layers"][0]["digest"].as_str().unwrap().to_string();
    let size = parsed["layers"][0]["size"].as_u64().unwrap();
    let blob_url = format!("http://{}/v2/bench/app/blobs/{layer}", registry.host);

    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for i in 0..=PULLS {
        let out = tempfile::tempdir().unwrap();
        let t = Instant::now();
        client
            .pull_layer(&repo, &layer, &out.path().join("a"))
            .await
            .unwrap();
        let ours_t = t.elapsed();
        let raw_t = curl(&blob_url, None);
        if i > 0 {
            ours.push(ours_t);
            raw.push(raw_t);
        }
    }
    println!(
        "pull {:.1} MB layer: sluice-oci (download, sha256, extract) median {:.0} ms; curl of the blob to /dev/null median {:.0} ms; ratio {:.2}",
        size as f64 / 1e6,
        ms(median(ours.clone())),
        ms(median(raw.clone())),
        ms(median(ours)) / ms(median(raw))
    );

    let cache = tempfile::tempdir().unwrap();
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        limits: Limits {
            timeout: Duration::from_secs(60),
            ..Limits::default()
        },
        ..HostConfig::default()
    })
    .unwrap();
    let plugin = host
        .load("oci", sluice_builtins::get("oci").unwrap().wasm, None, None)
        .await
        .unwrap();
    let grants = Arc::new(Grants {
        oci: vec![OciGrant {
            repository: repo.clone(),
            insecure: true,
        }],
        transfer: TransferLimits::default(),
        ..Grants::default()
    });
    let last = format!("v1.0.0@{}", pushed.digest);
    let manifest_url = format!("http://{}/v2/bench/app/manifests/v1.0.0", registry.host);
    let (mut polls, mut peer) = (Vec::new(), Vec::new());
    for i in 0..POLLS + POLLS / 10 {
        let artifact = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let r = plugin
            .fetch(
                None,
                artifact.path(),
                FetchRequest {
                    url: format!("oci://{repo}"),
                    config: serde_json::json!({"ref": {"tag": "v1.0.0"}}),
                    last_revision: Some(last.clone()),
                    secret: None,
                    insecure: true,
                    grants: grants.clone(),
                },
            )
            .await
            .unwrap();
        let poll_t = t.elapsed();
        assert_eq!(r.outcome, FetchOutcome::Unchanged);
        let peer_t = curl(&manifest_url, Some(sluice_oci::OCI_MANIFEST_MEDIA_TYPE));
        if i >= POLLS / 10 {
            polls.push(poll_t);
            peer.push(peer_t);
        }
    }
    println!(
        "no-change poll (oci built-in, {POLLS} polls): p50 {:.2} ms, p99 {:.2} ms; curl of the manifest (new process each): p50 {:.2} ms, p99 {:.2} ms",
        ms(median(polls.clone())),
        ms(p99(polls)),
        ms(median(peer.clone())),
        ms(p99(peer))
    );
}
