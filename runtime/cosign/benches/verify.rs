//! Verification latency against Debian's docker-registry on loopback:
//! cold (a fresh cache: manifest, `.sig` tag, referrers, payload blob and
//! the crypto) and cached (a digest reference answered from the cache),
//! key-based and keyless. `cargo bench -p sluice-cosign --bench verify`;
//! figures in benches/README.md.

#[path = "../../../tests/support/servers/registry.rs"]
#[allow(dead_code)]
mod registry;
#[path = "../../../tests/support/cosign.rs"]
#[allow(dead_code)]
mod signer;

use sluice_cosign::{Authority, Cache, Identity, Request, TrustedRoot};
use std::time::{Duration, Instant};

const ROUNDS: usize = 50;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(
    registry: &sluice_oci::Registry,
    root: Option<&TrustedRoot>,
    request: &Request,
    fresh_cache: bool,
) -> Duration {
    let shared = Cache::default();
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let own = Cache::default();
        let cache = if fresh_cache { &own } else { &shared };
        let t = Instant::now();
        sluice_cosign::verify(registry, root, cache, request)
            .await
            .expect("verifies");
        times.push(t.elapsed());
    }
    if !fresh_cache {
        times.remove(0);
    }
    median(times)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let reg = registry::Registry::start();
    let client = sluice_oci::Registry::new(sluice_oci::Options {
        insecure: true,
        ..Default::default()
    });
    let key = signer::KeyPair::generate();
    let ca = signer::TestCa::new();
    let root = TrustedRoot::from_json(ca.trusted_root_json().as_bytes()).unwrap();
    let keyed = signer::push_image(&reg.host, "bench/keyed", "v1", "k").await;
    signer::sign_image(&reg.host, "bench/keyed", &keyed, &key).await;
    let keyless = signer::push_image(&reg.host, "bench/keyless", "v1", "l").await;
    let subject = "https://git.example/org/app/.github/workflows/release.yaml@refs/heads/main";
    let issuer = "https://token.actions.example";
    signer::sign_image_keyless(&reg.host, "bench/keyless", &keyless, subject, issuer, &ca).await;

    let by_key = Request {
        image: format!("{}@{keyed}", reg.repository("bench/keyed")),
        authorities: vec![Authority::PublicKey(key.public_key_pem())],
        annotations: Vec::new(),
    };
    let by_identity = Request {
        image: format!("{}@{keyless}", reg.repository("bench/keyless")),
        authorities: vec![Authority::Keyless(Identity {
            issuer: issuer.into(),
            subject: "regexp:https://git\\.example/org/.*".into(),
        })],
        annotations: Vec::new(),
    };
    let by_tag = Request {
        image: reg.repository("bench/keyed:v1"),
        ..by_key.clone()
    };
    println!("cosign verification, median of {ROUNDS}");
    for (name, root, request) in [
        ("key, digest ref", None, &by_key),
        ("keyless, digest ref", Some(&root), &by_identity),
        ("key, tag ref", None, &by_tag),
    ] {
        let cold = measure(&client, root, request, true).await;
        let cached = measure(&client, root, request, false).await;
        println!("{name:<22} cold {cold:>10.2?}   cached {cached:>10.2?}");
    }
}
