//! `verify-images`: admits only workloads whose images carry a valid
//! cosign signature by an authority the config names, before anything
//! reaches a cluster (sigstore policy-controller and Kyverno's
//! `verifyImages`, at render time).
//!
//! Every image of every workload (see [`discover`]) is normalised as
//! Kyverno does ([`reference`]) and matched against the rules' globs; each
//! matching rule's authorities are checked by the host's `cosign`
//! capability, offline against the trusted root the user configured. Each
//! distinct request is sent once per evaluation. A failure is one finding
//! per image field, naming the object, the field path (so `sluice check`
//! shows file and line), the image, the rule and the host's reason: an
//! error, or a warning for a rule that is not required (native) or under
//! `Audit` (Kyverno). With `mutateDigest`, images every matching rule
//! verified are rewritten to `registry/repo:tag@sha256:…` in `mutated`.
//!
//! Config: native rules or Kyverno policies, see [`config`].

pub mod config;
pub mod discover;
pub mod kyverno;
pub mod reference;
pub mod verify;
pub mod wildcard;

use config::Rule;
use reference::Image;
use serde_json::Value;
use verify::{Checker, Failure, Verifier};

pub use config::SCHEMA;

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Info,
}

/// One finding, about an object (by index) or about the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub resource: Option<usize>,
    pub field: Option<String>,
    pub code: &'static str,
    pub message: String,
}

/// What one evaluation found.
#[derive(Debug)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// The objects with pinned images, when any image was pinned.
    pub mutated: Option<Vec<Value>>,
}

/// Checks the images of `objects` against the rules of `config`. `Err`
/// lists the problems with the config, each with its field.
pub fn evaluate(
    config: &str,
    objects: &[Value],
    verifier: &mut dyn Verifier,
) -> Result<Outcome, Vec<String>> {
    let parsed = config::parse(config)?;
    let mut findings: Vec<Finding> = parsed
        .notes
        .into_iter()
        .map(|n| Finding {
            level: if n.warning {
                Level::Warning
            } else {
                Level::Info
            },
            resource: None,
            field: None,
            code: n.code,
            message: n.message,
        })
        .collect();
    let mut checker = Checker::new(verifier);
    let mut out = objects.to_vec();
    let mut pinned_any = false;
    for (index, object) in objects.iter().enumerate() {
        let rules: Vec<&Rule> = parsed
            .rules
            .iter()
            .filter(|r| r.scope.as_ref().is_none_or(|s| s.applies(object)))
            .collect();
        if rules.is_empty() {
            continue;
        }
        for found in discover::images(object) {
            let mut report = |level, code, message| {
                findings.push(Finding {
                    level,
                    resource: Some(index),
                    field: Some(found.field.clone()),
                    code,
                    message,
                })
            };
            let what = format!("container '{}' image '{}'", found.container, found.image);
            let image = match Image::parse(&found.image) {
                Ok(i) => i,
                Err(e) => {
                    report(
                        Level::Error,
                        "invalid-image",
                        format!("{what} cannot be checked: {e}; fix the reference"),
                    );
                    continue;
                }
            };
            let normal = image.to_string();
            let applicable = rules.iter().filter(|r| {
                r.images.iter().any(|g| wildcard::matches(g, &normal))
                    && !r.skip_images.iter().any(|g| wildcard::matches(g, &normal))
            });
            let mut passed = Vec::new();
            let mut all_passed = true;
            for rule in applicable {
                match checker.check(&normal, &rule.attestors, rule.auth_secret.as_deref()) {
                    Ok(v) => passed.push((*rule, v)),
                    Err(f) => {
                        all_passed = false;
                        let level = if rule.advisory {
                            Level::Warning
                        } else {
                            Level::Error
                        };
                        report(level, f.error.code(), failure(&what, rule, &f));
                    }
                }
            }
            let pin = (all_passed && image.digest.is_none())
                .then(|| passed.iter().find(|(r, _)| r.mutate_digest))
                .flatten()
                .map(|(_, v)| image.pinned(&v.digest));
            for (rule, v) in &passed {
                let mut message = format!(
                    "{what} verified by rule '{}': signed by {}, digest {}",
                    rule.name, v.identity, v.digest
                );
                if let Some(p) = &pin {
                    message.push_str(&format!("; pinned to '{p}'"));
                }
                report(Level::Info, "verified", message);
                if rule.verify_digest && image.digest.is_none() && pin.is_none() {
                    report(
                        if rule.advisory {
                            Level::Warning
                        } else {
                            Level::Error
                        },
                        "missing-digest",
                        format!(
                            "{what} has no digest, which rule '{}' requires; write it as '{}' or turn on mutateDigest",
                            rule.name,
                            image.pinned(&v.digest)
                        ),
                    );
                }
            }
            if let Some(p) = pin {
                let slot = out[index]
                    .pointer_mut(&found.pointer)
                    .expect("the image was found at this pointer");
                *slot = Value::String(p);
                pinned_any = true;
            }
        }
    }
    Ok(Outcome {
        findings,
        mutated: pinned_any.then_some(out),
    })
}

/// The message of a failed check, with what to do about it.
fn failure(what: &str, rule: &Rule, f: &Failure) -> String {
    let advice = match f.error {
        verify::CallError::NotFound(_) => {
            "; sign it with one of the rule's authorities, or exclude it from the rule"
        }
        // Invalid signatures and unreachable registries alike: the host's
        // text says which and what to do about a registry.
        verify::CallError::Failed(_) => {
            "; a valid signature by one of the rule's authorities is needed"
        }
        verify::CallError::Denied(_) => {
            "; grant the policy the cosign capability for the image's registry"
        }
        verify::CallError::LimitExceeded(_) => "",
    };
    format!(
        "{what} is not verified by rule '{}': {}{advice}",
        rule.name,
        f.reasons.join("; ")
    )
}

#[cfg(test)]
mod tests;

#[cfg(target_arch = "wasm32")]
mod bindings {
    use super::*;

    wit_bindgen::generate!({ path: "../../wit", world: "policy" });

    use sluice::plugin::capability_types::CapabilityError;
    use sluice::plugin::cosign;
    use sluice::plugin::types::{PluginKind, ResourceRef, Severity};

    struct VerifyImages;

    /// The host's `cosign.verify`.
    struct Host;

    impl Verifier for Host {
        fn verify(
            &mut self,
            request: &verify::Request,
        ) -> Result<verify::Verified, verify::CallError> {
            let authorities = request
                .authorities
                .iter()
                .map(|a| match a {
                    verify::Authority::PublicKey(pem) => cosign::Authority::PublicKey(pem.clone()),
                    verify::Authority::Keyless { issuer, subject } => {
                        cosign::Authority::Keyless(cosign::Identity {
                            issuer: issuer.clone(),
                            subject: subject.clone(),
                        })
                    }
                })
                .collect();
            let request = cosign::VerifyRequest {
                image: request.image.clone(),
                authorities,
                annotations: request.annotations.clone(),
                auth_secret: request.auth_secret.clone(),
            };
            match cosign::verify(&request) {
                Ok(v) => Ok(verify::Verified {
                    digest: v.digest,
                    identity: v.identity,
                }),
                Err(CapabilityError::Denied(t)) => Err(verify::CallError::Denied(t)),
                Err(CapabilityError::NotFound(t)) => Err(verify::CallError::NotFound(t)),
                Err(CapabilityError::Failed(t)) => Err(verify::CallError::Failed(t)),
                Err(CapabilityError::LimitExceeded(t)) => Err(verify::CallError::LimitExceeded(t)),
            }
        }
    }

    fn resource_ref(object: &Value) -> ResourceRef {
        let s = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        ResourceRef {
            api_version: s("/apiVersion"),
            kind: s("/kind"),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
        }
    }

    fn problem(message: String, code: &str) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message,
            resource: None,
            field_path: None,
            location: None,
            code: Some(code.into()),
        }
    }

    impl Guest for VerifyImages {
        fn metadata() -> PluginMetadata {
            PluginMetadata {
                name: "verify-images".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                kind: PluginKind::Policy,
                description: "Cosign signatures of workload images (keys or keyless identities), native rules or Kyverno verifyImages; pins verified images to digests".into(),
            }
        }

        fn config_schema() -> String {
            SCHEMA.into()
        }

        fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Vec<Diagnostic>> {
            let mut objects = Vec::with_capacity(request.manifests.len());
            for (i, m) in request.manifests.iter().enumerate() {
                let v: Value = serde_json::from_str(&m.json).map_err(|e| {
                    vec![problem(
                        format!("manifest {i} is not JSON: {e}"),
                        "invalid-manifest",
                    )]
                })?;
                objects.push(v);
            }
            let outcome = super::evaluate(&request.config, &objects, &mut Host).map_err(|p| {
                p.into_iter()
                    .map(|p| problem(format!("invalid config: {p}"), "invalid-config"))
                    .collect::<Vec<_>>()
            })?;
            let mut verdict = Verdict::Allow;
            let diagnostics = outcome
                .findings
                .into_iter()
                .map(|f| {
                    let severity = match f.level {
                        Level::Error => Severity::Error,
                        Level::Warning => Severity::Warning,
                        Level::Info => Severity::Info,
                    };
                    verdict = match (severity, verdict) {
                        (Severity::Error, _) => Verdict::Deny,
                        (Severity::Warning, Verdict::Allow) => Verdict::Warn,
                        (_, v) => v,
                    };
                    Diagnostic {
                        severity,
                        message: f.message,
                        resource: f.resource.map(|i| resource_ref(&objects[i])),
                        field_path: f.field,
                        location: f.resource.and_then(|i| request.manifests[i].origin.clone()),
                        code: Some(f.code.into()),
                    }
                })
                .collect();
            let mutated = outcome.mutated.map(|objects| {
                objects
                    .iter()
                    .zip(&request.manifests)
                    .map(|(v, m)| Manifest {
                        json: v.to_string(),
                        origin: m.origin.clone(),
                    })
                    .collect()
            });
            Ok(Evaluation {
                verdict,
                diagnostics,
                mutated,
            })
        }
    }

    export!(VerifyImages);
}
