//! What each verb does to the store: the bookkeeping a real API server does
//! around every write (uid, timestamps, generation, resourceVersion,
//! managedFields, status isolation, finalizers, dry-run) in one `commit`
//! path, so create, update, patch and apply cannot drift apart.

use serde_json::{Map, Value, json};

use crate::apply;
use crate::clock;
use crate::managed_fields::{self, Scope, Writer};
use crate::merge::{merge_patch, strategic_merge};
use crate::resources::{CRD_GROUP, CRD_PLURAL, ResourceInfo, StorageKey};
use crate::selector::Selector;
use crate::status::{ApiError, cause};
use crate::store::State;

/// The object or collection a request is about.
#[derive(Debug, Clone)]
pub struct Target {
    pub info: ResourceInfo,
    /// Empty for cluster-scoped resources and all-namespace collections.
    pub namespace: String,
    /// Empty for collections.
    pub name: String,
    pub scope: Scope,
}

impl Target {
    fn key(&self) -> StorageKey {
        self.info.storage_key()
    }

    fn not_found(&self) -> ApiError {
        ApiError::not_found(self.info.subject(), &self.name)
    }

    fn writer<'a>(&'a self, manager: &'a str, api_version: &'a str) -> Writer<'a> {
        Writer {
            manager,
            api_version,
            scope: self.scope,
            builtin: self.info.builtin(),
        }
    }
}

/// Query options shared by writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub manager: String,
    pub force: bool,
}

/// `DeleteOptions`, from the body or the query.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// The patch formats the server accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

/// LIST options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub selector: Selector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

pub type Answer = Result<(u16, Value), ApiError>;

/// The object as clients of this version see it.
pub fn present(info: &ResourceInfo, mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
    }
    object
}

pub fn get(state: &State, t: &Target) -> Answer {
    let object = state
        .get(&t.key(), &t.namespace, &t.name)
        .ok_or_else(|| t.not_found())?;
    Ok((200, present(&t.info, object.clone())))
}

pub fn list(state: &State, t: &Target, options: &ListOptions) -> Answer {
    let namespace = (!t.namespace.is_empty()).then_some(t.namespace.as_str());
    let (list_rv, after) = match &options.continue_token {
        Some(token) => {
            let (rv, after) = decode_continue(token)
                .ok_or_else(|| ApiError::bad_request(format!("invalid continue token: {token}")))?;
            if rv < state.compacted() {
                return Err(ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            (rv, Some(after))
        }
        None => (state.resource_version(), None),
    };
    let matching: Vec<&Value> = state
        .list(&t.key(), namespace)
        .filter(|o| {
            after
                .as_ref()
                .is_none_or(|a| crate::store::object_key(o) > *a)
        })
        .filter(|o| options.selector.matches(o))
        .collect();
    let limit = options.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
    let page: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|o| present(&t.info, (*o).clone()))
        .collect();
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if matching.len() > page.len()
        && let Some(last) = page.last()
    {
        metadata["continue"] = json!(encode_continue(list_rv, &crate::store::object_key(last)));
        metadata["remainingItemCount"] = json!(matching.len() - page.len());
    }
    Ok((
        200,
        json!({
            "kind": format!("{}List", t.info.kind),
            "apiVersion": t.info.api_version(),
            "metadata": metadata,
            "items": page,
        }),
    ))
}

/// Continue tokens are opaque to clients: hex of `rv/namespace/name`.
fn encode_continue(rv: u64, (namespace, name): &(String, String)) -> String {
    format!("{rv}/{namespace}/{name}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> Option<(u64, (String, String))> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.splitn(3, '/');
    let rv = parts.next()?.parse().ok()?;
    Some((rv, (parts.next()?.to_owned(), parts.next()?.to_owned())))
}

pub fn create(state: &mut State, t: &Target, mut body: Value, options: &WriteOptions) -> Answer {
    if t.scope == Scope::Status {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let meta = metadata_mut(&mut body)?;
    if meta
        .get("resourceVersion")
        .is_some_and(|v| !v.is_null() && v != "")
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = if name.is_empty() && !generate.is_empty() {
        let generated = format!("{generate}{}", clock::name_suffix());
        meta.insert("name".into(), json!(generated));
        generated
    } else {
        name
    };
    let t = Target { name, ..t.clone() };
    if !t.name.is_empty() && state.get(&t.key(), &t.namespace, &t.name).is_some() {
        return Err(ApiError::already_exists(t.info.subject(), &t.name));
    }
    commit(state, &t, None, body, Ownership::Update, options)
}

pub fn update(state: &mut State, t: &Target, mut body: Value, options: &WriteOptions) -> Answer {
    check_name(&mut body, t)?;
    let old = state
        .get(&t.key(), &t.namespace, &t.name)
        .cloned()
        .ok_or_else(|| t.not_found())?;
    let sent = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if sent.is_empty() && !t.info.builtin() {
        return Err(ApiError::invalid(
            t.info.subject(),
            &t.name,
            vec![cause(
                "FieldValueInvalid",
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            )],
        ));
    }
    if !sent.is_empty()
        && Some(sent.as_str())
            != old
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
    {
        return Err(stale(t));
    }
    commit(state, t, Some(old), body, Ownership::Update, options)
}

fn stale(t: &Target) -> ApiError {
    ApiError::conflict(
        t.info.subject(),
        &t.name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

pub fn patch(
    state: &mut State,
    t: &Target,
    kind: PatchKind,
    body: &[u8],
    options: &WriteOptions,
) -> Answer {
    let old = state.get(&t.key(), &t.namespace, &t.name).cloned();
    if kind == PatchKind::Apply {
        return apply(state, t, old, body, options);
    }
    let old = old.ok_or_else(|| t.not_found())?;
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let mut new = old.clone();
    match kind {
        PatchKind::Json => {
            let operations: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}")))?;
            json_patch::patch(&mut new, &operations).map_err(|e| {
                unprocessable(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
        }
        PatchKind::Strategic if t.info.builtin() => strategic_merge(&mut new, &patch, true),
        _ => merge_patch(&mut new, &patch),
    }
    let rv = |o: &Value| o.pointer("/metadata/resourceVersion").cloned();
    if rv(&new) != rv(&old) && rv(&new).is_some() {
        return Err(stale(t));
    }
    check_name(&mut new, t)?;
    commit(state, t, Some(old), new, Ownership::Update, options)
}

fn unprocessable(message: String) -> ApiError {
    let mut error = ApiError::bad_request(message);
    error.code = 422;
    error.reason = "Invalid";
    error
}

fn apply(
    state: &mut State,
    t: &Target,
    old: Option<Value>,
    body: &[u8],
    options: &WriteOptions,
) -> Answer {
    if options.manager.is_empty() {
        return Err(unprocessable(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        ));
    }
    if old.is_none() && t.scope == Scope::Status {
        return Err(t.not_found());
    }
    let mut config = parse_apply(body)?;
    check_name(&mut config, t)?;
    check_type(&config, &t.info)?;
    let api_version = t.info.api_version();
    let writer = t.writer(&options.manager, &api_version);
    let merged = apply::apply(old.as_ref(), &config, &writer, options.force)
        .map_err(|causes| ApiError::apply_conflict(t.info.subject(), &t.name, causes))?;
    commit(state, t, old, merged, Ownership::Applied, options)
}

/// An apply body: JSON, or YAML with YAML 1.2 booleans and `0755` kept a string.
fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(_) => {
            let text = std::str::from_utf8(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            let options = serde_saphyr::options! {
                strict_booleans: true,
                leading_zero_numbers_as_strings: true,
            };
            serde_saphyr::from_str_with_options(text, options)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
        }
    };
    if value.is_object() {
        Ok(value)
    } else {
        Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ))
    }
}

/// The body's name (filled in when missing) must be the URL's.
fn check_name(body: &mut Value, t: &Target) -> Result<(), ApiError> {
    let meta = metadata_mut(body)?;
    match meta.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() && name != t.name => Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            t.name
        ))),
        _ => {
            meta.insert("name".into(), json!(t.name));
            Ok(())
        }
    }
}

fn check_type(body: &Value, info: &ResourceInfo) -> Result<(), ApiError> {
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    let group_of = |api_version: &str| {
        api_version
            .rsplit_once('/')
            .map(|(g, _)| g.to_owned())
            .unwrap_or_default()
    };
    if !field("kind").is_empty() && field("kind") != info.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({}) does not match the expected kind ({})",
            field("kind"),
            info.kind
        )));
    }
    if !field("apiVersion").is_empty() && group_of(field("apiVersion")) != info.group {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            field("apiVersion"),
            info.api_version()
        )));
    }
    Ok(())
}

fn metadata_mut(body: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let object = body
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the request body must be an object"))?;
    let meta = object.entry("metadata").or_insert_with(|| json!({}));
    if meta.is_null() {
        *meta = json!({});
    }
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

/// How managedFields change in a commit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ownership {
    /// Create, update or non-apply patch: the writer takes what it changed.
    Update,
    /// Server-side apply already computed them.
    Applied,
}

/// Turns a requested object into the stored one and stores it (unless
/// dry-run): scope isolation, server-owned metadata, generation, ownership,
/// validation, no-op detection and finalizer completion.
fn commit(
    state: &mut State,
    t: &Target,
    old: Option<Value>,
    mut new: Value,
    ownership: Ownership,
    options: &WriteOptions,
) -> Answer {
    check_type(&new, &t.info)?;
    new = present(&t.info, new);
    isolate_scope(&mut new, old.as_ref(), t);
    stamp_metadata(&mut new, old.as_ref(), t)?;
    if ownership == Ownership::Update {
        let reset = new
            .pointer("/metadata/managedFields")
            .is_some_and(|m| m.as_array().is_some_and(Vec::is_empty));
        let mut entries = match (&old, reset) {
            (Some(old), false) => managed_fields::read(old),
            _ => Vec::new(),
        };
        let api_version = t.info.api_version();
        let manager = if options.manager.is_empty() {
            "unknown"
        } else {
            &options.manager
        };
        managed_fields::record_update(
            &mut entries,
            old.as_ref(),
            &new,
            &t.writer(manager, &api_version),
        );
        managed_fields::write(&mut new, &entries);
    }
    if is_crd(&t.info) && t.scope != Scope::Status {
        accept_crd(&mut new)?;
    }
    validate(state, t, &new, old.is_none())?;
    if let Some(old) = &old
        && comparable(old) == comparable(&new)
    {
        return Ok((200, present(&t.info, old.clone())));
    }
    let finished =
        new.pointer("/metadata/deletionTimestamp").is_some() && finalizers(&new).is_empty();
    if options.dry_run {
        return Ok((if old.is_none() { 201 } else { 200 }, new));
    }
    let stored = state.put(&t.key(), new);
    if is_crd(&t.info) {
        state.registry.register_crd(&stored);
    }
    if finished {
        remove(state, &t.info, &t.namespace, &t.name);
    }
    Ok((
        if old.is_none() { 201 } else { 200 },
        present(&t.info, stored),
    ))
}

/// Main-resource writes keep the stored status; status writes change only it.
fn isolate_scope(new: &mut Value, old: Option<&Value>, t: &Target) {
    match t.scope {
        Scope::Status => {
            if let (Some(old), Some(map)) = (old, new.as_object()) {
                let status = map.get("status").cloned();
                let managed = new.pointer("/metadata/managedFields").cloned();
                let mut base = old.clone();
                set_field(&mut base, "status", status);
                if let Some(meta) = base.get_mut("metadata").and_then(Value::as_object_mut) {
                    match managed {
                        Some(m) => meta.insert("managedFields".into(), m),
                        None => meta.remove("managedFields"),
                    };
                }
                *new = base;
            }
        }
        Scope::Main { has_status: true } => {
            let status = old.and_then(|o| o.get("status").cloned());
            let status = status.or_else(|| {
                (t.info.plural == "namespaces" && t.info.builtin())
                    .then(|| json!({"phase": "Active"}))
            });
            set_field(new, "status", status);
        }
        Scope::Main { has_status: false } => {}
    }
}

fn set_field(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = object.as_object_mut() {
        match value {
            Some(v) => map.insert(field.into(), v),
            None => map.remove(field),
        };
    }
}

/// Server-owned metadata: kept from the stored object, or set on create.
fn stamp_metadata(new: &mut Value, old: Option<&Value>, t: &Target) -> Result<(), ApiError> {
    let spec_changed = old.is_some_and(|o| spec_of(o) != spec_of(new));
    let meta = metadata_mut(new)?;
    if t.info.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != t.namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), json!(t.namespace));
            }
        }
    } else {
        meta.remove("namespace");
    }
    const SERVER_OWNED: &[&str] = &[
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
    ];
    for field in SERVER_OWNED {
        meta.remove(*field);
        if let Some(v) = old.and_then(|o| o.pointer(&format!("/metadata/{field}"))) {
            meta.insert((*field).into(), v.clone());
        }
    }
    if old.is_none() {
        meta.insert("uid".into(), json!(clock::new_uid()));
        meta.insert("creationTimestamp".into(), json!(clock::now_rfc3339()));
    }
    if t.info.tracks_generation() {
        let generation = meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
        if old.is_none() || spec_changed {
            meta.insert("generation".into(), json!(generation + 1));
        }
    }
    Ok(())
}

/// Everything but metadata and status: what `generation` counts changes of.
fn spec_of(object: &Value) -> Value {
    let mut rest = object.clone();
    if let Some(map) = rest.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    rest
}

/// An object without what changes on every write (resourceVersion, the
/// times in managedFields), to detect no-op writes, which a real server
/// answers without a new resourceVersion.
fn comparable(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                entry.remove("time");
            }
        }
    }
    copy
}

fn finalizers(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

const DNS_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// Names, namespace existence and (for CRDs) the definition itself.
fn validate(state: &State, t: &Target, object: &Value, creating: bool) -> Result<(), ApiError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let invalid = |field: &str, reason: &'static str, message: String| {
        ApiError::invalid(t.info.subject(), name, vec![cause(reason, field, message)])
    };
    if name.is_empty() {
        return Err(invalid(
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required".into(),
        ));
    }
    let is_namespace = t.info.builtin() && t.info.plural == "namespaces";
    let (valid, rule) = if is_namespace {
        (dns_label(name), DNS_LABEL)
    } else {
        (dns_subdomain(name), DNS_SUBDOMAIN)
    };
    if !valid {
        return Err(invalid(
            "metadata.name",
            "FieldValueInvalid",
            format!("Invalid value: \"{name}\": {rule}"),
        ));
    }
    if t.info.namespaced {
        if t.namespace.is_empty() {
            return Err(ApiError::bad_request(
                "the namespace of the object must be set",
            ));
        }
        let namespaces = StorageKey {
            group: String::new(),
            plural: "namespaces".into(),
        };
        let subject = crate::status::Subject {
            group: "",
            resource: "namespaces",
            kind: "Namespace",
        };
        let namespace = state
            .get(&namespaces, "", &t.namespace)
            .ok_or_else(|| ApiError::not_found(subject, &t.namespace))?;
        if creating && namespace.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::forbidden(
                t.info.subject(),
                name,
                &format!(
                    "unable to create new content in namespace {} because it is being terminated",
                    t.namespace
                ),
            ));
        }
    }
    if is_crd(&t.info) {
        validate_crd(object, t)?;
    }
    Ok(())
}

fn is_crd(info: &ResourceInfo) -> bool {
    info.builtin() && info.group == CRD_GROUP && info.plural == CRD_PLURAL
}

fn validate_crd(crd: &Value, t: &Target) -> Result<(), ApiError> {
    let text = |p: &str| crd.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let mut causes = Vec::new();
    for (field, pointer) in [
        ("spec.group", "/spec/group"),
        ("spec.names.plural", "/spec/names/plural"),
        ("spec.names.kind", "/spec/names/kind"),
    ] {
        if text(pointer).is_empty() {
            causes.push(cause("FieldValueRequired", field, "Required value"));
        }
    }
    if !matches!(text("/spec/scope"), "Namespaced" | "Cluster") {
        causes.push(cause(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: \"{}\": supported values: \"Cluster\", \"Namespaced\"",
                text("/spec/scope")
            ),
        ));
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    let expected = format!("{}.{}", text("/spec/names/plural"), text("/spec/group"));
    if text("/metadata/name") != expected {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!(
                "Invalid value: \"{}\": must be spec.names.plural+\".\"+spec.group",
                text("/metadata/name")
            ),
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            t.info.subject(),
            text("/metadata/name"),
            causes,
        ))
    }
}

/// What the apiextensions controllers would write: names accepted, the
/// definition established, the storage version recorded.
fn accept_crd(crd: &mut Value) -> Result<(), ApiError> {
    let mut names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if names.get("singular").is_none() {
        names["singular"] = json!(kind.to_lowercase());
    }
    if names.get("listKind").is_none() {
        names["listKind"] = json!(format!("{kind}List"));
    }
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let now = clock::now_rfc3339();
    let since = |kind: &str| {
        crd.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == kind))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now))
    };
    let mut stored = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in storage {
        if !stored.contains(&v) {
            stored.push(v);
        }
    }
    let status = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": since("NamesAccepted")},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": since("Established")},
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    });
    crd.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the request body must be an object"))?
        .insert("status".into(), status);
    Ok(())
}

pub fn delete(state: &mut State, t: &Target, options: &DeleteOptions) -> Answer {
    let old = state
        .get(&t.key(), &t.namespace, &t.name)
        .cloned()
        .ok_or_else(|| t.not_found())?;
    let meta = |f: &str| {
        old.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if let Some(uid) = options.uid.as_deref().filter(|u| *u != meta("uid")) {
        return Err(ApiError::conflict(
            t.info.subject(),
            &t.name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta("uid")
            ),
        ));
    }
    if let Some(rv) = options
        .resource_version
        .as_deref()
        .filter(|r| *r != meta("resourceVersion"))
    {
        return Err(ApiError::conflict(
            t.info.subject(),
            &t.name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta("resourceVersion")
            ),
        ));
    }
    let is_namespace = t.info.builtin() && t.info.plural == "namespaces";
    if options.dry_run {
        let pending = !finalizers(&old).is_empty() || is_namespace;
        return Ok(if pending {
            (200, present(&t.info, mark_deleting(old, is_namespace)))
        } else {
            (200, deleted_status(&t.info, &t.name, &meta("uid")))
        });
    }
    if is_namespace {
        return Ok((200, delete_namespace(state, t, old)));
    }
    Ok(match delete_object(state, &t.info, &t.namespace, &t.name) {
        Some(pending) => (200, present(&t.info, pending)),
        None => (200, deleted_status(&t.info, &t.name, &meta("uid"))),
    })
}

/// Deletes every matching object; answers the list of what was deleted or
/// is now pending deletion.
pub fn delete_collection(
    state: &mut State,
    t: &Target,
    selector: &Selector,
    options: &DeleteOptions,
) -> Answer {
    let namespace = (!t.namespace.is_empty()).then_some(t.namespace.as_str());
    let names: Vec<(String, String)> = state
        .list(&t.key(), namespace)
        .filter(|o| selector.matches(o))
        .map(crate::store::object_key)
        .collect();
    let mut items = Vec::new();
    for (namespace, name) in names {
        let one = Target {
            namespace,
            name,
            ..t.clone()
        };
        let (_, answer) = delete(state, &one, options)?;
        items.push(if answer["kind"] == "Status" {
            state_less_item(&t.info, &one.namespace, &one.name)
        } else {
            answer
        });
    }
    Ok((
        200,
        json!({
            "kind": format!("{}List", t.info.kind),
            "apiVersion": t.info.api_version(),
            "metadata": {"resourceVersion": state.resource_version().to_string()},
            "items": items,
        }),
    ))
}

fn state_less_item(info: &ResourceInfo, namespace: &str, name: &str) -> Value {
    let mut meta = json!({"name": name});
    if !namespace.is_empty() {
        meta["namespace"] = json!(namespace);
    }
    json!({"apiVersion": info.api_version(), "kind": info.kind, "metadata": meta})
}

fn deleted_status(info: &ResourceInfo, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": info.plural, "uid": uid});
    if !info.group.is_empty() {
        details["group"] = json!(info.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

fn mark_deleting(mut object: Value, is_namespace: bool) -> Value {
    if object.pointer("/metadata/deletionTimestamp").is_none()
        && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("deletionTimestamp".into(), json!(clock::now_rfc3339()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    if is_namespace {
        object["status"] = json!({"phase": "Terminating"});
    }
    object
}

/// Removes an object now, or marks it deleting while finalizers remain;
/// returns the object still pending, if any.
fn delete_object(
    state: &mut State,
    info: &ResourceInfo,
    namespace: &str,
    name: &str,
) -> Option<Value> {
    let object = state.get(&info.storage_key(), namespace, name)?.clone();
    if finalizers(&object).is_empty() {
        remove(state, info, namespace, name);
        return None;
    }
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return Some(object);
    }
    Some(state.put(&info.storage_key(), mark_deleting(object, false)))
}

/// Marks the namespace terminating, deletes its content and removes it once
/// empty (objects with finalizers keep it terminating).
fn delete_namespace(state: &mut State, t: &Target, namespace: Value) -> Value {
    let marked = if namespace.pointer("/metadata/deletionTimestamp").is_some() {
        namespace
    } else {
        state.put(&t.key(), mark_deleting(namespace, true))
    };
    for (key, name) in state.namespaced_keys_in(&t.name) {
        if let Some(info) = state
            .registry
            .all()
            .iter()
            .find(|r| r.storage_key() == key)
            .cloned()
        {
            delete_object(state, &info, &t.name, &name);
        }
    }
    reap_namespaces(state);
    present(&t.info, marked)
}

/// Removes an object for good, with what follows from it: a CRD takes its
/// custom resources along, and a terminating namespace may now be empty.
fn remove(state: &mut State, info: &ResourceInfo, namespace: &str, name: &str) {
    if state.remove(&info.storage_key(), namespace, name).is_none() {
        return;
    }
    if is_crd(info) {
        let served: Vec<ResourceInfo> = state
            .registry
            .all()
            .iter()
            .filter(|r| r.crd.as_deref() == Some(name))
            .cloned()
            .collect();
        state.registry.unregister_crd(name);
        if let Some(custom) = served.first() {
            let key = custom.storage_key();
            let ids: Vec<_> = state
                .list(&key, None)
                .map(crate::store::object_key)
                .collect();
            for (ns, n) in ids {
                state.remove(&key, &ns, &n);
            }
        }
    }
    if !namespace.is_empty() {
        reap_namespaces(state);
    }
}

fn reap_namespaces(state: &mut State) {
    let key = StorageKey {
        group: String::new(),
        plural: "namespaces".into(),
    };
    let done: Vec<String> = state
        .list(&key, None)
        .filter(|n| n.pointer("/metadata/deletionTimestamp").is_some() && finalizers(n).is_empty())
        .map(|n| crate::store::object_key(n).1)
        .filter(|n| state.namespaced_keys_in(n).is_empty())
        .collect();
    for name in done {
        state.remove(&key, "", &name);
    }
}

/// The namespaces every cluster starts with; existing ones are kept.
pub fn seed_namespaces(state: &mut State) {
    let Some(info) = state.registry.find("", "v1", "namespaces").cloned() else {
        return;
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if state.get(&info.storage_key(), "", name).is_some() {
            continue;
        }
        let target = Target {
            info: info.clone(),
            namespace: String::new(),
            name: String::new(),
            scope: Scope::Main { has_status: true },
        };
        let options = WriteOptions {
            manager: "sluice-apiserver".into(),
            ..WriteOptions::default()
        };
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        if let Err(e) = create(state, &target, body, &options) {
            tracing::warn!(namespace = name, message = %e.message, "could not create a namespace");
        }
    }
    state.flush();
}
