//! OCI sources that require a cosign signature (`spec.verify`, as Flux's
//! OCIRepository), through the pipeline against Debian's docker-registry:
//! signatures made by the independent signer in tests/support/cosign.rs,
//! key-based from a Secret's `*.pub` entry and keyless against a trusted
//! root from a ConfigMap. A fetch whose artifact is unsigned, signed by
//! another key or by another identity fails with the image and the reason,
//! and the last good artifact stays.

use sluice_oci::{Metadata, Options};
use sluice_pipeline::{ArtifactStore, Mode, Pipeline};
use sluice_tests::cosign::{KeyPair, Placement, Signature, TestCa};
use sluice_tests::host;
use sluice_tests::servers::registry::Registry;
use sluice_types::Objects;
use std::path::Path;

const ISSUER: &str = "https://token.actions.example";
const SUBJECT: &str = "https://git.example/org/app/.github/workflows/release.yaml@refs/heads/main";

/// Pushes a Flux artifact whose ConfigMap says `mode` to `apps/web:stable`.
async fn push(registry: &Registry, mode: &str) -> String {
    let files = [(
        "deploy/config.yaml",
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: {mode}\n"
        ),
    )];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let tree = sluice_tests::tree(&files);
    sluice_oci::Registry::new(Options {
        insecure: true,
        ..Options::default()
    })
    .push_artifact(
        &format!("{}:stable", registry.repository("apps/web")),
        tree.path(),
        &Metadata {
            source: "https://git.example/org/app".into(),
            revision: format!("main@sha1:{}", "0".repeat(40)),
            created: Some("2026-12-01T00:00:00Z".into()),
            annotations: Default::default(),
        },
    )
    .await
    .expect("push")
    .digest
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      {l}\n")).collect()
}

/// The Source, its Release and `extra` objects (Secret, ConfigMap).
fn definitions(registry: &Registry, verify: &str, extra: &str) -> String {
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {{name: app}}\nspec:\n  url: oci://{}\n  insecure: true\n  config: {{ref: {{tag: stable}}}}\n  verify:\n{verify}---\napiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: app}}\nspec:\n  sourceRef: {{name: app}}\n  path: ./deploy\n  renderer: {{plugin: plain}}\n{}",
        registry.repository("apps/web"),
        if extra.is_empty() {
            String::new()
        } else {
            format!("---\n{extra}")
        }
    )
}

/// Builds the release; its `mode`, or the error.
async fn build(text: &str, cache: &Path, store: &Path) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut objects = Objects::default();
    objects
        .parse_into(&dir.path().join("sluice.yaml"), text)
        .unwrap();
    let release = objects.releases().next().cloned().unwrap();
    let pipeline = Pipeline::with_store(host(cache), objects, ArtifactStore::open(store).unwrap());
    match pipeline.run(&release, Mode::Build).await {
        Ok(report) => Ok(report.manifests[0].object["data"]["mode"]
            .as_str()
            .unwrap()
            .to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn last_revision(store: &Path) -> String {
    ArtifactStore::open(store)
        .unwrap()
        .last("Source/default/app")
        .unwrap()
        .expect("a stored revision")
        .revision
}

#[tokio::test(flavor = "multi_thread")]
async fn oci_sources_require_a_valid_key_signature_and_keep_the_last_good_artifact() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let key = KeyPair::generate();
    let other = KeyPair::generate();
    let text = definitions(
        &registry,
        "    provider: cosign\n    secretRef: {name: cosign-key}\n",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: cosign-key}}\nstringData:\n  cosign.pub: |\n{}",
            indent(&key.public_key_pem())
        ),
    );

    let first = push(&registry, "first").await;
    sluice_tests::cosign::sign_image(&registry.host, "apps/web", &first, &key).await;
    assert_eq!(
        build(&text, cache.path(), store.path()).await.unwrap(),
        "first"
    );
    let good = last_revision(store.path());
    assert_eq!(good, format!("stable@{first}"));

    // The tag moves to an unsigned artifact: the fetch fails, naming the
    // image and why, and the signed one stays.
    let second = push(&registry, "second").await;
    let e = build(&text, cache.path(), store.path()).await.unwrap_err();
    let image = format!("{}@{second}", registry.repository("apps/web"));
    assert!(e.contains("Source 'app'"), "{e}");
    assert!(e.contains(&image) && e.contains("is not signed"), "{e}");
    assert!(
        e.contains("spec.verify requires a valid cosign signature"),
        "{e}"
    );
    assert_eq!(last_revision(store.path()), good);

    // Signed, but by another key.
    sluice_tests::cosign::sign_image(&registry.host, "apps/web", &second, &other).await;
    let e = build(&text, cache.path(), store.path()).await.unwrap_err();
    assert!(
        e.contains(&image) && e.contains("not signed by key SHA256:"),
        "{e}"
    );
    assert_eq!(last_revision(store.path()), good);

    // Signed by the key, as a referrer: used.
    let s = Signature::by_key(&registry.repository("apps/web"), &second, &key, &[]);
    sluice_tests::cosign::push_signatures(
        &registry.host,
        "apps/web",
        &second,
        &[s],
        Placement::Referrer,
    )
    .await;
    assert_eq!(
        build(&text, cache.path(), store.path()).await.unwrap(),
        "second"
    );
    assert_eq!(last_revision(store.path()), format!("stable@{second}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn oci_sources_verify_keyless_identities_against_the_named_trusted_root() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let trusted_root = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: sigstore}}\ndata:\n  trusted_root.json: |\n{}",
        indent(&ca.trusted_root_json())
    );
    let verify = |subject: &str| {
        format!(
            "    provider: cosign\n    matchOIDCIdentity:\n      - issuer: 'https://token\\.actions\\.example'\n        subject: '{subject}'\n    trustedRootRef: {{name: sigstore}}\n"
        )
    };
    let digest = push(&registry, "keyless").await;
    sluice_tests::cosign::sign_image_keyless(
        &registry.host,
        "apps/web",
        &digest,
        SUBJECT,
        ISSUER,
        &ca,
    )
    .await;

    let text = definitions(
        &registry,
        &verify("https://git\\.example/org/app/.*"),
        &trusted_root,
    );
    assert_eq!(
        build(&text, cache.path(), store.path()).await.unwrap(),
        "keyless"
    );

    let text = definitions(
        &registry,
        &verify("https://git\\.example/org/other/.*"),
        &trusted_root,
    );
    let e = build(&text, cache.path(), store.path()).await.unwrap_err();
    assert!(
        e.contains(&digest)
            && e.contains(&format!("certificate subject '{SUBJECT}' does not match")),
        "{e}"
    );

    // Keyless without a trusted root is refused before anything is fetched.
    let text = definitions(
        &registry,
        "    provider: cosign\n    matchOIDCIdentity: [{issuer: '.*', subject: '.*'}]\n",
        "",
    );
    let e = build(&text, cache.path(), store.path()).await.unwrap_err();
    assert!(
        e.contains("spec.verify") && e.contains("needs trustedRootRef"),
        "{e}"
    );

    // A trusted root that does not parse names the ConfigMap.
    let text = definitions(
        &registry,
        &verify(".*"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sigstore}\ndata:\n  trusted_root.json: '{'\n",
    );
    let e = build(&text, cache.path(), store.path()).await.unwrap_err();
    assert!(
        e.contains("ConfigMap 'sigstore' trusted_root.json")
            && e.contains("not a Sigstore trusted_root.json"),
        "{e}"
    );
}
