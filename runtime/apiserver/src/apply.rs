//! Server-side apply: merge a manager's configuration into the live object,
//! refusing to overwrite fields other managers own with a different value
//! unless forced, sharing fields applied with the same value, and removing
//! fields the manager stopped applying that nobody else owns.

use serde_json::{Map, Value};

use crate::managed_fields::{self, Entry, FieldPath, FieldSet, Writer};
use crate::merge::strategic_merge;
use crate::status::{Cause, cause};

/// The merged object (managedFields written), or the conflicts.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    writer: &Writer<'_>,
    force: bool,
) -> Result<Value, Vec<Cause>> {
    let config = scoped_config(config, writer);
    let applied = managed_fields::field_set(&config, writer.builtin, writer.scope);
    let mut entries = live.map(managed_fields::read).unwrap_or_default();
    let own = |e: &Entry| {
        e.manager == writer.manager
            && e.operation == "Apply"
            && e.subresource == writer.scope.subresource()
    };

    let mut conflicts: Vec<(usize, FieldPath)> = Vec::new();
    for (i, entry) in entries.iter().enumerate().filter(|(_, e)| !own(e)) {
        for path in entry.fields.intersection(&applied) {
            if !managed_fields::same_at(live, Some(&config), path) {
                conflicts.push((i, path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts
            .iter()
            .map(|(i, path)| {
                let entry = &entries[*i];
                cause(
                    "FieldManagerConflict",
                    &managed_fields::display(path),
                    format!(
                        "conflict with \"{}\" using {}",
                        entry.manager, entry.api_version
                    ),
                )
            })
            .collect());
    }
    for (i, path) in &conflicts {
        entries[*i].fields.remove(path);
    }

    let previous: FieldSet = entries
        .iter()
        .find(|e| own(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    writer.entry(&mut entries, "Apply").fields = applied.clone();
    entries.retain(|e| !e.fields.is_empty());

    let mut merged = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    strategic_merge(&mut merged, &config, writer.builtin);
    let owned_by_others: FieldSet = entries
        .iter()
        .filter(|e| !own(e))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let owned = |p: &FieldPath| applied.contains(p) || owned_by_others.contains(p);
    // An item or map (`.`) whose members others still own stays; the
    // applier's own members of it are pruned one by one.
    let others_inside = |p: &FieldPath| {
        p.last().is_some_and(|e| e == ".")
            && owned_by_others
                .iter()
                .any(|o| o.len() >= p.len() && o[..p.len() - 1] == p[..p.len() - 1])
    };
    let mut pruned: Vec<&FieldPath> = previous
        .difference(&applied)
        .filter(|p| !owned(p) && !others_inside(p))
        .collect();
    pruned.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in &pruned {
        managed_fields::remove_at(&mut merged, path);
    }
    for path in &pruned {
        remove_empty_ancestors(&mut merged, path, &owned);
    }
    managed_fields::write(&mut merged, &entries);
    Ok(merged)
}

/// The part of the configuration this write may set: no server-owned
/// metadata, and `status` only on the status subresource.
fn scoped_config(config: &Value, writer: &Writer<'_>) -> Value {
    let mut out = Map::new();
    for (key, value) in config.as_object().into_iter().flatten() {
        if key == "metadata" {
            let keep = [
                "name",
                "namespace",
                "labels",
                "annotations",
                "finalizers",
                "ownerReferences",
            ];
            let meta: Map<String, Value> = value
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out.insert(key.clone(), Value::Object(meta));
        } else if matches!(key.as_str(), "apiVersion" | "kind") || writer.scope.covers(key) {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// Drops containers that pruning left empty, unless someone owns them;
/// top-level fields stay.
fn remove_empty_ancestors(
    object: &mut Value,
    path: &FieldPath,
    owned: &dyn Fn(&FieldPath) -> bool,
) {
    let path: Vec<String> = path.iter().filter(|e| *e != ".").cloned().collect();
    for len in (2..path.len()).rev() {
        let prefix = path[..len].to_vec();
        let mut marker = prefix.clone();
        marker.push(".".into());
        let empty = match managed_fields::value_at(object, &prefix) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        if !empty || owned(&prefix) || owned(&marker) {
            return;
        }
        managed_fields::remove_at(object, &prefix);
    }
}
