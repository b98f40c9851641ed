//! The policy library in `policies/` stays green under `sluice policy test`,
//! and every policy in it is exercised by resources that pass and that fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

#[test]
fn the_policy_library_is_green_and_covers_pass_and_fail() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["policy", "test", "policies", "--output", "json"])
        .current_dir(&repo)
        .env(
            "SLUICE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-library-cache"),
        )
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["failed"], 0, "{stdout}");
    assert_eq!(report["brokenTests"], 0, "{stdout}");

    // policy -> the actual results it produced across its test.
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in report["results"].as_array().expect("results") {
        assert_eq!(r["ok"], true, "{r}");
        seen.entry(r["policy"].as_str().unwrap().to_owned())
            .or_default()
            .insert(r["actual"].as_str().unwrap().to_owned());
    }
    assert!(seen.len() >= 25, "only {} policies tested", seen.len());

    let mut folders = 0;
    for category in std::fs::read_dir(repo.join("policies")).unwrap() {
        let category = category.unwrap().path();
        if !category.is_dir() {
            continue;
        }
        for folder in std::fs::read_dir(&category).unwrap() {
            let folder = folder.unwrap().path();
            let name = folder.file_name().unwrap().to_str().unwrap().to_owned();
            folders += 1;
            let policy = std::fs::read_to_string(folder.join(format!("{name}.yaml")))
                .unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
            for key in ["title", "category", "severity", "description"] {
                assert!(
                    policy.contains(&format!("policies.kyverno.io/{key}:")),
                    "{name}: annotation policies.kyverno.io/{key} missing"
                );
            }
            assert!(folder.join("kyverno-test.yaml").is_file(), "{name}");
            let results = seen
                .get(&name)
                .unwrap_or_else(|| panic!("{name}: no results"));
            if policy.contains("\n    validate:") {
                assert!(
                    results.contains("pass") && results.contains("fail"),
                    "{name}: results {results:?} must cover pass and fail"
                );
            } else {
                assert!(
                    folder.join("patched.yaml").is_file() && results.contains("pass"),
                    "{name}: mutating policies check patchedResources"
                );
            }
        }
    }
    assert_eq!(
        folders,
        seen.len(),
        "a policy folder without a test, or the reverse"
    );
}
