//! The built-in `verify-images` policy through the pipeline, as `sluice
//! check` and `sluice build` run it, against Debian's docker-registry with
//! signatures made by the independent signer in tests/support/cosign.rs:
//! a key-signed image passes; an unsigned image, one signed by another key,
//! one signed keyless by another identity and one on an unreachable
//! registry each deny the release at the image's file and line, with the
//! image and the reason; `mutateDigest` pins in build output; a Kyverno
//! ClusterPolicy works as the config.

use serde_json::{Value, json};
use sluice_pipeline::{Mode, Pipeline};
use sluice_tests::cosign::{KeyPair, TestCa, push_image, sign_image, sign_image_keyless};
use sluice_tests::servers::registry::{Registry, free_port};
use sluice_tests::{host, tree};
use sluice_types::{Diagnostic, Objects, ReleaseReport, Severity, Verdict};

const ISSUER: &str = "https://token.actions.example";
const SUBJECT: &str = "https://git.example/org/app/.github/workflows/release.yaml@refs/heads/main";

/// A Deployment whose containers run `images`, one per line from line 12.
fn deployment(images: &[String]) -> String {
    let mut text = String::from(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n",
    );
    for (i, image) in images.iter().enumerate() {
        text.push_str(&format!("        - {{name: c{i}, image: '{image}'}}\n"));
    }
    text
}

/// Source, Release (one `verify-images` policy with `config`) and `extra`.
fn definitions(config: &Value, extra: &str) -> String {
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {{name: app}}\nspec:\n  url: file://./app\n---\napiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: web}}\nspec:\n  sourceRef: {{name: app}}\n  path: ./deploy\n  renderer: {{plugin: plain}}\n  policies:\n    - name: signed-images\n      plugin: verify-images\n      failureAction: Enforce\n      trustedRootRef: {{name: sigstore}}\n      config: {config}\n{extra}"
    )
}

/// The trusted root ConfigMap of `ca`.
fn trusted_root(ca: &TestCa) -> String {
    let indented: String = ca
        .trusted_root_json()
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: sigstore}}\ndata:\n  trusted_root.json: |\n{indented}"
    )
}

async fn run(images: &[String], config: &Value, ca: &TestCa, mode: Mode) -> ReleaseReport {
    let dir = tree(&[("app/deploy/web.yaml", &deployment(images))]);
    let cache = tempfile::tempdir().unwrap();
    let mut objects = Objects::default();
    objects
        .parse_into(
            &dir.path().join("sluice.yaml"),
            &definitions(config, &trusted_root(ca)),
        )
        .unwrap();
    let release = objects.releases().next().unwrap().clone();
    Pipeline::new(host(cache.path()), objects)
        .run(&release, mode)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn key_rules(registry: &str, key: &KeyPair, mutate: bool) -> Value {
    json!({"rules": [{
        "images": [format!("{registry}/*")],
        "authorities": [{"key": key.public_key_pem()}],
        "mutateDigest": mutate,
    }]})
}

/// The finding about container `i`, which must be the only one there.
fn at(diagnostics: &[Diagnostic], i: usize) -> &Diagnostic {
    let field = format!("spec.template.spec.containers[{i}].image");
    let found: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.field_path.as_deref() == Some(&field))
        .collect();
    assert_eq!(found.len(), 1, "{field}: {diagnostics:#?}");
    let d = found[0];
    let location = d.location.as_ref().expect("located");
    assert!(location.file.ends_with("app/deploy/web.yaml"), "{location}");
    assert_eq!(
        location.line as usize,
        12 + i,
        "the image's line: {location}"
    );
    let r = d.resource.as_ref().expect("names the object");
    assert_eq!((r.kind.as_str(), r.name.as_str()), ("Deployment", "web"));
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_wrongly_signed_and_unreachable_images_deny_at_their_lines() {
    let registry = Registry::start();
    let reg = registry.host.clone();
    let key = KeyPair::generate();
    let other = KeyPair::generate();
    let ca = TestCa::new();
    let signed = push_image(&reg, "apps/signed", "v1", "signed").await;
    sign_image(&reg, "apps/signed", &signed, &key).await;
    push_image(&reg, "apps/unsigned", "v1", "unsigned").await;
    let by_other = push_image(&reg, "apps/other", "v1", "other").await;
    sign_image(&reg, "apps/other", &by_other, &other).await;
    // Nothing listens there.
    let unreachable = format!("127.0.0.1:{}", free_port());

    let images = [
        format!("{reg}/apps/signed:v1"),
        format!("{reg}/apps/unsigned:v1"),
        format!("{reg}/apps/other:v1"),
        format!("{unreachable}/apps/app:v1"),
    ];
    let config = json!({"rules": [{
        "images": [format!("{reg}/*"), format!("{unreachable}/*")],
        "authorities": [{"key": key.public_key_pem()}],
    }]});
    let report = run(&images, &config, &ca, Mode::Check).await;
    let [policy] = &report.policies[..] else {
        panic!("{:?}", report.policies)
    };
    assert_eq!(policy.verdict, Verdict::Deny);
    assert!(report.blocked(), "an Enforce denial blocks the release");
    let d = &policy.diagnostics;

    let ok = at(d, 0);
    assert_eq!(ok.severity, Severity::Info);
    assert_eq!(ok.code.as_deref(), Some("verified"));
    assert!(ok.message.contains(&signed), "{}", ok.message);

    for (i, code) in [
        (1, "signature-missing"),
        (2, "verification-failed"),
        (3, "verification-failed"),
    ] {
        let f = at(d, i);
        assert_eq!(f.severity, Severity::Error, "{f:?}");
        assert_eq!(f.code.as_deref(), Some(code), "{}", f.message);
        assert!(
            f.message.contains(&format!(
                "image '{}' is not verified by rule 'rules[0]'",
                images[i]
            )),
            "{}",
            f.message
        );
    }
    // The host's reasons: no signature, whose key it is, which registry.
    assert!(
        at(d, 1).message.contains("is not signed"),
        "{}",
        at(d, 1).message
    );
    assert!(
        at(d, 2).message.contains("not signed by key SHA256:"),
        "{}",
        at(d, 2).message
    );
    assert!(
        at(d, 3).message.contains(&format!(
            "cannot reach the registry at http://{unreachable}/"
        )),
        "{}",
        at(d, 3).message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keyless_identities_are_checked_against_the_trusted_root() {
    let registry = Registry::start();
    let reg = registry.host.clone();
    let ca = TestCa::new();
    let digest = push_image(&reg, "apps/web", "v1", "keyless").await;
    sign_image_keyless(&reg, "apps/web", &digest, SUBJECT, ISSUER, &ca).await;
    let images = [format!("{reg}/apps/web:v1")];
    let rules = |identity: Value| json!({"rules": [{"images": ["*"], "authorities": [{"keyless": identity}]}]});

    let report = run(
        &images,
        &rules(json!({"issuer": ISSUER, "subjectRegExp": "https://git\\.example/org/app/.*"})),
        &ca,
        Mode::Check,
    )
    .await;
    assert_eq!(
        report.policies[0].verdict,
        Verdict::Allow,
        "{:#?}",
        report.policies
    );
    assert!(
        at(&report.policies[0].diagnostics, 0)
            .message
            .contains(SUBJECT)
    );

    let report = run(
        &images,
        &rules(json!({"issuer": ISSUER, "subject": "https://git.example/org/other/.github/workflows/release.yaml@refs/heads/main"})),
        &ca,
        Mode::Check,
    )
    .await;
    assert_eq!(report.policies[0].verdict, Verdict::Deny);
    let f = at(&report.policies[0].diagnostics, 0);
    assert_eq!(
        f.code.as_deref(),
        Some("verification-failed"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains(SUBJECT),
        "names the signer it found: {}",
        f.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn build_output_pins_verified_images_to_their_digest() {
    let registry = Registry::start();
    let reg = registry.host.clone();
    let key = KeyPair::generate();
    let ca = TestCa::new();
    let digest = push_image(&reg, "apps/web", "v1", "pinned").await;
    sign_image(&reg, "apps/web", &digest, &key).await;
    let images = [format!("{reg}/apps/web:v1")];

    let report = run(&images, &key_rules(&reg, &key, true), &ca, Mode::Build).await;
    let image = &report.manifests[0].object["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, &json!(format!("{reg}/apps/web:v1@{digest}")));

    let report = run(&images, &key_rules(&reg, &key, false), &ca, Mode::Build).await;
    let image = &report.manifests[0].object["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, &json!(images[0]), "no pinning unless asked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kyverno_cluster_policy_is_accepted_as_the_config() {
    let registry = Registry::start();
    let reg = registry.host.clone();
    let key = KeyPair::generate();
    let ca = TestCa::new();
    let signed = push_image(&reg, "apps/signed", "v1", "signed").await;
    sign_image(&reg, "apps/signed", &signed, &key).await;
    push_image(&reg, "apps/unsigned", "v1", "unsigned").await;
    let policy = json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "check-image"},
        "spec": {
            "validationFailureAction": "Enforce",
            "rules": [{
                "name": "verify-signature",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "verifyImages": [{
                    "imageReferences": [format!("{reg}/*")],
                    "attestors": [{"count": 1, "entries": [{"keys": {
                        "publicKeys": key.public_key_pem(),
                        "rekor": {"url": "https://rekor.sigstore.dev"},
                    }}]}],
                }],
            }],
        },
    });

    // Signed: allowed, and pinned by Kyverno's default mutateDigest.
    let images = [format!("{reg}/apps/signed:v1")];
    let report = run(&images, &policy, &ca, Mode::Check).await;
    let outcome = &report.policies[0];
    assert_eq!(
        outcome.verdict,
        Verdict::Allow,
        "{:#?}",
        outcome.diagnostics
    );
    assert!(
        outcome
            .diagnostics
            .iter()
            .any(|d| d.code.as_deref() == Some("offline")
                && d.message
                    .contains("rekor (https://rekor.sigstore.dev) not contacted")),
        "{:#?}",
        outcome.diagnostics
    );
    let image = &report.manifests[0].object["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, &json!(format!("{reg}/apps/signed:v1@{signed}")));

    // Unsigned: the Pod rule covers the Deployment and denies it.
    let images = [format!("{reg}/apps/unsigned:v1")];
    let report = run(&images, &policy, &ca, Mode::Check).await;
    assert!(report.blocked());
    let f = at(&report.policies[0].diagnostics, 0);
    assert_eq!(
        f.code.as_deref(),
        Some("signature-missing"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("rule 'check-image/verify-signature'"),
        "{}",
        f.message
    );
}
