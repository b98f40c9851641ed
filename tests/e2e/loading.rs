//! Loading: the on-disk compile cache, pinned digests, bad components and
//! config validation against the plugin's schema.

use serde_json::json;
use sluice_plugin_host::Error;
use sluice_tests::{host, testbed_wasm};

#[tokio::test]
async fn compiled_components_are_cached_on_disk_and_reused() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = testbed_wasm();
    let first = host(cache.path())
        .load("testbed", &wasm, None, None)
        .await
        .unwrap();
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one compiled component: {entries:?}");
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(first.digest().trim_start_matches("sha256:")),
        "{name}"
    );
    assert!(name.ends_with(".cwasm"));

    // A new host (a new process, as far as the cache knows) reads it back.
    let modified = std::fs::metadata(&entries[0]).unwrap().modified().unwrap();
    let second = host(cache.path())
        .load("testbed", &wasm, None, None)
        .await
        .unwrap();
    assert_eq!(second.metadata(), first.metadata());
    assert_eq!(
        std::fs::metadata(&entries[0]).unwrap().modified().unwrap(),
        modified,
        "not recompiled"
    );
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = testbed_wasm();
    host(cache.path())
        .load("testbed", &wasm, None, None)
        .await
        .unwrap();
    let entry = std::fs::read_dir(cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&entry, b"not a compiled component").unwrap();
    let plugin = host(cache.path())
        .load("testbed", &wasm, None, None)
        .await
        .unwrap();
    assert_eq!(plugin.metadata().name, "testbed");
}

#[tokio::test]
async fn pinned_digest_must_match() {
    let cache = tempfile::tempdir().unwrap();
    let err = host(cache.path())
        .load("testbed", &testbed_wasm(), Some("sha256:0000"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Digest { .. }), "{err}");
    assert!(
        err.to_string().contains("but sha256:0000 was pinned"),
        "{err}"
    );
}

#[tokio::test]
async fn not_a_component_is_a_clear_error() {
    let cache = tempfile::tempdir().unwrap();
    let err = host(cache.path())
        .load("junk", b"\0asm\x01\0\0\0", None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Compile { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("plugin 'junk': not a valid WebAssembly component"),
        "{err}"
    );
}

#[tokio::test]
async fn config_errors_name_the_field() {
    let cache = tempfile::tempdir().unwrap();
    let h = host(cache.path());
    let guardrails = sluice_builtins::get("guardrails").unwrap();
    let plugin = h
        .load("guardrails", guardrails.wasm, None, None)
        .await
        .unwrap();
    plugin
        .validate_config(&json!({"requiredLabels": ["team"]}))
        .unwrap();
    let err = plugin
        .validate_config(&json!({"requiredLabels": ["team", 7], "disallowLatestTag": "yes"}))
        .unwrap_err();
    let Error::InvalidConfig { errors, .. } = &err else {
        panic!("{err}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["requiredLabels[1]", "disallowLatestTag"], "{err}");
    // Values are masked: configs may hold things that should not be echoed.
    assert!(!err.to_string().contains("yes"), "{err}");
}

#[tokio::test]
async fn every_builtin_describes_itself() {
    let cache = tempfile::tempdir().unwrap();
    let h = host(cache.path());
    let mut kinds = Vec::new();
    for b in sluice_builtins::BUILTINS {
        let p = h.load(b.name, b.wasm, None, None).await.unwrap();
        assert_eq!(
            p.metadata().name,
            b.name,
            "the embedded name matches the plugin's own"
        );
        serde_json::from_str::<serde_json::Value>(p.config_schema()).unwrap();
        kinds.push((b.name, p.kind().to_string()));
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("archive", "source".into()),
            ("blue-green", "rollout".into()),
            ("bucket", "source".into()),
            ("canary", "rollout".into()),
            ("git", "source".into()),
            ("guardrails", "policy".into()),
            ("jsonnet", "renderer".into()),
            ("kustomize", "renderer".into()),
            ("local", "source".into()),
            ("oci", "source".into()),
            ("plain", "renderer".into()),
            ("rules", "policy".into()),
            ("schema", "policy".into()),
            ("sops", "policy".into()),
            ("substitute", "policy".into()),
            ("verify-images", "policy".into()),
        ]
    );
}
