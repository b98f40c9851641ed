//! The built-in `kustomize` renderer, loaded as a component by the real
//! host, renders every corpus case of `tests/kustomize/` as `kubectl
//! kustomize` (kustomize v5.5.0) did, and reports bad input as located
//! diagnostics.

use serde_json::{Value, json};
use sluice_plugin_host::{Error, Plugin, RenderRequest};
use sluice_tests::{host, repo_root};
use sluice_types::{Severity, load::parse_documents};
use std::path::{Path, PathBuf};

async fn kustomize(cache: &Path) -> Plugin {
    let wasm = sluice_builtins::get("kustomize")
        .expect("kustomize is a built-in")
        .wasm;
    host(cache)
        .load("kustomize", wasm, None, None)
        .await
        .unwrap()
}

fn request() -> RenderRequest {
    RenderRequest {
        url: "file://corpus".into(),
        revision: "sha256:0".into(),
        path: ".".into(),
        config: json!({}),
    }
}

fn corpus() -> PathBuf {
    repo_root().join("tests/kustomize")
}

#[tokio::test]
async fn corpus_renders_as_kubectl_kustomize() {
    let cache = tempfile::tempdir().unwrap();
    let plugin = kustomize(cache.path()).await;
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let out = plugin
            .render(&case, request())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
        let want: Vec<Value> = parse_documents(&text)
            .unwrap()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let got: Vec<&Value> = out.manifests.iter().map(|m| &m.object).collect();
        assert_eq!(got.len(), want.len(), "{name}: number of objects");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(*g, w, "{name}: {} differs", g["metadata"]["name"]);
        }
        let origin = out.manifests[0]
            .origin
            .as_ref()
            .expect("origins are reported");
        assert!(!origin.file.is_empty(), "{name}: origin without a file");
    }
}

#[tokio::test]
async fn bad_input_is_located_and_nothing_is_rendered() {
    let cache = tempfile::tempdir().unwrap();
    let plugin = kustomize(cache.path()).await;
    let bad = corpus().join("bad");
    let err = plugin
        .render(&bad.join("invalid-yaml"), request())
        .await
        .unwrap_err();
    let Error::Failed { diagnostics, .. } = &err else {
        panic!("expected a plugin failure, got {err}");
    };
    assert_eq!(diagnostics.len(), 1, "{err}");
    let loc = diagnostics[0].location.as_ref().expect("located");
    assert_eq!((loc.file.as_str(), loc.line), ("broken.yaml", 7), "{err}");
    assert!(loc.column > 0, "{err}");

    let err = plugin
        .render(&bad.join("remote-base"), request())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("remote base"), "{err}");

    let out = plugin
        .render(&bad.join("patch-no-match"), request())
        .await
        .unwrap();
    assert_eq!(out.manifests.len(), 1);
    assert!(
        out.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning && d.message.contains("matches no object")),
        "{:?}",
        out.diagnostics
    );
}
