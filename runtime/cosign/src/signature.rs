//! Finding an image's cosign signature layers and checking one of them.

use crate::trust::TrustedRoot;
use crate::{
    Check, MAX_PAYLOAD, Matcher, SIGNATURE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE, pem_der,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};
use sluice_oci::{Error, Registry};
use std::collections::BTreeMap;
use std::time::Duration;
use x509_cert::der::Decode;
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

const SIGNATURE: &str = "dev.cosignproject.cosign/signature";
const CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
const CHAIN: &str = "dev.sigstore.cosign/chain";
const BUNDLE: &str = "dev.sigstore.cosign/bundle";
const SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// Fulcio's issuer extensions: v1 holds the raw string, v2 a UTF8String.
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER content octets.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// One simple-signing layer: the signed payload and its annotations.
#[derive(Debug)]
pub(crate) struct Layer {
    /// Where it was found, for messages: `tag sha256-….sig` or `referrer sha256:…`.
    pub location: String,
    pub payload: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// The signature layers of `repository@digest`: the `.sig` tag's, then
/// each cosign referrer's. A missing tag or referrers index means none
/// there; an unreachable registry is an error.
pub(crate) async fn find(
    registry: &Registry,
    repository: &str,
    digest: &str,
) -> Result<Vec<Layer>, Error> {
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let mut manifests = Vec::new();
    match registry.manifest(&format!("{repository}:{tag}")).await {
        Ok(m) => manifests.push((format!("tag {tag}"), m.json)),
        Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let referrers = match registry
        .referrers(repository, digest, Some(SIGNATURE_ARTIFACT_TYPE))
        .await
    {
        Ok(r) => r,
        // Registries without the API answer in assorted ways; the tag
        // schema was tried too, so there is nothing more to find.
        Err(e @ (Error::Registry { .. } | Error::NotFound { .. })) => {
            tracing::debug!(%repository, %digest, "no referrers: {e}");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    for r in referrers {
        let m = registry.manifest(&format!("{repository}@{r}")).await?;
        manifests.push((format!("referrer {r}"), m.json));
    }
    let mut layers = Vec::new();
    for (location, json) in manifests {
        let Ok(manifest) = serde_json::from_str::<Manifest>(&json) else {
            tracing::debug!(%repository, %location, "skipping a signature manifest that is not an image manifest");
            continue;
        };
        for l in manifest
            .layers
            .into_iter()
            .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        {
            let payload = registry.blob(repository, &l.digest, MAX_PAYLOAD).await?;
            layers.push(Layer {
                location: location.clone(),
                payload,
                annotations: l.annotations,
            });
        }
    }
    Ok(layers)
}

/// The identity that signed `layer` when one of `checks` accepts it and
/// its payload is for `digest` with `annotations`; else why not.
pub(crate) fn check(
    layer: &Layer,
    checks: &[Check],
    trusted_root: Option<&TrustedRoot>,
    digest: &str,
    annotations: &[(String, String)],
) -> Result<String, String> {
    let signature = layer
        .annotations
        .get(SIGNATURE)
        .ok_or_else(|| format!("the layer has no {SIGNATURE} annotation"))?;
    let mut why = Vec::new();
    let mut identity = None;
    for c in checks {
        let outcome = match c {
            Check::Key { key, fingerprint } => {
                if verifies(key, signature, &layer.payload) {
                    Ok(format!("key SHA256:{fingerprint}"))
                } else {
                    Err(format!("not signed by key SHA256:{fingerprint}"))
                }
            }
            Check::Keyless { issuer, subject } => match trusted_root {
                Some(root) => keyless(layer, signature, issuer, subject, root),
                None => Err("no trusted root".into()),
            },
        };
        match outcome {
            Ok(id) => {
                identity = Some(id);
                break;
            }
            Err(e) => why.push(e),
        }
    }
    let identity = identity.ok_or_else(|| why.join(", "))?;
    check_payload(&layer.payload, digest, annotations)
        .map_err(|e| format!("signed by {identity}, but {e}"))?;
    Ok(identity)
}

fn verifies(key: &CosignVerificationKey, signature: &str, payload: &[u8]) -> bool {
    key.verify_signature(
        Signature::Base64Encoded(signature.trim().as_bytes()),
        payload,
    )
    .is_ok()
}

/// The simple-signing payload must be for this digest and hold the
/// requested annotations.
fn check_payload(
    payload: &[u8],
    digest: &str,
    annotations: &[(String, String)],
) -> Result<(), String> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the payload is not simple-signing JSON: {e}"))?;
    let signed = v
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .ok_or("the payload has no critical.image.docker-manifest-digest")?;
    if signed != digest {
        return Err(format!(
            "the payload is for {signed}, not this image's digest {digest}"
        ));
    }
    for (k, want) in annotations {
        let got = v.pointer("/optional").and_then(|o| o.get(k));
        let got = match got {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        if got.as_deref() != Some(want.as_str()) {
            return Err(match got {
                Some(g) => format!("annotation {k} is '{g}', not '{want}'"),
                None => format!("the payload has no annotation {k} (wanted '{want}')"),
            });
        }
    }
    Ok(())
}

fn keyless(
    layer: &Layer,
    signature: &str,
    issuer: &Matcher,
    subject: &Matcher,
    root: &TrustedRoot,
) -> Result<String, String> {
    let pem = layer
        .annotations
        .get(CERTIFICATE)
        .ok_or_else(|| format!("no certificate ({CERTIFICATE}): not a keyless signature"))?;
    let der = pem_der(pem).ok_or("the certificate annotation is not PEM")?;
    let cert = x509_cert::Certificate::from_der(&der)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let (san, iss) = identity(&cert)?;
    if !subject.matches(&san) {
        return Err(format!(
            "certificate subject '{san}' does not match {}",
            subject.shown()
        ));
    }
    if !issuer.matches(&iss) {
        return Err(format!(
            "certificate issuer '{iss}' does not match {}",
            issuer.shown()
        ));
    }
    let key = CosignVerificationKey::try_from(&cert.tbs_certificate.subject_public_key_info)
        .map_err(|e| format!("the certificate's key is unusable: {e}"))?;
    if !verifies(&key, signature, &layer.payload) {
        return Err("the signature does not verify with the certificate's key".into());
    }
    let bundle = layer.annotations.get(BUNDLE).ok_or_else(|| {
        format!("no Rekor bundle ({BUNDLE}); offline keyless verification needs one")
    })?;
    let logged = check_bundle(bundle, root, &layer.payload, signature, &der)?;
    let extra: Vec<CertificateDer> = layer
        .annotations
        .get(CHAIN)
        .map(|c| pem_blocks(c))
        .unwrap_or_default();
    check_chain(&der, &extra, root, logged)?;
    Ok(format!("{san} (issuer {iss})"))
}

/// The SAN (email or URI) and the Fulcio issuer of a certificate.
fn identity(cert: &x509_cert::Certificate) -> Result<(String, String), String> {
    let mut san = None;
    let mut issuer = None;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == SAN {
            let names = SubjectAltName::from_der(value)
                .map_err(|e| format!("the certificate's SAN does not parse: {e}"))?;
            san = names.0.into_iter().find_map(|n| match n {
                GeneralName::Rfc822Name(s) => Some(s.to_string()),
                GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
                _ => None,
            });
        } else if ext.extn_id == ISSUER_V2 {
            issuer = Utf8StringRef::from_der(value)
                .ok()
                .map(|s| s.as_str().to_string());
        } else if ext.extn_id == ISSUER_V1 && issuer.is_none() {
            issuer = std::str::from_utf8(value).ok().map(str::to_string);
        }
    }
    Ok((
        san.ok_or("the certificate has no email or URI SAN")?,
        issuer.ok_or(
            "the certificate has no Fulcio issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)",
        )?,
    ))
}

#[derive(Deserialize)]
struct Bundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: BundlePayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundlePayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Checks the Rekor bundle: its SET by a trusted log, and its entry about
/// this very signature, payload and certificate. The integrated time.
fn check_bundle(
    bundle: &str,
    root: &TrustedRoot,
    payload: &[u8],
    signature: &str,
    cert_der: &[u8],
) -> Result<i64, String> {
    let b: Bundle = serde_json::from_str(bundle)
        .map_err(|e| format!("the Rekor bundle does not parse: {e}"))?;
    let p = &b.payload;
    let log = root.log(&p.log_id).ok_or_else(|| {
        format!(
            "the bundle is from Rekor log {}, which the trusted root does not list",
            p.log_id
        )
    })?;
    if !log.valid.covers(p.integrated_time) {
        return Err("the Rekor key was not valid when the entry was logged".into());
    }
    // RFC 8785 canonical JSON of the payload: keys sorted, no spaces.
    let canonical = format!(
        r#"{{"body":{},"integratedTime":{},"logID":{},"logIndex":{}}}"#,
        Value::from(p.body.as_str()),
        p.integrated_time,
        Value::from(p.log_id.as_str()),
        p.log_index
    );
    if !verifies(&log.key, &b.set, canonical.as_bytes()) {
        return Err("the bundle's SET does not verify with the trusted root's Rekor key".into());
    }
    let body: Value = B64
        .decode(&p.body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the bundle's entry body is not base64 JSON")?;
    if body.get("kind").and_then(Value::as_str) != Some("hashedrekord") {
        return Err("the bundle's entry is not a hashedrekord".into());
    }
    let text = |ptr: &str| {
        body.pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let decoded = |s: &str| B64.decode(s.trim()).ok();
    if decoded(text("/spec/signature/content")).is_none()
        || decoded(text("/spec/signature/content")) != decoded(signature)
    {
        return Err("the bundle's entry is for another signature".into());
    }
    if text("/spec/data/hash/algorithm") != "sha256"
        || text("/spec/data/hash/value") != hex::encode(Sha256::digest(payload))
    {
        return Err("the bundle's entry is for another payload".into());
    }
    let logged_cert = decoded(text("/spec/signature/publicKey/content"))
        .and_then(|pem| String::from_utf8(pem).ok())
        .and_then(|pem| pem_der(&pem));
    if logged_cert.as_deref() != Some(cert_der) {
        return Err("the bundle's entry is for another certificate".into());
    }
    Ok(p.integrated_time)
}

/// The certificate chains to a Fulcio CA of the trusted root, as a code-
/// signing certificate valid when Rekor logged the signature.
fn check_chain(
    cert_der: &[u8],
    extra: &[CertificateDer<'_>],
    root: &TrustedRoot,
    logged: i64,
) -> Result<(), String> {
    let cert = CertificateDer::from(cert_der);
    let ee = webpki::EndEntityCert::try_from(&cert)
        .map_err(|e| format!("the certificate is not usable: {e:?}"))?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(logged.max(0) as u64));
    let mut last = "the trusted root lists no Fulcio CA valid at that time".to_string();
    for ca in root.authorities.iter().filter(|ca| ca.valid.covers(logged)) {
        let (anchor, intermediates) = ca.chain.split_last().expect("checked when loaded");
        let Ok(anchor) = webpki::anchor_from_trusted_cert(anchor) else {
            continue;
        };
        let mut pool: Vec<CertificateDer> = intermediates.to_vec();
        pool.extend(extra.iter().cloned());
        match ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &pool,
            time,
            webpki::KeyUsage::required(CODE_SIGNING),
            None,
            None,
        ) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{e:?}"),
        }
    }
    let when = chrono::DateTime::from_timestamp(logged, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| logged.to_string());
    Err(format!(
        "the certificate does not chain to a Fulcio CA of the trusted root at the logged time {when}: {last}"
    ))
}

/// Every `CERTIFICATE` block of a PEM text.
fn pem_blocks(text: &str) -> Vec<CertificateDer<'static>> {
    text.split("-----END CERTIFICATE-----")
        .filter(|b| b.contains("-----BEGIN CERTIFICATE-----"))
        .filter_map(pem_der)
        .map(CertificateDer::from)
        .collect()
}
