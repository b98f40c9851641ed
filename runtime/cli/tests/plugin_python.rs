//! Python plugins as their authors use them: `sluice plugin new --lang
//! python`, `plugin build`, `plugin test` for a policy and a renderer (the
//! scaffold passes its own cases), rebuilding only when sources change, a
//! failing case reported by name with exit 1, and the Python require-resources
//! example against the shared fixture set and in `sluice check`.
//! Needs componentize-py (`tests/setup.sh` installs it); without it these
//! tests fail with the install command, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-python-cache")
}

fn sluice(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env("SLUICE_CACHE_DIR", cache())
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice")
}

/// Runs sluice, asserting success; returns stdout and stderr.
fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let out = sluice(dir, args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "sluice {} failed:\n{stdout}\n{stderr}",
        args.join(" ")
    );
    (stdout, stderr)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `plugin new` for `kind` in a temp dir; returns the parent (kept alive).
fn scaffold(kind: &str) -> tempfile::TempDir {
    let parent = tempfile::tempdir().unwrap();
    let (stdout, _) = ok(
        parent.path(),
        &["plugin", "new", "--kind", kind, "--lang", "python", "demo"],
    );
    assert!(stdout.contains("next: sluice plugin test"), "{stdout}");
    let dir = parent.path().join("demo");
    for file in [
        "sluice-plugin.yaml",
        "app.py",
        "README.md",
        "wit/worlds.wit",
    ] {
        assert!(dir.join(file).is_file(), "plugin new wrote no {file}");
    }
    let app = std::fs::read_to_string(dir.join("app.py")).unwrap();
    assert!(app.contains("name=\"demo\""), "{app}");
    assert!(
        !app.contains("{{"),
        "a placeholder is left in app.py:\n{app}"
    );
    parent
}

fn passed(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with("ok ")).count()
}

#[test]
fn a_new_python_policy_builds_passes_and_reports_a_failing_case() {
    let parent = scaffold("policy");
    let p = parent.path();

    let (_, stderr) = ok(p, &["plugin", "build", "demo"]);
    assert!(stderr.contains("built demo/dist/demo.wasm"), "{stderr}");
    let wasm = p.join("demo/dist/demo.wasm");
    let (inspect, _) = ok(p, &["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(inspect.contains("kind:        policy"), "{inspect}");

    // Built and unchanged: `plugin test` uses the component as it is.
    let (stdout, stderr) = ok(p, &["plugin", "test", "demo"]);
    assert_eq!(passed(&stdout), 4, "{stdout}");
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    assert!(
        !stderr.contains("built"),
        "rebuilt an up-to-date plugin: {stderr}"
    );

    // A case that expects the wrong verdict fails by name, with what differed.
    let cases = p.join("demo/tests/labels.yaml");
    let yaml = std::fs::read_to_string(&cases).unwrap();
    std::fs::write(&cases, yaml.replacen("verdict: deny", "verdict: allow", 1)).unwrap();
    let out = sluice(p, &["plugin", "test", "demo"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("FAIL labels.yaml: an object without the label is denied\n  - verdict: expected allow, got deny"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[missing-label] metadata.labels: Deployment 'web' has no label 'app.kubernetes.io/name'"),
        "the plugin's diagnostics are shown: {stdout}"
    );
    assert!(stdout.contains("3 passed, 1 failed"), "{stdout}");

    // A broken test file is an error (exit 2) naming the file.
    std::fs::write(&cases, "cases:\n  - name: x\n    expect: {verdit: deny}\n").unwrap();
    let out = sluice(p, &["plugin", "test", "demo"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("labels.yaml") && stderr.contains("verdit"),
        "{stderr}"
    );

    // Changing a source rebuilds before testing.
    std::fs::write(&cases, yaml).unwrap();
    let app = p.join("demo/app.py");
    let source = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, source.replace("has no label", "lacks the label")).unwrap();
    let out = sluice(p, &["plugin", "test", "demo"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.contains("built"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("  - no diagnostic message contains \"Deployment 'web' has no label 'app.kubernetes.io/name'\""),
        "{stdout}"
    );
}

#[test]
fn a_new_python_renderer_builds_and_passes_its_tests() {
    let parent = scaffold("renderer");
    // `plugin test` alone builds the missing component first.
    let (stdout, stderr) = ok(parent.path(), &["plugin", "test", "demo"]);
    assert!(stderr.contains("built"), "{stderr}");
    assert!(parent.path().join("demo/dist/demo.wasm").is_file());
    assert_eq!(passed(&stdout), 3, "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn python_supports_policy_and_renderer_and_names_what_to_install() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    let out = sluice(
        p,
        &[
            "plugin", "new", "--kind", "rollout", "--lang", "python", "demo",
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no template for rollout plugins in python")
            && stderr.contains("--kind policy --lang python")
            && stderr.contains("--kind renderer --lang python"),
        "{stderr}"
    );
    assert!(!p.join("demo").exists());

    ok(
        p,
        &[
            "plugin", "new", "--kind", "policy", "--lang", "python", "demo",
        ],
    );
    let out = sluice(
        p,
        &[
            "plugin", "new", "--kind", "policy", "--lang", "python", "demo",
        ],
    );
    assert!(text(&out.stderr).contains("already exists and is not empty"));

    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["plugin", "build", "demo"])
        .current_dir(p)
        .env("PATH", empty.path())
        .output()
        .expect("run sluice");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("componentize-py is not on PATH")
            && stderr.contains("python3 -m pip install componentize-py==0.25.1"),
        "{stderr}"
    );
}

#[test]
fn the_python_example_passes_the_shared_cases_and_runs_in_check() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("require-resources.wasm");
    let example = repo().join("examples/plugins/require-resources-py");
    let wasm_arg = wasm.to_str().unwrap();
    ok(
        &repo(),
        &["plugin", "build", example.to_str().unwrap(), "-o", wasm_arg],
    );
    let (stdout, _) = ok(
        &repo(),
        &[
            "plugin",
            "test",
            example.to_str().unwrap(),
            "--component",
            wasm_arg,
        ],
    );
    let cases: usize = std::fs::read_dir(example.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .matches("\n  - name: ")
                .count()
        })
        .sum();
    assert!(cases >= 10, "the shared fixture set has {cases} cases");
    assert_eq!(passed(&stdout), cases, "{stdout}");

    // Through `sluice check`, as a Plugin object next to a Release.
    let dir = tmp.path();
    std::fs::create_dir(dir.join("app")).unwrap();
    let objects = format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Plugin\nmetadata: {{name: require-resources}}\n\
         spec: {{kind: policy, file: {wasm_arg}, limits: {{timeout: 20s}}}}\n---\n\
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
    let out = sluice(dir, &["check", "sluice.yaml"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
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
    let (stdout, _) = ok(dir, &["check", "sluice.yaml"]);
    assert!(stdout.contains("allow"), "{stdout}");
}
