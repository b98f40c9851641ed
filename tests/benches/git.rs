//! Git source benchmarks (issue 4): cold fetch + extract of a 10,000-file
//! repository beside `git clone --depth 1` of the same repository in the
//! same run, over `git daemon` and `git http-backend` on loopback, and the
//! latency of a no-change poll through the `git` built-in.
//!
//! Run: `cargo bench -p sluice-tests --bench git`

use serde_json::json;
use sluice_plugin_host::{FetchOutcome, FetchRequest, Grants, HostConfig, Limits, PluginHost};
use sluice_tests::servers::git::{GitDaemon, GitHttp, HttpAuth, git, init_repo};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FILES: usize = 10_000;
const RUNS: usize = 5;
const POLLS: usize = 200;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// 10,000 small YAML files in 100 directories, one commit.
fn big_repo(root: &Path) -> String {
    let dir = init_repo(root, "big");
    for d in 0..FILES / 100 {
        let sub = dir.join(format!("apps/app-{d:03}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..100 {
            std::fs::write(
                sub.join(format!("cm-{f:03}.yaml")),
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{d}-{f}\ndata:\n  key: \"{}\"\n",
                    "v".repeat(200 + (d * 7 + f) % 300)
                ),
            )
            .unwrap();
        }
    }
    git(&dir, &["add", "--all"]);
    git(&dir, &["commit", "--quiet", "-m", "10k files"]);
    git(&dir, &["rev-parse", "HEAD"])
}

fn git_clone(url: &str) -> Duration {
    let dest = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let status = Command::new("git")
        .args(["clone", "--quiet", "--depth", "1", "--branch", "main", url])
        .arg(dest.path().join("clone"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(status.success());
    t.elapsed()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    let commit = big_repo(root.path());
    let daemon = GitDaemon::start(root.path());
    let http = GitHttp::start(root.path(), HttpAuth::None);
    let cache = tempfile::tempdir().unwrap();
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        limits: Limits {
            timeout: Duration::from_secs(120),
            ..Limits::default()
        },
        ..HostConfig::default()
    })
    .unwrap();
    let wasm = sluice_builtins::get("git").unwrap().wasm;
    let plugin = rt.block_on(host.load("git", wasm, None, None)).unwrap();

    println!("cold fetch + extract of {FILES} files (median of {RUNS})");
    println!(
        "| transport | git clone --depth 1 | sluice-git checkout | git source (Plugin::fetch) | ratio (fetch / clone) |"
    );
    println!("|---|---|---|---|---|");
    for (name, url) in [("git://", daemon.url("big")), ("http://", http.url("big"))] {
        let limits = sluice_git::Limits {
            max_bytes: 1 << 30,
            timeout: Duration::from_secs(120),
        };
        let grants = Arc::new(Grants {
            git: vec![url.clone()],
            ..Grants::default()
        });
        let (mut clone, mut raw, mut fetch) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            clone.push(git_clone(&url));

            let dest = tempfile::tempdir().unwrap();
            let t = Instant::now();
            sluice_git::list_refs(&url, &sluice_git::Auth::None, limits).unwrap();
            let out = sluice_git::checkout(
                &url,
                Some("refs/heads/main"),
                &commit,
                &sluice_git::Auth::None,
                dest.path(),
                limits,
            )
            .unwrap();
            raw.push(t.elapsed());
            assert_eq!(out.files, FILES as u64);

            let dest = tempfile::tempdir().unwrap();
            let t = Instant::now();
            let result = rt
                .block_on(plugin.fetch(
                    None,
                    dest.path(),
                    FetchRequest {
                        url: url.clone(),
                        config: json!({"ref": {"branch": "main"}}),
                        last_revision: None,
                        secret: None,
                        insecure: false,
                        grants: grants.clone(),
                    },
                ))
                .unwrap();
            fetch.push(t.elapsed());
            assert!(matches!(result.outcome, FetchOutcome::Fetched(_)));
        }
        let (clone, raw, fetch) = (median(clone), median(raw), median(fetch));
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.0} ms | {:.2}× |",
            ms(clone),
            ms(raw),
            ms(fetch),
            fetch.as_secs_f64() / clone.as_secs_f64()
        );
    }

    println!("\nno-change poll through the git source ({POLLS} polls)");
    println!("| transport | p50 | p99 |");
    println!("|---|---|---|");
    let revision = format!("main@sha1:{commit}");
    for (name, url) in [("git://", daemon.url("big")), ("http://", http.url("big"))] {
        let grants = Arc::new(Grants {
            git: vec![url.clone()],
            ..Grants::default()
        });
        let mut samples = Vec::new();
        for _ in 0..POLLS {
            let dest = tempfile::tempdir().unwrap();
            let t = Instant::now();
            let result = rt
                .block_on(plugin.fetch(
                    None,
                    dest.path(),
                    FetchRequest {
                        url: url.clone(),
                        config: json!({"ref": {"branch": "main"}}),
                        last_revision: Some(revision.clone()),
                        secret: None,
                        insecure: false,
                        grants: grants.clone(),
                    },
                ))
                .unwrap();
            samples.push(t.elapsed());
            assert_eq!(result.outcome, FetchOutcome::Unchanged);
        }
        println!(
            "| {name} | {:.2} ms | {:.2} ms |",
            ms(median(samples.clone())),
            ms(p99(samples))
        );
    }
}
