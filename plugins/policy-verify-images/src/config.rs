//! The two accepted configs, read into one list of [`Rule`]s.
//!
//! Native: `{"rules": [{"images": [glob…], "authorities": [{"key": PEM} |
//! {"keyless": {"issuer"|"issuerRegExp", "subject"|"subjectRegExp"}}],
//! "annotations", "mutateDigest", "verifyDigest", "required", …}]}`: a
//! rule applies to every workload; any one authority is enough; `required:
//! false` turns failures into warnings.
//!
//! Kyverno: a `kyverno.io/v1` ClusterPolicy or Policy, a list of them, or
//! `{"policies": [...]}` as the `rules` plugin takes them; their
//! `verifyImages` rules are read (see [`crate::kyverno`]).

use crate::kyverno;
use crate::verify::{AttestorSet, Authority, Entry, EntryKind};
use serde::Deserialize;
use serde_json::Value;

/// One image rule, whichever form it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// How findings name the rule: `rules[0]`, or `<policy>/<rule>`.
    pub name: String,
    /// Globs over the normalised reference; one must match.
    pub images: Vec<String>,
    /// Globs of images the rule leaves alone.
    pub skip_images: Vec<String>,
    /// Every set must pass.
    pub attestors: Vec<AttestorSet>,
    /// Rewrite verified images to `registry/repo:tag@digest`.
    pub mutate_digest: bool,
    /// Images must carry a digest (after any pinning).
    pub verify_digest: bool,
    /// Failures are warnings (native `required: false`, Kyverno `Audit`).
    pub advisory: bool,
    /// Which objects the rule looks at; `None`: every workload.
    pub scope: Option<kyverno::Scope>,
    /// A granted secret with registry credentials.
    pub auth_secret: Option<String>,
}

/// A remark about the config that does not stop evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub code: &'static str,
    pub message: String,
}

/// The rules and notes of a config.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rules: Vec<Rule>,
    pub notes: Vec<Note>,
}

pub const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "verify-images policy",
  "description": "Native image rules, or Kyverno ClusterPolicy/Policy documents with verifyImages rules",
  "anyOf": [
    {
      "type": "object",
      "additionalProperties": false,
      "required": ["rules"],
      "properties": {
        "rules": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["images", "authorities"],
            "properties": {
              "name": { "description": "How findings name the rule (default rules[<index>])", "type": "string", "minLength": 1 },
              "images": {
                "description": "Globs over the normalised reference (`nginx` is `docker.io/nginx:latest`); `*` matches across `/`",
                "type": "array", "minItems": 1, "items": { "type": "string", "minLength": 1 }
              },
              "skipImages": { "description": "Globs of images this rule leaves alone", "type": "array", "items": { "type": "string", "minLength": 1 } },
              "authorities": {
                "description": "A signature by any one of these is accepted",
                "type": "array", "minItems": 1,
                "items": {
                  "type": "object",
                  "additionalProperties": false,
                  "minProperties": 1,
                  "maxProperties": 1,
                  "properties": {
                    "key": { "description": "PEM public key(s), as in cosign.pub", "type": "string", "minLength": 1 },
                    "keyless": {
                      "type": "object",
                      "additionalProperties": false,
                      "properties": {
                        "issuer": { "type": "string", "minLength": 1 },
                        "issuerRegExp": { "description": "Regular expression matched against the whole issuer", "type": "string", "minLength": 1 },
                        "subject": { "type": "string", "minLength": 1 },
                        "subjectRegExp": { "description": "Regular expression matched against the whole subject (email or URI)", "type": "string", "minLength": 1 }
                      }
                    }
                  }
                }
              },
              "annotations": { "description": "Entries the signature's optional annotations must hold", "type": "object", "additionalProperties": { "type": "string" } },
              "mutateDigest": { "description": "Pin verified images to their digest (default false)", "type": "boolean" },
              "verifyDigest": { "description": "Deny images without a digest, after pinning (default false)", "type": "boolean" },
              "required": { "description": "false: failures are warnings, not denials (default true)", "type": "boolean" },
              "authSecret": { "description": "Granted Secret with a .dockerconfigjson entry for the registry", "type": "string", "minLength": 1 }
            }
          }
        }
      }
    },
    {
      "type": "object",
      "required": ["policies"],
      "additionalProperties": false,
      "properties": {
        "policies": { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/kyverno" } }
      }
    },
    { "$ref": "#/$defs/kyverno" },
    { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/kyverno" } }
  ],
  "$defs": {
    "kyverno": {
      "description": "A kyverno.io/v1 ClusterPolicy or Policy",
      "type": "object",
      "required": ["apiVersion", "kind", "metadata", "spec"],
      "properties": {
        "apiVersion": { "type": "string", "pattern": "^kyverno\\.io/" },
        "kind": { "enum": ["ClusterPolicy", "Policy"] }
      }
    }
  }
}"##;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NativeRule {
    name: Option<String>,
    images: Vec<String>,
    #[serde(default)]
    skip_images: Vec<String>,
    authorities: Vec<NativeAuthority>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    mutate_digest: bool,
    #[serde(default)]
    verify_digest: bool,
    #[serde(default = "yes")]
    required: bool,
    auth_secret: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NativeAuthority {
    key: Option<String>,
    keyless: Option<Identity>,
}

/// A keyless identity as both forms write it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub issuer_reg_exp: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub subject_reg_exp: String,
}

/// Reads `config`; `Err` lists every problem with its field.
pub fn parse(config: &str) -> Result<Parsed, Vec<String>> {
    let value: Value =
        serde_json::from_str(config).map_err(|e| vec![format!("config is not JSON: {e}")])?;
    match &value {
        Value::Object(o) if o.contains_key("rules") => native(value),
        Value::Object(o) if o.contains_key("policies") => kyverno::parse(
            o["policies"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            "policies",
        ),
        Value::Array(items) => kyverno::parse(items, ""),
        Value::Object(_) => kyverno::parse(std::slice::from_ref(&value), ""),
        _ => Err(vec![
            "config must be {\"rules\": [...]}, a Kyverno policy or a list of them".into(),
        ]),
    }
}

fn native(value: Value) -> Result<Parsed, Vec<String>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Native {
        rules: Vec<NativeRule>,
    }
    let config: Native = serde_json::from_value(value).map_err(|e| vec![format!("{e}")])?;
    let mut problems = Vec::new();
    let mut rules = Vec::new();
    for (i, r) in config.rules.into_iter().enumerate() {
        let at = format!("rules[{i}]");
        let before = problems.len();
        let annotations: Vec<(String, String)> = r.annotations.into_iter().collect();
        let mut entries = Vec::new();
        for (j, a) in r.authorities.into_iter().enumerate() {
            let path = format!("{at}.authorities[{j}]");
            match (a.key, a.keyless) {
                (Some(pem), None) => {
                    let keys = split_pem(&pem);
                    if keys.is_empty() {
                        problems.push(format!(
                            "{path}.key: no '-----BEGIN PUBLIC KEY-----' block; paste the contents of cosign.pub"
                        ));
                    }
                    entries.extend(keys.into_iter().map(|k| Entry {
                        path: format!("{path}.key"),
                        kind: EntryKind::Authority {
                            authority: Authority::PublicKey(k),
                            annotations: annotations.clone(),
                        },
                    }));
                }
                (None, Some(id)) => match keyless(&id, Form::Native) {
                    Ok(authority) => entries.push(Entry {
                        path: format!("{path}.keyless"),
                        kind: EntryKind::Authority {
                            authority,
                            annotations: annotations.clone(),
                        },
                    }),
                    Err(e) => problems.push(format!("{path}.keyless: {e}")),
                },
                _ => problems.push(format!("{path}: give exactly one of 'key' or 'keyless'")),
            }
        }
        if r.images.is_empty() {
            problems.push(format!("{at}.images: name at least one image glob"));
        }
        if entries.is_empty() && problems.len() == before {
            problems.push(format!("{at}.authorities: name at least one authority"));
        }
        rules.push(Rule {
            name: r.name.unwrap_or(at),
            images: r.images,
            skip_images: r.skip_images,
            attestors: vec![AttestorSet { count: 1, entries }],
            mutate_digest: r.mutate_digest,
            verify_digest: r.verify_digest,
            advisory: !r.required,
            scope: None,
            auth_secret: r.auth_secret,
        });
    }
    if problems.is_empty() {
        Ok(Parsed {
            rules,
            notes: Vec::new(),
        })
    } else {
        Err(problems)
    }
}

/// The PEM public keys in `text`, each a separate authority (Kyverno
/// splits concatenated keys the same way).
pub fn split_pem(text: &str) -> Vec<String> {
    const END: &str = "-----END PUBLIC KEY-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find(END) {
        let block = &rest[..end + END.len()];
        if let Some(begin) = block.find("-----BEGIN PUBLIC KEY-----") {
            out.push(format!("{}\n", &block[begin..]));
        }
        rest = &rest[end + END.len()..];
    }
    out
}

/// How a form writes keyless identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Issuer and subject are required; `…RegExp` must match the whole value.
    Native,
    /// Absent issuer or subject accepts any; `…RegExp` may match anywhere
    /// in the value, as cosign (and so Kyverno) applies it.
    Kyverno,
}

/// The authority for a keyless identity, in the host's terms (exact, or
/// `regexp:` matched against the whole value). Kyverno wildcards in
/// `issuer`/`subject` become anchored regular expressions.
pub fn keyless(id: &Identity, form: Form) -> Result<Authority, String> {
    let pick = |exact: &str, regexp: &str, what: &str| -> Result<String, String> {
        match (exact.is_empty(), regexp.is_empty()) {
            (false, false) => Err(format!("give {what} or {what}RegExp, not both")),
            (true, false) if form == Form::Kyverno => Ok(format!("regexp:.*(?:{regexp}).*")),
            (true, false) => Ok(format!("regexp:{regexp}")),
            (false, true) if exact.contains(['*', '?']) => {
                Ok(format!("regexp:{}", crate::wildcard::to_regex(exact)))
            }
            (false, true) => Ok(exact.to_owned()),
            (true, true) if form == Form::Native => Err(format!("give {what} or {what}RegExp")),
            (true, true) => Ok("regexp:.*".into()),
        }
    };
    Ok(Authority::Keyless {
        issuer: pick(&id.issuer, &id.issuer_reg_exp, "issuer")?,
        subject: pick(&id.subject, &id.subject_reg_exp, "subject")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const KEY_A: &str = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

    #[test]
    fn native_rules_read_with_defaults() {
        let config = serde_json::json!({"rules": [{
            "images": ["registry.example/*"],
            "authorities": [
                {"key": format!("{KEY_A}{}", KEY_A.replace("AAAA", "BBBB"))},
                {"keyless": {"issuer": "https://issuer.example", "subjectRegExp": "^ci@.*$"}},
            ],
            "annotations": {"env": "prod"},
        }]});
        let parsed = parse(&config.to_string()).unwrap();
        let [rule] = &parsed.rules[..] else { panic!() };
        assert_eq!(rule.name, "rules[0]");
        assert!(!rule.mutate_digest && !rule.verify_digest && !rule.advisory);
        let [set] = &rule.attestors[..] else { panic!() };
        assert_eq!(set.count, 1);
        assert_eq!(
            set.entries.len(),
            3,
            "two concatenated keys are two authorities"
        );
        assert_eq!(
            set.entries[2].kind,
            EntryKind::Authority {
                authority: Authority::Keyless {
                    issuer: "https://issuer.example".into(),
                    subject: "regexp:^ci@.*$".into()
                },
                annotations: vec![("env".into(), "prod".into())],
            }
        );
        assert_eq!(set.entries[0].path, "rules[0].authorities[0].key");
    }

    #[test]
    fn native_mistakes_name_their_field() {
        let bad = serde_json::json!({"rules": [{
            "images": ["*"],
            "authorities": [{"key": "not a key"}, {"keyless": {"issuer": "i"}}, {}],
        }]});
        let problems = parse(&bad.to_string()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].starts_with("rules[0].authorities[0].key: no '-----BEGIN PUBLIC KEY-----'")
        );
        assert_eq!(
            problems[1],
            "rules[0].authorities[1].keyless: give subject or subjectRegExp"
        );
        assert!(problems[2].starts_with("rules[0].authorities[2]: give exactly one"));

        let typo = serde_json::json!({"rules": [{"images": ["*"], "authorities": [{"key": KEY_A}], "mutatedigest": true}]});
        let problems = parse(&typo.to_string()).unwrap_err();
        assert!(
            problems[0].contains("unknown field `mutatedigest`"),
            "{problems:?}"
        );
    }

    #[test]
    fn wildcard_subjects_become_anchored_regexps() {
        let id = Identity {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "https://github.com/org/*".into(),
            ..Identity::default()
        };
        assert_eq!(
            keyless(&id, Form::Kyverno).unwrap(),
            Authority::Keyless {
                issuer: "https://token.actions.githubusercontent.com".into(),
                subject: "regexp:^https://github\\.com/org/.*$".into(),
            }
        );
        assert_eq!(
            keyless(&Identity::default(), Form::Kyverno).unwrap(),
            Authority::Keyless {
                issuer: "regexp:.*".into(),
                subject: "regexp:.*".into()
            }
        );
        let id = Identity {
            issuer: "https://issuer.example".into(),
            subject_reg_exp: "@example\\.com$".into(),
            ..Identity::default()
        };
        assert_eq!(
            keyless(&id, Form::Kyverno).unwrap(),
            Authority::Keyless {
                issuer: "https://issuer.example".into(),
                subject: "regexp:.*(?:@example\\.com$).*".into()
            },
            "cosign finds a Kyverno regexp anywhere in the value"
        );
    }
}
