//! What each verb does to the store. Every write ends in `commit`, so
//! create, update, patch and apply cannot drift apart in the bookkeeping a
//! real API server does around them.

mod commit;
mod crd;
mod delete;
mod validate;

use serde_json::{Map, Value, json};

use crate::apply;
use crate::clock;
use crate::managed_fields::{Scope, Writer};
use crate::merge::{merge_patch, strategic_merge};
use crate::resources::{ResourceInfo, StorageKey};
use crate::selector::Selector;
use crate::status::{ApiError, cause};
use crate::store::State;

use commit::{Ownership, commit};
pub use delete::{delete, delete_collection};

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
                ApiError::unprocessable(format!(
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

fn apply(
    state: &mut State,
    t: &Target,
    old: Option<Value>,
    body: &[u8],
    options: &WriteOptions,
) -> Answer {
    if options.manager.is_empty() {
        return Err(ApiError::unprocessable(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
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

/// An apply (or `application/yaml`) body: JSON, or YAML with YAML 1.2
/// booleans and `0755` kept a string.
pub fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
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
