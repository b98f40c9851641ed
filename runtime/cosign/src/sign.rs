//! Key-based cosign signing, the other half of [`verify`](crate::verify):
//! the key files `cosign generate-key-pair` writes and reads, and
//! signatures stored as cosign stores them, so `cosign verify --key` and
//! this crate accept each other's work.
//!
//! - `cosign.key`: PKCS#8 P-256 private key encrypted with a password
//!   (scrypt key derivation, NaCl secretbox), PEM `ENCRYPTED SIGSTORE
//!   PRIVATE KEY` (cosign's older `ENCRYPTED COSIGN PRIVATE KEY` is read
//!   too); `cosign.pub`: the SubjectPublicKeyInfo as `PUBLIC KEY`.
//! - A signature: the simple-signing payload naming the repository and the
//!   manifest digest, signed with ECDSA P-256 over SHA-256 (ASN.1 DER,
//!   base64 in the layer's `dev.cosignproject.cosign/signature`
//!   annotation), one layer of an image manifest at the tag
//!   `sha256-<hex>.sig`. Signing again adds a layer to that manifest, as
//!   cosign does, so several keys may sign one image.

use crate::{Error, SIMPLE_SIGNING_MEDIA_TYPE};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{SigStoreSigner, SigningScheme};
use sluice_oci::{OCI_MANIFEST_MEDIA_TYPE, Registry};

const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// A key pair in cosign's file formats.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// `cosign.key`: the encrypted private key.
    pub private_pem: String,
    /// `cosign.pub`.
    pub public_pem: String,
}

/// A fresh ECDSA P-256 key pair, the private key encrypted with
/// `password` (may be empty, as with `COSIGN_PASSWORD=`).
pub fn generate_key_pair(password: &[u8]) -> Result<KeyFiles, Error> {
    let invalid =
        |e: sigstore::errors::SigstoreError| Error::Key(format!("cannot generate a key pair: {e}"));
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .map_err(invalid)?;
    let pair = signer.to_sigstore_keypair().map_err(invalid)?;
    Ok(KeyFiles {
        private_pem: pair
            .private_key_to_encrypted_pem(password)
            .map_err(invalid)?
            .to_string(),
        public_pem: pair.public_key_to_pem().map_err(invalid)?,
    })
}

/// A private key ready to sign.
pub struct SigningKey {
    signer: SigStoreSigner,
    public_pem: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Decrypts a `cosign.key` with `password`. `source` names the file in
    /// errors.
    pub fn from_encrypted_pem(pem: &[u8], password: &[u8], source: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::Key(format!("{source}: {reason}"));
        let text = String::from_utf8_lossy(pem);
        if !text.contains("ENCRYPTED SIGSTORE PRIVATE KEY")
            && !text.contains("ENCRYPTED COSIGN PRIVATE KEY")
        {
            return Err(invalid(
                "not a cosign private key (expected a PEM block ENCRYPTED SIGSTORE PRIVATE KEY, as `cosign generate-key-pair` or `sluice bundle keygen` write)".into(),
            ));
        }
        // sigstore tries every key type and reports the last failure; a
        // cosign key is P-256, so a failure here is almost always the password.
        let pair = SigStoreKeyPair::from_encrypted_pem(pem, password).map_err(|e| {
            invalid(format!(
                "cannot decrypt the key ({e}); is COSIGN_PASSWORD the password it was made with?"
            ))
        })?;
        let signer = pair
            .to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1)
            .map_err(|e| invalid(format!("not an ECDSA P-256 key ({e}); cosign keys are")))?;
        let public_pem = pair
            .public_key_to_pem()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(SigningKey { signer, public_pem })
    }

    /// The matching `cosign.pub`.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// Where a signature went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `host/repo:sha256-<hex>.sig`.
    pub signature_tag: String,
    /// `sha256:<hex>` of the signature manifest.
    pub signature_digest: String,
}

/// The simple-signing payload for `repository` (`host/repo`) at
/// `digest`, with `annotations` as its `optional` map (null when none).
pub fn payload(repository: &str, digest: &str, annotations: &[(String, String)]) -> Vec<u8> {
    let optional = if annotations.is_empty() {
        Value::Null
    } else {
        Value::Object(
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": optional
    }))
    .expect("a JSON value serialises")
}

/// Signs `image` (`host/repo@sha256:<hex>`) with `key` and stores the
/// signature at its `.sig` tag, next to any signatures already there.
pub async fn sign(
    registry: &Registry,
    image: &str,
    key: &SigningKey,
    annotations: &[(String, String)],
) -> Result<Signed, Error> {
    let invalid = |reason: String| Error::Invalid {
        image: image.to_string(),
        reason,
    };
    let parsed = sluice_oci::parse_reference(image).map_err(|e| invalid(e.to_string()))?;
    let digest = parsed
        .digest()
        .ok_or_else(|| invalid("sign a digest (HOST/REPO@sha256:…), not a tag".into()))?
        .to_string();
    let repository = format!("{}/{}", parsed.registry(), parsed.repository());
    let registry_error = |source| Error::Registry {
        image: image.to_string(),
        source,
    };
    // Only an image the registry has can be signed.
    registry
        .manifest(&format!("{repository}@{digest}"))
        .await
        .map_err(registry_error)?;

    let payload = payload(&repository, &digest, annotations);
    let signature = key
        .signer
        .sign(&payload)
        .map_err(|e| invalid(format!("signing failed: {e}")))?;
    let layer = json!({
        "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
        "size": payload.len(),
        "digest": sha256(&payload),
        "annotations": {SIGNATURE_ANNOTATION: B64.encode(signature)},
    });

    let tag = format!("{}.sig", digest.replace(':', "-"));
    let at = format!("{repository}:{tag}");
    let mut layers = match registry.manifest(&at).await {
        Ok(existing) => serde_json::from_str::<Value>(&existing.json)
            .ok()
            .and_then(|m| m.get("layers").and_then(Value::as_array).cloned())
            .unwrap_or_default(),
        Err(sluice_oci::Error::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(registry_error(e)),
    };
    layers.push(layer);
    let diff_ids: Vec<&str> = layers
        .iter()
        .filter_map(|l| l.get("digest").and_then(Value::as_str))
        .collect();
    // go-containerregistry's empty image config with the layers appended,
    // byte for byte what cosign writes.
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": diff_ids.iter().map(|_| json!({"created": "0001-01-01T00:00:00Z"})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    }))
    .expect("a JSON value serialises");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": config.len(), "digest": sha256(&config)},
        "layers": layers,
    }))
    .expect("a JSON value serialises");
    let pushed = registry
        .push_manifest(
            &at,
            &[payload.as_slice(), config.as_slice()],
            &manifest,
            OCI_MANIFEST_MEDIA_TYPE,
        )
        .await
        .map_err(registry_error)?;
    Ok(Signed {
        signature_tag: at,
        signature_digest: pushed.digest,
    })
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_sign_verifiably() {
        let files = generate_key_pair(b"secret").unwrap();
        assert!(
            files
                .private_pem
                .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
        );
        assert!(files.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let key =
            SigningKey::from_encrypted_pem(files.private_pem.as_bytes(), b"secret", "k").unwrap();
        assert_eq!(key.public_pem(), files.public_pem);
        let wrong = SigningKey::from_encrypted_pem(files.private_pem.as_bytes(), b"nope", "k")
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("COSIGN_PASSWORD"), "{wrong}");

        let message = payload(
            "127.0.0.1:5000/b",
            &format!("sha256:{}", "a".repeat(64)),
            &[],
        );
        let signature = key.signer.sign(&message).unwrap();
        let verifier =
            sigstore::crypto::CosignVerificationKey::try_from_pem(files.public_pem.as_bytes())
                .unwrap();
        verifier
            .verify_signature(sigstore::crypto::Signature::Raw(&signature), &message)
            .unwrap();
    }

    /// A key `cosign generate-key-pair` wrote (with an empty password), from
    /// sigstore-rs' test data: the real tool's format is read.
    #[test]
    fn reads_a_key_cosign_generated() {
        let pem = include_bytes!("../tests/data/cosign-generated-empty-password.key");
        let key = SigningKey::from_encrypted_pem(pem, b"", "cosign.key").unwrap();
        assert!(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        let e = SigningKey::from_encrypted_pem(pem, b"x", "cosign.key")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cosign.key: cannot decrypt the key"), "{e}");
    }
}
