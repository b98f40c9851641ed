//! Deletion: finalizers hold an object (with `deletionTimestamp` set) until
//! they are gone, namespaces take their content along, CRDs their custom
//! resources.

use serde_json::{Value, json};

use super::commit::finalizers;
use super::crd::is_crd;
use super::{Answer, DeleteOptions, Target, present};
use crate::clock;
use crate::resources::{ResourceInfo, StorageKey};
use crate::selector::Selector;
use crate::status::ApiError;
use crate::store::State;

/// DELETE of one object: preconditions, then gone at once or (with
/// finalizers, and always for namespaces) marked and kept until they are.
/// `propagationPolicy` is accepted; there is no garbage collector to honour it.
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
            reference_item(&t.info, &one.namespace, &one.name)
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

/// A deleted object as `deletecollection` lists it: its type and name.
fn reference_item(info: &ResourceInfo, namespace: &str, name: &str) -> Value {
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
pub fn remove(state: &mut State, info: &ResourceInfo, namespace: &str, name: &str) {
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
