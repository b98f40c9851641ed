//! What the `cosign` capability may check, derived from the definition
//! files: a policy may verify exactly the images of the rendered manifests
//! (their repositories, nothing else), a source its own artifact; keyless
//! signatures are checked against the trusted root a ConfigMap beside the
//! objects holds (`trusted_root.json`), since no public Sigstore is
//! consulted.

use crate::error::{At, Error, Result};
use serde_json::{Value, json};
use sluice_plugin_host::cosign::{Cache, TrustedRoot};
use sluice_plugin_host::{CosignGrant, OciGrant};
use sluice_types::object::{LocalObjectRef, Verify};
use sluice_types::{Manifest, Objects};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The ConfigMap entry holding the trusted root.
const TRUSTED_ROOT_KEY: &str = "trusted_root.json";

/// The trusted root in ConfigMap `reference` of `ns`.
pub(crate) fn trusted_root(
    objects: &Objects,
    ns: &str,
    reference: &LocalObjectRef,
    at: &At,
    field: &'static str,
) -> Result<Arc<TrustedRoot>> {
    let error = |message: String| Error::Reference {
        at: at.clone(),
        field,
        message,
    };
    let map = objects.config_map(ns, &reference.name).ok_or_else(|| {
        error(format!(
            "no ConfigMap named '{}' in namespace '{ns}'; declare it (apiVersion v1, kind ConfigMap) with Sigstore's trusted root in an entry named {TRUSTED_ROOT_KEY}",
            reference.name
        ))
    })?;
    let json = map.data.get(TRUSTED_ROOT_KEY).ok_or_else(|| {
        error(format!(
            "ConfigMap '{}' ({}:{}) has no {TRUSTED_ROOT_KEY} entry; put Sigstore's trusted root there (cosign's --trusted-root file)",
            reference.name,
            map.file.display(),
            map.line
        ))
    })?;
    TrustedRoot::from_json(json.as_bytes())
        .map(Arc::new)
        .map_err(|e| {
            error(format!(
                "ConfigMap '{}' {TRUSTED_ROOT_KEY} ({}:{}): {e}",
                reference.name,
                map.file.display(),
                map.line
            ))
        })
}

/// The cosign grant of a policy: the repositories of every container image
/// in `manifests`, plain HTTP only to loopback registries (as Docker).
pub(crate) fn policy_grant(
    manifests: &[Manifest],
    trusted_root: Option<Arc<TrustedRoot>>,
    cache: &Arc<Cache>,
) -> CosignGrant {
    let mut repositories = BTreeSet::new();
    for m in manifests {
        images(&m.object, &mut |image| {
            if let Ok(r) = sluice_plugin_host::cosign::repository_of(image) {
                repositories.insert(r);
            }
        });
    }
    CosignGrant {
        repositories: repositories
            .into_iter()
            .map(|repository| OciGrant {
                insecure: sluice_plugin_host::cosign::is_loopback(
                    repository.split('/').next().unwrap_or_default(),
                ),
                repository,
            })
            .collect(),
        trusted_root,
        cache: cache.clone(),
    }
}

/// Calls `f` with every `image` of a container list (`containers`,
/// `initContainers`, `ephemeralContainers`) anywhere in `v`, so Pods,
/// workload templates and CronJobs alike are covered.
fn images(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if matches!(
                    k.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) && let Some(list) = child.as_array()
                {
                    for image in list.iter().filter_map(|c| c.get("image")?.as_str()) {
                        f(image);
                    }
                }
                images(child, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| images(i, f)),
        _ => {}
    }
}

/// A Source's `spec.verify` as the `verify` entry of the oci plugin's
/// config (the public keys from the Secret's `*.pub` entries, keyless
/// identities as whole-value regexps) and the trusted root it needs.
pub(crate) fn source_verify(
    verify: &Verify,
    objects: &Objects,
    ns: &str,
    at: &At,
) -> Result<(Value, Option<Arc<TrustedRoot>>)> {
    let error = |message: String| Error::Reference {
        at: at.clone(),
        field: "spec.verify",
        message,
    };
    if verify.provider != "cosign" {
        return Err(error(format!(
            "provider '{}' is not supported; use cosign",
            verify.provider
        )));
    }
    let mut authorities = Vec::new();
    if let Some(r) = &verify.secret_ref {
        let secret = objects.secret(ns, &r.name).ok_or_else(|| {
            error(format!(
                "secretRef: no Secret named '{}' in namespace '{ns}'; declare it with the cosign public keys in entries named <name>.pub",
                r.name
            ))
        })?;
        for (key, value) in secret.data.iter().filter(|(k, _)| k.ends_with(".pub")) {
            let pem = String::from_utf8(value.clone()).map_err(|_| {
                error(format!(
                    "secretRef: entry {key} of Secret '{}' is not PEM text",
                    r.name
                ))
            })?;
            authorities.push(json!({"publicKey": pem}));
        }
        if authorities.is_empty() {
            return Err(error(format!(
                "secretRef: Secret '{}' has no entry named <name>.pub; put the cosign public key (cosign.pub) there",
                r.name
            )));
        }
    }
    // Flux (through cosign) finds the expressions anywhere in the value;
    // the capability matches whole values, so say "anywhere" explicitly.
    for id in &verify.match_oidc_identity {
        authorities.push(json!({"keyless": {
            "issuer": format!("regexp:.*(?:{}).*", id.issuer),
            "subject": format!("regexp:.*(?:{}).*", id.subject),
        }}));
    }
    if authorities.is_empty() {
        return Err(error(
            "name who may sign: secretRef (a Secret with <name>.pub public keys) or matchOIDCIdentity (keyless issuer and subject)".into(),
        ));
    }
    let root = match &verify.trusted_root_ref {
        Some(r) => Some(trusted_root(
            objects,
            ns,
            r,
            at,
            "spec.verify.trustedRootRef",
        )?),
        None if !verify.match_oidc_identity.is_empty() => {
            return Err(error(
                "matchOIDCIdentity needs trustedRootRef: a ConfigMap with Sigstore's trusted_root.json naming the Fulcio CA and Rekor key (no public Sigstore is consulted)".into(),
            ));
        }
        None => None,
    };
    Ok((json!({"authorities": authorities}), root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_found_in_every_container_list() {
        let doc = json!({
            "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "initContainers": [{"name": "init", "image": "127.0.0.1:5000/init:1"}],
                "containers": [{"name": "a", "image": "ghcr.io/org/a@sha256:00"}, {"name": "b", "image": "nginx"}]
            }}}}}
        });
        let mut seen = Vec::new();
        images(&doc, &mut |i| seen.push(i.to_string()));
        assert_eq!(
            seen,
            ["127.0.0.1:5000/init:1", "ghcr.io/org/a@sha256:00", "nginx"]
        );
    }
}
