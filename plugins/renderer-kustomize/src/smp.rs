//! Strategic merge patch as kustomize v5 applies it: maps merge, `null`
//! deletes, lists of built-in kinds merge by their Kubernetes merge key
//! (patch items first, then the remaining original items, as kustomize
//! orders them), other lists and custom resources' lists are replaced.
//! Directives: `$patch: delete|replace` on maps and list items, and —
//! beyond what kustomize v5.5 does, which leaves them in the output —
//! `$retainKeys`, `$setElementOrder/<list>` and
//! `$deleteFromPrimitiveList/<list>` with their Kubernetes meaning.

use serde_json::{Map, Value};

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ListMerge {
    Key(&'static str),
    /// Ports are keyed by number and protocol; kustomize drops a patch item
    /// that names the protocol where the original does not, or the reverse.
    Ports(&'static str),
    Primitive,
    Replace,
}

/// API groups served by Kubernetes itself, whose schemas carry merge keys.
pub fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "extensions"
            | "networking.k8s.io"
            | "rbac.authorization.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "coordination.k8s.io"
            | "discovery.k8s.io"
            | "node.k8s.io"
            | "certificates.k8s.io"
            | "events.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
            | "resource.k8s.io"
    )
}

/// Merge keys of the list fields of built-in kinds (from the Kubernetes
/// OpenAPI `x-kubernetes-patch-merge-key`/`-strategy` extensions).
fn list_merge(kind: &str, path: &[String]) -> ListMerge {
    let Some(field) = path.last() else {
        return ListMerge::Replace;
    };
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    let in_container = path
        .iter()
        .any(|p| p == "containers" || p == "initContainers" || p == "ephemeralContainers");
    match field.as_str() {
        "containers" | "initContainers" | "ephemeralContainers" => ListMerge::Key("name"),
        "ports" if in_container => ListMerge::Ports("containerPort"),
        "ports" if kind == "Service" && path.len() == 2 => ListMerge::Ports("port"),
        "env" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" | "volumes" => {
            ListMerge::Key("name")
        }
        "volumeMounts" => ListMerge::Key("mountPath"),
        "volumeDevices" => ListMerge::Key("devicePath"),
        "hostAliases" | "podIPs" => ListMerge::Key("ip"),
        "topologySpreadConstraints" => ListMerge::Key("topologyKey"),
        "conditions" => ListMerge::Key("type"),
        "ownerReferences" if parent == Some("metadata") => ListMerge::Key("uid"),
        "finalizers" if parent == Some("metadata") => ListMerge::Primitive,
        "secrets" if kind == "ServiceAccount" && path.len() == 1 => ListMerge::Key("name"),
        "taints" if kind == "Node" => ListMerge::Key("key"),
        _ => ListMerge::Replace,
    }
}

struct Ctx<'a> {
    builtin: bool,
    kind: &'a str,
}

/// Applies `patch` to `target`; `None` when the patch deletes the object.
pub fn apply(target: &Value, patch: &Value, builtin: bool, kind: &str) -> Option<Value> {
    let ctx = Ctx { builtin, kind };
    merge_value(Some(target), patch, &ctx, &mut Vec::new())
}

fn directive(map: &Map<String, Value>) -> Option<&str> {
    map.get("$patch").and_then(Value::as_str)
}

fn merge_value(
    orig: Option<&Value>,
    patch: &Value,
    ctx: &Ctx,
    path: &mut Vec<String>,
) -> Option<Value> {
    match patch {
        Value::Null => None,
        Value::Object(pm) => {
            match directive(pm) {
                Some("delete") => return None,
                Some("replace") => return Some(Value::Object(strip_directives(pm))),
                _ => {}
            }
            let base = match orig {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            Some(Value::Object(merge_map(base, pm, ctx, path)))
        }
        Value::Array(items) => Some(Value::Array(merge_list(
            orig.and_then(Value::as_array),
            items,
            ctx,
            path,
        ))),
        scalar => Some(scalar.clone()),
    }
}

fn strip_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn merge_map(
    mut base: Map<String, Value>,
    patch: &Map<String, Value>,
    ctx: &Ctx,
    path: &mut Vec<String>,
) -> Map<String, Value> {
    for (key, pv) in patch {
        if key == "$patch" || key == "$retainKeys" {
            continue;
        }
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Value::Array(gone)) = (base.get_mut(list), pv) {
                cur.retain(|v| !gone.contains(v));
            }
            continue;
        }
        if key.starts_with("$setElementOrder/") {
            continue;
        }
        path.push(key.clone());
        match merge_value(base.get(key), pv, ctx, path) {
            Some(v) => {
                base.insert(key.clone(), v);
            }
            None => {
                base.shift_remove(key);
            }
        }
        path.pop();
    }
    for (key, order) in patch {
        if let (Some(list), Value::Array(order)) = (key.strip_prefix("$setElementOrder/"), order)
            && let Some(Value::Array(cur)) = base.get_mut(list)
        {
            set_order(cur, order);
        }
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        base.retain(|k, _| keep.contains(&k.as_str()));
    }
    base
}

/// Reorders `cur` as `order` lists its items (by merge key, or by value for
/// primitive lists); items not named keep their place after those named.
fn set_order(cur: &mut Vec<Value>, order: &[Value]) {
    let rank = |item: &Value| -> usize {
        order
            .iter()
            .position(|o| match (o, item) {
                (Value::Object(om), Value::Object(im)) => {
                    om.iter().all(|(k, v)| im.get(k) == Some(v))
                }
                (o, i) => o == i,
            })
            .unwrap_or(usize::MAX)
    };
    let mut ranked: Vec<(usize, usize, Value)> = cur
        .drain(..)
        .enumerate()
        .map(|(i, v)| (rank(&v), i, v))
        .collect();
    ranked.sort_by_key(|(r, i, _)| (*r, *i));
    cur.extend(ranked.into_iter().map(|(_, _, v)| v));
}

fn merge_list(
    orig: Option<&Vec<Value>>,
    patch: &[Value],
    ctx: &Ctx,
    path: &mut Vec<String>,
) -> Vec<Value> {
    let strategy = if ctx.builtin {
        list_merge(ctx.kind, path)
    } else {
        ListMerge::Replace
    };
    let replace_all = patch
        .iter()
        .any(|p| p.as_object().and_then(directive) == Some("replace"));
    let orig = match orig {
        Some(o) if !replace_all => o.as_slice(),
        _ => &[],
    };
    match strategy {
        // Kustomize copies such lists as written, directives included.
        ListMerge::Replace => patch.to_vec(),
        ListMerge::Primitive => {
            let mut out: Vec<Value> = Vec::new();
            for v in patch.iter().chain(orig) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            out
        }
        ListMerge::Key(key) => merge_keyed(orig, patch, key, false, ctx, path),
        ListMerge::Ports(key) => {
            let has_protocol = |v: &Value| v.get("protocol").is_some();
            let multi = orig.iter().chain(patch).any(has_protocol);
            merge_keyed(orig, patch, key, multi, ctx, path)
        }
    }
}

/// Merges lists of maps by `key` (and `protocol` too when `with_protocol`).
///
/// With one key, kustomize orders the patch's items first, then the
/// original items it did not mention. With port and protocol, it puts new
/// items first, then the original items in their order, and drops a patch
/// item whose protocol is given where the original's is not (or the reverse).
fn merge_keyed(
    orig: &[Value],
    patch: &[Value],
    key: &str,
    with_protocol: bool,
    ctx: &Ctx,
    path: &mut Vec<String>,
) -> Vec<Value> {
    let key_of = |v: &Value| {
        let k = v.get(key).cloned()?;
        Some(if with_protocol {
            Value::Array(vec![k, v.get("protocol").cloned().unwrap_or(Value::Null)])
        } else {
            k
        })
    };
    let half_match = |p: &Value, o: &Value| {
        with_protocol
            && p.get(key).is_some()
            && p.get(key) == o.get(key)
            && p.get("protocol").is_some() != o.get("protocol").is_some()
    };
    let mut out: Vec<Value> = Vec::new();
    // Original items merged with their patch item (`None` once deleted).
    let mut merged: Vec<Option<Value>> = orig.iter().cloned().map(Some).collect();
    let mut touched = vec![false; orig.len()];
    for p in patch {
        let Some(pm) = p.as_object() else {
            out.push(p.clone());
            continue;
        };
        let pk = key_of(p);
        let found = pk.as_ref().and_then(|k| {
            orig.iter()
                .enumerate()
                .position(|(i, o)| !touched[i] && key_of(o).as_ref() == Some(k))
        });
        match directive(pm) {
            Some("delete") => {
                for (i, o) in orig.iter().enumerate() {
                    if key_of(o) == pk {
                        touched[i] = true;
                        merged[i] = None;
                    }
                }
                continue;
            }
            Some("replace") => continue,
            _ => {}
        }
        match found {
            Some(i) => {
                touched[i] = true;
                merged[i] = merge_value(Some(&orig[i]), p, ctx, path);
                if !with_protocol && let Some(m) = merged[i].take() {
                    out.push(m);
                }
            }
            None if orig.iter().any(|o| half_match(p, o)) => {}
            None => out.extend(merge_value(None, p, ctx, path)),
        }
    }
    for (i, m) in merged.into_iter().enumerate() {
        if with_protocol || !touched[i] {
            out.extend(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_patch_items_first() {
        let target = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a", "env": [{"name": "A", "value": "1"}, {"name": "B"}]},
            {"name": "side", "image": "s"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "C"}, {"name": "A", "$patch": "delete"}]},
            {"name": "new", "image": "n"}
        ]}}}});
        let out = apply(&target, &patch, true, "Deployment").unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        let names: Vec<_> = cs
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("app"), json!("new"), json!("side")]);
        assert_eq!(cs[0]["env"], json!([{"name": "C"}, {"name": "B"}]));
        assert_eq!(cs[0]["image"], "a");
    }

    #[test]
    fn custom_resources_replace_lists() {
        let target = json!({"spec": {"items": [{"name": "a"}, {"name": "b"}]}});
        let patch = json!({"spec": {"items": [{"name": "c"}]}});
        let out = apply(&target, &patch, false, "Widget").unwrap();
        assert_eq!(out["spec"]["items"], json!([{"name": "c"}]));
    }

    #[test]
    fn directives() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": [{"name": "a", "args": ["x", "y"]}, {"name": "b"}]}}}});
        let patch = json!({"metadata": {"labels": {"a": null}},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "$deleteFromPrimitiveList/args": ["x"]}]}}}});
        let out = apply(&target, &patch, true, "Deployment").unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b"}, {"name": "a", "args": ["y"]}])
        );
        assert!(apply(&target, &json!({"$patch": "delete"}), true, "Deployment").is_none());
    }
}
