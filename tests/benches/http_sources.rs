//! No-change poll latency of the `bucket` and `archive` sources (issue 4:
//! ≤ 5 ms on loopback), each beside its peer measured in the same run:
//! the bucket's one signed ListObjectsV2 against moto, timed from boto3
//! (the AWS SDK) on the same server; the archive's poll makes no request.
//!
//! Run: `cargo bench -p sluice-tests --bench http-sources`

use sluice_plugin_host::{
    FetchOutcome, FetchRequest, Grants, HostConfig, Limits, PluginHost, Secret, UrlPrefix,
};
use sluice_tests::servers::http::FileServer;
use sluice_tests::servers::s3::S3Server;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 200;

fn host(cache: &Path) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(cache.to_path_buf()),
        limits: Limits {
            timeout: Duration::from_secs(60),
            ..Limits::default()
        },
        ..HostConfig::default()
    })
    .expect("host")
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let n = samples.len();
    (ms(samples[n / 2]), ms(samples[(n * 99 / 100).min(n - 1)]))
}

/// p50/p99 of `N` polls after a tenth as warm-up; each must be unchanged.
async fn polls(
    plugin: &sluice_plugin_host::Plugin,
    artifact: &Path,
    request: &FetchRequest,
) -> (f64, f64) {
    let mut samples = Vec::with_capacity(N);
    for i in 0..N + N / 10 {
        let t = Instant::now();
        let out = plugin.fetch(None, artifact, request.clone()).await.unwrap();
        assert_eq!(out.outcome, FetchOutcome::Unchanged);
        if i >= N / 10 {
            samples.push(t.elapsed());
        }
    }
    percentiles(samples)
}

#[tokio::main]
async fn main() {
    let cache = tempfile::tempdir().unwrap();
    let artifact = tempfile::tempdir().unwrap();
    let host = host(cache.path());

    // Bucket: 100 objects, one listing page.
    let s3 = S3Server::start();
    let objects: Vec<(String, Vec<u8>)> = (0..100)
        .map(|i| {
            (
                format!("apps/{i:03}.yaml"),
                format!("n: {i}\n").into_bytes(),
            )
        })
        .collect();
    let objects: Vec<(&str, Option<&[u8]>)> = objects
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_slice())))
        .collect();
    s3.put("releases", &objects);
    let grants = Arc::new(Grants {
        http: vec![UrlPrefix::new(format!("http://{}/releases", s3.host))],
        secrets: BTreeMap::from([(
            "creds".to_string(),
            Secret(BTreeMap::from([
                ("accesskey".to_string(), s3.access_key.clone().into_bytes()),
                ("secretkey".to_string(), s3.secret_key.clone().into_bytes()),
            ])),
        )]),
        ..Grants::default()
    });
    let bucket = host
        .load(
            "bucket",
            sluice_builtins::get("bucket").unwrap().wasm,
            None,
            None,
        )
        .await
        .unwrap();
    let mut request = FetchRequest {
        url: s3.url("releases"),
        config: serde_json::json!({}),
        last_revision: None,
        secret: Some("creds".into()),
        insecure: true,
        grants,
    };
    let first = tempfile::tempdir().unwrap();
    let FetchOutcome::Fetched(revision) = bucket
        .fetch(None, first.path(), request.clone())
        .await
        .unwrap()
        .outcome
    else {
        panic!("first bucket fetch");
    };
    request.last_revision = Some(revision);
    let before = s3.requests().len();
    let (b50, b99) = polls(&bucket, artifact.path(), &request).await;
    let per_poll = (s3.requests().len() - before) as f64 / (N + N / 10) as f64;
    let sdk = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import sys, time, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
n = int(sys.argv[4]); samples = []
for i in range(n + n // 10):
    t = time.perf_counter(); s3.list_objects_v2(Bucket="releases")
    if i >= n // 10: samples.append(time.perf_counter() - t)
samples.sort()
print(samples[n // 2] * 1e3, samples[min(n * 99 // 100, n - 1)] * 1e3)
"#,
        )
        .args([
            &s3.endpoint(),
            &s3.access_key,
            &s3.secret_key,
            &N.to_string(),
        ])
        .output()
        .expect("python3");
    let sdk = String::from_utf8_lossy(&sdk.stdout).trim().to_string();

    // Archive: the pin matches the last revision, so no request at all.
    let files = FileServer::start();
    let pin = "ab".repeat(32);
    let url = files.url("/app.tar.gz");
    let archive = host
        .load(
            "archive",
            sluice_builtins::get("archive").unwrap().wasm,
            None,
            None,
        )
        .await
        .unwrap();
    let request = FetchRequest {
        url: url.clone(),
        config: serde_json::json!({"sha256": pin}),
        last_revision: Some(format!("sha256:{pin}")),
        secret: None,
        insecure: true,
        grants: Arc::new(Grants {
            http: vec![UrlPrefix::new(url)],
            ..Grants::default()
        }),
    };
    let (a50, a99) = polls(&archive, artifact.path(), &request).await;
    assert_eq!(files.requests(), 0);

    println!("no-change poll, {N} polls after warm-up (ms)");
    println!("| source | p50 | p99 | requests per poll |");
    println!("|---|---|---|---|");
    println!("| bucket (100 objects, moto) | {b50:.2} | {b99:.2} | {per_poll:.2} |");
    println!(
        "| peer: boto3 list_objects_v2, same server | {} | 1 |",
        sdk.replace(" ", " | ")
    );
    println!("| archive (pinned sha256) | {a50:.3} | {a99:.3} | 0 |");
}
