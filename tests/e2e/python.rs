//! The Python example plugin (examples/plugins/require-resources-py), built
//! with sluice-plugin-dev (componentize-py) against the same WIT, runs in the
//! same host and pipeline as the built-ins.

use serde_json::json;
use sluice_pipeline::{Mode, Pipeline};
use sluice_tests::{deployment, host, repo_root, tree};
use sluice_types::{Objects, Verdict};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Builds the component once per test run (componentize-py takes seconds).
fn component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("require-resources.wasm");
        let dir = repo_root().join("examples/plugins/require-resources-py");
        let project = sluice_plugin_dev::Project::load(&dir).unwrap();
        sluice_plugin_dev::build(&project, &dir, &out).unwrap_or_else(|e| {
            panic!(
                "building the Python plugin failed (tests/setup.sh installs componentize-py): {e:#}"
            )
        });
        out
    })
}

fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache")
}

#[tokio::test]
async fn python_policy_evaluates_through_the_host() {
    let plugin = host(&cache())
        .load_file("require-resources", component(), None, None)
        .await
        .unwrap();
    assert_eq!(plugin.metadata().name, "require-resources");
    assert_eq!(plugin.kind(), sluice_types::PluginKind::Policy);

    let mut good = deployment("good", "nginx:1.27");
    good.object["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "1", "memory": "3Gi"}
    });
    let bad = deployment("bad", "nginx:1.27");
    let config = json!({"maxLimits": {"memory": "2Gi"}});
    let eval = plugin
        .evaluate("file://x", "sha256:0", &[good, bad], &config)
        .await
        .unwrap();
    assert_eq!(eval.verdict, Verdict::Deny);
    let found: Vec<(String, String, String)> = eval
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.resource.as_ref().unwrap().name.clone(),
                d.code.clone().unwrap(),
                d.field_path.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found[0],
        (
            "good".into(),
            "limit-too-high".into(),
            "spec.template.spec.containers[0].resources.limits.memory".into()
        )
    );
    assert_eq!(
        found.len(),
        5,
        "four missing fields on `bad` and the ceiling on `good`: {found:?}"
    );

    let err = plugin
        .validate_config(&json!({"maxLimits": {"memory": "lots"}}))
        .unwrap_err();
    assert!(err.to_string().contains("maxLimits.memory"), "{err}");
}

#[tokio::test]
async fn python_policy_as_a_plugin_object_in_a_release() {
    let dir = tree(&[(
        "app/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n",
    )]);
    let text = format!(
        r#"
apiVersion: sluice.dev/v1alpha1
kind: Plugin
metadata: {{name: require-resources}}
spec:
  kind: policy
  file: {}
  limits: {{memory: 512Mi, timeout: 20s}}
---
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {{name: app}}
spec: {{url: "file://./app"}}
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata: {{name: web}}
spec:
  sourceRef: {{name: app}}
  renderer: {{plugin: plain}}
  policies:
    - plugin: require-resources
      config: {{resources: [memory], require: [limits]}}
"#,
        component().display()
    );
    let mut objects = Objects::default();
    objects
        .parse_into(&dir.path().join("sluice.yaml"), &text)
        .unwrap();
    let release = objects.releases().next().unwrap().clone();
    let report = Pipeline::new(host(&cache()), objects)
        .run(&release, Mode::Check)
        .await
        .unwrap();
    let outcome = &report.policies[0];
    assert_eq!(outcome.verdict, Verdict::Deny);
    assert_eq!(outcome.diagnostics.len(), 1);
    let d = &outcome.diagnostics[0];
    assert_eq!(
        d.field_path.as_deref(),
        Some("spec.template.spec.containers[0].resources.limits.memory")
    );
    let loc = d.location.as_ref().unwrap();
    assert!(loc.file.ends_with("app/web.yaml"));
    assert_eq!(
        loc.line, 8,
        "the container, the deepest part of the path that exists"
    );
}
