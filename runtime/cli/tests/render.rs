//! `sluice render DIR` and `sluice build` with the jsonnet renderer and
//! post-build substitution, as users run them.

use std::path::Path;
use std::process::{Command, Output};

fn sluice(dir: &Path, args: &[&str]) -> Output {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache");
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env("SLUICE_CACHE_DIR", cache)
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, body) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
}

#[test]
fn render_prints_a_plain_directory_like_kustomize_build() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "manifests/a.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n",
            ),
            ("manifests/notes.txt", "not a manifest"),
        ],
    );
    let out = sluice(dir.path(), &["render", "manifests"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n"
    );
    assert!(
        stderr.contains("notes.txt: not a YAML or JSON file; skipped"),
        "{stderr}"
    );
}

#[test]
fn render_picks_kustomize_for_a_kustomization_and_takes_a_renderer() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "base/kustomization.yaml",
                "resources: [cm.yaml]\nnamePrefix: base-\n",
            ),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
            ),
            (
                "env/main.jsonnet",
                "{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: std.extVar('ns') } }",
            ),
        ],
    );
    let out = sluice(dir.path(), &["render", "base"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("name: base-settings"),
        "{}",
        text(&out.stdout)
    );

    let out = sluice(
        dir.path(),
        &[
            "render",
            "env",
            "--renderer",
            "jsonnet",
            "--config",
            r#"{"extVars": {"ns": "team-a"}}"#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"
    );
}

#[test]
fn build_runs_jsonnet_and_post_build_substitution() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "app/main.jsonnet",
                "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { env: '${cluster_env}', region: '${region:=eu}' } }",
            ),
            (
                "sluice.yaml",
                "apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {name: app}\nspec: {url: file://./app}\n---\napiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {name: web}\nspec:\n  sourceRef: {name: app}\n  renderer: {plugin: jsonnet}\n  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: vars}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars}\ndata: {cluster_env: prod}\n",
            ),
        ],
    );
    let out = sluice(dir.path(), &["build", "sluice.yaml"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("  env: prod\n  region: eu\n"), "{stdout}");
}
