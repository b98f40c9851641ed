//! C plugins as their authors use them: `sluice plugin new --lang c`,
//! `plugin build`, `plugin test` for a policy and a renderer, the C
//! require-resources example built, tested against the shared fixture set and
//! run by `sluice check` through a `Plugin` object, and the C SDK's own
//! native tests under AddressSanitizer and UBSan.
//! Needs Debian's `clang lld wasi-libc libclang-rt-14-dev-wasm32`
//! (`tests/setup.sh` installs them); without them these tests fail with the
//! install command, they do not skip.

mod common;

use common::plugin::{
    build_and_inspect, build_fails_with_path, example_passes_shared_cases_and_runs_in_check,
    new_project, passed, test_passes,
};
use common::{Sluice, repo, text};
use std::path::Path;
use std::process::Command;

fn sluice() -> Sluice {
    Sluice::new("plugin-c-cache")
}

/// `plugin new` → `plugin build` → `plugin test` in a temp dir, for `kind`.
fn new_build_test(kind: &str) {
    let sluice = sluice();
    let (parent, _) = new_project(
        &sluice,
        "c",
        kind,
        "demo",
        &[
            "sluice-plugin.yaml",
            "plugin.c",
            "README.md",
            "sluice/sdk-c/sluice.h",
            "sluice/sdk-c/sluice_json.c",
            "wit/worlds.wit",
        ],
    );
    let p = parent.path();
    let dir = p.join("demo");
    let code = std::fs::read_to_string(dir.join("plugin.c")).unwrap();
    assert!(code.contains(" * demo: "), "{code}");
    assert!(
        !code.contains("{{"),
        "a placeholder is left in plugin.c:\n{code}"
    );

    let inspect = build_and_inspect(&sluice, p, "demo", kind);
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
    // The metadata export answers what sluice-plugin.yaml says.
    assert!(inspect.contains("name:        demo"), "{inspect}");
    assert!(
        inspect.contains(&format!("description: A {kind} plugin written in C")),
        "{inspect}"
    );

    let out = test_passes(&sluice, p, "demo");
    assert!(passed(&out) >= 3, "{out}");
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
    let stderr = sluice().fails(
        parent.path(),
        &["plugin", "new", "--kind", "source", "--lang", "c", "demo"],
    );
    assert!(
        stderr.contains("policy") && stderr.contains("renderer"),
        "{stderr}"
    );
}

#[test]
fn a_build_without_clang_names_the_debian_packages() {
    let sluice = sluice();
    let (parent, _) = new_project(&sluice, "c", "policy", "demo", &[]);
    let p = parent.path();
    let empty = tempfile::tempdir().unwrap();
    let out = build_fails_with_path(&sluice, p, "demo", empty.path());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("clang was not found on PATH")
            && stderr.contains("apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"),
        "{stderr}"
    );
}

#[test]
fn a_description_with_quotes_reaches_the_metadata_intact() {
    let sluice = sluice();
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    let description = r#"Says "no" to C:\ paths and {{braces}}"#;
    sluice.ok(
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
    let inspect = build_and_inspect(&sluice, p, "quoted", "policy");
    assert!(
        inspect.contains(&format!("description: {description}")),
        "{inspect}"
    );
}

#[test]
fn a_compile_error_shows_clangs_message() {
    let sluice = sluice();
    let (parent, _) = new_project(&sluice, "c", "policy", "demo", &[]);
    let p = parent.path();
    std::fs::write(
        p.join("demo/broken.c"),
        "int broken(void) { return missing; }\n",
    )
    .unwrap();
    let stderr = sluice.fails(p, &["plugin", "build", "demo"]);
    assert!(
        stderr.contains("clang failed")
            && stderr.contains("broken.c:1:")
            && stderr.contains("missing"),
        "{stderr}"
    );
}

#[test]
fn the_c_example_passes_the_shared_cases_and_runs_in_check() {
    example_passes_shared_cases_and_runs_in_check(&sluice(), "require-resources-c", "");
}

/// The SDK's JSON reader/writer and Kubernetes helpers, natively, with the
/// sanitizers watching every allocation and access.
#[test]
fn the_c_sdk_passes_its_native_tests_under_sanitizers() {
    let sdk = repo().join("plugins/sdk-c");
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("sdk_test");
    let mut clang = Command::new("clang");
    clang
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
        .arg(sdk.join("tests/sdk_test.c"));
    compile_and_run(&mut clang, &exe);
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
    sluice().ok(tmp.path(), &["plugin", "build", "require-resources"]);

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
    compile_and_run(&mut clang, &exe);
}

/// Links `clang`'s sources into `exe` (with libm) and runs it: both succeed
/// and the program reports all its checks passed.
#[track_caller]
fn compile_and_run(clang: &mut Command, exe: &Path) {
    let out = clang
        .args(["-lm", "-o"])
        .arg(exe)
        .output()
        .expect("run clang (tests/setup.sh installs it)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = Command::new(exe)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    assert!(
        run.status.success(),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(text(&run.stdout).contains("all checks passed"));
}
