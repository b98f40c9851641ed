//! The flows every `plugin_<lang>.rs` goes through: a new project built and
//! inspected, fixture cases counted, and the language's require-resources
//! example against the shared fixture set and in `sluice check`.

use super::{Sluice, repo, text};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

/// `plugin new --kind KIND --lang LANG NAME` in a new temp dir, asserting
/// the project has `files`; returns the temp dir and what `new` printed.
#[track_caller]
pub fn new_project(
    sluice: &Sluice,
    lang: &str,
    kind: &str,
    name: &str,
    files: &[&str],
) -> (tempfile::TempDir, String) {
    let parent = tempfile::tempdir().unwrap();
    let stdout = sluice.ok(
        parent.path(),
        &["plugin", "new", "--kind", kind, "--lang", lang, name],
    );
    let dir = parent.path().join(name);
    for file in files {
        assert!(dir.join(file).is_file(), "plugin new wrote no {file}");
    }
    (parent, stdout)
}

/// `plugin build NAME` in `parent`, asserting it wrote `NAME/dist/NAME.wasm`
/// and that `plugin inspect` reports `kind`; returns the inspect output.
#[track_caller]
pub fn build_and_inspect(sluice: &Sluice, parent: &Path, name: &str, kind: &str) -> String {
    sluice.ok(parent, &["plugin", "build", name]);
    let wasm = parent.join(name).join(format!("dist/{name}.wasm"));
    assert!(wasm.is_file(), "no {}", wasm.display());
    let inspect = sluice.ok(parent, &["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(
        inspect.contains(&format!("kind:        {kind}")),
        "{inspect}"
    );
    inspect
}

/// `plugin test NAME` in `parent`, asserting it succeeds with no case
/// failed; returns what it printed.
#[track_caller]
pub fn test_passes(sluice: &Sluice, parent: &Path, name: &str) -> String {
    let out = sluice.ok(parent, &["plugin", "test", name]);
    assert!(!out.contains("FAIL"), "{out}");
    out
}

/// `plugin build NAME` in `parent` with `path` as the whole PATH (a
/// toolchain missing), asserting it fails.
#[track_caller]
pub fn build_fails_with_path(
    sluice: &Sluice,
    parent: &Path,
    name: &str,
    path: impl AsRef<OsStr>,
) -> Output {
    let out = sluice
        .command(parent, &["plugin", "build", name])
        .env("PATH", path)
        .output()
        .expect("run sluice");
    assert!(!out.status.success(), "{}", text(&out.stdout));
    out
}

/// Cases `plugin test` printed as passed.
pub fn passed(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with("ok ")).count()
}

/// Fixture cases in the `*.yaml` files of `dir`.
pub fn cases(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .matches("\n  - name: ")
                .count()
        })
        .sum()
}

/// `examples/plugins/<example>` built, passing every case of the shared
/// fixture set, then run by `sluice check` as a Plugin object (its spec
/// `{kind: policy, file: …<spec>}`) next to a Release: a 2Gi memory limit
/// is denied at its line and column, 512Mi is allowed.
#[track_caller]
pub fn example_passes_shared_cases_and_runs_in_check(sluice: &Sluice, example: &str, spec: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("require-resources.wasm");
    let example = repo().join("examples/plugins").join(example);
    let wasm_arg = wasm.to_str().unwrap();
    sluice.ok(
        &repo(),
        &["plugin", "build", example.to_str().unwrap(), "-o", wasm_arg],
    );
    let out = sluice.ok(
        &repo(),
        &[
            "plugin",
            "test",
            example.to_str().unwrap(),
            "--component",
            wasm_arg,
        ],
    );
    let cases = cases(&example.join("tests"));
    assert!(cases >= 10, "the shared fixture set has {cases} cases");
    assert_eq!(passed(&out), cases, "{out}");

    // Through `sluice check`, as a Plugin object next to a Release.
    let dir = tmp.path();
    std::fs::create_dir(dir.join("app")).unwrap();
    let objects = format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Plugin\nmetadata: {{name: require-resources}}\n\
         spec: {{kind: policy, file: {wasm_arg}{spec}}}\n---\n\
         apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {{name: app}}\nspec: {{url: \"file://./app\"}}\n---\n\
         apiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: web}}\n\
         spec:\n  sourceRef: {{name: app}}\n  renderer: {{plugin: plain}}\n  policies:\n\
         \x20   - plugin: require-resources\n      config: {{maxLimits: {{memory: 1Gi}}}}\n"
    );
    std::fs::write(dir.join("sluice.yaml"), objects).unwrap();
    let deployment = |limits: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n\
             \x20     containers:\n        - name: web\n          image: nginx:1.27\n\
             \x20         resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n\
             \x20           limits: {limits}\n"
        )
    };

    std::fs::write(
        dir.join("app/web.yaml"),
        deployment("{cpu: 500m, memory: 2Gi}"),
    )
    .unwrap();
    let out = sluice.run(dir, &["check", "sluice.yaml"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("deny"), "{stdout}");
    assert!(
        stdout.contains(
            "app/web.yaml:12:33: Deployment/web: spec.template.spec.containers[0].resources.limits.memory: \
             container 'web' asks for a memory limit of 2Gi, above the ceiling of 1Gi [limit-too-high]"
        ),
        "{stdout}"
    );

    std::fs::write(
        dir.join("app/web.yaml"),
        deployment("{cpu: 500m, memory: 512Mi}"),
    )
    .unwrap();
    let out = sluice.ok(dir, &["check", "sluice.yaml"]);
    assert!(out.contains("allow"), "{out}");
}
