//! Plugins that loop, hoard memory, flood output or logs, or crash each fail
//! their own call with a clear error within the deadline, and the same
//! plugin (and host) keeps working afterwards.

use sluice_plugin_host::{Error, Plugin};
use sluice_tests::{deployment, host, mode, testbed_wasm};
use std::time::{Duration, Instant};

async fn testbed() -> (tempfile::TempDir, Plugin) {
    let cache = tempfile::tempdir().unwrap();
    let plugin = host(cache.path())
        .load("testbed", &testbed_wasm(), None, None)
        .await
        .unwrap();
    (cache, plugin)
}

async fn run(plugin: &Plugin, m: &str) -> Result<sluice_plugin_host::Evaluation, Error> {
    let manifests = vec![deployment("web", "nginx:1.27")];
    plugin
        .evaluate("file://test", "sha256:0", &manifests, &mode(m))
        .await
}

/// The next call after a failure succeeds.
async fn still_works(plugin: &Plugin) {
    let ok = run(plugin, "allow")
        .await
        .expect("the plugin works after a failed call");
    assert_eq!(ok.verdict, sluice_types::Verdict::Allow);
}

#[tokio::test]
async fn infinite_loop_hits_the_deadline() {
    let (_c, plugin) = testbed().await;
    let started = Instant::now();
    let err = run(&plugin, "loop").await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            Error::Deadline {
                step: "evaluate",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    assert!(
        err.to_string()
            .contains("plugin 'testbed' did not finish 'evaluate' within its deadline of 2000ms")
    );
    still_works(&plugin).await;
}

#[tokio::test]
async fn memory_bomb_is_capped() {
    let (_c, plugin) = testbed().await;
    let err = run(&plugin, "memory").await.unwrap_err();
    assert!(
        matches!(err, Error::Memory { limit, .. } if limit == 64 << 20),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("ran out of memory in 'evaluate' (limit 64 MiB)"),
        "{err}"
    );
    still_works(&plugin).await;
}

#[tokio::test]
async fn huge_output_is_refused() {
    let (_c, plugin) = testbed().await;
    // The testbed builds a 48 MiB message; the memory cap must let it, the
    // output cap (8 MiB in tests) must not.
    let cache = tempfile::tempdir().unwrap();
    let roomy = sluice_plugin_host::Limits {
        memory: 256 << 20,
        ..*plugin.limits()
    };
    let plugin = host(cache.path())
        .load("testbed", &testbed_wasm(), None, Some(roomy))
        .await
        .unwrap();
    let err = run(&plugin, "output").await.unwrap_err();
    assert!(
        matches!(err, Error::OutputTooLarge { size, limit, .. } if size >= 48 << 20 && limit == 8 << 20),
        "{err}"
    );
    still_works(&plugin).await;
}

#[tokio::test]
async fn trap_reports_the_panic_message() {
    let (_c, plugin) = testbed().await;
    let err = run(&plugin, "trap").await.unwrap_err();
    assert!(matches!(err, Error::Trap { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("plugin 'testbed' crashed in 'evaluate'"),
        "{text}"
    );
    assert!(
        text.contains("testbed asked to trap"),
        "the guest's panic message is kept: {text}"
    );
    still_works(&plugin).await;
}

#[tokio::test]
async fn log_flood_is_capped_and_the_call_succeeds() {
    let (_c, plugin) = testbed().await;
    let ok = run(&plugin, "log-flood")
        .await
        .expect("logging past the cap is not an error");
    assert_eq!(ok.verdict, sluice_types::Verdict::Allow);
}

#[tokio::test]
async fn failures_do_not_disturb_other_calls_running_at_the_same_time() {
    let (_c, plugin) = testbed().await;
    let looping = run(&plugin, "loop");
    let healthy = async {
        for _ in 0..20 {
            still_works(&plugin).await;
        }
    };
    let (looped, ()) = tokio::join!(looping, healthy);
    assert!(matches!(looped, Err(Error::Deadline { .. })));
}

#[tokio::test]
async fn wrong_world_is_named() {
    let cache = tempfile::tempdir().unwrap();
    let h = host(cache.path());
    let plain = sluice_builtins::get("plain").unwrap();
    let renderer = h.load("plain", plain.wasm, None, None).await.unwrap();
    let err = renderer
        .evaluate("file://x", "sha256:0", &[], &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongWorld { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "plugin 'plain' is not a policy plugin: it is a renderer plugin; use a policy plugin here (see `sluice plugin list`)"
    );
}
