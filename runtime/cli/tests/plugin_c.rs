//! C plugins as their authors use them: `sluice plugin new --lang c`,
//! `plugin build`, `plugin test` for a policy and a renderer, the C
//! require-resources example built, tested against the shared fixture set and
//! run by `sluice check` through a `Plugin` object, and the C SDK's own
//! native tests under AddressSanitizer and UBSan.
//! Needs Debian's `clang lld wasi-libc libclang-rt-14-dev-wasm32`
//! (`tests/setup.sh` installs them); without them these tests fail with the
//! install command, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-c-cache")
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
    ok(p, &["plugin", "new", "--kind", kind, "--lang", "c", "demo"]);
    let dir = p.join("demo");
    for file in [
        "sluice-plugin.yaml",
        "plugin.c",
        "README.md",
        "sluice/sdk-c/sluice.h",
        "sluice/sdk-c/sluice_json.c",
        "wit/worlds.wit",
    ] {
        assert!(dir.join(file).is_file(), "plugin new wrote no {file}");
    }
    let code = std::fs::read_to_string(dir.join("plugin.c")).unwrap();
    assert!(code.contains(" * demo: "), "{code}");
    assert!(
        !code.contains("{{"),
        "a placeholder is left in plugin.c:\n{code}"
    );

    ok(p, &["plugin", "build", "demo"]);
    let wasm = dir.join("dist/demo.wasm");
    assert!(wasm.is_file(), "no {}", wasm.display());
    for generated in [
        format!("{kind}.h"),
        format!("{kind}.c"),
        "sluice_world.h".into(),
        "sluice_project.h".into(),
    ] {
        assert!(
            dir.join("build").join(&generated).is_file(),
            "no build/{generated}"
        );
    }

    let inspect = ok(p, &["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(
        inspect.contains(&format!("kind:        {kind}")),
        "{inspect}"
    );
    // The metadata export answers what sluice-plugin.yaml says.
    assert!(inspect.contains("name:        demo"), "{inspect}");
    assert!(
        inspect.contains(&format!("description: A {kind} plugin written in C")),
        "{inspect}"
    );

    let out = ok(p, &["plugin", "test", "demo"]);
    let passed = out.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(passed >= 3, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

#[test]
fn a_new_c_policy_builds_and_passes_its_tests() {
    new_build_test("policy");
}

#[test]
fn a_new_c_renderer_builds_and_passes_its_tests() {
    new_build_test("renderer");
}

#[test]
fn c_supports_policy_and_renderer_only() {
    let parent = tempfile::tempdir().unwrap();
    let out = sluice(
        parent.path(),
        &["plugin", "new", "--kind", "source", "--lang", "c", "demo"],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("policy") && stderr.contains("renderer"),
        "{stderr}"
    );
}

#[test]
fn a_build_without_clang_names_the_debian_packages() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    ok(
        p,
        &["plugin", "new", "--kind", "policy", "--lang", "c", "demo"],
    );
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["plugin", "build", "demo"])
        .current_dir(p)
        .env("PATH", empty.path())
        .output()
        .expect("run sluice");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("clang was not found on PATH")
            && stderr.contains("apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"),
        "{stderr}"
    );
}

#[test]
fn a_description_with_quotes_reaches_the_metadata_intact() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    let description = r#"Says "no" to C:\ paths and {{braces}}"#;
    ok(
        p,
        &[
            "plugin",
            "new",
            "--kind",
            "policy",
            "--lang",
            "c",
            "quoted",
            "--description",
            description,
        ],
    );
    ok(p, &["plugin", "build", "quoted"]);
    let inspect = ok(p, &["plugin", "inspect", "quoted/dist/quoted.wasm"]);
    assert!(
        inspect.contains(&format!("description: {description}")),
        "{inspect}"
    );
}

#[test]
fn a_compile_error_shows_clangs_message() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    ok(
        p,
        &["plugin", "new", "--kind", "policy", "--lang", "c", "demo"],
    );
    std::fs::write(
        p.join("demo/broken.c"),
        "int broken(void) { return missing; }\n",
    )
    .unwrap();
    let out = sluice(p, &["plugin", "build", "demo"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("clang failed")
            && stderr.contains("broken.c:1:")
            && stderr.contains("missing"),
        "{stderr}"
    );
}

#[test]
fn the_c_example_passes_the_shared_cases_and_runs_in_check() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("require-resources.wasm");
    let example = repo().join("examples/plugins/require-resources-c");
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

/// The SDK's JSON reader/writer and Kubernetes helpers, natively, with the
/// sanitizers watching every allocation and access.
#[test]
fn the_c_sdk_passes_its_native_tests_under_sanitizers() {
    let sdk = repo().join("plugins/sdk-c");
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("sdk_test");
    let out = Command::new("clang")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-g",
            "-I",
        ])
        .arg(&sdk)
        .arg(sdk.join("sluice_json.c"))
        .arg(sdk.join("sluice_k8s.c"))
        .arg(sdk.join("tests/sdk_test.c"))
        .args(["-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("run clang (tests/setup.sh installs it)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = Command::new(&exe).output().expect("run sdk_test");
    assert!(
        run.status.success(),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(text(&run.stdout).contains("all checks passed"));
}

/// The example driven natively through its generated export wrappers and
/// post-return functions, as the host calls them, under ASan, LSan and
/// UBSan: the request the plugin owns is freed by it, everything it returns
/// is freed by the bindings, nothing twice, nothing leaked.
#[test]
fn the_c_example_frees_exactly_what_it_owns() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("require-resources");
    let example = repo().join("examples/plugins/require-resources-c");
    let sdk = repo().join("plugins/sdk-c");
    std::fs::create_dir_all(project.join("sluice/sdk-c")).unwrap();
    for file in ["plugin.c", "sluice-plugin.yaml"] {
        std::fs::copy(example.join(file), project.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(&sdk).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(
                &path,
                project.join("sluice/sdk-c").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    ok(tmp.path(), &["plugin", "build", "require-resources"]);

    let build = project.join("build");
    let exe = tmp.path().join("native_policy");
    let mut clang = Command::new("clang");
    clang
        .args([
            "-std=c11",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            // The bindings' wasm import/export attributes mean nothing natively.
            "-Wno-unknown-attributes",
            "-ffunction-sections",
            "-Wl,--gc-sections",
            "-I",
        ])
        .arg(&build)
        .arg("-I")
        .arg(project.join("sluice/sdk-c"))
        .arg(build.join("policy.c"))
        .arg(build.join("policy_component_type.c"))
        .arg(project.join("plugin.c"))
        .arg(repo().join("runtime/cli/tests/plugin_c/native_policy.c"));
    for c in ["sluice.c", "sluice_json.c", "sluice_k8s.c"] {
        clang.arg(project.join("sluice/sdk-c").join(c));
    }
    let out = clang
        .args(["-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("run clang");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = Command::new(&exe).output().expect("run native_policy");
    assert!(
        run.status.success(),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(text(&run.stdout).contains("all checks passed"));
}
