//! `sops`: decrypts SOPS-encrypted objects in the render with age keys, as
//! Flux's kustomize-controller does for a Kustomization with
//! `spec.decryption.provider: sops`:
//!
//! - an object with a top-level `sops` block carrying a `mac` is decrypted
//!   whole (as JSON, like Flux), and the block removed;
//! - a `Secret` whose `data` entries are themselves SOPS files (a secret
//!   generator fed an encrypted YAML, JSON, dotenv, INI or binary file) has
//!   each such entry decrypted and written in the format its key's extension
//!   names;
//! - a `Secret` generated from an encrypted dotenv file (`secretGenerator`
//!   `envs:`), whose entries are the file's lines with the metadata as
//!   `sops_*` entries, has the file put back together, decrypted, and its
//!   entries replaced by the plaintext ones (the `sops_*` entries dropped);
//! - objects annotated `kustomize.toolkit.fluxcd.io/decrypt: disabled` are
//!   left alone.
//!
//! The age identities are the `*.agekey` entries of the Secret named in the
//! config (Flux's `decryption.secretRef`), read through the `secrets`
//! capability. Plaintext stays in this call's memory: errors name the
//! object, field and file, the recipients and the reason, never a value.
//!
//! The MAC is checked unless `verifyMac` is false: the host turns it off
//! after kustomize, whose transformers (namespace, labels, patches) change
//! encrypted objects after encryption, which is also why Flux never checks
//! it. The stored MAC must still authenticate, so a tampered `sops.mac`
//! is always refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value as Json;
use sluice_sops::{Format, Identities};

wit_bindgen::generate!({ path: "../../wit", world: "policy" });

use sluice::plugin::capability_types::CapabilityError;
use sluice::plugin::types::{PluginKind, ResourceRef, Severity};

const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "sops policy",
  "type": "object",
  "additionalProperties": false,
  "required": ["secretName"],
  "properties": {
    "secretName": {
      "description": "The Secret whose *.agekey entries hold the age identities (Flux's spec.decryption.secretRef.name)",
      "type": "string",
      "minLength": 1
    },
    "verifyMac": {
      "description": "Check each file's MAC as the sops tool does; turn off when a renderer changes encrypted objects (kustomize namespace, labels, patches)",
      "type": "boolean",
      "default": true
    }
  }
}"##;

const DISABLE: &str = "kustomize.toolkit.fluxcd.io/decrypt";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    secret_name: String,
    #[serde(default = "yes")]
    verify_mac: bool,
}

fn yes() -> bool {
    true
}

struct Sops;

impl Guest for Sops {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "sops".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Policy,
            description:
                "Decrypts SOPS-encrypted objects and Secret data with age keys, as Flux does".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Vec<Diagnostic>> {
        let config: Config = serde_json::from_str(&request.config)
            .map_err(|e| vec![diag(format!("invalid config: {e}"), None, None)])?;
        let mut ids: Option<Identities> = None;
        let mut out = Vec::with_capacity(request.manifests.len());
        let mut errors = Vec::new();
        let mut changed = false;
        for manifest in request.manifests {
            let mut object: Json = match serde_json::from_str(&manifest.json) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(diag(format!("manifest is not JSON: {e}"), None, None));
                    continue;
                }
            };
            if !wants_decryption(&object) {
                out.push(manifest);
                continue;
            }
            if ids.is_none() {
                ids = Some(identities(&config.secret_name).map_err(|d| vec![d])?);
            }
            let ids = ids.as_ref().expect("loaded above");
            let resource = resource_of(&object);
            match decrypt_object(&mut object, ids, config.verify_mac) {
                Ok(true) => {
                    changed = true;
                    out.push(Manifest {
                        json: object.to_string(),
                        origin: manifest.origin,
                    });
                }
                Ok(false) => out.push(manifest),
                Err((field, e)) => {
                    let mut d = diag(
                        format!("cannot decrypt {} '{}': {e}", resource.kind, resource.name),
                        Some(resource),
                        field.as_deref(),
                    );
                    d.location = manifest.origin;
                    d.code = Some(code(&e).into());
                    errors.push(d);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Evaluation {
            verdict: Verdict::Allow,
            diagnostics: Vec::new(),
            mutated: changed.then_some(out),
        })
    }
}

fn code(e: &sluice_sops::Error) -> &'static str {
    use sluice_sops::Error as E;
    match e {
        E::WrongKey { .. } | E::NoIdentities { .. } => "sops-wrong-key",
        E::OnlyAge { .. } | E::Shamir(_) => "sops-unsupported-key",
        E::Value { .. } => "sops-tampered-value",
        E::MacMismatch | E::Mac(_) => "sops-mac-mismatch",
        _ => "sops-invalid",
    }
}

/// Encrypted whole (a `sops` block with a MAC) or a Secret holding an
/// encrypted file, and not switched off. Nothing else needs the keys.
fn wants_decryption(object: &Json) -> bool {
    let disabled = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DISABLE))
        .and_then(Json::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"));
    !disabled
        && (has_sops_block(object)
            || !encrypted_entries(object).is_empty()
            || dotenv_file(object).is_some())
}

/// The dotenv file a `secretGenerator` `envs:` entry turned into this
/// Secret's `data`, when it was SOPS-encrypted: sops writes its metadata as
/// `sops_mac`, `sops_version`, … lines, which the generator kept as entries.
/// The lines come back in key order (the generator sorted them), which the
/// stored MAC still authenticates; the MAC over the values is checked only
/// when the render kept the file's order, as for any kustomize output.
fn dotenv_file(object: &Json) -> Option<Vec<u8>> {
    if object.get("kind").and_then(Json::as_str) != Some("Secret") {
        return None;
    }
    let data = object.get("data").and_then(Json::as_object)?;
    if !(data.contains_key("sops_mac") && data.contains_key("sops_version")) {
        return None;
    }
    let mut file = Vec::new();
    for (k, v) in data {
        file.extend_from_slice(k.as_bytes());
        file.push(b'=');
        file.extend(decode(v.as_str()?)?);
        file.push(b'\n');
    }
    Some(file)
}

/// A Secret's `data` entries that decode to a SOPS file, with its format.
fn encrypted_entries(object: &Json) -> Vec<(String, Vec<u8>, Format)> {
    if object.get("kind").and_then(Json::as_str) != Some("Secret") {
        return Vec::new();
    }
    let Some(data) = object.get("data").and_then(Json::as_object) else {
        return Vec::new();
    };
    data.iter()
        .filter_map(|(k, v)| {
            let bytes = decode(v.as_str()?)?;
            let format = Format::detect(&bytes)?;
            Some((k.clone(), bytes, format))
        })
        .collect()
}

/// A `data` value: base64, which kustomize breaks into 70-column lines.
fn decode(value: &str) -> Option<Vec<u8>> {
    let compact: String = value.split_ascii_whitespace().collect();
    STANDARD.decode(compact).ok()
}

fn has_sops_block(object: &Json) -> bool {
    object
        .get("sops")
        .and_then(|s| s.get("mac"))
        .is_some_and(|m| !m.is_null() && m.as_str() != Some(""))
}

/// The identities in the `*.agekey` entries of the decryption Secret.
fn identities(secret: &str) -> Result<Identities, Diagnostic> {
    let entries = sluice::plugin::secrets::get(secret).map_err(|e| {
        let reason = match e {
            CapabilityError::NotFound(_) => format!(
                "the decryption Secret '{secret}' does not exist; declare it (apiVersion v1, kind Secret) with the age key in an entry named <anything>.agekey"
            ),
            CapabilityError::Denied(m)
            | CapabilityError::Failed(m)
            | CapabilityError::LimitExceeded(m) => {
                format!("cannot read the decryption Secret '{secret}': {m}")
            }
        };
        diag(reason, None, None)
    })?;
    let mut ids = Identities::default();
    for (name, value) in entries {
        if !name.ends_with(".agekey") {
            continue;
        }
        let text = String::from_utf8(value).map_err(|_| {
            diag(
                format!("entry '{name}' of the decryption Secret '{secret}' is not text"),
                None,
                None,
            )
        })?;
        ids.add(&text).map_err(|e| {
            diag(
                format!("entry '{name}' of the decryption Secret '{secret}': {e}"),
                None,
                None,
            )
        })?;
    }
    Ok(ids)
}

type Refusal = (Option<String>, sluice_sops::Error);

/// Decrypts in place; `Ok(false)` when nothing was encrypted.
fn decrypt_object(object: &mut Json, ids: &Identities, verify_mac: bool) -> Result<bool, Refusal> {
    if has_sops_block(object) {
        let file = sluice_sops::load_encrypted(object.to_string().as_bytes(), Format::Json)
            .map_err(|e| (Some("sops".into()), e))?;
        let branches = file
            .decrypt(ids, verify_mac)
            .map_err(|e| (field_of(&e), e))?;
        *object =
            sluice_sops::Value::Map(branches.into_iter().next().unwrap_or_default()).to_json();
        return Ok(true);
    }
    if let Some(file) = dotenv_file(object) {
        let field = Some("data.sops_mac".to_string());
        let file =
            sluice_sops::load_encrypted(&file, Format::Dotenv).map_err(|e| (field.clone(), e))?;
        let branches = file.decrypt(ids, verify_mac).map_err(|e| {
            let field = match &e {
                sluice_sops::Error::Value { path, .. } => Some(format!("data.{path}")),
                _ => field.clone(),
            };
            (field, e)
        })?;
        let plain = sluice_sops::Value::Map(branches.into_iter().next().unwrap_or_default());
        let data = match plain.to_json() {
            Json::Object(entries) => entries
                .into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, Json::String(STANDARD.encode(text)))
                })
                .collect(),
            _ => serde_json::Map::new(),
        };
        object["data"] = Json::Object(data);
        return Ok(true);
    }
    let entries = encrypted_entries(object);
    let changed = !entries.is_empty();
    for (key, bytes, input) in entries {
        let field = Some(format!("data.{key}"));
        let file = sluice_sops::load_encrypted(&bytes, input).map_err(|e| (field.clone(), e))?;
        let branches = file
            .decrypt(ids, verify_mac)
            .map_err(|e| (field.clone(), e))?;
        let plain = sluice_sops::emit_plain(&branches, Format::from_path(&key))
            .map_err(|e| (field.clone(), e))?;
        object["data"][&key] = Json::String(STANDARD.encode(plain));
    }
    Ok(changed)
}

/// The field a failure is about, for the diagnostic.
fn field_of(e: &sluice_sops::Error) -> Option<String> {
    match e {
        sluice_sops::Error::Value { path, .. } => Some(path.clone()),
        sluice_sops::Error::MacMismatch | sluice_sops::Error::Mac(_) => Some("sops.mac".into()),
        _ => Some("sops".into()),
    }
}

fn resource_of(object: &Json) -> ResourceRef {
    let s = |v: Option<&Json>| v.and_then(Json::as_str).unwrap_or("").to_owned();
    let meta = object.get("metadata");
    ResourceRef {
        api_version: s(object.get("apiVersion")),
        kind: s(object.get("kind")),
        namespace: s(meta.and_then(|m| m.get("namespace"))),
        name: s(meta.and_then(|m| m.get("name"))),
    }
}

fn diag(message: String, resource: Option<ResourceRef>, field: Option<&str>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message,
        resource,
        field_path: field.map(Into::into),
        location: None,
        code: None,
    }
}

export!(Sops);
