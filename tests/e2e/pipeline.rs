//! Releases through the whole pipeline: local source, plain renderer,
//! guardrails policy, policy sets, and the errors users see.

use sluice_pipeline::{Mode, Pipeline};
use sluice_tests::{host, tree};
use sluice_types::{Objects, Severity, Verdict};

const OBJECTS: &str = r#"
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {name: app}
spec:
  url: file://./app
  config: {ignore: ["drafts/", "*.md", "**/tmp/*.yaml"]}
---
apiVersion: sluice.dev/v1alpha1
kind: PolicySet
metadata: {name: baseline}
spec:
  policies:
    - name: labels
      plugin: guardrails
      failureAction: Audit
      config: {requiredLabels: [team], disallowLatestTag: false}
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  sourceRef: {name: app}
  path: ./deploy
  renderer: {plugin: plain}
  policies:
    - plugin: guardrails
  policySetRefs: [{name: baseline}]
"#;

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx
        - name: pinned
          image: localhost:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        - name: tagged
          image: localhost:5000/app:1.2
";

const LIST: &str = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}},
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}]}"#;

fn objects(dir: &std::path::Path, text: &str) -> Objects {
    let mut o = Objects::default();
    o.parse_into(&dir.join("sluice.yaml"), text).unwrap();
    o
}

async fn run(
    dir: &std::path::Path,
    text: &str,
    mode: Mode,
) -> Result<sluice_types::ReleaseReport, sluice_pipeline::Error> {
    let cache = tempfile::tempdir().unwrap();
    let objects = objects(dir, text);
    let release = objects.releases().next().unwrap().clone();
    Pipeline::new(host(cache.path()), objects)
        .run(&release, mode)
        .await
}

#[tokio::test]
async fn renders_checks_and_locates_findings() {
    let dir = tree(&[
        ("app/deploy/b-web.yaml", DEPLOY),
        (
            "app/deploy/a-config.yaml",
            "---\n# empty first document\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {team: web}\n",
        ),
        ("app/deploy/c-list.json", LIST),
        ("app/deploy/notes.txt", "not yaml"),
        ("app/deploy/README.md", "ignored by the source"),
        ("app/drafts/x.yaml", "ignored: true"),
        ("app/deploy/tmp/scratch.yaml", "ignored: true"),
        ("app/deploy/values.yaml", "replicas: 3\n"),
    ]);
    let report = run(dir.path(), OBJECTS, Mode::Check).await.unwrap();
    let names: Vec<String> = report
        .manifests
        .iter()
        .map(|m| m.resource().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "ConfigMap/settings",
            "Deployment/web",
            "ConfigMap/one",
            "ConfigMap/two"
        ]
    );
    assert!(
        report.revision.starts_with("sha256:") && report.revision.len() == 71,
        "{}",
        report.revision
    );

    // Skipped files are reported, with where they are.
    let skipped: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        skipped
            .iter()
            .any(|d| d.ends_with("app/deploy/notes.txt: not a YAML or JSON file; skipped")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|d| d.contains("app/deploy/values.yaml:1: document has no apiVersion or kind")),
        "{skipped:?}"
    );
    assert!(
        !skipped
            .iter()
            .any(|d| d.contains("README.md") || d.contains("drafts")),
        "ignored by the source: {skipped:?}"
    );

    // The release's own guardrails (Enforce) deny the floating image, at its line.
    let own = &report.policies[0];
    assert_eq!(
        (own.policy.as_str(), own.verdict),
        ("guardrails", Verdict::Deny)
    );
    assert!(own.blocks());
    assert_eq!(
        own.diagnostics.len(),
        1,
        "pinned and tagged images pass: {:?}",
        own.diagnostics
    );
    let d = &own.diagnostics[0];
    assert_eq!(d.code.as_deref(), Some("latest-tag"));
    assert_eq!(
        d.field_path.as_deref(),
        Some("spec.template.spec.containers[0].image")
    );
    let loc = d.location.as_ref().unwrap();
    assert!(loc.file.ends_with("app/deploy/b-web.yaml"), "{}", loc.file);
    assert_eq!((loc.line, loc.column), (10, 11));

    // The policy set's copy runs in Audit: it denies, but does not block.
    let audit = &report.policies[1];
    assert_eq!(
        (audit.policy.as_str(), audit.verdict, audit.blocks()),
        ("labels", Verdict::Deny, false)
    );
    assert_eq!(
        audit.diagnostics.len(),
        3,
        "ConfigMaps one and two and the Deployment lack `team`"
    );
    assert!(report.blocked());
}

#[tokio::test]
async fn build_mode_runs_no_policies_and_revisions_follow_content() {
    let dir = tree(&[("app/deploy/web.yaml", DEPLOY)]);
    let first = run(dir.path(), OBJECTS, Mode::Build).await.unwrap();
    assert!(first.policies.is_empty());
    let again = run(dir.path(), OBJECTS, Mode::Build).await.unwrap();
    assert_eq!(first.revision, again.revision, "same tree, same revision");
    std::fs::write(
        dir.path().join("app/deploy/web.yaml"),
        DEPLOY.replace("nginx", "nginx:1.27"),
    )
    .unwrap();
    let changed = run(dir.path(), OBJECTS, Mode::Build).await.unwrap();
    assert_ne!(first.revision, changed.revision);
}

#[tokio::test]
async fn invalid_yaml_fails_the_render_with_file_and_line() {
    let dir = tree(&[(
        "app/deploy/web.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
    )]);
    let err = run(dir.path(), OBJECTS, Mode::Build)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "sluice.yaml:19: Release 'web': spec.renderer.config: plugin 'plain' failed in 'render'"
        ),
        "{err}"
    );
    assert!(
        err.contains("app/deploy/web.yaml:"),
        "names the file: {err}"
    );
    assert!(err.contains("invalid YAML"), "{err}");
}

#[tokio::test]
async fn a_path_outside_the_artifact_is_refused() {
    let dir = tree(&[("app/deploy/web.yaml", DEPLOY)]);
    let err = run(
        dir.path(),
        &OBJECTS.replace("path: ./deploy", "path: ../../etc"),
        Mode::Build,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("spec.path: path '../../etc' leaves the artifact"),
        "{err}"
    );
}

#[tokio::test]
async fn renderer_config_errors_name_the_release_field() {
    let dir = tree(&[("app/deploy/web.yaml", DEPLOY)]);
    let text = OBJECTS.replace(
        "renderer: {plugin: plain}",
        "renderer: {plugin: plain, config: {recursive: 1}}",
    );
    let err = run(dir.path(), &text, Mode::Build)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Release 'web': spec.renderer.config: plugin 'plain' rejects its config: spec.renderer.config.recursive:"),
        "{err}"
    );
}

#[tokio::test]
async fn plugins_of_the_wrong_kind_and_unknown_plugins_are_named() {
    let dir = tree(&[("app/deploy/web.yaml", DEPLOY)]);
    let wrong = OBJECTS.replace(
        "renderer: {plugin: plain}",
        "renderer: {plugin: guardrails}",
    );
    let err = run(dir.path(), &wrong, Mode::Build)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("spec.renderer.plugin: plugin 'guardrails' is a policy plugin, but a renderer plugin is needed here"), "{err}");

    let unknown = OBJECTS.replace("renderer: {plugin: plain}", "renderer: {plugin: helm}");
    let err = run(dir.path(), &unknown, Mode::Build)
        .await
        .unwrap_err()
        .to_string();
    let builtins: Vec<&str> = sluice_builtins::BUILTINS.iter().map(|b| b.name).collect();
    assert!(builtins.contains(&"plain"), "{builtins:?}");
    let mut sorted = builtins.clone();
    sorted.sort_unstable();
    let listed = format!(
        "plugin 'helm' is neither built in ({}) nor declared as a Plugin object",
        sorted.join(", ")
    );
    assert!(err.contains(&listed), "{err}");
}

#[tokio::test]
async fn missing_source_directory_says_how_paths_resolve() {
    let dir = tree(&[]);
    let err = run(dir.path(), OBJECTS, Mode::Build)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Source 'app': spec.url:"), "{err}");
    assert!(
        err.contains(
            "is not a directory; the path is relative to the file that declares the Source"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn target_namespace_is_applied_to_namespaced_objects() {
    let dir = tree(&[
        ("app/deploy/web.yaml", DEPLOY),
        (
            "app/deploy/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n",
        ),
    ]);
    let text = OBJECTS.replace("path: ./deploy", "path: ./deploy\n  targetNamespace: prod");
    let report = run(dir.path(), &text, Mode::Build).await.unwrap();
    let ns: Vec<String> = report
        .manifests
        .iter()
        .map(|m| m.resource().to_string())
        .collect();
    assert_eq!(ns, ["Namespace/prod", "Deployment/prod/web"]);
    assert!(
        report
            .diagnostics
            .iter()
            .all(|d| d.severity != Severity::Error)
    );
}

#[tokio::test]
async fn a_second_run_reuses_the_stored_artifact_and_a_tampered_one_is_fetched_again() {
    let dir = tree(&[("app/deploy/b-web.yaml", DEPLOY)]);
    let cache = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let run_once = || async {
        let objects = objects(dir.path(), OBJECTS);
        let release = objects.releases().next().unwrap().clone();
        let store = sluice_pipeline::ArtifactStore::open(store_dir.path()).unwrap();
        Pipeline::with_store(host(cache.path()), objects, store)
            .run(&release, Mode::Build)
            .await
            .unwrap()
    };
    let first = run_once().await;
    let store = sluice_pipeline::ArtifactStore::open(store_dir.path()).unwrap();
    let record = store.last("Source/default/app").unwrap().unwrap();
    assert_eq!(record.revision, first.revision);
    let tree_dir = store_dir
        .path()
        .join("trees")
        .join(record.digest.trim_start_matches("sha256:"));
    let rendered = tree_dir.join("deploy/b-web.yaml");
    let modified = std::fs::metadata(&rendered).unwrap().modified().unwrap();

    // Unchanged: the local plugin answers `unchanged` and the stored tree is used.
    let second = run_once().await;
    assert_eq!(second.revision, first.revision);
    assert_eq!(second.manifests.len(), first.manifests.len());
    assert_eq!(
        std::fs::metadata(&rendered).unwrap().modified().unwrap(),
        modified,
        "the stored tree is reused, not rewritten"
    );

    // Someone edits the stored tree: it no longer matches its digest, so
    // the run fetches afresh instead of rendering the edited file.
    std::fs::write(
        &rendered,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n",
    )
    .unwrap();
    let third = run_once().await;
    assert_eq!(third.revision, first.revision);
    let names: Vec<String> = third
        .manifests
        .iter()
        .map(|m| m.resource().to_string())
        .collect();
    assert_eq!(names, ["Deployment/web"]);
    assert!(
        std::fs::read_to_string(&rendered)
            .unwrap()
            .contains("kind: Deployment"),
        "the tree was restored from the source"
    );
}
