//! Python plugins as their authors use them: `sluice plugin new --lang
//! python`, `plugin build`, `plugin test` for a policy, a renderer and a rollout (the
//! scaffold passes its own cases), rebuilding only when sources change, a
//! failing case reported by name with exit 1, and the Python require-resources
//! example against the shared fixture set and in `sluice check`.
//! Needs componentize-py (`tests/setup.sh` installs it); without it these
//! tests fail with the install command, they do not skip.

mod common;

use common::plugin::{
    build_fails_with_path, cases, example_passes_shared_cases_and_runs_in_check, new_project,
    passed,
};
use common::{Sluice, text};

fn sluice() -> Sluice {
    Sluice::new("plugin-python-cache")
}

/// `plugin new` for `kind` in a temp dir; returns the parent (kept alive).
fn scaffold(kind: &str) -> tempfile::TempDir {
    let (parent, stdout) = new_project(
        &sluice(),
        "python",
        kind,
        "demo",
        &[
            "sluice-plugin.yaml",
            "app.py",
            "README.md",
            "wit/worlds.wit",
        ],
    );
    assert!(stdout.contains("next: sluice plugin test"), "{stdout}");
    let app = std::fs::read_to_string(parent.path().join("demo/app.py")).unwrap();
    assert!(app.contains("name=\"demo\""), "{app}");
    assert!(
        !app.contains("{{"),
        "a placeholder is left in app.py:\n{app}"
    );
    parent
}

#[test]
fn a_new_python_policy_builds_passes_and_reports_a_failing_case() {
    let sluice = sluice();
    let parent = scaffold("policy");
    let p = parent.path();

    let (_, stderr) = sluice.ok_with_stderr(p, &["plugin", "build", "demo"]);
    assert!(stderr.contains("built demo/dist/demo.wasm"), "{stderr}");
    let wasm = p.join("demo/dist/demo.wasm");
    let inspect = sluice.ok(p, &["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(inspect.contains("kind:        policy"), "{inspect}");

    // Built and unchanged: `plugin test` uses the component as it is.
    let (stdout, stderr) = sluice.ok_with_stderr(p, &["plugin", "test", "demo"]);
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
    let out = sluice.run(p, &["plugin", "test", "demo"]);
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
    let out = sluice.run(p, &["plugin", "test", "demo"]);
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
    let out = sluice.run(p, &["plugin", "test", "demo"]);
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
    let sluice = sluice();
    let parent = scaffold("renderer");
    // `plugin test` alone builds the missing component first.
    let (stdout, stderr) = sluice.ok_with_stderr(parent.path(), &["plugin", "test", "demo"]);
    assert!(stderr.contains("built"), "{stderr}");
    assert!(parent.path().join("demo/dist/demo.wasm").is_file());
    assert_eq!(passed(&stdout), 3, "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn a_new_python_rollout_builds_and_passes_its_tests() {
    let parent = scaffold("rollout");
    let stdout = sluice().ok(parent.path(), &["plugin", "test", "demo"]);
    let expected = cases(&parent.path().join("demo/tests"));
    assert!(expected >= 8, "the template has {expected} cases");
    assert_eq!(passed(&stdout), expected, "{stdout}");
}

#[test]
fn python_has_no_source_template_and_names_what_to_install() {
    let sluice = sluice();
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    let out = sluice.run(
        p,
        &[
            "plugin", "new", "--kind", "source", "--lang", "python", "demo",
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no template for source plugins in python")
            && stderr.contains("--kind policy --lang python")
            && stderr.contains("--kind renderer --lang python")
            && stderr.contains("--kind rollout --lang python"),
        "{stderr}"
    );
    assert!(!p.join("demo").exists());

    sluice.ok(
        p,
        &[
            "plugin", "new", "--kind", "policy", "--lang", "python", "demo",
        ],
    );
    let out = sluice.run(
        p,
        &[
            "plugin", "new", "--kind", "policy", "--lang", "python", "demo",
        ],
    );
    assert!(text(&out.stderr).contains("already exists and is not empty"));

    let empty = tempfile::tempdir().unwrap();
    let out = build_fails_with_path(&sluice, p, "demo", empty.path());
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
    example_passes_shared_cases_and_runs_in_check(
        &sluice(),
        "require-resources-py",
        ", limits: {timeout: 20s}",
    );
}
