//! Cosign signatures made without `sluice-cosign`, so its tests check it
//! against an independent writer of the format: P-256 keys on aws-lc-rs,
//! the simple-signing payload and the `.sig` manifest as cosign documents
//! them, a test Fulcio (root and intermediate CA issuing short-lived
//! certificates with the identity in the SAN and the issuer in Fulcio's
//! OID extensions, by rcgen), a test Rekor key signing the bundle's SET,
//! and the `trusted_root.json` naming both. Pushed with oci-client over
//! plain HTTP (the test registry listens on loopback).
//!
//! Used by `tests/e2e` (as `sluice_tests::cosign`) and by the crate tests
//! of `sluice-cosign` (through `#[path]`), which list the same dependencies.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Media type of the simple-signing layer of a cosign signature.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// `artifactType` of a cosign signature stored as an OCI referrer.
pub const SIG_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An ECDSA P-256 key pair, as `cosign generate-key-pair` makes.
pub struct KeyPair {
    key: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair(P-256)")
    }
}

impl KeyPair {
    pub fn generate() -> KeyPair {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap()
                .as_ref()
                .to_vec();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8).unwrap();
        KeyPair { key, pkcs8 }
    }

    /// The SubjectPublicKeyInfo, DER.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key().as_der().unwrap().as_ref().to_vec()
    }

    /// `-----BEGIN PUBLIC KEY-----`, as in `cosign.pub`.
    pub fn public_key_pem(&self) -> String {
        pem("PUBLIC KEY", &self.public_key_der())
    }

    /// An ASN.1 DER ECDSA signature over SHA-256 of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn rcgen(&self) -> rcgen::KeyPair {
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(self.pkcs8.clone());
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
    }
}

/// A test Sigstore: a Fulcio root and intermediate CA and a Rekor key.
pub struct TestCa {
    root: rcgen::Certificate,
    intermediate: rcgen::Certificate,
    intermediate_params: rcgen::CertificateParams,
    intermediate_key: rcgen::KeyPair,
    rekor: KeyPair,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// Fulcio's OID arc (1.3.6.1.4.1.57264.1).
const FULCIO_ISSUER_V1: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 1];
const FULCIO_ISSUER_V2: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 8];

impl TestCa {
    pub fn new() -> TestCa {
        let ca = |cn: &str| {
            let mut p = rcgen::CertificateParams::default();
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name
                .push(rcgen::DnType::OrganizationName, "sigstore.test");
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.key_usages = vec![
                rcgen::KeyUsagePurpose::KeyCertSign,
                rcgen::KeyUsagePurpose::CrlSign,
            ];
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2100, 1, 1);
            p
        };
        let root_key = KeyPair::generate().rcgen();
        let root_params = ca("sigstore");
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = rcgen::Issuer::new(root_params, root_key);
        let intermediate_key = KeyPair::generate().rcgen();
        // Fulcio's intermediate is restricted to code signing, as its leaves.
        let mut intermediate_params = ca("sigstore-intermediate");
        intermediate_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &root_issuer)
            .unwrap();
        TestCa {
            root,
            intermediate,
            intermediate_params,
            intermediate_key,
            rekor: KeyPair::generate(),
        }
    }

    /// Sigstore's `trusted_root.json` (what `cosign verify --trusted-root`
    /// reads): this Fulcio's chain and this Rekor's key.
    pub fn trusted_root_json(&self) -> String {
        let rekor = self.rekor.public_key_der();
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.sigstore.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(&rekor),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2020-01-01T00:00:00Z"}
                },
                "logId": {"keyId": B64.encode(Sha256::digest(&rekor))}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "sigstore.test", "commonName": "sigstore"},
                "uri": "https://fulcio.sigstore.test",
                "certChain": {"certificates": [
                    {"rawBytes": B64.encode(self.intermediate.der())},
                    {"rawBytes": B64.encode(self.root.der())}
                ]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            }],
            "ctlogs": [],
            "timestampAuthorities": []
        })
        .to_string()
    }

    /// A Fulcio-like code-signing certificate for `key`: `subject` in the
    /// SAN (an email, or a URI when it has `://`), `issuer` in both Fulcio
    /// issuer extensions, valid for ten minutes from `not_before` (Unix s).
    pub fn certificate(
        &self,
        key: &KeyPair,
        subject: &str,
        issuer: &str,
        not_before: u64,
    ) -> String {
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.subject_alt_names = vec![if subject.contains("://") {
            rcgen::SanType::URI(subject.try_into().unwrap())
        } else {
            rcgen::SanType::Rfc822Name(subject.try_into().unwrap())
        }];
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        p.not_before = epoch + Duration::from_secs(not_before);
        p.not_after = epoch + Duration::from_secs(not_before + 600);
        // v1: the raw string; v2: a DER UTF8String.
        p.custom_extensions = vec![
            rcgen::CustomExtension::from_oid_content(FULCIO_ISSUER_V1, issuer.as_bytes().to_vec()),
            rcgen::CustomExtension::from_oid_content(FULCIO_ISSUER_V2, der_utf8(issuer)),
        ];
        let issuer_ca =
            rcgen::Issuer::from_params(&self.intermediate_params, &self.intermediate_key);
        p.signed_by(&key.rcgen(), &issuer_ca).unwrap().pem()
    }

    /// The chain annotation: intermediate then root, PEM.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.intermediate.pem(), self.root.pem())
    }

    /// A Rekor bundle (`dev.sigstore.cosign/bundle`) for a hashedrekord
    /// entry of `signature` (base64) over `payload` by `certificate` (PEM),
    /// integrated at `integrated_time`, its SET signed by this Rekor key.
    pub fn bundle(
        &self,
        payload: &[u8],
        signature: &str,
        certificate: &str,
        integrated_time: u64,
    ) -> String {
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
                "signature": {"content": signature, "publicKey": {"content": B64.encode(certificate)}}
            }
        });
        let body = B64.encode(body.to_string());
        let log_id = hex::encode(Sha256::digest(self.rekor.public_key_der()));
        // RFC 8785 canonical JSON: keys sorted, no spaces.
        let canonical = format!(
            r#"{{"body":"{body}","integratedTime":{integrated_time},"logID":"{log_id}","logIndex":7}}"#
        );
        json!({
            "SignedEntryTimestamp": B64.encode(self.rekor.sign(canonical.as_bytes())),
            "Payload": {"body": body, "integratedTime": integrated_time, "logIndex": 7, "logID": log_id}
        })
        .to_string()
    }
}

fn der_utf8(s: &str) -> Vec<u8> {
    assert!(s.len() < 128, "short strings only");
    let mut out = vec![0x0c, s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

/// The simple-signing payload cosign signs for `repository`
/// (`host/repo`) at `digest`, with `annotations` under `optional`.
pub fn payload(repository: &str, digest: &str, annotations: &[(&str, &str)]) -> Vec<u8> {
    let optional: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": if optional.is_empty() { Value::Null } else { Value::Object(optional) }
    })
    .to_string()
    .into_bytes()
}

/// One signature layer: the payload and its annotations. Fields are public
/// so tests can tamper with them.
#[derive(Debug, Clone)]
pub struct Signature {
    pub payload: Vec<u8>,
    /// Base64 of the DER signature (`dev.cosignproject.cosign/signature`).
    pub signature: String,
    pub certificate: Option<String>,
    pub chain: Option<String>,
    pub bundle: Option<String>,
}

impl Signature {
    /// Signed with `key` (`cosign sign --key`, no transparency log).
    pub fn by_key(
        repository: &str,
        digest: &str,
        key: &KeyPair,
        annotations: &[(&str, &str)],
    ) -> Signature {
        let payload = payload(repository, digest, annotations);
        Signature {
            signature: B64.encode(key.sign(&payload)),
            payload,
            certificate: None,
            chain: None,
            bundle: None,
        }
    }

    /// Signed keyless: a fresh key certified by `ca` for `subject` and
    /// `issuer`, logged now in the test Rekor.
    pub fn keyless(
        repository: &str,
        digest: &str,
        subject: &str,
        issuer: &str,
        ca: &TestCa,
        annotations: &[(&str, &str)],
    ) -> Signature {
        let key = KeyPair::generate();
        let payload = payload(repository, digest, annotations);
        let signature = B64.encode(key.sign(&payload));
        let issued = now() - 60;
        let certificate = ca.certificate(&key, subject, issuer, issued);
        let bundle = ca.bundle(&payload, &signature, &certificate, issued + 30);
        Signature {
            payload,
            signature,
            certificate: Some(certificate),
            chain: Some(ca.chain_pem()),
            bundle: Some(bundle),
        }
    }

    fn annotations(&self) -> Value {
        let mut a = serde_json::Map::new();
        a.insert(
            "dev.cosignproject.cosign/signature".into(),
            self.signature.clone().into(),
        );
        if let Some(c) = &self.certificate {
            a.insert("dev.sigstore.cosign/certificate".into(), c.clone().into());
        }
        if let Some(c) = &self.chain {
            a.insert("dev.sigstore.cosign/chain".into(), c.clone().into());
        }
        if let Some(b) = &self.bundle {
            a.insert("dev.sigstore.cosign/bundle".into(), b.clone().into());
        }
        Value::Object(a)
    }
}

/// Where a signature manifest goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The `sha256-<hex>.sig` tag (cosign's default).
    Tag,
    /// An OCI 1.1 referrer with `subject` set; where the registry has no
    /// referrers API (Distribution 2.8), also listed in the `sha256-<hex>`
    /// tag-schema index, as cosign's `oci-1-1` mode does.
    Referrer,
}

fn client() -> oci_client::Client {
    oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    })
}

async fn reference(client: &oci_client::Client, s: &str) -> oci_client::Reference {
    let r: oci_client::Reference = s.parse().unwrap();
    client
        .store_auth_if_needed(r.resolve_registry(), &RegistryAuth::Anonymous)
        .await;
    r
}

async fn put_manifest(client: &oci_client::Client, at: &str, body: &[u8], media_type: &str) {
    let r = reference(client, at).await;
    client
        .push_manifest_raw(&r, body.to_vec(), media_type.parse().unwrap())
        .await
        .unwrap_or_else(|e| panic!("push manifest {at}: {e}"));
}

async fn put_blob(client: &oci_client::Client, repository: &str, data: &[u8]) -> String {
    let r = reference(client, repository).await;
    let digest = sha256(data);
    client
        .push_blob(&r, data.to_vec(), &digest)
        .await
        .unwrap_or_else(|e| panic!("push blob to {repository}: {e}"));
    digest
}

/// Pushes a small OCI image (one layer holding `content`) to
/// `registry/repo:tag`; its manifest digest.
pub async fn push_image(registry: &str, repo: &str, tag: &str, content: &str) -> String {
    let client = client();
    let repository = format!("{registry}/{repo}");
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = content.as_bytes();
    let config_digest = put_blob(&client, &repository, config).await;
    let layer_digest = put_blob(&client, &repository, layer).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": layer.len(), "digest": layer_digest}]
    })
    .to_string();
    put_manifest(
        &client,
        &format!("{repository}:{tag}"),
        manifest.as_bytes(),
        OCI_MANIFEST,
    )
    .await;
    sha256(manifest.as_bytes())
}

/// Pushes `signatures` (one layer each) for the image `digest` of
/// `registry/repo`, at `placement`.
pub async fn push_signatures(
    registry: &str,
    repo: &str,
    digest: &str,
    signatures: &[Signature],
    placement: Placement,
) {
    let client = client();
    let repository = format!("{registry}/{repo}");
    let mut layers = Vec::new();
    for s in signatures {
        let d = put_blob(&client, &repository, &s.payload).await;
        layers.push(json!({
            "mediaType": SIMPLE_SIGNING,
            "size": s.payload.len(),
            "digest": d,
            "annotations": s.annotations()
        }));
    }
    let tag = digest.replace(':', "-");
    match placement {
        Placement::Tag => {
            let config = br#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
            let config_digest = put_blob(&client, &repository, config).await;
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": config_digest},
                "layers": layers
            })
            .to_string();
            put_manifest(
                &client,
                &format!("{repository}:{tag}.sig"),
                manifest.as_bytes(),
                OCI_MANIFEST,
            )
            .await;
        }
        Placement::Referrer => {
            let r = reference(&client, &format!("{repository}@{digest}")).await;
            let (subject, _) = client
                .pull_manifest_raw(&r, &RegistryAuth::Anonymous, &[OCI_MANIFEST])
                .await
                .expect("the signed image exists");
            let config = b"{}";
            let config_digest = put_blob(&client, &repository, config).await;
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": SIG_ARTIFACT_TYPE,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": config_digest},
                "layers": layers,
                "subject": {"mediaType": OCI_MANIFEST, "size": subject.len(), "digest": digest}
            })
            .to_string();
            let manifest_digest = sha256(manifest.as_bytes());
            put_manifest(
                &client,
                &format!("{repository}@{manifest_digest}"),
                manifest.as_bytes(),
                OCI_MANIFEST,
            )
            .await;
            // The tag-schema index lists every referrer of the digest.
            let index_ref = reference(&client, &format!("{repository}:{tag}")).await;
            let mut entries = match client
                .pull_manifest_raw(&index_ref, &RegistryAuth::Anonymous, &[OCI_INDEX])
                .await
            {
                Ok((body, _)) => serde_json::from_slice::<Value>(&body).unwrap()["manifests"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            entries.push(json!({
                "mediaType": OCI_MANIFEST,
                "artifactType": SIG_ARTIFACT_TYPE,
                "size": manifest.len(),
                "digest": manifest_digest
            }));
            let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
                .to_string();
            put_manifest(
                &client,
                &format!("{repository}:{tag}"),
                index.as_bytes(),
                OCI_INDEX,
            )
            .await;
        }
    }
}

/// Signs `registry/repo@digest` with `key` at the `.sig` tag.
pub async fn sign_image(registry: &str, repo: &str, digest: &str, key: &KeyPair) {
    let s = Signature::by_key(&format!("{registry}/{repo}"), digest, key, &[]);
    push_signatures(registry, repo, digest, &[s], Placement::Tag).await;
}

/// Signs `registry/repo@digest` keyless as `subject` from `issuer`,
/// certified by `ca`, at the `.sig` tag.
pub async fn sign_image_keyless(
    registry: &str,
    repo: &str,
    digest: &str,
    subject: &str,
    issuer: &str,
    ca: &TestCa,
) {
    let s = Signature::keyless(
        &format!("{registry}/{repo}"),
        digest,
        subject,
        issuer,
        ca,
        &[],
    );
    push_signatures(registry, repo, digest, &[s], Placement::Tag).await;
}
