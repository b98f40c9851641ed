//! Renderers beyond `plain` and post-build substitution, through the
//! pipeline `sluice build` runs: the `jsonnet` renderer, Flux's
//! `spec.postBuild` with the `substitute` plugin, and the default renderer.

use serde_json::{Value, json};
use sluice_pipeline::{Mode, Pipeline};
use sluice_tests::{host, tree};
use sluice_types::{Objects, ReleaseReport};
use std::path::Path;

async fn build(dir: &Path, text: &str) -> Result<ReleaseReport, sluice_pipeline::Error> {
    let cache = tempfile::tempdir().unwrap();
    let mut objects = Objects::default();
    objects.parse_into(&dir.join("sluice.yaml"), text).unwrap();
    let release = objects.releases().next().unwrap().clone();
    Pipeline::new(host(cache.path()), objects)
        .run(&release, Mode::Build)
        .await
}

fn objects(report: &ReleaseReport) -> Vec<Value> {
    report.manifests.iter().map(|m| m.object.clone()).collect()
}

fn release(spec: &str) -> String {
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {{name: app, namespace: apps}}\nspec: {{url: file://./app}}\n---\napiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: web, namespace: apps}}\nspec:\n  sourceRef: {{name: app}}\n{spec}"
    )
}

const LIB: &str = "{\n  deployment(name, replicas):: {\n    apiVersion: 'apps/v1',\n    kind: 'Deployment',\n    metadata: { name: name },\n    spec: { replicas: replicas },\n  },\n  check(n):: if n > 10 then error 'too many replicas: ' + n else n,\n}\n";

#[tokio::test]
async fn jsonnet_renders_with_imports_ext_vars_and_tlas() {
    let dir = tree(&[
        ("app/lib/k.libsonnet", LIB),
        ("app/env/files/banner.txt", "hello"),
        (
            "app/env/main.jsonnet",
            "local k = import 'k.libsonnet';\nfunction(replicas) {\n  web: k.deployment(std.extVar('name'), k.check(replicas)),\n  banner: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'banner' }, data: { text: importstr 'files/banner.txt' } },\n}\n",
        ),
    ]);
    let text = release(
        "  path: ./env\n  renderer:\n    plugin: jsonnet\n    config: {extVars: {name: web}, tlaCode: {replicas: '1 + 2'}}\n",
    );
    let report = build(dir.path(), &text).await.unwrap();
    let got = objects(&report);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["data"]["text"], "hello");
    assert_eq!(got[1]["metadata"]["name"], "web");
    assert_eq!(got[1]["spec"]["replicas"], 3);
    let origin = report.manifests[1].origin.as_ref().unwrap();
    assert!(origin.file.ends_with("app/env/main.jsonnet"), "{origin:?}");
}

#[tokio::test]
async fn jsonnet_runtime_error_names_file_line_and_stack() {
    let dir = tree(&[
        ("app/lib/k.libsonnet", LIB),
        (
            "app/env/main.jsonnet",
            "local k = import 'k.libsonnet';\n{\n  web: k.deployment('web', k.check(12)),\n}\n",
        ),
    ]);
    let text = release("  path: ./env\n  renderer: {plugin: jsonnet}\n");
    let err = build(dir.path(), &text).await.unwrap_err().to_string();
    assert!(
        err.contains("sluice.yaml:6: Release 'web': spec.renderer.config: plugin 'jsonnet' failed in 'render'"),
        "{err}"
    );
    // Located at the innermost frame, in the user's own file.
    assert!(err.contains("app/lib/k.libsonnet:8:"), "{err}");
    assert!(
        err.contains(": jsonnet: runtime error: too many replicas: 12"),
        "{err}"
    );
    // And the stack goes back to the entry.
    assert!(err.contains("lib/k.libsonnet:8:"), "{err}");
    assert!(err.contains("env/main.jsonnet:3:"), "{err}");
}

#[tokio::test]
async fn jsonnet_import_escaping_the_artifact_is_refused() {
    let dir = tree(&[
        ("outside.libsonnet", "{ secret: 'nope' }"),
        (
            "app/main.jsonnet",
            "{\n  x: import '../outside.libsonnet',\n}\n",
        ),
    ]);
    let text = release("  renderer: {plugin: jsonnet}\n");
    let err = build(dir.path(), &text).await.unwrap_err().to_string();
    assert!(err.contains("app/main.jsonnet:2:"), "{err}");
    assert!(
        err.contains("import '../outside.libsonnet' in main.jsonnet leaves the artifact"),
        "{err}"
    );
    assert!(!err.contains("nope"), "{err}");
}

const SUBST_DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    env: ${cluster_env:=dev}
spec:
  replicas: ${replicas}
  template:
    spec:
      containers:
        - name: web
          image: registry.example.com/web:${tag}
          env:
            - name: TOKEN
              value: ${token}
            - name: SCRIPT
              value: echo $${HOME}
";

const SUBST_SKIPPED: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: dashboards
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  panel: ${datasource}
";

const VARS: &str = "
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-vars, namespace: apps}
data: {cluster_env: prod, tag: '1.0', replicas: '2'}
---
apiVersion: v1
kind: Secret
metadata: {name: cluster-secrets, namespace: apps}
stringData: {token: s3cr3t, tag: '1.1'}
";

#[tokio::test]
async fn post_build_substitutes_from_inline_configmaps_and_secrets() {
    let dir = tree(&[
        ("app/deploy.yaml", SUBST_DEPLOY),
        ("app/dashboards.yaml", SUBST_SKIPPED),
    ]);
    let spec = "  renderer: {plugin: plain}\n  postBuild:\n    substitute: {replicas: '3'}\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-vars}\n      - {kind: Secret, name: cluster-secrets}\n      - {kind: ConfigMap, name: not-there, optional: true}\n";
    let text = release(spec) + VARS;
    let report = build(dir.path(), &text).await.unwrap();
    let got = objects(&report);
    let cm = &got[0];
    assert_eq!(cm["data"]["panel"], "${datasource}", "disabled: left alone");
    let d = &got[1];
    assert_eq!(d["metadata"]["labels"]["env"], "prod");
    assert_eq!(d["spec"]["replicas"], 3, "inline wins and is a number");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"], "registry.example.com/web:1.1",
        "later source wins"
    );
    assert_eq!(c["env"][0]["value"], "s3cr3t");
    assert_eq!(c["env"][1]["value"], "echo ${HOME}");
}

#[tokio::test]
async fn strict_post_build_names_unset_variables_and_the_object() {
    let dir = tree(&[("app/deploy.yaml", SUBST_DEPLOY)]);
    let spec = "  renderer: {plugin: plain}\n  postBuild:\n    strict: true\n    substitute: {replicas: '3'}\n";
    let err = build(dir.path(), &release(spec))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "sluice.yaml:6: Release 'web': spec.postBuild: plugin 'substitute' failed in 'evaluate'"
        ),
        "{err}"
    );
    assert!(
        err.contains("app/deploy.yaml:1: Deployment/web: spec.template.spec.containers[0].image: variable not set (strict mode): \"tag\", \"token\""),
        "{err}"
    );
}

#[tokio::test]
async fn missing_substitute_sources_are_named_with_their_field() {
    let dir = tree(&[("app/deploy.yaml", SUBST_DEPLOY)]);
    let spec = "  renderer: {plugin: plain}\n  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-vars}\n      - {kind: Secret, name: missing}\n";
    let err = build(dir.path(), &(release(spec) + VARS))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sluice.yaml:6: Release 'web': spec.postBuild: substituteFrom[1]: no Secret named 'missing' in namespace 'apps'"),
        "{err}"
    );
}

#[tokio::test]
async fn a_release_without_renderer_picks_kustomize_or_plain() {
    let dir = tree(&[
        (
            "app/base/kustomization.yaml",
            "resources: [cm.yaml]\nnamePrefix: base-\n",
        ),
        (
            "app/base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
        ),
        (
            "app/plain/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
        ),
    ]);
    let report = build(dir.path(), &release("  path: ./base\n"))
        .await
        .unwrap();
    assert_eq!(objects(&report)[0]["metadata"]["name"], "base-settings");
    let report = build(dir.path(), &release("  path: ./plain\n"))
        .await
        .unwrap();
    assert_eq!(objects(&report)[0]["metadata"]["name"], json!("settings"));
}
