//! One policy, five languages: the `require-resources` examples
//! (`examples/plugins/require-resources-{rs,py,js,c,go}`, identical cases in
//! `require-resources-tests/`) built with `sluice_plugin_dev::build` and
//! measured side by side in one run: component size, first compile, cached
//! load, warm instantiate + call (p50/p99) and throughput on 10,000
//! manifests. A bench binary rather than criterion because the figures
//! asked for are single-call percentiles and one-shot compile times.
//!
//! Run: `cargo bench -p sluice-tests --bench languages` (builds the five
//! components first with the toolchains `tests/setup.sh` installs).

use serde_json::{Value, json};
use sluice_plugin_dev::Project;
use sluice_plugin_host::{HostConfig, Limits, Plugin, PluginHost};
use sluice_types::Manifest;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LANGS: [(&str, &str); 5] = [
    ("Rust", "require-resources-rs"),
    ("C", "require-resources-c"),
    ("Go", "require-resources-go"),
    ("JavaScript", "require-resources-js"),
    ("Python", "require-resources-py"),
];

fn host(cache: &Path) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(cache.to_path_buf()),
        limits: Limits {
            memory: 1 << 30,
            timeout: Duration::from_secs(120),
            max_output: 256 << 20,
            max_log_lines: 100,
        },
        ..HostConfig::default()
    })
    .expect("host")
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let n = samples.len();
    (samples[n / 2], samples[(n * 99 / 100).min(n - 1)])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn deployment(i: usize, compliant: bool) -> Manifest {
    let resources = if compliant {
        json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
    } else {
        json!({"requests": {"cpu": "100m"}})
    };
    Manifest {
        object: json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": format!("web-{i}"), "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "registry.example/app:1.0", "resources": resources},
                {"name": "sidecar", "image": "registry.example/proxy:2.1", "resources": resources},
            ]}}},
        }),
        origin: None,
    }
}

/// Builds the example in `dir` (in a scratch copy of its `dist/`), returning
/// the component bytes and the build time.
fn build(dir: &Path, out: &Path) -> (Vec<u8>, Duration) {
    let project = Project::load(dir).expect("example project");
    let t = Instant::now();
    sluice_plugin_dev::build(&project, dir, out)
        .unwrap_or_else(|e| panic!("building {}: {e:#}", dir.display()));
    (std::fs::read(out).expect("component"), t.elapsed())
}

async fn load_times(wasm: &[u8], runs: usize) -> (Duration, Duration) {
    let (mut compile, mut cached) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let cache = tempfile::tempdir().unwrap();
        let t = Instant::now();
        host(cache.path())
            .load("require-resources", wasm, None, None)
            .await
            .unwrap();
        compile.push(t.elapsed());
        let t = Instant::now();
        host(cache.path())
            .load("require-resources", wasm, None, None)
            .await
            .unwrap();
        cached.push(t.elapsed());
    }
    (percentiles(compile).0, percentiles(cached).0)
}

/// p50/p99 of one evaluate of two Deployments (one compliant, one not),
/// each call a fresh instance from the warm `InstancePre`.
async fn call_latency(plugin: &Plugin, config: &Value, n: usize) -> (Duration, Duration) {
    let manifests = [deployment(0, true), deployment(1, false)];
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        let out = plugin
            .evaluate("file://bench", "sha256:0", &manifests, config)
            .await
            .unwrap();
        if i >= n / 10 {
            samples.push(t.elapsed());
        }
        assert!(
            !out.diagnostics.is_empty(),
            "the non-compliant one is found"
        );
    }
    percentiles(samples)
}

/// Manifests per second: 10,000 Deployments (every tenth non-compliant) in
/// one evaluate call, best of `runs`.
async fn throughput(plugin: &Plugin, config: &Value, runs: usize) -> f64 {
    let manifests: Vec<Manifest> = (0..10_000).map(|i| deployment(i, i % 10 != 0)).collect();
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let out = plugin
            .evaluate("file://bench", "sha256:0", &manifests, config)
            .await
            .unwrap();
        best = best.min(t.elapsed());
        assert!(out.diagnostics.len() >= 1_000, "every tenth is reported");
    }
    manifests.len() as f64 / best.as_secs_f64()
}

fn main() {
    // The Rust example is built by a nested cargo, which would wait forever
    // on the lock `cargo bench` holds on the target dir it runs from.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    // SAFETY: no other thread exists yet (the runtime starts below).
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("CARGO_TARGET_DIR", target.join("plugin-dev"));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}

async fn run() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins");
    let scratch = tempfile::tempdir().unwrap();
    let config = json!({"maxLimits": {"memory": "2Gi", "cpu": "4"}});
    println!(
        "| language | component | build | first compile | cached load | instantiate + call p50 | p99 | 10,000 manifests |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (lang, name) in LANGS {
        let (wasm, built) = build(
            &examples.join(name),
            &scratch.path().join(format!("{name}.wasm")),
        );
        let runs = if wasm.len() > 4 << 20 { 2 } else { 5 };
        let (compile, cached) = load_times(&wasm, runs).await;
        let cache = tempfile::tempdir().unwrap();
        let plugin = host(cache.path())
            .load("require-resources", &wasm, None, None)
            .await
            .unwrap();
        let calls = if wasm.len() > 4 << 20 { 1_000 } else { 10_000 };
        let (p50, p99) = call_latency(&plugin, &config, calls).await;
        let rate = throughput(&plugin, &config, 3).await;
        println!(
            "| {lang} | {:.0} KiB | {:.1} s | {:.0} ms | {:.2} ms | {:.0} µs | {:.0} µs | {:.0}/s |",
            wasm.len() as f64 / 1024.0,
            built.as_secs_f64(),
            ms(compile),
            ms(cached),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            rate
        );
    }
}
