//! `sluice push artifact` and `sluice pull artifact` against a real registry
//! (Debian's docker-registry): a directory pushed and pulled back is
//! bit-identical, and the metadata shows the source and revision that
//! `--source` and `--revision` stored, as `flux pull artifact` shows them.

use sluice_tests::servers::registry::Registry;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env_remove("SLUICE_LOG")
        // No ~/.docker/config.json of the machine's user.
        .env("DOCKER_CONFIG", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run sluice")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file below `dir` with its bytes and executable bit, sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>, bool)> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>, bool)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let exec = p.metadata().unwrap().permissions().mode() & 0o111 != 0;
                out.push((
                    p.strip_prefix(root).unwrap().into(),
                    std::fs::read(&p).unwrap(),
                    exec,
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn push_then_pull_artifact_round_trips_with_source_and_revision() {
    let registry = Registry::with_basic_auth("ci", "push-token");
    let url = format!("oci://{}:v1.0.0", registry.repository("manifests/podinfo"));
    let tree = sluice_tests::tree(&[
        ("kustomization.yaml", "resources:\n  - deploy/app.yaml\n"),
        ("deploy/app.yaml", "apiVersion: apps/v1\nkind: Deployment\n"),
        ("bin/check.sh", "#!/bin/sh\nexit 0\n"),
    ]);
    let script = tree.path().join("bin/check.sh");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let source = "https://github.com/stefanprodan/podinfo.git";
    let revision = "6.1.0@sha1:6b869d1a184969f7e24e6e4ad30be0b18f8b7416";
    let creds = ["--creds", "ci:push-token", "--insecure"];

    let path = tree.path().to_str().unwrap();
    let mut push = vec![
        "push",
        "artifact",
        &url,
        "--path",
        path,
        "--source",
        source,
        "--revision",
        revision,
        "--annotation",
        "team=web",
    ];
    push.extend(creds);
    let out = sluice(&push);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pushed = text(&out.stdout);
    assert!(pushed.trim().contains("@sha256:"), "{pushed}");
    assert!(text(&out.stderr).contains("artifact successfully pushed"));

    let dest = tempfile::tempdir().unwrap();
    let output = dest.path().join("out");
    let mut pull = vec![
        "pull",
        "artifact",
        &url,
        "--output",
        output.to_str().unwrap(),
        "--print-metadata",
    ];
    pull.extend(creds);
    let out = sluice(&pull);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(files(&output), files(tree.path()), "bit-identical tree");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    assert_eq!(meta["source"], source);
    assert_eq!(meta["revision"], revision);
    assert_eq!(meta["annotations"]["team"], "web");
    assert_eq!(
        meta["annotations"]["org.opencontainers.image.source"],
        source
    );
    assert_eq!(
        format!("{}\n", pushed.trim().split('@').next().unwrap()),
        format!("{}\n", registry.repository("manifests/podinfo"))
    );
    assert!(
        pushed.trim().ends_with(meta["digest"].as_str().unwrap()),
        "{pushed} vs {meta}"
    );

    // Wrong credentials: exit 2, the registry and the cause named.
    let other = tempfile::tempdir().unwrap();
    let out = sluice(&[
        "pull",
        "artifact",
        &url,
        "--output",
        other.path().join("x").to_str().unwrap(),
        "--creds",
        "ci:nope",
        "--insecure",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("refused the credentials") && stderr.contains(&registry.host),
        "{stderr}"
    );
    assert!(!stderr.contains("nope"), "{stderr}");
    assert!(
        std::fs::read_dir(other.path()).unwrap().next().is_none(),
        "nothing written"
    );
}
