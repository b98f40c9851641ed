//! All objects, the global resourceVersion counter and the event history
//! that watches replay. One mutex guards it; every request holds it briefly.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::persist;
use crate::resources::{CRD_GROUP, CRD_PLURAL, Registry, StorageKey};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One retained change, with the object before it so watches with
/// selectors can tell an object entering or leaving their view.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub key: StorageKey,
    pub kind: EventType,
    pub object: Value,
    pub previous: Option<Value>,
}

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub type ObjectKey = (String, String);

#[derive(Debug)]
pub struct State {
    pub registry: Registry,
    rv: u64,
    objects: BTreeMap<StorageKey, BTreeMap<ObjectKey, Value>>,
    history: VecDeque<Event>,
    history_limit: usize,
    /// Events at or below this resourceVersion are no longer retained.
    compacted: u64,
    state_file: Option<PathBuf>,
    dirty: bool,
    changes: watch::Sender<u64>,
}

impl State {
    /// An empty store, or the one saved in `state_file`.
    pub fn open(
        history_limit: usize,
        state_file: Option<PathBuf>,
        changes: watch::Sender<u64>,
    ) -> Result<Self, crate::Error> {
        let mut state = State {
            registry: Registry::default(),
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            state_file,
            dirty: false,
            changes,
        };
        if let Some(saved) = state
            .state_file
            .as_deref()
            .map(persist::load)
            .transpose()?
            .flatten()
        {
            state.rv = saved.resource_version;
            state.compacted = saved.resource_version;
            for (key, object) in saved.objects {
                let id = object_key(&object);
                if key.group == CRD_GROUP && key.plural == CRD_PLURAL {
                    state.registry.register_crd(&object);
                }
                state.objects.entry(key).or_default().insert(id, object);
            }
        }
        Ok(state)
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    pub fn get(&self, key: &StorageKey, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(key)?
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Objects of a resource in key order, optionally in one namespace.
    pub fn list<'a>(
        &'a self,
        key: &StorageKey,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .get(key)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(move |((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v)
    }

    /// The (resource, name) of every object in a namespace.
    pub fn namespaced_keys_in(&self, namespace: &str) -> Vec<(StorageKey, String)> {
        self.objects
            .iter()
            .flat_map(|(k, m)| {
                m.keys()
                    .filter(|(ns, _)| ns == namespace)
                    .map(move |(_, name)| (k.clone(), name.clone()))
            })
            .collect()
    }

    /// Stores an object under a new resourceVersion and records the event.
    pub fn put(&mut self, key: &StorageKey, mut object: Value) -> Value {
        self.rv += 1;
        set_resource_version(&mut object, self.rv);
        let id = object_key(&object);
        let previous = self
            .objects
            .entry(key.clone())
            .or_default()
            .insert(id, object.clone());
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(key, kind, object.clone(), previous);
        object
    }

    /// Removes an object; the DELETED event carries a new resourceVersion.
    pub fn remove(&mut self, key: &StorageKey, namespace: &str, name: &str) -> Option<Value> {
        let mut object = self
            .objects
            .get_mut(key)?
            .remove(&(namespace.to_owned(), name.to_owned()))?;
        let previous = object.clone();
        self.rv += 1;
        set_resource_version(&mut object, self.rv);
        self.record(key, EventType::Deleted, object.clone(), Some(previous));
        Some(object)
    }

    fn record(
        &mut self,
        key: &StorageKey,
        kind: EventType,
        object: Value,
        previous: Option<Value>,
    ) {
        self.history.push_back(Event {
            rv: self.rv,
            key: key.clone(),
            kind,
            object,
            previous,
        });
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.dirty = true;
        self.changes.send_replace(self.rv);
    }

    /// Retained events after `rv`, or `None` when some were compacted away.
    pub fn events_after(&self, rv: u64) -> Option<impl Iterator<Item = &Event>> {
        (rv >= self.compacted).then(|| self.history.iter().filter(move |e| e.rv > rv))
    }

    /// Saves to the state file if anything changed since the last save.
    pub fn flush(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let Some(path) = &self.state_file else {
            return;
        };
        let objects: Vec<persist::Entry<'_>> = self
            .objects
            .iter()
            .flat_map(|(k, m)| {
                m.values().map(move |object| persist::Entry {
                    group: &k.group,
                    resource: &k.plural,
                    object,
                })
            })
            .collect();
        if let Err(e) = persist::save(path, self.rv, objects) {
            tracing::warn!(error = %e, "could not save the API server state");
        }
    }
}

pub fn object_key(object: &Value) -> ObjectKey {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("/metadata/namespace"), text("/metadata/name"))
}

fn set_resource_version(object: &mut Value, rv: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
    }
}
