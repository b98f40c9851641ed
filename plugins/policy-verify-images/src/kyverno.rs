//! Kyverno `verifyImages` rules, read with Kyverno's defaults
//! (`mutateDigest`, `verifyDigest` and `required` true, failure action
//! `Audit` unless `Enforce` is set) and its matching: `match`/`exclude`
//! with `any`/`all` or `resources`, on kinds, names, namespaces, labels
//! (`selector.matchLabels`) and annotations, and the rules it generates
//! for Pod controllers (`kinds: [Pod]` covers Deployments, CronJobs, …).
//!
//! Signatures are checked offline: `rekor` and `ctlog` URLs are not
//! contacted (a note says so) because the host checks certificates and log
//! entries against its configured trusted root. What the `cosign`
//! capability cannot do (certificates, KMS or Secret keys, custom roots,
//! certificate extensions, attestations, other signature repositories,
//! Notary) is refused with the field, rather than skipped and passed.

use crate::config::{Form, Identity, Note, Parsed, Rule, keyless, split_pem};
use crate::verify::{AttestorSet, Authority, Entry, EntryKind};
use crate::wildcard;
use serde_json::{Map, Value};

/// Kinds Kyverno generates Pod rules for unless the policy says otherwise.
const POD_CONTROLLERS: &[&str] = &[
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "CronJob",
];
const AUTOGEN: &str = "pod-policies.kyverno.io/autogen-controllers";

/// Which objects a Kyverno rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub matching: Value,
    pub exclude: Option<Value>,
    /// Controllers a `Pod` kind also covers.
    pub controllers: Vec<String>,
    /// A namespaced `Policy` sees only its own namespace.
    pub namespace: Option<String>,
}

impl Scope {
    /// Whether the rule applies to `object`.
    pub fn applies(&self, object: &Value) -> bool {
        if let Some(ns) = &self.namespace {
            let own = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if own != ns {
                return false;
            }
        }
        block(&self.matching, object, &self.controllers, true)
            && !self
                .exclude
                .as_ref()
                .is_some_and(|e| block(e, object, &self.controllers, false))
    }
}

/// A `match` (`matching`) or `exclude` block: `any`, `all`, or one filter.
fn block(b: &Value, object: &Value, controllers: &[String], matching: bool) -> bool {
    let list = |k: &str| b.get(k).and_then(Value::as_array).filter(|a| !a.is_empty());
    if let Some(any) = list("any") {
        return any.iter().any(|f| filter(f, object, controllers, matching));
    }
    if let Some(all) = list("all") {
        return all.iter().all(|f| filter(f, object, controllers, matching));
    }
    // Without filters a match selects nothing and an exclude removes nothing.
    b.get("resources")
        .is_some_and(|r| resources(r, object, controllers))
}

/// One `any`/`all` entry. Rendered objects have no admission user, so an
/// entry of only `subjects`/`roles` matches in `match` and removes nothing
/// in `exclude`, as in Kyverno's CLI and the `rules` plugin.
fn filter(f: &Value, object: &Value, controllers: &[String], matching: bool) -> bool {
    match f.get("resources") {
        Some(r) => resources(r, object, controllers),
        None => matching,
    }
}

/// A `resources` description: every constraint it sets must hold.
fn resources(f: &Value, object: &Value, controllers: &[String]) -> bool {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let strings = |k: &str| -> Vec<&str> {
        f.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let kinds = strings("kinds");
    if !kinds.is_empty() && !kinds.iter().any(|k| kind_matches(k, object, controllers)) {
        return false;
    }
    let name = s("/metadata/name");
    let mut names = strings("names");
    if let Some(n) = f.get("name").and_then(Value::as_str) {
        names.push(n);
    }
    if !names.is_empty() && !names.iter().any(|p| wildcard::matches(p, name)) {
        return false;
    }
    let namespaces = strings("namespaces");
    let ns = s("/metadata/namespace");
    if !namespaces.is_empty() && !namespaces.iter().any(|p| wildcard::matches(p, ns)) {
        return false;
    }
    let holds = |wanted: Option<&Map<String, Value>>, have: &str| {
        wanted.is_none_or(|w| {
            w.iter().all(|(k, v)| {
                let got = object.pointer(&format!("/metadata/{have}/{}", escape(k)));
                match (v.as_str(), got.and_then(Value::as_str)) {
                    (Some(p), Some(g)) => wildcard::matches(p, g),
                    _ => false,
                }
            })
        })
    };
    holds(
        f.pointer("/selector/matchLabels")
            .and_then(Value::as_object),
        "labels",
    ) && holds(
        f.get("annotations").and_then(Value::as_object),
        "annotations",
    )
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `Kind`, `version/Kind` or `group/version/Kind`, each part a wildcard;
/// `Pod` also names the controllers autogen covers.
fn kind_matches(pattern: &str, object: &Value, controllers: &[String]) -> bool {
    let api = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let parts: Vec<&str> = pattern.split('/').collect();
    let (g, v, k) = match parts[..] {
        [k] => (None, None, k),
        [v, k] => (None, Some(v), k),
        [g, v, k] => (Some(g), Some(v), k),
        _ => return false,
    };
    let direct = wildcard::matches(k, kind)
        && v.is_none_or(|v| wildcard::matches(v, version))
        && g.is_none_or(|g| wildcard::matches(g, group));
    direct
        || (wildcard::matches(k, "Pod")
            && g.is_none_or(|g| g.is_empty())
            && controllers.iter().any(|c| c == kind))
}

/// Reads the `verifyImages` rules of `policies` (`at` prefixes fields).
pub fn parse(policies: &[Value], at: &str) -> Result<Parsed, Vec<String>> {
    let mut out = Parsed::default();
    let mut problems = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).unwrap_or("");
        let kind = s("/kind");
        let name = s("/metadata/name");
        let where_ = if at.is_empty() && policies.len() == 1 {
            format!("{kind} '{name}'")
        } else if at.is_empty() {
            format!("[{i}] {kind} '{name}'")
        } else {
            format!("{at}[{i}] {kind} '{name}'")
        };
        if !s("/apiVersion").starts_with("kyverno.io/")
            || !["ClusterPolicy", "Policy"].contains(&kind)
        {
            problems.push(format!(
                "{where_}: expected a kyverno.io ClusterPolicy or Policy, or native {{\"rules\": [...]}}"
            ));
            continue;
        }
        let controllers: Vec<String> = match p
            .pointer(&format!("/metadata/annotations/{}", escape(AUTOGEN)))
            .and_then(Value::as_str)
        {
            Some("none") => Vec::new(),
            Some(list) => list.split(',').map(|c| c.trim().to_owned()).collect(),
            None => POD_CONTROLLERS.iter().map(|c| (*c).to_owned()).collect(),
        };
        let namespace = (kind == "Policy").then(|| match s("/metadata/namespace") {
            "" => "default".to_owned(),
            ns => ns.to_owned(),
        });
        let policy_action = p
            .pointer("/spec/validationFailureAction")
            .and_then(Value::as_str);
        let label = match &namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_owned(),
        };
        let rules = p.pointer("/spec/rules").and_then(Value::as_array);
        for (j, rule) in rules.into_iter().flatten().enumerate() {
            let Some(verify) = rule.get("verifyImages").and_then(Value::as_array) else {
                continue;
            };
            let rule_name = rule.get("name").and_then(Value::as_str).unwrap_or("");
            let rule_at = format!("{where_} spec.rules[{j}]");
            let Some(matching) = rule.get("match").cloned() else {
                problems.push(format!("{rule_at}.match: a rule needs a match block"));
                continue;
            };
            let exclude = rule.get("exclude").cloned();
            let autogen = if mentions_specific(&matching)
                || exclude.as_ref().is_some_and(mentions_specific)
            {
                Vec::new()
            } else {
                controllers.clone()
            };
            for field in ["preconditions", "context", "celPreconditions"] {
                if rule.get(field).is_some() {
                    out.notes.push(Note {
                        warning: true,
                        code: "unsupported",
                        message: format!(
                            "{rule_at}.{field} is not evaluated by verify-images: the rule checks every image it matches"
                        ),
                    });
                }
            }
            for (k, iv) in verify.iter().enumerate() {
                let iv_at = format!("{rule_at}.verifyImages[{k}]");
                let action = iv
                    .get("failureAction")
                    .and_then(Value::as_str)
                    .or(policy_action)
                    .unwrap_or("Audit");
                let enforce = match action.to_ascii_lowercase().as_str() {
                    "enforce" => true,
                    "audit" => false,
                    _ => {
                        problems.push(format!(
                            "{iv_at}: failure action '{action}' is neither Enforce nor Audit"
                        ));
                        continue;
                    }
                };
                match image_rule(iv, &iv_at, &mut out.notes) {
                    Ok(mut r) => {
                        r.name = format!("{label}/{rule_name}");
                        r.advisory = !enforce;
                        r.scope = Some(Scope {
                            matching: matching.clone(),
                            exclude: exclude.clone(),
                            controllers: autogen.clone(),
                            namespace: namespace.clone(),
                        });
                        out.rules.push(r);
                    }
                    Err(mut e) => problems.append(&mut e),
                }
            }
        }
    }
    if out.rules.is_empty() && problems.is_empty() {
        problems.push("no verifyImages rules in the policies; add one, or use the rules plugin for other rules".into());
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Filters Kyverno does not carry over to Pod controllers.
fn mentions_specific(block: &Value) -> bool {
    let mut filters: Vec<&Value> = Vec::new();
    for list in ["any", "all"] {
        if let Some(a) = block.get(list).and_then(Value::as_array) {
            filters.extend(a.iter().map(|f| f.get("resources").unwrap_or(f)));
        }
    }
    if let Some(r) = block.get("resources") {
        filters.push(r);
    }
    filters.iter().any(|f| {
        ["name", "names", "selector", "annotations"]
            .iter()
            .any(|k| f.get(*k).is_some())
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn annotations(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One `verifyImages` entry.
fn image_rule(iv: &Value, at: &str, notes: &mut Vec<Note>) -> Result<Rule, Vec<String>> {
    let mut problems = Vec::new();
    if let Some(t) = iv.get("type").and_then(Value::as_str)
        && !t.eq_ignore_ascii_case("cosign")
    {
        problems.push(format!(
            "{at}.type: '{t}' signatures are not supported; only Cosign"
        ));
    }
    for (field, why) in [
        (
            "attestations",
            "attestations are not checked by the cosign capability; verify them elsewhere or remove them",
        ),
        (
            "repository",
            "signatures in another repository are not supported; keep them beside the image",
        ),
        (
            "roots",
            "custom roots are not supported; configure the trusted root on the host",
        ),
        (
            "additionalExtensions",
            "certificate extensions are not supported",
        ),
    ] {
        if iv.get(field).is_some() {
            problems.push(format!("{at}.{field}: {why}"));
        }
    }
    let mut images = strings(iv.get("imageReferences"));
    if let Some(image) = iv.get("image").and_then(Value::as_str) {
        images.push(image.to_owned());
    }
    if images.is_empty() {
        problems.push(format!(
            "{at}.imageReferences: name at least one image pattern"
        ));
    }
    let rule_annotations = annotations(iv.get("annotations"));
    let mut offline = Vec::new();
    let mut sets = Vec::new();
    if let Some(list) = iv.get("attestors").and_then(Value::as_array) {
        for (i, set) in list.iter().enumerate() {
            let path = format!(".attestors[{i}]");
            match attestor_set(set, &path, &rule_annotations, &mut offline) {
                Ok(s) => sets.push(s),
                Err(e) => problems.extend(e.into_iter().map(|e| format!("{at}{e}"))),
            }
        }
    }
    // The deprecated single-authority fields, as Kyverno converts them.
    let old_key = iv.get("key").and_then(Value::as_str);
    let old_identity = ["subject", "issuer"].iter().any(|k| iv.get(*k).is_some());
    if let Some(key) = old_key {
        let entries = key_entries(key, ".key", &rule_annotations);
        if entries.is_empty() {
            problems.push(format!("{at}.key: only PEM public keys are supported"));
        }
        // Like `publicKeys`, several keys must all have signed.
        let count = entries.len();
        sets.push(AttestorSet { count, entries });
    } else if old_identity {
        let id: Identity = serde_json::from_value(iv.clone()).unwrap_or_default();
        match keyless(&id, Form::Kyverno) {
            Ok(authority) => sets.push(AttestorSet {
                count: 1,
                entries: vec![Entry {
                    path: ".keyless".into(),
                    kind: EntryKind::Authority {
                        authority,
                        annotations: rule_annotations.clone(),
                    },
                }],
            }),
            Err(e) => problems.push(format!("{at}: {e}")),
        }
    }
    if sets.is_empty() && problems.is_empty() {
        problems.push(format!(
            "{at}.attestors: name at least one attestor (keys or keyless); verify-images checks signatures only"
        ));
    }
    if !offline.is_empty() {
        offline.sort();
        offline.dedup();
        notes.push(Note {
            warning: false,
            code: "offline",
            message: format!(
                "{at}: {} not contacted: signatures, certificates and log entries are checked offline against the host's trusted root",
                offline.join(", ")
            ),
        });
    }
    let secrets = strings(iv.pointer("/imageRegistryCredentials/secrets"));
    if secrets.len() > 1 {
        problems.push(format!(
            "{at}.imageRegistryCredentials.secrets: name one Secret (a .dockerconfigjson for the registry)"
        ));
    }
    let flag = |k: &str| iv.get(k).and_then(Value::as_bool).unwrap_or(true);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Rule {
        name: String::new(),
        images,
        skip_images: strings(iv.get("skipImageReferences")),
        attestors: sets,
        mutate_digest: flag("mutateDigest"),
        verify_digest: flag("verifyDigest"),
        advisory: false,
        scope: None,
        auth_secret: secrets.into_iter().next(),
    })
}

fn key_entries(pem: &str, path: &str, annotations: &[(String, String)]) -> Vec<Entry> {
    split_pem(pem)
        .into_iter()
        .map(|k| Entry {
            path: path.to_owned(),
            kind: EntryKind::Authority {
                authority: Authority::PublicKey(k),
                annotations: annotations.to_vec(),
            },
        })
        .collect()
}

/// One attestor set; problems are relative paths (`.attestors[0]…: why`).
fn attestor_set(
    set: &Value,
    path: &str,
    rule_annotations: &[(String, String)],
    offline: &mut Vec<String>,
) -> Result<AttestorSet, Vec<String>> {
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let list = set.get("entries").and_then(Value::as_array);
    for (i, e) in list.into_iter().flatten().enumerate() {
        let at = format!("{path}.entries[{i}]");
        let entry_annotations = match e.get("annotations") {
            Some(a) => annotations(Some(a)),
            None => rule_annotations.to_vec(),
        };
        if e.get("repository").is_some() {
            problems.push(format!(
                "{at}.repository: signatures in another repository are not supported"
            ));
        }
        if let Some(keys) = e.get("keys") {
            let at = format!("{at}.keys");
            for (field, why) in [
                (
                    "kms",
                    "KMS keys are not supported; paste the PEM public key in publicKeys",
                ),
                (
                    "secret",
                    "keys in Secrets are not supported; paste the PEM public key in publicKeys",
                ),
            ] {
                if keys.get(field).is_some() {
                    problems.push(format!("{at}.{field}: {why}"));
                }
            }
            if let Some(alg) = keys.get("signatureAlgorithm").and_then(Value::as_str)
                && alg != "sha256"
            {
                problems.push(format!(
                    "{at}.signatureAlgorithm: '{alg}' is not supported; cosign signs with sha256"
                ));
            }
            collect_logs(keys, offline);
            let pem = keys.get("publicKeys").and_then(Value::as_str).unwrap_or("");
            let found = key_entries(pem, &at, &entry_annotations);
            if found.is_empty() && problems.is_empty() {
                problems.push(format!(
                    "{at}.publicKeys: no '-----BEGIN PUBLIC KEY-----' block"
                ));
            }
            entries.extend(found);
        } else if let Some(k) = e.get("keyless") {
            let at = format!("{at}.keyless");
            for (field, why) in [
                (
                    "roots",
                    "custom roots are not supported; configure the trusted root on the host",
                ),
                (
                    "additionalExtensions",
                    "certificate extensions are not supported",
                ),
            ] {
                if k.get(field).is_some() {
                    problems.push(format!("{at}.{field}: {why}"));
                }
            }
            collect_logs(k, offline);
            let id: Identity = serde_json::from_value(k.clone()).unwrap_or_default();
            match keyless(&id, Form::Kyverno) {
                Ok(authority) => entries.push(Entry {
                    path: at,
                    kind: EntryKind::Authority {
                        authority,
                        annotations: entry_annotations,
                    },
                }),
                Err(e) => problems.push(format!("{at}: {e}")),
            }
        } else if let Some(nested) = e.get("attestor") {
            let at = format!("{at}.attestor");
            match attestor_set(nested, &at, rule_annotations, offline) {
                Ok(s) => entries.push(Entry {
                    path: at,
                    kind: EntryKind::Nested(s),
                }),
                Err(mut e) => problems.append(&mut e),
            }
        } else if e.get("certificates").is_some() {
            problems.push(format!(
                "{at}.certificates: certificate attestors are not supported; use keys or keyless"
            ));
        } else {
            problems.push(format!("{at}: give keys, keyless or a nested attestor"));
        }
    }
    if entries.is_empty() && problems.is_empty() {
        problems.push(format!("{path}.entries: name at least one entry"));
    }
    let count = match set.get("count").and_then(Value::as_u64) {
        None | Some(0) => entries.len(),
        Some(n) => n as usize,
    };
    if count > entries.len() && problems.is_empty() {
        problems.push(format!(
            "{path}.count: {count} is more than the {} entries",
            entries.len()
        ));
    }
    if problems.is_empty() {
        Ok(AttestorSet { count, entries })
    } else {
        Err(problems)
    }
}

fn collect_logs(attestor: &Value, offline: &mut Vec<String>) {
    for log in ["rekor", "ctlog"] {
        if let Some(v) = attestor.get(log) {
            let url = v
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("the public instance");
            offline.push(format!("{log} ({url})"));
        }
    }
}
