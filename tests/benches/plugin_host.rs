//! Plugin host benchmarks: warm instantiate + call, compile vs cached load,
//! and manifests across the boundary. A bench binary rather than criterion
//! because the issue asks for p50/p99 of single calls.
//!
//! Run: `cargo bench -p sluice-tests --bench plugin-host`; the Python
//! example is built with sluice-plugin-dev first and measured when
//! componentize-py is installed.

use serde_json::json;
use sluice_plugin_host::{HostConfig, Limits, Plugin, PluginHost, RenderRequest};
use sluice_tests::{manifests_of_size, mode, testbed_wasm, tree};
use std::path::Path;
use std::time::{Duration, Instant};

fn host(cache: &Path) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(cache.to_path_buf()),
        limits: Limits {
            memory: 1 << 30,
            timeout: Duration::from_secs(60),
            max_output: 256 << 20,
            max_log_lines: 100,
        },
        ..HostConfig::default()
    })
    .expect("host")
}

/// The Python example built into `dir`, or `None` (saying why) when it
/// cannot be built here.
fn python_example(dir: &Path) -> Option<std::path::PathBuf> {
    let example = sluice_tests::repo_root().join("examples/plugins/require-resources-py");
    let out = dir.join("require-resources.wasm");
    let built = sluice_plugin_dev::Project::load(&example)
        .and_then(|project| sluice_plugin_dev::build(&project, &example, &out));
    match built {
        Ok(()) => Some(out),
        Err(e) => {
            eprintln!("the Python example is not measured: {e:#}");
            None
        }
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let n = samples.len();
    (samples[n / 2], samples[(n * 99 / 100).min(n - 1)])
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// p50 and p99 of `evaluate` with no manifests, back to back: each call
/// instantiates a fresh instance from the plugin's `InstancePre`. The first
/// tenth is warm-up.
async fn call_latency(
    plugin: &Plugin,
    config: &serde_json::Value,
    n: usize,
) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        plugin
            .evaluate("file://bench", "sha256:0", &[], config)
            .await
            .unwrap();
        if i >= n / 10 {
            samples.push(t.elapsed());
        }
    }
    percentiles(samples)
}

fn row(name: &str, (p50, p99): (Duration, Duration), base: Option<Duration>) {
    let ratio = base
        .map(|b| {
            format!(
                "   {:.1}x the Rust testbed",
                p50.as_secs_f64() / b.as_secs_f64()
            )
        })
        .unwrap_or_default();
    println!(
        "{name:<34} p50 {:>8.1} µs   p99 {:>8.1} µs{ratio}",
        us(p50),
        us(p99)
    );
}

/// Median of `runs` fresh loads: with an empty cache (compile) and with a
/// warm one (deserialise), each in a new host as a new process would be.
async fn load_times(name: &str, wasm: &[u8], runs: usize) -> (Duration, Duration) {
    let mut compile = Vec::new();
    let mut cached = Vec::new();
    for _ in 0..runs {
        let cache = tempfile::tempdir().unwrap();
        let t = Instant::now();
        host(cache.path())
            .load(name, wasm, None, None)
            .await
            .unwrap();
        compile.push(t.elapsed());
        let t = Instant::now();
        host(cache.path())
            .load(name, wasm, None, None)
            .await
            .unwrap();
        cached.push(t.elapsed());
    }
    (percentiles(compile).0, percentiles(cached).0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cache = tempfile::tempdir().unwrap();
    let python_wasm = python_example(cache.path());
    let h = host(cache.path());
    let testbed = h
        .load("testbed", &testbed_wasm(), None, None)
        .await
        .unwrap();

    println!("## instantiate + call from a warm InstancePre (evaluate, no manifests)");
    let guardrails = h
        .load(
            "guardrails",
            sluice_builtins::get("guardrails").unwrap().wasm,
            None,
            None,
        )
        .await
        .unwrap();
    let python = match &python_wasm {
        Some(py) => Some(
            h.load_file("require-resources", py, None, None)
                .await
                .unwrap(),
        ),
        None => None,
    };
    let rust = call_latency(&testbed, &mode("allow"), 20_000).await;
    row("rust testbed (trivial policy)", rust, None);
    row(
        "rust guardrails (builtin policy)",
        call_latency(&guardrails, &json!({}), 20_000).await,
        Some(rust.0),
    );
    if let Some(py) = &python {
        row(
            "python require-resources",
            call_latency(py, &json!({}), 2_000).await,
            Some(rust.0),
        );
    }

    println!("\n## load: first compile vs cached compilation (fresh host, median)");
    for b in sluice_builtins::BUILTINS {
        let (c, l) = load_times(b.name, b.wasm, 5).await;
        println!(
            "{:<17} {:>7} KiB   compile {:>8.1} ms   cached {:>6.2} ms",
            b.name,
            b.wasm.len() >> 10,
            c.as_secs_f64() * 1e3,
            l.as_secs_f64() * 1e3
        );
    }
    let wasm = testbed_wasm();
    let (c, l) = load_times("testbed", &wasm, 5).await;
    println!(
        "{:<17} {:>7} KiB   compile {:>8.1} ms   cached {:>6.2} ms",
        "testbed",
        wasm.len() >> 10,
        c.as_secs_f64() * 1e3,
        l.as_secs_f64() * 1e3
    );
    if let Some(py) = &python_wasm {
        let wasm = std::fs::read(py).unwrap();
        let (c, l) = load_times("require-resources", &wasm, 2).await;
        println!(
            "{:<17} {:>7} KiB   compile {:>8.1} ms   cached {:>6.2} ms",
            "python example",
            wasm.len() >> 10,
            c.as_secs_f64() * 1e3,
            l.as_secs_f64() * 1e3
        );
    }

    println!("\n## manifests across the boundary");
    for size in [1usize << 20, 16 << 20] {
        let manifests = manifests_of_size(size);
        let bytes: usize = manifests.iter().map(|m| m.object.to_string().len()).sum();
        let runs = if size > 1 << 20 { 5 } else { 30 };
        let mut samples = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let out = testbed
                .evaluate("file://bench", "sha256:0", &manifests, &mode("echo"))
                .await
                .unwrap();
            samples.push(t.elapsed());
            assert_eq!(out.mutated.unwrap().len(), manifests.len());
        }
        let (p50, _) = percentiles(samples);
        println!(
            "policy echo  {:>3} MiB in + out: {:>8.1} ms   {:>6.0} MB/s (bytes each way / time)",
            bytes >> 20,
            p50.as_secs_f64() * 1e3,
            bytes as f64 / p50.as_secs_f64() / 1e6
        );
    }
    let plain = h
        .load(
            "plain",
            sluice_builtins::get("plain").unwrap().wasm,
            None,
            None,
        )
        .await
        .unwrap();
    for size in [1usize << 20, 16 << 20] {
        let doc = |i: usize| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  payload: {}\n",
                "x".repeat(4000)
            )
        };
        let count = size / 4096;
        let files: Vec<(String, String)> = (0..64)
            .map(|f| {
                let docs: Vec<String> = (f * count / 64..(f + 1) * count / 64).map(doc).collect();
                (format!("f{f:02}.yaml"), docs.join("---\n"))
            })
            .collect();
        let yaml_bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let dir = tree(&refs);
        let req = RenderRequest {
            url: "file://bench".into(),
            revision: "sha256:0".into(),
            path: ".".into(),
            config: json!({}),
        };
        let runs = if size > 1 << 20 { 5 } else { 20 };
        let mut samples = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let out = plain.render(dir.path(), req.clone()).await.unwrap();
            samples.push(t.elapsed());
            assert_eq!(out.manifests.len(), count / 64 * 64);
        }
        let (p50, _) = percentiles(samples);
        println!(
            "plain render {:>3} MiB of YAML:   {:>8.1} ms   {:>6.0} MB/s (YAML parsed in the guest, JSON out)",
            yaml_bytes >> 20,
            p50.as_secs_f64() * 1e3,
            yaml_bytes as f64 / p50.as_secs_f64() / 1e6
        );
    }

    println!("\n## schema policy: objects validated per second through the component");
    let schema = h
        .load(
            "schema",
            sluice_builtins::get("schema").unwrap().wasm,
            None,
            None,
        )
        .await
        .unwrap();
    for count in [0usize, 1, 1_000, 5_000] {
        let manifests: Vec<_> = (0..count)
            .map(|i| sluice_tests::deployment(&format!("web-{i}"), "nginx:1.27"))
            .collect();
        let mut samples = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let out = schema
                .evaluate("file://bench", "sha256:0", &manifests, &json!({}))
                .await
                .unwrap();
            samples.push(t.elapsed());
            assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        }
        let (p50, _) = percentiles(samples);
        println!(
            "schema {count:>5} Deployments: {:>8.1} ms per call   {:>8.0} objects/s (schema load and compile included)",
            p50.as_secs_f64() * 1e3,
            count as f64 / p50.as_secs_f64()
        );
    }
}
