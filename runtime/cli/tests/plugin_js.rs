//! JavaScript plugins as their authors use them: `sluice plugin new --lang js`,
//! `plugin build`, `plugin test` for a policy, a renderer and a rollout, and the
//! JavaScript require-resources example built, tested against the shared
//! fixture set and run by `sluice check` through a `Plugin` object.
//! Needs componentize-js 0.23 on PATH (`tests/setup.sh` installs it from npm);
//! without it these tests fail with the install command, they do not skip.

mod common;

use common::plugin::{
    build_and_inspect, build_fails_with_path, example_passes_shared_cases_and_runs_in_check,
    new_project, passed, test_passes,
};
use common::{Sluice, text};

/// Compiled plugins survive between runs here (JS components take seconds).
fn sluice() -> Sluice {
    Sluice::new("plugin-js-cache")
}

/// `plugin new` → `plugin build` → `plugin test` in a temp dir, for `kind`.
fn new_build_test(kind: &str) {
    let sluice = sluice();
    let (parent, _) = new_project(
        &sluice,
        "js",
        kind,
        "demo",
        &[
            "sluice-plugin.yaml",
            "app.js",
            "README.md",
            "sluice/sdk-js/index.js",
            "sluice/sdk-js/files.js",
            "wit/worlds.wit",
        ],
    );
    let p = parent.path();
    let app = std::fs::read_to_string(p.join("demo/app.js")).unwrap();
    assert!(app.contains("name: 'demo'"), "{app}");
    assert!(
        !app.contains("{{"),
        "a placeholder is left in app.js:\n{app}"
    );

    build_and_inspect(&sluice, p, "demo", kind);

    let out = test_passes(&sluice, p, "demo");
    assert!(passed(&out) >= 4, "{out}");
}

#[test]
fn a_new_js_policy_builds_and_passes_its_tests() {
    new_build_test("policy");
}

#[test]
fn a_new_js_renderer_builds_and_passes_its_tests() {
    new_build_test("renderer");
}

#[test]
fn a_new_js_rollout_builds_and_passes_its_tests() {
    new_build_test("rollout");
}

#[test]
fn js_has_no_source_template() {
    let parent = tempfile::tempdir().unwrap();
    let stderr = sluice().fails(
        parent.path(),
        &["plugin", "new", "--kind", "source", "--lang", "js", "demo"],
    );
    assert!(
        stderr.contains("--kind policy --lang js")
            && stderr.contains("--kind renderer --lang js")
            && stderr.contains("--kind rollout --lang js"),
        "{stderr}"
    );
}

#[test]
fn a_build_without_componentize_js_says_how_to_install_it() {
    let sluice = sluice();
    let (parent, _) = new_project(&sluice, "js", "policy", "demo", &[]);
    let p = parent.path();
    let empty = tempfile::tempdir().unwrap();
    let out = build_fails_with_path(&sluice, p, "demo", empty.path());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("componentize-js is not installed")
            && stderr.contains("npm install -g @bytecodealliance/componentize-js@0.23.0"),
        "{stderr}"
    );
}

#[test]
fn build_errors_name_the_file_and_the_fix() {
    let sluice = sluice();
    let (parent, _) = new_project(&sluice, "js", "policy", "demo", &[]);
    let p = parent.path();
    let app = p.join("demo/app.js");
    let source = std::fs::read_to_string(&app).unwrap();

    std::fs::write(&app, format!("{source}\nexport function broken( {{\n")).unwrap();
    let stderr = sluice.fails(p, &["plugin", "build", "demo"]);
    assert!(
        stderr.contains("app.js:") && stderr.contains("SyntaxError"),
        "{stderr}"
    );
    assert!(!stderr.contains("    at "), "a Node stack trace: {stderr}");

    let with_files = source.replacen(
        "import {",
        "import { exists } from './sluice/sdk-js/files.js';\nimport {",
        1,
    );
    std::fs::write(&app, with_files).unwrap();
    let stderr = sluice.fails(p, &["plugin", "build", "demo"]);
    assert!(
        stderr.contains("files.js (wasi:filesystem) is for renderer and source plugins only"),
        "{stderr}"
    );
}

#[test]
fn the_js_example_passes_the_shared_cases_and_runs_in_check() {
    example_passes_shared_cases_and_runs_in_check(
        &sluice(),
        "require-resources-js",
        ", limits: {memory: 512Mi, timeout: 20s}",
    );
}
