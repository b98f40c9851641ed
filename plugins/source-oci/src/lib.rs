//! `oci`: a source plugin for artifacts in OCI registries (`oci://HOST/REPO`),
//! configured like Flux's OCIRepository: `ref` picks a `tag`, the highest
//! tag in a `semver` range (optionally pre-filtered by `semverFilter`), or a
//! `digest`; `layerSelector` picks the layer and whether it is extracted or
//! copied.
//!
//! The host does the transport (the `oci` capability); this plugin decides.
//! A poll costs one manifest request (plus the tag list for semver): the
//! revision is `<tag>@sha256:<manifest digest>`, or `sha256:<digest>` for a
//! digest ref, exactly as Flux writes it, and an equal `last-revision`
//! answers `unchanged` before any layer is downloaded.
//!
//! With `verify` (set by the host from the Source's `spec.verify`), the
//! artifact's digest must carry a valid cosign signature by one of the
//! authorities (the `cosign` capability) before it is used, polls
//! included: a failed check fails the fetch, so the last good artifact stays.

use serde::Deserialize;

wit_bindgen::generate!({ path: "../../wit", world: "source" });

use sluice::plugin::capability_types::CapabilityError;
use sluice::plugin::types::{PluginKind, Severity};
use sluice::plugin::{cosign, oci};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "oci source",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "ref": {
      "description": "Which artifact to take; digest wins over semver, semver over tag; default tag 'latest'",
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "tag": { "type": "string", "minLength": 1 },
        "semver": { "description": "A range such as '>=1.0.0 <2.0.0', '~1.2', '^1', '1.x' or 'a || b'; the highest matching tag wins", "type": "string", "minLength": 1 },
        "semverFilter": { "description": "Regular expression the tags must match before the semver range applies", "type": "string", "minLength": 1 },
        "digest": { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$" }
      }
    },
    "layerSelector": {
      "description": "Which layer to take: by media type (default: Flux's content layer, else the first tar+gzip layer)",
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "mediaType": { "type": "string", "minLength": 1 },
        "operation": { "enum": ["extract", "copy"], "description": "extract the tarball (default) or store the layer as it is" }
      }
    },
    "verify": {
      "description": "Set by the host from the Source's spec.verify: who must have signed the artifact (cosign)",
      "type": "object",
      "additionalProperties": false,
      "required": ["authorities"],
      "properties": {
        "authorities": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "publicKey": { "type": "string", "minLength": 1 },
              "keyless": {
                "type": "object",
                "additionalProperties": false,
                "required": ["issuer", "subject"],
                "properties": { "issuer": { "type": "string" }, "subject": { "type": "string" } }
              }
            }
          }
        }
      }
    }
  }
}"#;

const FLUX_CONTENT: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default, rename = "ref")]
    reference: Ref,
    #[serde(default, rename = "layerSelector")]
    layer_selector: LayerSelector,
    verify: Option<Verify>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Verify {
    authorities: Vec<Authority>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Authority {
    #[serde(rename = "publicKey")]
    public_key: Option<String>,
    keyless: Option<Keyless>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Keyless {
    issuer: String,
    subject: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Ref {
    tag: Option<String>,
    semver: Option<String>,
    #[serde(rename = "semverFilter")]
    semver_filter: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LayerSelector {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    operation: Operation,
}

#[derive(Deserialize, Default, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Operation {
    #[default]
    Extract,
    Copy,
}

#[derive(Deserialize)]
struct ImageManifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize, Debug)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
}

struct Oci;

impl Guest for Oci {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "oci".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Source,
            description: "Artifacts in OCI registries (oci:// URLs) by tag, semver range or digest, as Flux's OCIRepository".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn fetch(request: FetchRequest) -> Result<FetchResult, Vec<Diagnostic>> {
        let url = request.url.trim_end_matches('/').to_string();
        let Some(repository) = url.strip_prefix("oci://") else {
            return Err(fail(format!(
                "spec.url '{url}' is not an oci:// URL; write it as oci://HOST[:PORT]/REPOSITORY"
            )));
        };
        if repository.contains('@')
            || repository
                .rsplit('/')
                .next()
                .is_some_and(|s| s.contains(':'))
        {
            return Err(fail(format!(
                "spec.url '{url}' must name a repository without tag or digest; put those in spec.config.ref"
            )));
        }
        let config: Config = serde_json::from_str(&request.config)
            .map_err(|e| fail(format!("invalid spec.config: {e}")))?;
        let secret = request.secret.as_deref();

        // Resolve the ref: which manifest, and the revision it will give.
        let (reference, tag) = if let Some(digest) = &config.reference.digest {
            (format!("{repository}@{digest}"), None)
        } else if let Some(range) = &config.reference.semver {
            let tags =
                oci::list_tags(repository, secret).map_err(|e| transport(&url, "list tags", e))?;
            let tag = pick_semver(&tags, range, config.reference.semver_filter.as_deref())
                .map_err(|m| fail(format!("{url}: {m}")))?;
            (format!("{repository}:{tag}"), Some(tag))
        } else {
            let tag = config
                .reference
                .tag
                .clone()
                .unwrap_or_else(|| "latest".into());
            (format!("{repository}:{tag}"), Some(tag))
        };
        let shown = format!("oci://{reference}");
        let manifest =
            oci::get_manifest(&reference, secret).map_err(|e| transport(&shown, "resolve", e))?;
        let revision = match &tag {
            Some(tag) => format!("{tag}@{}", manifest.digest),
            None => manifest.digest.clone(),
        };
        if let Some(verify) = &config.verify {
            let image = format!("{repository}@{}", manifest.digest);
            let signed = cosign::verify(&cosign::VerifyRequest {
                image,
                authorities: verify
                    .authorities
                    .iter()
                    .flat_map(|a| {
                        let key = a.public_key.clone().map(cosign::Authority::PublicKey);
                        let keyless = a.keyless.as_ref().map(|k| {
                            cosign::Authority::Keyless(cosign::Identity {
                                issuer: k.issuer.clone(),
                                subject: k.subject.clone(),
                            })
                        });
                        key.into_iter().chain(keyless)
                    })
                    .collect(),
                annotations: Vec::new(),
                auth_secret: secret.map(str::to_string),
            })
            .map_err(|e| unverified(&shown, e))?;
            sluice::plugin::log::log(
                sluice::plugin::log::Level::Debug,
                &format!("{shown}: signed by {}", signed.identity),
            );
        }
        if request.last_revision.as_deref() == Some(revision.as_str()) {
            return Ok(FetchResult {
                outcome: FetchOutcome::Unchanged,
                diagnostics: Vec::new(),
            });
        }

        let parsed: ImageManifest = serde_json::from_str(&manifest.json).map_err(|e| {
            fail(format!(
                "{shown}: the manifest is not an OCI image manifest: {e}"
            ))
        })?;
        if parsed.manifests.is_some() {
            return Err(fail(format!(
                "{shown} is an image index ({}), not an artifact; point the ref at one of its manifests by digest",
                manifest.media_type
            )));
        }
        let layer = select_layer(&parsed.layers, config.layer_selector.media_type.as_deref())
            .map_err(|m| fail(format!("{shown}: {m}")))?;
        match config.layer_selector.operation {
            Operation::Extract => oci::extract_layer(repository, &layer.digest, secret),
            Operation::Copy => {
                let name = repository.rsplit('/').next().unwrap_or("layer");
                oci::copy_layer(repository, &layer.digest, &format!("{name}.tgz"), secret)
            }
        }
        .map_err(|e| transport(&shown, "pull the layer of", e))?;
        sluice::plugin::log::log(
            sluice::plugin::log::Level::Debug,
            &format!(
                "{shown}: layer {} ({}) at {revision}",
                layer.digest, layer.media_type
            ),
        );
        Ok(FetchResult {
            outcome: FetchOutcome::Fetched(revision),
            diagnostics: Vec::new(),
        })
    }
}

/// The layer named by `media_type`, else Flux's content layer, else the
/// first tar+gzip layer.
fn select_layer<'a>(
    layers: &'a [Descriptor],
    media_type: Option<&str>,
) -> Result<&'a Descriptor, String> {
    let listed = || {
        if layers.is_empty() {
            "it has no layers".to_string()
        } else {
            format!(
                "its layers are {}",
                layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    match media_type {
        Some(wanted) => layers.iter().find(|l| l.media_type == wanted).ok_or_else(|| {
            format!(
                "no layer of media type '{wanted}' (spec.config.layerSelector.mediaType); {}",
                listed()
            )
        }),
        None => layers
            .iter()
            .find(|l| l.media_type == FLUX_CONTENT)
            .or_else(|| layers.iter().find(|l| is_tar_gzip(&l.media_type)))
            .ok_or_else(|| {
                format!(
                    "no Flux content layer ({FLUX_CONTENT}) nor any tar+gzip layer; {}; choose one with spec.config.layerSelector.mediaType",
                    listed()
                )
            }),
    }
}

fn is_tar_gzip(media_type: &str) -> bool {
    media_type.ends_with("tar+gzip")
        || media_type.ends_with(".tar.gzip")
        || media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
}

/// The tag with the highest version in `range` among `tags` (those matching
/// `filter` first), as Flux's OCIRepository picks it.
fn pick_semver(tags: &[String], range: &str, filter: Option<&str>) -> Result<String, String> {
    let alternatives = parse_range(range)
        .map_err(|e| format!("spec.config.ref.semver '{range}' is not a semver range: {e}"))?;
    let filter = filter
        .map(|f| {
            regex_lite::Regex::new(f).map_err(|e| {
                format!("spec.config.ref.semverFilter '{f}' is not a regular expression: {e}")
            })
        })
        .transpose()?;
    let best = tags
        .iter()
        .filter(|t| filter.as_ref().is_none_or(|f| f.is_match(t)))
        .filter_map(|t| lenient_version(t).map(|v| (v, t)))
        .filter(|(v, _)| alternatives.iter().any(|req| req.matches(v)))
        .max_by(|(a, _), (b, _)| a.cmp(b));
    match best {
        Some((_, tag)) => Ok(tag.clone()),
        None => {
            let mut shown: Vec<&str> = tags.iter().map(String::as_str).take(20).collect();
            if tags.len() > 20 {
                shown.push("…");
            }
            Err(format!(
                "no tag matches the semver range '{range}'{}; the repository has {}: push a matching tag or widen spec.config.ref.semver",
                filter
                    .map(|f| format!(" and the filter '{}'", f.as_str()))
                    .unwrap_or_default(),
                if tags.is_empty() {
                    "no tags".to_string()
                } else {
                    format!("tags {}", shown.join(", "))
                }
            ))
        }
    }
}

/// Tags as Masterminds/semver (Flux's library) reads them: an optional `v`,
/// and missing minor or patch numbers taken as 0.
fn lenient_version(tag: &str) -> Option<semver::Version> {
    let s = tag.strip_prefix('v').unwrap_or(tag);
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let parts = core.split('.').count();
    let padded = match parts {
        1 => format!("{core}.0.0{rest}"),
        2 => format!("{core}.0{rest}"),
        _ => s.to_string(),
    };
    semver::Version::parse(&padded).ok()
}

/// A Masterminds-style range: `||` between alternatives, comparators joined
/// by commas or spaces, `a - b` hyphen ranges, and a bare version meaning
/// exactly that version (not `^` as in Cargo).
fn parse_range(range: &str) -> Result<Vec<semver::VersionReq>, String> {
    range
        .split("||")
        .map(|alt| {
            let alt = alt.trim();
            if let Some((lo, hi)) = alt.split_once(" - ") {
                return semver::VersionReq::parse(&format!(
                    ">={}, <={}",
                    lo.trim().trim_start_matches('v'),
                    hi.trim().trim_start_matches('v')
                ))
                .map_err(|e| e.to_string());
            }
            // Join operators to their versions, then split comparators.
            let is_operator = |s: &str| s.chars().all(|c| "<>=!~^".contains(c));
            let mut tokens: Vec<String> = Vec::new();
            for word in alt.split([',', ' ']).filter(|w| !w.is_empty()) {
                match tokens.last_mut() {
                    Some(last) if is_operator(last) => last.push_str(word),
                    _ => tokens.push(word.to_string()),
                }
            }
            let comparators: Vec<String> = tokens
                .into_iter()
                .map(|t| {
                    let op_len = t.find(|c: char| !"<>=!~^".contains(c)).unwrap_or(t.len());
                    let (op, version) = t.split_at(op_len);
                    let version = version.trim_start_matches('v');
                    let op = if op.is_empty() && !version.contains(['*', 'x', 'X']) {
                        "="
                    } else {
                        op
                    };
                    format!("{op}{version}")
                })
                .collect();
            if comparators.is_empty() {
                return Ok(semver::VersionReq::STAR);
            }
            semver::VersionReq::parse(&comparators.join(", ")).map_err(|e| e.to_string())
        })
        .collect()
}

fn transport(subject: &str, action: &str, e: CapabilityError) -> Vec<Diagnostic> {
    let (code, message) = match e {
        CapabilityError::Denied(m) => ("denied", m),
        CapabilityError::NotFound(m) => (
            "not-found",
            format!("{m}; check the repository and spec.config.ref"),
        ),
        CapabilityError::Failed(m) => ("failed", m),
        CapabilityError::LimitExceeded(m) => (
            "limit-exceeded",
            format!("{m}; raise the Source's limits or make the artifact smaller"),
        ),
    };
    vec![Diagnostic {
        severity: Severity::Error,
        message: format!("cannot {action} {subject}: {message}"),
        resource: None,
        field_path: None,
        location: None,
        code: Some(format!("oci-{code}")),
    }]
}

/// A signature check that did not pass: the artifact is not used.
fn unverified(subject: &str, e: CapabilityError) -> Vec<Diagnostic> {
    let (code, message) = match e {
        CapabilityError::Denied(m) => ("denied", m),
        CapabilityError::NotFound(m) => ("unsigned", m),
        CapabilityError::Failed(m) => ("rejected", m),
        CapabilityError::LimitExceeded(m) => ("limit-exceeded", m),
    };
    vec![Diagnostic {
        severity: Severity::Error,
        message: format!(
            "{subject} is not used: spec.verify requires a valid cosign signature: {message}"
        ),
        resource: None,
        field_path: None,
        location: None,
        code: Some(format!("oci-verify-{code}")),
    }]
}

fn fail(message: String) -> Vec<Diagnostic> {
    vec![Diagnostic {
        severity: Severity::Error,
        message,
        resource: None,
        field_path: None,
        location: None,
        code: None,
    }]
}

export!(Oci);

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_the_highest_tag_in_range() {
        let t = tags(&[
            "latest",
            "v1.0.0",
            "v1.2.3",
            "1.3.0-rc.1",
            "v2.0.0",
            "v1.10",
            "dev-1.9.0",
        ]);
        assert_eq!(pick_semver(&t, ">=1.0.0 <2.0.0", None).unwrap(), "v1.10");
        assert_eq!(
            pick_semver(&t, ">= 1.0.0, < 1.5.0", None).unwrap(),
            "v1.2.3"
        );
        assert_eq!(pick_semver(&t, "~1.2", None).unwrap(), "v1.2.3");
        assert_eq!(pick_semver(&t, "1.0.0", None).unwrap(), "v1.0.0");
        assert_eq!(pick_semver(&t, "1.x || >=2", None).unwrap(), "v2.0.0");
        assert_eq!(pick_semver(&t, "1.0.0 - 1.5.0", None).unwrap(), "v1.2.3");
        assert_eq!(pick_semver(&t, "*", Some("^v1\\.0")).unwrap(), "v1.0.0");
        let e = pick_semver(&t, ">=3", None).unwrap_err();
        assert!(e.contains("no tag matches") && e.contains("v2.0.0"), "{e}");
    }

    #[test]
    fn layer_selection_prefers_flux_content_then_tar_gzip() {
        let l = |m: &str, d: &str| Descriptor {
            media_type: m.into(),
            digest: d.into(),
        };
        let layers = vec![
            l("application/vnd.oci.image.layer.v1.tar", "a"),
            l("application/vnd.oci.image.layer.v1.tar+gzip", "b"),
            l(FLUX_CONTENT, "c"),
        ];
        assert_eq!(select_layer(&layers, None).unwrap().digest, "c");
        assert_eq!(select_layer(&layers[..2], None).unwrap().digest, "b");
        assert_eq!(
            select_layer(&layers, Some("application/vnd.oci.image.layer.v1.tar"))
                .unwrap()
                .digest,
            "a"
        );
        let e = select_layer(&layers, Some("application/x-nope")).unwrap_err();
        assert!(
            e.contains("application/x-nope") && e.contains(FLUX_CONTENT),
            "{e}"
        );
    }
}
