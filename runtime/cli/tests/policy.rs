//! `sluice policy test` and `sluice policy apply` as users run them, on the
//! `tests/kyverno` corpus and on broken test files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sluice(args: &[&str]) -> Output {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cache");
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo())
        .env("SLUICE_CACHE_DIR", cache)
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_kyverno_corpus_is_green() {
    let out = sluice(&["policy", "test", "tests/kyverno"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" and 0 tests failed"), "{stdout}");
    // Hidden .kyverno-test folders are found, as kyverno test finds them.
    assert!(
        stdout.contains("disallow-latest-tag/.kyverno-test/kyverno-test.yaml"),
        "{stdout}"
    );

    let out = sluice(&["policy", "test", "tests/kyverno", "--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let results = report["results"].as_array().unwrap();
    assert!(results.len() >= 40);
    assert!(results.iter().all(|r| r["ok"] == true));
    assert!(
        results
            .iter()
            .any(|r| r["expected"] == "fail" && r["actual"] == "fail")
    );
}

#[test]
fn mismatches_and_broken_test_files_fail() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = repo().join("tests/kyverno/require-labels");
    for f in ["require-labels.yaml", "resources.yaml"] {
        std::fs::copy(corpus.join(f), dir.path().join(f)).unwrap();
    }
    let test = std::fs::read_to_string(corpus.join("kyverno-test.yaml")).unwrap();
    // badpod01 fails the policy; claim it passes.
    let wrong = test.replacen("  result: fail", "  result: pass", 1);
    std::fs::write(dir.path().join("kyverno-test.yaml"), wrong).unwrap();
    let out = sluice(&["policy", "test", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Want pass, got fail"), "{stdout}");

    let missing = test.replace("- resources.yaml", "- nowhere.yaml");
    std::fs::write(dir.path().join("kyverno-test.yaml"), missing).unwrap();
    let out = sluice(&["policy", "test", dir.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("kyverno-test.yaml: resources[0]") && stderr.contains("nowhere.yaml"),
        "{stderr}"
    );
}

#[test]
fn apply_reports_in_junit_and_sarif() {
    let args = |format: &'static str| {
        [
            "policy",
            "apply",
            "-p",
            "tests/kyverno/disallow-latest-tag/disallow-latest-tag.yaml",
            "-r",
            "tests/kyverno/disallow-latest-tag/resources.yaml",
            "-o",
            format,
        ]
    };
    let out = sluice(&args("junit"));
    let junit = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "failures exit 1: {junit}");
    assert!(
        junit.starts_with("<?xml") && junit.contains("<testsuite name=\"disallow-latest-tag\""),
        "{junit}"
    );
    assert!(junit.contains("<failure type=\"fail\""), "{junit}");

    let out = sluice(&args("sarif"));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "disallow-latest-tag/validate-image-tag")
    );
    assert!(results.iter().all(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("resources.yaml")
    }));
}
