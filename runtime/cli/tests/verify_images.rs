//! The acceptance check of the `verify-images` policy as users run it:
//! `sluice check` passes a release whose image is signed by the configured
//! key and denies (exit 1) one whose image is unsigned or signed by another
//! key, at the image's file and line. Debian's docker-registry holds the
//! images; tests/support/cosign.rs signs them.

use sluice_tests::cosign::{KeyPair, push_image, sign_image};
use sluice_tests::servers::registry::Registry;
use std::path::Path;
use std::process::{Command, Output};

fn check(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["check", "."])
        .current_dir(dir)
        .env(
            "SLUICE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify-images-cache"),
        )
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice")
}

/// A release of one Deployment running `image`, gated by `key`.
fn release(dir: &Path, image: &str, key: &KeyPair) {
    let pem: String = key
        .public_key_pem()
        .lines()
        .map(|l| format!("                  {l}\n"))
        .collect();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("sluice.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {{name: app}}\nspec:\n  url: file://./app\n---\napiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: web}}\nspec:\n  sourceRef: {{name: app}}\n  path: ./\n  policies:\n    - plugin: verify-images\n      failureAction: Enforce\n      config:\n        rules:\n          - images: ['127.0.0.1:*']\n            authorities:\n              - key: |\n{pem}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("app/web.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n        - name: web\n          image: {image}\n"
        ),
    )
    .unwrap();
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sluice_check_denies_unsigned_and_wrongly_signed_images() {
    let registry = Registry::start();
    let key = KeyPair::generate();
    let other = KeyPair::generate();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (signed, by_other) = rt.block_on(async {
        let signed = push_image(&registry.host, "apps/signed", "v1", "signed").await;
        sign_image(&registry.host, "apps/signed", &signed, &key).await;
        push_image(&registry.host, "apps/unsigned", "v1", "unsigned").await;
        let by_other = push_image(&registry.host, "apps/other", "v1", "other").await;
        sign_image(&registry.host, "apps/other", &by_other, &other).await;
        (signed, by_other)
    });

    let dir = tempfile::tempdir().unwrap();
    let image = format!("{}/apps/signed:v1", registry.host);
    release(dir.path(), &image, &key);
    let out = check(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.lines().any(|l| l.starts_with("web ")
            && l.split_whitespace().collect::<Vec<_>>()[1..4]
                == ["verify-images", "Enforce", "allow"]),
        "{stdout}"
    );
    assert!(
        stdout.contains(&signed),
        "the verified digest is reported: {stdout}"
    );

    for (repo, reason) in [
        ("apps/unsigned", "is not signed"),
        ("apps/other", "no valid signature by an accepted authority"),
    ] {
        let image = format!("{}/{repo}:v1", registry.host);
        release(dir.path(), &image, &key);
        let out = check(dir.path());
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
        let line = stdout
            .lines()
            .find(|l| l.contains("spec.template.spec.containers[0].image"))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(
            line.contains("app/web.yaml:12:") && line.contains("Deployment/web"),
            "{line}"
        );
        assert!(
            line.contains(&format!("image '{image}' is not verified")) && line.contains(reason),
            "{line}"
        );
    }
    assert!(!by_other.is_empty());
}
