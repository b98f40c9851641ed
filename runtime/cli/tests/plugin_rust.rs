//! Rust plugins as their authors use them: `sluice plugin new --lang rust`,
//! `plugin build`, `plugin test` for each kind but source, and the Rust require-resources
//! example built, tested against the shared fixture set and run by
//! `sluice check` through a `Plugin` object. Needs the `wasm32-wasip2` target
//! (`rustup target add wasm32-wasip2`).

mod common;

use common::plugin::{
    build_and_inspect, build_fails_with_path, cases, example_passes_shared_cases_and_runs_in_check,
    new_project, passed, test_passes,
};
use common::{Sluice, repo, text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The nested cargo builds get a target directory of their own (its own
/// lock, so they never wait on the build running this test), kept between
/// runs so only the plugin crates recompile.
fn plugin_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("plugin-dev")
}

fn sluice() -> Sluice {
    Sluice::new("plugin-rust-cache").env("CARGO_TARGET_DIR", plugin_target())
}

/// `plugin new` → `plugin build` → `inspect` for `kind`; returns the temp
/// dir holding the project `demo-<kind>`.
fn new_and_build(kind: &str) -> tempfile::TempDir {
    let sluice = sluice();
    let name = format!("demo-{kind}");
    let (parent, _) = new_project(
        &sluice,
        "rust",
        kind,
        &name,
        &[
            "sluice-plugin.yaml",
            "Cargo.toml",
            "src/lib.rs",
            "README.md",
            "sluice/sdk/Cargo.toml",
            "sluice/sdk/src/lib.rs",
            "wit/worlds.wit",
        ],
    );
    let p = parent.path();
    let cargo = std::fs::read_to_string(p.join(&name).join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!(
            "sluice-plugin-sdk = {{ path = \"sluice/sdk\", features = [\"{kind}\"] }}"
        )),
        "{cargo}"
    );
    build_and_inspect(&sluice, p, &name, kind);
    parent
}

/// `plugin new` → `plugin build` → `plugin test` for `kind`, every case
/// passing; returns the temp dir holding the project `demo-<kind>`.
fn new_build_test(kind: &str) -> tempfile::TempDir {
    let parent = new_and_build(kind);
    let dir = parent.path().join(format!("demo-{kind}"));
    let out = test_passes(&sluice(), parent.path(), &format!("demo-{kind}"));
    let expected = cases(&dir.join("tests"));
    assert!(expected >= 3, "the template has {expected} cases");
    assert_eq!(passed(&out), expected, "{out}");
    parent
}

#[test]
fn a_new_rust_policy_builds_and_passes_its_tests() {
    new_build_test("policy");
}

#[test]
fn a_new_rust_renderer_builds_and_passes_its_tests() {
    new_build_test("renderer");
}

#[test]
fn a_new_rust_rollout_builds_passes_and_reports_a_wrong_decision() {
    let parent = new_build_test("rollout");
    let p = parent.path();
    let cases = p.join("demo-rollout/tests/steps.yaml");
    let yaml = std::fs::read_to_string(&cases).unwrap();
    let wrong = yaml.replacen(
        "expect: {decision: analyse, messages: [\"analysis 1 of 2\"]}",
        "expect: {decision: promote}",
        1,
    );
    assert_ne!(wrong, yaml);
    std::fs::write(&cases, wrong).unwrap();
    let out = sluice().run(p, &["plugin", "test", "demo-rollout"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "FAIL steps.yaml: analyses first\n  - decision: expected promote, got analyse\n  \
             - the plugin said:\n    analysis 1 of 2\n"
        ),
        "{stdout}"
    );
}

#[test]
fn a_new_rust_source_plugin_builds() {
    new_and_build("source");
}

#[test]
fn a_missing_wasm_target_names_the_rustup_command() {
    let sluice = sluice();
    let (parent, _) = new_project(&sluice, "rust", "policy", "demo", &[]);
    let p = parent.path();
    // A rustc whose sysroot has no wasm32-wasip2 standard library.
    let bin = p.join("bin");
    let sysroot = p.join("sysroot");
    std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu")).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let rustc = bin.join("rustc");
    std::fs::write(&rustc, format!("#!/bin/sh\necho {}\n", sysroot.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rustc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = build_fails_with_path(&sluice, p, "demo", path);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rustup target add wasm32-wasip2"),
        "{stderr}"
    );
}

/// The SDK's unit tests with every world enabled (the guest workspace's own
/// test run builds it without features, which leaves the world modules out).
#[test]
fn the_rust_sdk_passes_its_native_tests_with_every_world() {
    let target = plugin_target().with_file_name("native-guests");
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "test",
            "--quiet",
            "-p",
            "sluice-plugin-sdk",
            "--features",
            "policy,renderer,source,rollout",
        ])
        .current_dir(repo().join("plugins"))
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn the_rust_example_passes_the_shared_cases_and_runs_in_check() {
    example_passes_shared_cases_and_runs_in_check(&sluice(), "require-resources-rs", "");
}
