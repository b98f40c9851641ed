//! `sluice check` with the built-in `schema` policy, as users run it: a
//! denied release prints each finding at its file:line with the field path
//! and exits 1; a valid one passes.

use std::path::Path;
use std::process::{Command, Output};

fn sluice(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env(
            "SLUICE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("schema-cache"),
        )
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice")
}

const RELEASE: &str = "\
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {name: app}
spec:
  url: file://./app
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata: {name: shop}
spec:
  sourceRef: {name: app}
  path: ./deploy
  policies:
    - plugin: schema
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  creationTimestamp: null
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          resources:
            limits: {cpu: 1}
";

fn release(deployment: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app/deploy")).unwrap();
    std::fs::write(dir.path().join("sluice.yaml"), RELEASE).unwrap();
    std::fs::write(dir.path().join("app/deploy/web.yaml"), deployment).unwrap();
    dir
}

#[test]
fn check_passes_a_valid_release_and_denies_at_the_field() {
    let dir = release(DEPLOYMENT);
    let out = sluice(dir.path(), &["check", "sluice.yaml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("shop     schema  Enforce  allow"),
        "{stdout}"
    );

    let dir = release(&DEPLOYMENT.replace(
        "          image: nginx:1.27\n",
        "          imag: nginx:1.27\n",
    ));
    let out = sluice(dir.path(), &["check", "sluice.yaml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("schema  Enforce  deny"), "{stdout}");
    assert!(
        stdout.contains(
            "app/deploy/web.yaml:16:11: Deployment/web: spec.template.spec.containers[0].imag: \
             unknown field \"imag\"; remove it or fix its name \
             (schema: apps/v1/Deployment of Kubernetes 1.35) [fail:schema:unknown-field]"
        ),
        "{stdout}"
    );
}
