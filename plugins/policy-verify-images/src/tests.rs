//! Discovery, matching, both config forms, findings and pinning, against a
//! verifier that holds signatures in memory and answers as the host's
//! `cosign` capability does (the real one is exercised in tests/e2e).

use super::*;
use crate::verify::{Authority, CallError, Request, Verified};
use serde_json::json;
use std::collections::HashMap;

const KEY_A: &str = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
const KEY_B: &str = "-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----\n";
const ISSUER: &str = "https://issuer.example";

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

enum Signer {
    Key(&'static str),
    Keyless(&'static str),
}

struct Signature {
    by: Signer,
    annotations: Vec<(&'static str, &'static str)>,
}

/// Images by normalised reference, each with its digest and signatures.
#[derive(Default)]
struct Registry {
    images: HashMap<String, (String, Vec<Signature>)>,
    requests: Vec<Request>,
}

impl Registry {
    fn push(&mut self, image: &str, n: u8, signatures: Vec<Signature>) {
        self.images
            .insert(image.to_owned(), (digest(n), signatures));
    }
}

fn by(signer: Signer) -> Signature {
    Signature {
        by: signer,
        annotations: Vec::new(),
    }
}

fn identity_matches(wanted: &str, actual: &str) -> bool {
    match wanted.strip_prefix("regexp:") {
        Some(re) => regex::Regex::new(&format!("^(?:{re})$"))
            .unwrap()
            .is_match(actual),
        None => wanted == actual,
    }
}

impl Verifier for Registry {
    fn verify(&mut self, request: &Request) -> Result<Verified, CallError> {
        self.requests.push(request.clone());
        if request.image.starts_with("unreachable.example/") {
            return Err(CallError::Failed(
                "registry unreachable.example: connection refused".into(),
            ));
        }
        if request.image.starts_with("ungranted.example/") {
            return Err(CallError::Denied(
                "registry 'ungranted.example' is not granted".into(),
            ));
        }
        let Some((digest, signatures)) = self.images.get(&request.image) else {
            return Err(CallError::NotFound(format!("no image {}", request.image)));
        };
        if signatures.is_empty() {
            return Err(CallError::NotFound("no signatures".into()));
        }
        for s in signatures {
            let annotated = request
                .annotations
                .iter()
                .all(|(k, v)| s.annotations.contains(&(k.as_str(), v.as_str())));
            for a in &request.authorities {
                let identity = match (a, &s.by) {
                    (Authority::PublicKey(k), Signer::Key(key)) if k == key => {
                        format!("key {}", &key[27..31])
                    }
                    (Authority::Keyless { issuer, subject }, Signer::Keyless(who))
                        if identity_matches(issuer, ISSUER) && identity_matches(subject, who) =>
                    {
                        format!("{who} (issuer {ISSUER})")
                    }
                    _ => continue,
                };
                if annotated {
                    return Ok(Verified {
                        digest: digest.clone(),
                        identity,
                    });
                }
            }
        }
        Err(CallError::Failed(
            "no signature is by an accepted authority".into(),
        ))
    }
}

fn pod(name: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "apps"},
           "spec": {"containers": containers}})
}

fn deployment(name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "apps"},
           "spec": {"replicas": 2, "template": {"spec": {
               "initContainers": [{"name": "init", "image": image}],
               "containers": [{"name": "app", "image": image, "ports": [{"containerPort": 80}]}]}}}})
}

fn native(rule: Value) -> String {
    json!({ "rules": [rule] }).to_string()
}

fn key_rule(images: &str) -> Value {
    json!({"images": [images], "authorities": [{"key": KEY_A}]})
}

fn codes(o: &Outcome) -> Vec<(Level, Option<usize>, Option<&str>, &str)> {
    o.findings
        .iter()
        .map(|f| (f.level, f.resource, f.field.as_deref(), f.code))
        .collect()
}

#[test]
fn signed_images_pass_and_unsigned_ones_are_denied_where_they_are() {
    let mut reg = Registry::default();
    reg.push("reg.example/signed:v1", 1, vec![by(Signer::Key(KEY_A))]);
    reg.push("reg.example/unsigned:v1", 2, vec![]);
    reg.push("reg.example/other-key:v1", 3, vec![by(Signer::Key(KEY_B))]);
    let objects = [pod(
        "web",
        &[
            "reg.example/signed:v1",
            "reg.example/unsigned:v1",
            "reg.example/other-key:v1",
            "unreachable.example/app:v1",
            "elsewhere.example/app:v1",
        ],
    )];
    let out = evaluate(&native(key_rule("*.example/*")), &objects, &mut reg).unwrap();
    assert_eq!(
        codes(&out),
        [
            (
                Level::Info,
                Some(0),
                Some("spec.containers[0].image"),
                "verified"
            ),
            (
                Level::Error,
                Some(0),
                Some("spec.containers[1].image"),
                "signature-missing"
            ),
            (
                Level::Error,
                Some(0),
                Some("spec.containers[2].image"),
                "verification-failed"
            ),
            (
                Level::Error,
                Some(0),
                Some("spec.containers[3].image"),
                "verification-failed"
            ),
            (
                Level::Error,
                Some(0),
                Some("spec.containers[4].image"),
                "signature-missing"
            ),
        ]
    );
    assert_eq!(
        out.findings[0].message,
        format!(
            "container 'c0' image 'reg.example/signed:v1' verified by rule 'rules[0]': signed by key AAAA, digest {}",
            digest(1)
        )
    );
    let m = &out.findings[2].message;
    assert!(
        m.starts_with("container 'c2' image 'reg.example/other-key:v1' is not verified by rule 'rules[0]': rules[0].authorities[0].key: no signature is by an accepted authority; a valid signature by one of the rule's authorities is needed"),
        "{m}"
    );
    assert!(out.findings[3].message.contains("connection refused"));
    assert!(out.mutated.is_none(), "nothing pinned without mutateDigest");
}

#[test]
fn keyless_identities_exact_and_by_pattern() {
    let mut reg = Registry::default();
    reg.push(
        "reg.example/app:v1",
        1,
        vec![by(Signer::Keyless(
            "https://ci.example/org/app/release.yml@refs/tags/v1",
        ))],
    );
    let objects = [pod("web", &["reg.example/app:v1"])];
    let rule =
        |id: Value| native(json!({"images": ["reg.example/*"], "authorities": [{"keyless": id}]}));
    let exact = rule(
        json!({"issuer": ISSUER, "subject": "https://ci.example/org/app/release.yml@refs/tags/v1"}),
    );
    let pattern = rule(
        json!({"issuer": ISSUER, "subjectRegExp": "https://ci\\.example/org/.*@refs/tags/v[0-9]+"}),
    );
    let wrong = rule(json!({"issuer": ISSUER, "subject": "someone@example.com"}));
    let wrong_issuer = rule(
        json!({"issuer": "https://other.example", "subject": "https://ci.example/org/app/release.yml@refs/tags/v1"}),
    );
    for (config, code) in [
        (exact, "verified"),
        (pattern, "verified"),
        (wrong, "verification-failed"),
        (wrong_issuer, "verification-failed"),
    ] {
        let out = evaluate(&config, &objects, &mut reg).unwrap();
        assert_eq!(out.findings[0].code, code, "{config}: {:?}", out.findings);
    }
    let out = evaluate(
        &rule(json!({"issuer": ISSUER, "subject": "x@example.com"})),
        &objects,
        &mut reg,
    )
    .unwrap();
    assert!(
        out.findings[0]
            .message
            .contains("rules[0].authorities[0].keyless: no signature is by an accepted authority"),
        "{}",
        out.findings[0].message
    );
}

#[test]
fn each_distinct_image_is_verified_once() {
    let mut reg = Registry::default();
    reg.push("reg.example/app:v1", 1, vec![by(Signer::Key(KEY_A))]);
    let objects = [
        deployment("a", "reg.example/app:v1"),
        deployment("b", "reg.example/app:v1"),
        pod("c", &["reg.example/app:v1", "reg.example/app:v1"]),
    ];
    let out = evaluate(&native(key_rule("reg.example/*")), &objects, &mut reg).unwrap();
    assert_eq!(reg.requests.len(), 1, "{:?}", reg.requests);
    assert_eq!(out.findings.len(), 6, "one finding per image field");
    assert_eq!(
        out.findings[0].field.as_deref(),
        Some("spec.template.spec.initContainers[0].image")
    );
    assert_eq!(
        reg.requests[0],
        Request {
            image: "reg.example/app:v1".into(),
            authorities: vec![Authority::PublicKey(KEY_A.into())],
            annotations: vec![],
            auth_secret: None,
        }
    );
}

#[test]
fn unmatched_and_skipped_images_are_not_checked() {
    let mut reg = Registry::default();
    let objects = [pod("web", &["nginx:1.25", "reg.example/tools/debug:1"])];
    let config = native(
        json!({"images": ["reg.example/*", "docker.io/nginx:*"], "skipImages": ["reg.example/tools/*", "*/nginx:*"],
                               "authorities": [{"key": KEY_A}]}),
    );
    let out = evaluate(&config, &objects, &mut reg).unwrap();
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert!(reg.requests.is_empty());
    // `nginx` is Kyverno's docker.io/nginx:latest, without library/.
    let out = evaluate(
        &native(key_rule("docker.io/nginx:latest")),
        &[pod("p", &["nginx"])],
        &mut reg,
    )
    .unwrap();
    assert_eq!(out.findings[0].code, "signature-missing");
    assert_eq!(reg.requests[0].image, "docker.io/nginx:latest");
}

#[test]
fn mutate_digest_pins_verified_images_keeping_the_tag() {
    let mut reg = Registry::default();
    reg.push("reg.example/app:v1", 7, vec![by(Signer::Key(KEY_A))]);
    reg.push("reg.example/bad:v1", 8, vec![]);
    let pinned_ref = format!("reg.example/app@{}", digest(7));
    reg.push(&pinned_ref, 7, vec![by(Signer::Key(KEY_A))]);
    let objects = [
        deployment("app", "reg.example/app:v1"),
        pod("mixed", &["reg.example/bad:v1", &pinned_ref]),
    ];
    let mut rule = key_rule("reg.example/*");
    rule["mutateDigest"] = json!(true);
    let out = evaluate(&native(rule), &objects, &mut reg).unwrap();
    let mutated = out.mutated.expect("pinned");
    let want = format!("reg.example/app:v1@{}", digest(7));
    assert_eq!(
        mutated[0]["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(want)
    );
    assert_eq!(
        mutated[0]["spec"]["template"]["spec"]["initContainers"][0]["image"],
        json!(want)
    );
    assert_eq!(mutated[0]["spec"]["replicas"], 2, "the rest stays");
    assert_eq!(
        mutated[1], objects[1],
        "failed and already pinned images stay"
    );
    assert!(
        out.findings[0]
            .message
            .ends_with(&format!("; pinned to '{want}'"))
    );
}

#[test]
fn verify_digest_without_mutation_requires_digests() {
    let mut reg = Registry::default();
    reg.push("reg.example/app:v1", 1, vec![by(Signer::Key(KEY_A))]);
    let mut rule = key_rule("reg.example/*");
    rule["verifyDigest"] = json!(true);
    let out = evaluate(
        &native(rule),
        &[pod("p", &["reg.example/app:v1"])],
        &mut reg,
    )
    .unwrap();
    assert_eq!(
        codes(&out),
        [
            (
                Level::Info,
                Some(0),
                Some("spec.containers[0].image"),
                "verified"
            ),
            (
                Level::Error,
                Some(0),
                Some("spec.containers[0].image"),
                "missing-digest"
            ),
        ]
    );
    assert!(
        out.findings[1]
            .message
            .contains(&format!("write it as 'reg.example/app:v1@{}'", digest(1)))
    );
}

#[test]
fn optional_rules_warn_and_annotations_reach_the_host() {
    let mut reg = Registry::default();
    reg.push(
        "reg.example/app:v1",
        1,
        vec![Signature {
            by: Signer::Key(KEY_A),
            annotations: vec![("env", "staging")],
        }],
    );
    let mut rule = key_rule("reg.example/*");
    rule["annotations"] = json!({"env": "prod"});
    rule["required"] = json!(false);
    rule["authSecret"] = json!("registry-creds");
    let out = evaluate(
        &native(rule),
        &[pod("p", &["reg.example/app:v1"])],
        &mut reg,
    )
    .unwrap();
    assert_eq!(out.findings[0].level, Level::Warning);
    assert_eq!(out.findings[0].code, "verification-failed");
    assert_eq!(
        reg.requests[0].annotations,
        [("env".to_owned(), "prod".to_owned())]
    );
    assert_eq!(
        reg.requests[0].auth_secret.as_deref(),
        Some("registry-creds")
    );
}

#[test]
fn denials_and_invalid_references_say_what_to_do() {
    let mut reg = Registry::default();
    let out = evaluate(
        &native(key_rule("*")),
        &[pod("p", &["ungranted.example/app:v1", "Bad Image"])],
        &mut reg,
    )
    .unwrap();
    assert_eq!(out.findings[0].code, "not-granted");
    assert!(
        out.findings[0]
            .message
            .ends_with("grant the policy the cosign capability for the image's registry")
    );
    assert_eq!(out.findings[1].code, "invalid-image");
    assert!(
        out.findings[1]
            .message
            .contains("must be lowercase letters"),
        "{}",
        out.findings[1].message
    );
}

fn cluster_policy(action: &str, verify: Value) -> Value {
    json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "check-images"},
        "spec": {
            "validationFailureAction": action,
            "rules": [{
                "name": "signed",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "exclude": {"any": [{"resources": {"namespaces": ["kube-system"]}}]},
                "verifyImages": [verify],
            }],
        },
    })
}

fn kyverno_keys(keys: &str) -> Value {
    json!({
        "imageReferences": ["reg.example/*"],
        "attestors": [{"entries": [{"keys": {"publicKeys": keys, "rekor": {"url": "https://rekor.sigstore.dev"}}}]}],
    })
}

#[test]
fn kyverno_policies_with_their_defaults() {
    let mut reg = Registry::default();
    reg.push("reg.example/app:v1", 4, vec![by(Signer::Key(KEY_A))]);
    reg.push("reg.example/bad:v1", 5, vec![by(Signer::Key(KEY_B))]);
    let mut system = deployment("sys", "reg.example/bad:v1");
    system["metadata"]["namespace"] = json!("kube-system");
    let objects = [
        deployment("app", "reg.example/app:v1"),
        pod("bad", &["reg.example/bad:v1"]),
        system,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    ];
    let policy = cluster_policy("Enforce", kyverno_keys(KEY_A));
    for config in [
        policy.to_string(),
        json!([policy]).to_string(),
        json!({"policies": [policy]}).to_string(),
    ] {
        let out = evaluate(&config, &objects, &mut reg).unwrap();
        assert_eq!(
            codes(&out),
            [
                (Level::Info, None, None, "offline"),
                (
                    Level::Info,
                    Some(0),
                    Some("spec.template.spec.initContainers[0].image"),
                    "verified"
                ),
                (
                    Level::Info,
                    Some(0),
                    Some("spec.template.spec.containers[0].image"),
                    "verified"
                ),
                (
                    Level::Error,
                    Some(1),
                    Some("spec.containers[0].image"),
                    "verification-failed"
                ),
            ],
            "a Pod rule covers Deployments; kube-system is excluded"
        );
        assert!(
            out.findings[0]
                .message
                .contains("rekor (https://rekor.sigstore.dev) not contacted")
        );
        assert!(
            out.findings[3]
                .message
                .contains("by rule 'check-images/signed'")
        );
        assert!(
            out.findings[3]
                .message
                .contains(".attestors[0].entries[0].keys: no signature")
        );
        // mutateDigest defaults to true, pinned in Kyverno's form.
        let mutated = out.mutated.unwrap();
        assert_eq!(
            mutated[0]["spec"]["template"]["spec"]["containers"][0]["image"],
            json!(format!("reg.example/app:v1@{}", digest(4)))
        );
    }
    let audit = cluster_policy("Audit", kyverno_keys(KEY_A));
    let out = evaluate(&audit.to_string(), &objects, &mut reg).unwrap();
    assert_eq!(out.findings[3].level, Level::Warning, "Audit warns");
    let mut unset = audit.clone();
    unset["spec"]
        .as_object_mut()
        .unwrap()
        .remove("validationFailureAction");
    let out = evaluate(&unset.to_string(), &objects, &mut reg).unwrap();
    assert_eq!(
        out.findings[3].level,
        Level::Warning,
        "Kyverno's default is Audit"
    );
    let mut per_rule = unset;
    per_rule["spec"]["rules"][0]["verifyImages"][0]["failureAction"] = json!("Enforce");
    let out = evaluate(&per_rule.to_string(), &objects, &mut reg).unwrap();
    assert_eq!(
        out.findings[3].level,
        Level::Error,
        "failureAction on the rule"
    );
}

#[test]
fn kyverno_docker_hub_images_pin_with_the_registry() {
    let mut reg = Registry::default();
    reg.push("docker.io/nginx:1.25", 9, vec![by(Signer::Key(KEY_A))]);
    let mut verify = kyverno_keys(KEY_A);
    verify["imageReferences"] = json!(["docker.io/*"]);
    let out = evaluate(
        &cluster_policy("Enforce", verify).to_string(),
        &[pod("p", &["nginx:1.25"])],
        &mut reg,
    )
    .unwrap();
    assert_eq!(
        out.mutated.unwrap()[0]["spec"]["containers"][0]["image"],
        json!(format!("docker.io/nginx:1.25@{}", digest(9)))
    );
}

#[test]
fn kyverno_counts_keys_and_nested_attestors() {
    let mut reg = Registry::default();
    reg.push("reg.example/one:v1", 1, vec![by(Signer::Key(KEY_A))]);
    reg.push(
        "reg.example/both:v1",
        2,
        vec![by(Signer::Key(KEY_A)), by(Signer::Key(KEY_B))],
    );
    let objects = [pod("p", &["reg.example/one:v1", "reg.example/both:v1"])];
    let keys = format!("{KEY_A}{KEY_B}");
    let run = |reg: &mut Registry, verify: Value| {
        let mut verify = verify;
        verify["mutateDigest"] = json!(false);
        verify["verifyDigest"] = json!(false);
        let out = evaluate(
            &cluster_policy("Enforce", verify).to_string(),
            &objects,
            reg,
        )
        .unwrap();
        out.findings
            .iter()
            .filter(|f| f.resource.is_some())
            .map(|f| f.code)
            .collect::<Vec<_>>()
    };
    // Concatenated keys without count: every key must have signed.
    assert_eq!(
        run(&mut reg, kyverno_keys(&keys)),
        ["verification-failed", "verified"]
    );
    let mut any = kyverno_keys(&keys);
    any["attestors"][0]["count"] = json!(1);
    assert_eq!(run(&mut reg, any), ["verified", "verified"]);
    let nested = json!({
        "imageReferences": ["reg.example/*"],
        "attestors": [{"count": 1, "entries": [
            {"keyless": {"issuer": ISSUER, "subject": "nobody@example.com"}},
            {"attestor": {"entries": [{"keys": {"publicKeys": KEY_A}}, {"keys": {"publicKeys": KEY_B}}]}},
        ]}],
    });
    assert_eq!(run(&mut reg, nested), ["verification-failed", "verified"]);
}

#[test]
fn kyverno_matching_kinds_namespaces_and_autogen() {
    let mut reg = Registry::default();
    let objects = [
        pod("p", &["reg.example/x:1"]),
        deployment("d", "reg.example/x:1"),
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
               "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "reg.example/x:1"}]}}}}),
    ];
    let hits = |reg: &mut Registry, policy: Value| -> Vec<usize> {
        let out = evaluate(&policy.to_string(), &objects, reg).unwrap();
        let mut r: Vec<usize> = out.findings.iter().filter_map(|f| f.resource).collect();
        r.dedup();
        r
    };
    let base = cluster_policy("Enforce", kyverno_keys(KEY_A));
    assert_eq!(hits(&mut reg, base.clone()), [0, 1]);

    let mut none = base.clone();
    none["metadata"]["annotations"] =
        json!({"pod-policies.kyverno.io/autogen-controllers": "none"});
    assert_eq!(hits(&mut reg, none), [0]);

    let mut kinds = base.clone();
    kinds["spec"]["rules"][0]["match"] =
        json!({"resources": {"kinds": ["apps/v1/Deployment", "argoproj.io/*/Rollout"]}});
    assert_eq!(hits(&mut reg, kinds), [1, 2]);

    let mut named = base.clone();
    named["spec"]["rules"][0]["match"] =
        json!({"any": [{"resources": {"kinds": ["Pod"], "names": ["d"]}}]});
    assert_eq!(
        hits(&mut reg, named),
        Vec::<usize>::new(),
        "no autogen with names"
    );

    let mut ns = base.clone();
    ns["kind"] = json!("Policy");
    ns["metadata"]["namespace"] = json!("other");
    assert_eq!(
        hits(&mut reg, ns.clone()),
        Vec::<usize>::new(),
        "a Policy sees its own namespace"
    );
    ns["metadata"]["namespace"] = json!("apps");
    assert_eq!(hits(&mut reg, ns), [0, 1]);
}

#[test]
fn kyverno_features_the_host_cannot_check_are_refused_with_their_field() {
    let mut reg = Registry::default();
    let mut verify = kyverno_keys(KEY_A);
    verify["attestations"] = json!([{"predicateType": "https://slsa.dev/provenance/v1"}]);
    verify["attestors"][0]["entries"]
        .as_array_mut()
        .unwrap()
        .extend([
            json!({"certificates": {"cert": "x"}}),
            json!({"keys": {"kms": "gcpkms://k"}}),
            json!({"keyless": {"subject": "a", "roots": "pem"}}),
        ]);
    let problems = evaluate(
        &cluster_policy("Enforce", verify).to_string(),
        &[],
        &mut reg,
    )
    .unwrap_err();
    let at = "ClusterPolicy 'check-images' spec.rules[0].verifyImages[0]";
    assert_eq!(
        problems,
        [
            format!(
                "{at}.attestations: attestations are not checked by the cosign capability; verify them elsewhere or remove them"
            ),
            format!(
                "{at}.attestors[0].entries[1].certificates: certificate attestors are not supported; use keys or keyless"
            ),
            format!(
                "{at}.attestors[0].entries[2].keys.kms: KMS keys are not supported; paste the PEM public key in publicKeys"
            ),
            format!(
                "{at}.attestors[0].entries[3].keyless.roots: custom roots are not supported; configure the trusted root on the host"
            ),
        ]
    );
    let validate_only = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "v"},
        "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"pattern": {}}}]}});
    let problems = evaluate(&validate_only.to_string(), &[], &mut reg).unwrap_err();
    assert!(
        problems[0].starts_with("no verifyImages rules"),
        "{problems:?}"
    );
}
