//! The one path every write goes through: scope isolation, server-owned
//! metadata, generation, managedFields, validation, no-op detection,
//! finalizer completion and dry-run.

use serde_json::{Value, json};

use super::crd::{accept_crd, is_crd};
use super::delete::remove;
use super::validate::validate;
use super::{Answer, Target, WriteOptions, check_type, metadata_mut, present};
use crate::clock;
use crate::managed_fields::{self, Scope};
use crate::status::ApiError;
use crate::store::State;

/// How managedFields change in a commit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ownership {
    /// Create, update or non-apply patch: the writer takes what it changed.
    Update,
    /// Server-side apply already computed them.
    Applied,
}

/// Turns a requested object into the stored one and stores it (unless
/// dry-run): scope isolation, server-owned metadata, generation, ownership,
/// validation, no-op detection and finalizer completion.
pub fn commit(
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

pub fn finalizers(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}
