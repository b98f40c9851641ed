//! The `sluice.dev/v1alpha1` objects: Source, Release, PolicySet, Plugin.
//!
//! Field names follow Flux where the meaning is the same (`sourceRef`, `path`,
//! `targetNamespace`, `interval`, `prune`, `suspend`), and Kyverno for policy
//! enforcement (`failureAction: Enforce|Audit`). Specs reject unknown fields so
//! a typo is an error, not a silently ignored setting.

use crate::capability::Capabilities;
use crate::quantity::{ByteSize, Duration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API group and version of every Sluice object.
pub const API_VERSION: &str = "sluice.dev/v1alpha1";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Where a release comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "crd",
    derive(kube::CustomResource),
    kube(
        group = "sluice.dev",
        version = "v1alpha1",
        kind = "Source",
        namespaced,
        status = "crate::status::SourceStatus",
        shortname = "src",
        category = "sluice",
        doc = "Where a release comes from: a Git repository, OCI artifact, bucket, archive or directory.",
        printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
        printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        printcolumn(
            name = "Status",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].message"
        ),
        printcolumn(
            name = "Age",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        ),
    )
)]
// One `printcolumn(...)` per column reads to clippy as a repeated attribute.
#[allow(clippy::duplicated_attributes)]
pub struct SourceSpec {
    /// `file://DIR` (relative to the file that declares it), `https://…`,
    /// `oci://…`, `s3://…`. Transports are limited to this URL.
    pub url: String,
    /// The source plugin; defaults from the URL scheme (`file` → `local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// Plugin settings, checked against the plugin's config schema.
    #[serde(default = "empty_config")]
    #[cfg_attr(feature = "crd", schemars(schema_with = "crate::crd::any_object"))]
    pub config: serde_json::Value,
    /// How often to look for a new revision (`1m`, `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default)]
    pub suspend: bool,
    /// Credentials for the transport, as Flux's `secretRef`: a `v1` Secret in
    /// the Source's namespace (Git `username`/`password` or `bearerToken`,
    /// OCI `.dockerconfigjson`, bucket `accesskey`/`secretkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
    /// Allow plain HTTP to the endpoint (a registry or bucket without TLS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Time limit for one fetch, transfers included (default 60s, as Flux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// A valid cosign signature is required on the artifact before it is
    /// used, as Flux's OCIRepository `spec.verify` (`oci://` sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// Flux's `spec.verify`: who may have signed an OCI artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verify {
    /// `cosign`, the only provider.
    pub provider: String,
    /// A Secret whose `*.pub` entries are PEM public keys (`cosign.pub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
    /// Keyless signers, each issuer and subject a regular expression
    /// found anywhere in the certificate's value, as Flux matches them
    /// (anchor with `^…$`).
    #[serde(
        default,
        rename = "matchOIDCIdentity",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_oidc_identity: Vec<OidcIdentity>,
    /// A ConfigMap with Sigstore's `trusted_root.json` (Fulcio CA, Rekor
    /// key), needed for keyless signatures: nothing public is consulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_ref: Option<LocalObjectRef>,
}

/// A keyless signer: certificate issuer and subject, as regexps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcIdentity {
    pub issuer: String,
    pub subject: String,
}

/// Reference to an object by name in the referring object's namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalObjectRef {
    pub name: String,
}

/// Reference to a Sluice object by name (same namespace unless given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A plugin and its settings, as used by a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginRef {
    /// Built-in plugin name or the name of a `Plugin` object.
    pub plugin: String,
    #[serde(default = "empty_config")]
    #[cfg_attr(feature = "crd", schemars(schema_with = "crate::crd::any_object"))]
    pub config: serde_json::Value,
}

/// What a denial does: stop the release, or only report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum FailureAction {
    #[default]
    Enforce,
    Audit,
}

/// One policy in a release or a policy set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRef {
    /// Shown in reports; defaults to the plugin name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub plugin: String,
    #[serde(default = "empty_config")]
    #[cfg_attr(feature = "crd", schemars(schema_with = "crate::crd::any_object"))]
    pub config: serde_json::Value,
    #[serde(default)]
    pub failure_action: FailureAction,
    /// A ConfigMap with Sigstore's `trusted_root.json`, for policies that
    /// verify keyless image signatures (the `cosign` capability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_ref: Option<LocalObjectRef>,
}

impl PolicyRef {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.plugin)
    }
}

/// What to render from which source, checked by which policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "crd",
    derive(kube::CustomResource),
    kube(
        group = "sluice.dev",
        version = "v1alpha1",
        kind = "Release",
        namespaced,
        status = "crate::status::ReleaseStatus",
        shortname = "rel",
        category = "sluice",
        doc = "What to render from which source, checked by which policies, applied where.",
        printcolumn(
            name = "Revision",
            type_ = "string",
            json_path = ".status.lastAppliedRevision"
        ),
        printcolumn(name = "Suspended", type_ = "boolean", json_path = ".spec.suspend"),
        printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        printcolumn(
            name = "Status",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].message"
        ),
        printcolumn(
            name = "Age",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        ),
    )
)]
// One `printcolumn(...)` per column reads to clippy as a repeated attribute.
#[allow(clippy::duplicated_attributes)]
pub struct ReleaseSpec {
    pub source_ref: ObjectRef,
    /// Directory inside the artifact; `./` by default.
    #[serde(default = "default_path")]
    pub path: String,
    /// The renderer; by default `kustomize` when the path holds a
    /// `kustomization.yaml` (or `.yml`, or `Kustomization`), else `plain`,
    /// as Flux builds a path with or without a kustomization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renderer: Option<PluginRef>,
    /// Variable substitution in the rendered manifests, as Flux's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    /// SOPS decryption of the rendered objects, as Flux's `spec.decryption`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyRef>,
    /// Policy sets applied after `policies`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_set_refs: Vec<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// How often to reconcile (in a cluster): fetch, render, check, apply,
    /// correct drift. The controller's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// How soon to try again after a failure; `interval` when unset, as
    /// Flux's. Repeated failures back off from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<Duration>,
    /// Time limit for one apply and the wait for health after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub prune: bool,
    /// Wait until every applied object is healthy before Ready=True.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait: bool,
    /// Objects (applied by this release or not) that must be healthy
    /// before Ready=True, as Flux's `healthChecks`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,
    /// Take over fields other field managers own (server-side apply force).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    #[serde(default)]
    pub suspend: bool,
    /// Releases that must be Ready before this one is applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ObjectRef>,
    /// Progressive delivery of one workload (canary, blue-green); all at
    /// once when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutSpec>,
}

/// An object whose health a release waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// The release's namespace (or `targetNamespace`) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Flux's `spec.postBuild`: `${var}` substitution after rendering, with
/// values from `substitute` (which wins) and from `substituteFrom`, later
/// entries overriding earlier ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostBuild {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub substitute: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitute_from: Vec<SubstituteReference>,
    /// Fail on variables that are unset and have no default; Flux's
    /// `StrictPostBuildSubstitutions` feature gate, per release.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
}

/// A ConfigMap or Secret in the release's namespace to read variables from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubstituteReference {
    pub kind: SubstituteKind,
    pub name: String,
    /// A missing object is skipped rather than an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum SubstituteKind {
    ConfigMap,
    Secret,
}

/// Flux's `spec.decryption`: objects encrypted with SOPS are decrypted
/// right after rendering with the age keys (`*.agekey` entries) of the
/// Secret `secretRef` names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decryption {
    pub provider: DecryptionProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DecryptionProvider {
    Sops,
}

/// A named, reusable list of policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "crd",
    derive(kube::CustomResource),
    kube(
        group = "sluice.dev",
        version = "v1alpha1",
        kind = "PolicySet",
        namespaced,
        shortname = "ps",
        category = "sluice",
        doc = "A named, reusable list of policies that releases refer to.",
    )
)]
pub struct PolicySetSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyRef>,
    /// Policies from an OCI bundle (`sluice bundle push`), added after
    /// `policies`; they may name the bundle's own plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<PolicySetBundle>,
}

impl PolicySetSpec {
    /// Checks what the schema cannot: a set has policies or a bundle, and
    /// the bundle's settings are consistent. The error is a field path
    /// (`spec.bundle.verify`) and what to do.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match &self.bundle {
            None if self.policies.is_empty() => Err((
                "spec",
                "a PolicySet needs spec.policies, spec.bundle, or both".into(),
            )),
            None => Ok(()),
            Some(b) => b.location().validate(),
        }
    }
}

/// Policies from a bundle in an OCI registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySetBundle {
    /// `oci://HOST/REPO@sha256:…` (pinned), or `oci://HOST/REPO:TAG`
    /// resolved through `sluice.lock` (`sluice plugin update`).
    pub url: String,
    /// Which of the bundle's policy lists to add, by name; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// The bundle must carry a valid cosign signature by this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<BundleVerify>,
    /// Registry credentials: a Secret with `.dockerconfigjson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
    /// Plain HTTP to the registry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Accept a tag that neither `@sha256:` nor `sluice.lock` pins, taking
    /// whatever the registry serves under it now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unpinned: bool,
}

impl PolicySetBundle {
    pub fn location(&self) -> BundleLocation<'_> {
        BundleLocation {
            url: &self.url,
            verify: self.verify.as_ref(),
            secret_ref: self.secret_ref.as_ref(),
            insecure: self.insecure,
            allow_unpinned: self.allow_unpinned,
        }
    }
}

/// Who must have signed a bundle: cosign public keys, inline or in a
/// Secret; a signature by any one of them is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleVerify {
    /// A PEM public key (`cosign.pub`), or several one after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// A Secret whose `*.pub` entries are PEM public keys; any of them may
    /// have signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
}

/// Where a bundle is and how to fetch it: the fields Plugin and PolicySet
/// bundle references share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BundleLocation<'a> {
    pub url: &'a str,
    pub verify: Option<&'a BundleVerify>,
    pub secret_ref: Option<&'a LocalObjectRef>,
    pub insecure: bool,
    pub allow_unpinned: bool,
}

impl BundleLocation<'_> {
    /// The pinned digest in `url` (`…@sha256:…`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.url.rsplit_once('@').map(|(_, d)| d)
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        let Some(rest) = self.url.strip_prefix("oci://") else {
            return Err((
                "spec.bundle.url",
                format!(
                    "'{}' is not an OCI reference; write oci://HOST/REPOSITORY@sha256:DIGEST or oci://HOST/REPOSITORY:TAG",
                    self.url
                ),
            ));
        };
        if !rest.contains('/') {
            return Err((
                "spec.bundle.url",
                format!(
                    "'{}' names no repository; write oci://HOST/REPOSITORY:TAG",
                    self.url
                ),
            ));
        }
        if let Some(digest) = self.digest() {
            let hex = digest.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((
                    "spec.bundle.url",
                    format!("'{digest}' is not a sha256:<64 hex digits> digest"),
                ));
            }
        }
        if let Some(v) = self.verify
            && v.public_key.is_some() == v.secret_ref.is_some()
        {
            return Err((
                "spec.bundle.verify",
                "set exactly one of publicKey (a PEM key) or secretRef (a Secret with *.pub entries)".into(),
            ));
        }
        Ok(())
    }
}

/// Per-call limits for a plugin; unset fields take the host's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginLimits {
    /// Linear memory cap (`256Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Wall-clock deadline per call (`5s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Cap on the data a call returns (`16Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<ByteSize>,
}

/// Where a plugin comes from and what it may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "crd",
    derive(kube::CustomResource),
    kube(
        group = "sluice.dev",
        version = "v1alpha1",
        kind = "Plugin",
        namespaced,
        category = "sluice",
        doc = "Where a plugin comes from and what it may do.",
        printcolumn(name = "Kind", type_ = "string", json_path = ".spec.kind"),
        printcolumn(name = "Bundle", type_ = "string", json_path = ".spec.bundle.url"),
        printcolumn(name = "Digest", type_ = "string", json_path = ".spec.digest"),
    )
)]
// One `printcolumn(...)` per column reads to clippy as a repeated attribute.
#[allow(clippy::duplicated_attributes)]
pub struct PluginSpec {
    /// The stage it fills; checked against the component's exports.
    pub kind: crate::PluginKind,
    /// Path to a `.wasm` component, relative to the declaring file. Exactly
    /// one of `file` and `bundle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The component from an OCI bundle (`sluice bundle push`). Exactly one
    /// of `file` and `bundle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<PluginBundle>,
    /// Expected `sha256:<hex>` of the component; a mismatch refuses to load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Capabilities the plugin asks for beyond `log` (`http`, `git`, `oci`,
    /// `cosign`, `secrets`, `kube`, `metrics`), with those its bundle
    /// declares. A plugin asking for one the admin did not allow
    /// (`--allow-capabilities`) is refused before it runs; calls to one it
    /// did not ask for are denied.
    #[serde(default, skip_serializing_if = "Capabilities::is_empty")]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: PluginLimits,
}

impl PluginSpec {
    /// Checks what the schema cannot: exactly one of `file` and `bundle`,
    /// and a usable bundle reference. The error is a field path and what
    /// to do.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match (&self.file, &self.bundle) {
            (Some(_), None) => Ok(()),
            (None, Some(b)) => b.location().validate(),
            (Some(_), Some(_)) | (None, None) => Err((
                "spec",
                "set exactly one of spec.file (a .wasm component beside the objects) or spec.bundle (a component in an OCI bundle)".into(),
            )),
        }
    }
}

/// A plugin inside a bundle in an OCI registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginBundle {
    /// `oci://HOST/REPO@sha256:…` (pinned), or `oci://HOST/REPO:TAG`
    /// resolved through `sluice.lock` (`sluice plugin update`).
    pub url: String,
    /// The plugin's name in the bundle; the Plugin object's name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The bundle must carry a valid cosign signature by this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<BundleVerify>,
    /// Registry credentials: a Secret with `.dockerconfigjson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
    /// Plain HTTP to the registry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Accept a tag that neither `@sha256:` nor `sluice.lock` pins, taking
    /// whatever the registry serves under it now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unpinned: bool,
}

impl PluginBundle {
    pub fn location(&self) -> BundleLocation<'_> {
        BundleLocation {
            url: &self.url,
            verify: self.verify.as_ref(),
            secret_ref: self.secret_ref.as_ref(),
            insecure: self.insecure,
            allow_unpinned: self.allow_unpinned,
        }
    }
}

/// Any Sluice object, by `kind`.
// A handful of these live per run; boxing the larger specs buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Source(ObjectMeta, SourceSpec),
    Release(ObjectMeta, ReleaseSpec),
    PolicySet(ObjectMeta, PolicySetSpec),
    Plugin(ObjectMeta, PluginSpec),
}

impl Object {
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Source(..) => "Source",
            Object::Release(..) => "Release",
            Object::PolicySet(..) => "PolicySet",
            Object::Plugin(..) => "Plugin",
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Source(m, _)
            | Object::Release(m, _)
            | Object::PolicySet(m, _)
            | Object::Plugin(m, _) => m,
        }
    }
}

fn empty_config() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

fn default_path() -> String {
    "./".to_owned()
}
