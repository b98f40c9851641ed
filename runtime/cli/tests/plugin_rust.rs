//! Rust plugins as their authors use them: `sluice plugin new --lang rust`,
//! `plugin build`, `plugin test` for each kind, and the Rust require-resources
//! example built, tested against the shared fixture set and run by
//! `sluice check` through a `Plugin` object. Needs the `wasm32-wasip2` target
//! (`rustup target add wasm32-wasip2`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The nested cargo builds get a target directory of their own (its own
/// lock, so they never wait on the build running this test), kept between
/// runs so only the plugin crates recompile.
fn plugin_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("plugin-dev")
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-rust-cache")
}

fn sluice(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env("SLUICE_CACHE_DIR", cache())
        .env("CARGO_TARGET_DIR", plugin_target())
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice")
}

/// Runs sluice, asserting success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = sluice(dir, args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "sluice {} failed:\n{stdout}\n{stderr}",
        args.join(" ")
    );
    stdout
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fixture cases in the `*.yaml` files of `dir`.
fn cases(dir: &Path) -> usize {
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

/// `plugin new` → `plugin build` → `inspect` for `kind`; returns the temp
/// dir holding the project `demo-<kind>`.
fn new_and_build(kind: &str) -> tempfile::TempDir {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    let name = format!("demo-{kind}");
    ok(
        p,
        &["plugin", "new", "--kind", kind, "--lang", "rust", &name],
    );
    let dir = p.join(&name);
    for file in [
        "sluice-plugin.yaml",
        "Cargo.toml",
        "src/lib.rs",
        "README.md",
        "sluice/sdk/Cargo.toml",
        "sluice/sdk/src/lib.rs",
        "wit/worlds.wit",
    ] {
        assert!(dir.join(file).is_file(), "plugin new wrote no {file}");
    }
    let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!(
            "sluice-plugin-sdk = {{ path = \"sluice/sdk\", features = [\"{kind}\"] }}"
        )),
        "{cargo}"
    );
    ok(p, &["plugin", "build", &name]);
    let wasm = dir.join(format!("dist/{name}.wasm"));
    assert!(wasm.is_file(), "no {}", wasm.display());

    let inspect = ok(p, &["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(
        inspect.contains(&format!("kind:        {kind}")),
        "{inspect}"
    );
    parent
}

fn new_build_test(kind: &str) {
    let parent = new_and_build(kind);
    let dir = parent.path().join(format!("demo-{kind}"));
    let out = ok(parent.path(), &["plugin", "test", &format!("demo-{kind}")]);
    let passed = out.lines().filter(|l| l.starts_with("ok ")).count();
    let expected = cases(&dir.join("tests"));
    assert!(expected >= 3, "the template has {expected} cases");
    assert_eq!(passed, expected, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
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
fn new_rust_source_and_rollout_plugins_build() {
    for kind in ["source", "rollout"] {
        new_and_build(kind);
    }
}

#[test]
fn a_missing_wasm_target_names_the_rustup_command() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    ok(
        p,
        &[
            "plugin", "new", "--kind", "policy", "--lang", "rust", "demo",
        ],
    );
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
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["plugin", "build", "demo"])
        .current_dir(p)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(!out.status.success());
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
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("require-resources.wasm");
    let example = repo().join("examples/plugins/require-resources-rs");
    let wasm_arg = wasm.to_str().unwrap();
    ok(
        &repo(),
        &["plugin", "build", example.to_str().unwrap(), "-o", wasm_arg],
    );
    let out = ok(
        &repo(),
        &[
            "plugin",
            "test",
            example.to_str().unwrap(),
            "--component",
            wasm_arg,
        ],
    );
    let passed = out.lines().filter(|l| l.starts_with("ok ")).count();
    let cases = cases(&example.join("tests"));
    assert!(cases >= 10, "the shared fixture set has {cases} cases");
    assert_eq!(passed, cases, "{out}");

    // Through `sluice check`, as a Plugin object next to a Release.
    let dir = tmp.path();
    std::fs::create_dir(dir.join("app")).unwrap();
    let objects = format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Plugin\nmetadata: {{name: require-resources}}\n\
         spec: {{kind: policy, file: {wasm_arg}}}\n---\n\
         apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {{name: app}}\nspec: {{url: \"file://./app\"}}\n---\n\
         apiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: web}}\n\
         spec:\n  sourceRef: {{name: app}}\n  renderer: {{plugin: plain}}\n  policies:\n\
         \x20   - plugin: require-resources\n      config: {{maxLimits: {{memory: 1Gi}}}}\n"
    );
    std::fs::write(dir.join("sluice.yaml"), objects).unwrap();
    let deployment = |resources: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n\
             \x20     containers:\n        - name: web\n          image: nginx:1.27\n{resources}"
        )
    };
    let good = "          resources:\n            requests: {cpu: 100m, memory: 128Mi}\n\
                \x20           limits: {cpu: 500m, memory: 512Mi}\n";
    let bad = "          resources:\n            requests: {cpu: 100m, memory: 128Mi}\n\
               \x20           limits: {cpu: 500m, memory: 2Gi}\n";

    std::fs::write(dir.join("app/web.yaml"), deployment(bad)).unwrap();
    let out = sluice(dir, &["check", "sluice.yaml"]);
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

    std::fs::write(dir.join("app/web.yaml"), deployment(good)).unwrap();
    let out = ok(dir, &["check", "sluice.yaml"]);
    assert!(out.contains("allow"), "{out}");
}
