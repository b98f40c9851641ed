//! sluice-cosign against Debian's docker-registry (Distribution 2.8, which
//! has no referrers API: referrers are found through the tag schema), with
//! signatures made by the independent signer in tests/support/cosign.rs.

#[path = "../../../tests/support/servers/registry.rs"]
#[allow(dead_code)]
mod registry;
#[path = "../../../tests/support/cosign.rs"]
#[allow(dead_code)]
mod signer;

use registry::Registry;
use signer::{KeyPair, Placement, Signature, TestCa};
use sluice_cosign::{Authority, Cache, Error, Identity, Request, TrustedRoot, Verified};
use sluice_oci::Options;
use std::time::Duration;

const ISSUER: &str = "https://token.actions.example";
const SUBJECT: &str = "https://git.example/org/app/.github/workflows/release.yaml@refs/heads/main";

fn client() -> sluice_oci::Registry {
    sluice_oci::Registry::new(Options {
        insecure: true,
        timeout: Duration::from_secs(5),
        ..Options::default()
    })
}

fn key(k: &KeyPair) -> Authority {
    Authority::PublicKey(k.public_key_pem())
}

fn keyless(issuer: &str, subject: &str) -> Authority {
    Authority::Keyless(Identity {
        issuer: issuer.into(),
        subject: subject.into(),
    })
}

fn request(image: &str, authorities: Vec<Authority>) -> Request {
    Request {
        image: image.into(),
        authorities,
        annotations: Vec::new(),
    }
}

async fn verify(root: Option<&TrustedRoot>, r: &Request) -> Result<Verified, Error> {
    sluice_cosign::verify(&client(), root, &Cache::default(), r).await
}

fn root(ca: &TestCa) -> TrustedRoot {
    TrustedRoot::from_json(ca.trusted_root_json().as_bytes()).expect("the test trusted root loads")
}

#[tokio::test]
async fn key_signatures_verify_from_the_sig_tag_and_from_referrers() {
    let reg = Registry::start();
    let k = KeyPair::generate();
    let tagged = signer::push_image(&reg.host, "apps/web", "v1", "one").await;
    signer::sign_image(&reg.host, "apps/web", &tagged, &k).await;
    let v = verify(
        None,
        &request(&reg.repository("apps/web:v1"), vec![key(&k)]),
    )
    .await
    .expect("signed at the .sig tag");
    assert_eq!(v.digest, tagged);
    assert!(v.identity.starts_with("key SHA256:"), "{}", v.identity);

    let referred = signer::push_image(&reg.host, "apps/api", "v1", "two").await;
    let s = Signature::by_key(&reg.repository("apps/api"), &referred, &k, &[]);
    signer::push_signatures(&reg.host, "apps/api", &referred, &[s], Placement::Referrer).await;
    let image = format!("{}@{referred}", reg.repository("apps/api"));
    let v = verify(None, &request(&image, vec![key(&k)]))
        .await
        .expect("signed as a referrer");
    assert_eq!(v.digest, referred);
}

#[tokio::test]
async fn bad_key_signatures_are_refused_with_the_image_and_the_reason() {
    let reg = Registry::start();
    let k = KeyPair::generate();
    let other = KeyPair::generate();
    let repo = reg.repository("apps/web");

    // No signature at all.
    let unsigned = signer::push_image(&reg.host, "apps/web", "unsigned", "u").await;
    let image = format!("{repo}:unsigned");
    let e = verify(None, &request(&image, vec![key(&k)]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unsigned { .. }), "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains(&image) && shown.contains(&format!("{}.sig", unsigned.replace(':', "-"))),
        "{shown}"
    );

    // Signed by another key.
    let d = signer::push_image(&reg.host, "apps/web", "other", "o").await;
    signer::sign_image(&reg.host, "apps/web", &d, &other).await;
    let image = format!("{repo}:other");
    let e = verify(None, &request(&image, vec![key(&k)]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Rejected { .. }), "{e}");
    assert!(
        e.to_string().contains(&image) && e.to_string().contains("not signed by key SHA256:"),
        "{e}"
    );

    // A payload changed after signing.
    let d = signer::push_image(&reg.host, "apps/web", "tampered", "t").await;
    let mut s = Signature::by_key(&repo, &d, &k, &[]);
    s.payload = signer::payload(&repo, &d, &[("tampered", "yes")]);
    signer::push_signatures(&reg.host, "apps/web", &d, &[s], Placement::Tag).await;
    let e = verify(None, &request(&format!("{repo}:tampered"), vec![key(&k)]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not signed by key"), "{e}");

    // A valid signature of another digest, copied to this image's tag.
    let d = signer::push_image(&reg.host, "apps/web", "copied", "c").await;
    let s = Signature::by_key(&repo, &unsigned, &k, &[]);
    signer::push_signatures(&reg.host, "apps/web", &d, &[s], Placement::Tag).await;
    let e = verify(None, &request(&format!("{repo}:copied"), vec![key(&k)]))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "the payload is for {unsigned}, not this image's digest {d}"
        )),
        "{e}"
    );

    // A key that is no key: refused before any request.
    let e = verify(
        None,
        &request(
            &format!("{repo}:copied"),
            vec![Authority::PublicKey("nope".into())],
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::Invalid { .. }) && e.to_string().contains("not a PEM public key"),
        "{e}"
    );
}

#[tokio::test]
async fn annotations_must_be_in_the_signed_payload() {
    let reg = Registry::start();
    let k = KeyPair::generate();
    let repo = reg.repository("apps/web");
    let d = signer::push_image(&reg.host, "apps/web", "v1", "a").await;
    let s = Signature::by_key(&repo, &d, &k, &[("env", "prod"), ("team", "web")]);
    signer::push_signatures(&reg.host, "apps/web", &d, &[s], Placement::Tag).await;
    let mut r = request(&format!("{repo}:v1"), vec![key(&k)]);
    r.annotations = vec![("env".into(), "prod".into())];
    verify(None, &r).await.expect("the annotation is signed");
    r.annotations = vec![("env".into(), "dev".into())];
    let e = verify(None, &r).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("annotation env is 'prod', not 'dev'"),
        "{e}"
    );
    r.annotations = vec![("owner".into(), "me".into())];
    let e = verify(None, &r).await.unwrap_err();
    assert!(e.to_string().contains("no annotation owner"), "{e}");
}

#[tokio::test]
async fn keyless_signatures_match_the_identity_exactly_or_by_regexp() {
    let reg = Registry::start();
    let ca = TestCa::new();
    let trusted = root(&ca);
    let d = signer::push_image(&reg.host, "apps/web", "v1", "k").await;
    signer::sign_image_keyless(&reg.host, "apps/web", &d, SUBJECT, ISSUER, &ca).await;
    let image = reg.repository("apps/web:v1");

    let v = verify(
        Some(&trusted),
        &request(&image, vec![keyless(ISSUER, SUBJECT)]),
    )
    .await
    .expect("exact identity");
    assert_eq!(v.identity, format!("{SUBJECT} (issuer {ISSUER})"));
    verify(
        Some(&trusted),
        &request(
            &image,
            vec![keyless(
                ISSUER,
                r"regexp:https://git\.example/org/.*@refs/heads/main",
            )],
        ),
    )
    .await
    .expect("regexp identity");

    // Wrong subject, wrong issuer, and a regexp that only matches a part.
    for (issuer, subject, why) in [
        (
            ISSUER,
            "https://git.example/org/other",
            "certificate subject",
        ),
        ("https://accounts.example", SUBJECT, "certificate issuer"),
        (ISSUER, "regexp:git\\.example/org", "certificate subject"),
    ] {
        let e = verify(
            Some(&trusted),
            &request(&image, vec![keyless(issuer, subject)]),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Rejected { .. }), "{e}");
        assert!(
            e.to_string().contains(&image) && e.to_string().contains(why),
            "{e}"
        );
    }

    // An email identity.
    let d = signer::push_image(&reg.host, "apps/mail", "v1", "m").await;
    signer::sign_image_keyless(&reg.host, "apps/mail", &d, "dev@example.org", ISSUER, &ca).await;
    verify(
        Some(&trusted),
        &request(
            &reg.repository("apps/mail:v1"),
            vec![keyless(ISSUER, "dev@example.org")],
        ),
    )
    .await
    .expect("email SAN");

    // Keyless without a trusted root is refused before any request.
    let e = verify(None, &request(&image, vec![keyless(ISSUER, SUBJECT)]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("trustedRootRef"), "{e}");
}

#[tokio::test]
async fn keyless_signatures_need_a_trusted_ca_and_a_valid_rekor_bundle() {
    let reg = Registry::start();
    let ca = TestCa::new();
    let stranger = TestCa::new();
    let trusted = root(&ca);
    let repo = reg.repository("apps/web");
    let r = |tag: &str| request(&format!("{repo}:{tag}"), vec![keyless(ISSUER, SUBJECT)]);

    // Certified by a CA the trusted root does not list (its own Rekor too).
    let d = signer::push_image(&reg.host, "apps/web", "stranger", "s").await;
    signer::sign_image_keyless(&reg.host, "apps/web", &d, SUBJECT, ISSUER, &stranger).await;
    let e = verify(Some(&trusted), &r("stranger")).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("which the trusted root does not list"),
        "{e}"
    );

    // Certified by a stranger CA but logged by the trusted Rekor.
    let d = signer::push_image(&reg.host, "apps/web", "chain", "c").await;
    let mut s = Signature::keyless(&repo, &d, SUBJECT, ISSUER, &stranger, &[]);
    s.bundle = Some(ca.bundle(
        &s.payload,
        &s.signature,
        s.certificate.as_deref().unwrap(),
        now() - 30,
    ));
    signer::push_signatures(&reg.host, "apps/web", &d, &[s], Placement::Tag).await;
    let e = verify(Some(&trusted), &r("chain")).await.unwrap_err();
    // Same names as the trusted CA, other keys: the signature on it fails.
    assert!(
        e.to_string().contains("does not chain to a Fulcio CA")
            && e.to_string().contains("InvalidSignatureForPublicKey"),
        "{e}"
    );

    // Logged after the ten-minute certificate expired.
    let d = signer::push_image(&reg.host, "apps/web", "late", "l").await;
    let mut s = Signature::keyless(&repo, &d, SUBJECT, ISSUER, &ca, &[]);
    s.bundle = Some(ca.bundle(
        &s.payload,
        &s.signature,
        s.certificate.as_deref().unwrap(),
        now() + 3600,
    ));
    signer::push_signatures(&reg.host, "apps/web", &d, &[s], Placement::Tag).await;
    let e = verify(Some(&trusted), &r("late")).await.unwrap_err();
    assert!(
        e.to_string().contains("at the logged time") && e.to_string().contains("CertExpired"),
        "{e}"
    );

    // A SET that does not cover the entry (the time changed after signing).
    let d = signer::push_image(&reg.host, "apps/web", "set", "t").await;
    let mut s = Signature::keyless(&repo, &d, SUBJECT, ISSUER, &ca, &[]);
    let mut bundle: serde_json::Value = serde_json::from_str(s.bundle.as_deref().unwrap()).unwrap();
    bundle["Payload"]["integratedTime"] = (now() as i64 - 10).into();
    s.bundle = Some(bundle.to_string());
    signer::push_signatures(&reg.host, "apps/web", &d, &[s], Placement::Tag).await;
    let e = verify(Some(&trusted), &r("set")).await.unwrap_err();
    assert!(e.to_string().contains("SET does not verify"), "{e}");

    // No bundle at all.
    let d = signer::push_image(&reg.host, "apps/web", "nobundle", "n").await;
    let mut s = Signature::keyless(&repo, &d, SUBJECT, ISSUER, &ca, &[]);
    s.bundle = None;
    signer::push_signatures(&reg.host, "apps/web", &d, &[s], Placement::Tag).await;
    let e = verify(Some(&trusted), &r("nobundle")).await.unwrap_err();
    assert!(e.to_string().contains("no Rekor bundle"), "{e}");

    // A bundle logging another signature.
    let d = signer::push_image(&reg.host, "apps/web", "swapped", "w").await;
    let first = Signature::keyless(&repo, &d, SUBJECT, ISSUER, &ca, &[]);
    let mut second = Signature::keyless(&repo, &d, SUBJECT, ISSUER, &ca, &[]);
    second.bundle = first.bundle.clone();
    signer::push_signatures(&reg.host, "apps/web", &d, &[second], Placement::Tag).await;
    let e = verify(Some(&trusted), &r("swapped")).await.unwrap_err();
    assert!(e.to_string().contains("for another signature"), "{e}");
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn an_unreachable_registry_fails_with_the_image() {
    let k = KeyPair::generate();
    let port = registry::free_port();
    let image = format!("127.0.0.1:{port}/apps/web:v1");
    let e = verify(None, &request(&image, vec![key(&k)]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Registry { .. }), "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains(&image) && shown.contains("cannot reach the registry"),
        "{shown}"
    );
}

#[tokio::test]
async fn results_are_cached_by_digest_until_the_ttl() {
    let reg = Registry::start();
    let k = KeyPair::generate();
    let d = signer::push_image(&reg.host, "apps/web", "v1", "c").await;
    signer::sign_image(&reg.host, "apps/web", &d, &k).await;
    let image = format!("{}@{d}", reg.repository("apps/web"));
    let cache = Cache::new(Duration::from_millis(400), 16);
    let r = request(&image, vec![key(&k)]);
    let first = sluice_cosign::verify(&client(), None, &cache, &r)
        .await
        .expect("cold");
    drop(reg);
    // The registry is gone: only the cache can answer.
    let second = sluice_cosign::verify(&client(), None, &cache, &r)
        .await
        .expect("cached");
    assert_eq!(first, second);
    // Another authority is another question.
    let other = request(&image, vec![key(&KeyPair::generate())]);
    assert!(
        sluice_cosign::verify(&client(), None, &cache, &other)
            .await
            .is_err()
    );
    std::thread::sleep(Duration::from_millis(500));
    let e = sluice_cosign::verify(&client(), None, &cache, &r)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("cannot reach the registry"),
        "expired: {e}"
    );
}

#[test]
fn trusted_roots_name_their_bad_entries() {
    let e = TrustedRoot::from_json(b"{").unwrap_err();
    assert!(e.contains("not a Sigstore trusted_root.json"), "{e}");
    let e =
        TrustedRoot::from_json(br#"{"tlogs":[{"publicKey":{"rawBytes":"AAAA"}}]}"#).unwrap_err();
    assert!(e.contains("tlogs[0]: unusable public key"), "{e}");
    let e = TrustedRoot::from_json(
        br#"{"certificateAuthorities":[{"certChain":{"certificates":[]}}]}"#,
    )
    .unwrap_err();
    assert!(
        e.contains("certificateAuthorities[0]: certChain has no certificates"),
        "{e}"
    );
}
