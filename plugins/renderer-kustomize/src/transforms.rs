//! The built-in field transformers: namespace, name prefix/suffix, labels,
//! annotations, images and replicas.

use crate::config::{FieldSpec, visit};
use crate::error::{Error, Result};
use crate::kustomization::{Image, Replica};
use crate::resource::Resource;
use regex::Regex;
use serde_json::{Map, Value};

/// `namespace:` — sets `metadata.namespace` on namespaced objects, the
/// configured fields (a `Namespace` object's own name among them), and
/// the namespace of RoleBinding subjects named `default`.
pub fn namespace(res: &mut [Resource], ns: &str, specs: &[FieldSpec]) -> Result<()> {
    for r in res.iter_mut() {
        let id = r.cur_id();
        let changes_id = !id.is_cluster_scoped()
            || specs
                .iter()
                .any(|s| s.selects(&id) && s.path_text == "metadata/name");
        if changes_id {
            r.store_prev();
        }
        for spec in specs.iter().filter(|s| s.selects(&id)) {
            if spec.path_text == "metadata/namespace" {
                continue;
            }
            visit(&mut r.obj, &spec.path, spec.create, &mut |v| {
                *v = ns.into();
                Ok(())
            })?;
        }
        if !id.is_cluster_scoped() {
            r.set_namespace(ns);
        }
        // Kustomize's "role binding hack": only subjects named `default`.
        let binding = id.kind == "RoleBinding" || id.kind == "ClusterRoleBinding";
        if binding && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") {
            for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
                if s.get("name").and_then(Value::as_str) == Some("default") {
                    s.insert("namespace".into(), ns.into());
                }
            }
        }
    }
    Ok(())
}

/// Kinds whose names a prefix or suffix leaves alone.
fn keeps_name(r: &Resource) -> bool {
    let id = r.cur_id();
    id.kind == "CustomResourceDefinition"
        || id.kind == "Namespace"
        || (id.kind == "APIService" && id.group == "apiregistration.k8s.io")
}

pub fn prefix_suffix(
    res: &mut [Resource],
    prefix: &str,
    suffix: &str,
    specs: &[FieldSpec],
) -> Result<()> {
    if prefix.is_empty() && suffix.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut().filter(|r| !keeps_name(r)) {
        let id = r.cur_id();
        let mut touched = false;
        for spec in specs.iter().filter(|s| s.selects(&id)) {
            if !touched {
                r.store_prev();
                touched = true;
            }
            visit(&mut r.obj, &spec.path, spec.create, &mut |v| {
                if let Value::String(s) = v {
                    *s = format!("{prefix}{s}{suffix}");
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Adds `pairs` to the map at each field spec (labels or annotations).
pub fn add_pairs(
    res: &mut [Resource],
    pairs: &[(String, String)],
    specs: &[FieldSpec],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let id = r.cur_id();
        for spec in specs.iter().filter(|s| s.selects(&id)) {
            visit(&mut r.obj, &spec.path, spec.create, &mut |v| {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
                if let Value::Object(m) = v {
                    for (k, val) in pairs {
                        m.insert(k.clone(), val.clone().into());
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// `images:` — rewrites matching `image` fields of every `containers` and
/// `initContainers` list anywhere in an object (kustomize's legacy walk),
/// then of the configured field specs.
pub fn images(res: &mut [Resource], images: &[Image], specs: &[FieldSpec]) -> Result<()> {
    let compiled: Vec<(Regex, &Image)> = images
        .iter()
        .map(|i| {
            Regex::new(&format!("^{}(@sha256)?(:[\\w][\\w.-]{{0,127}})?$", i.name))
                .map(|re| (re, i))
                .map_err(|e| Error::new(format!("image name '{}' is not usable: {e}", i.name)))
        })
        .collect::<Result<_>>()?;
    for r in res.iter_mut() {
        for (re, img) in &compiled {
            walk_containers(&mut r.obj, &mut |v| set_image(v, re, img));
            let id = r.cur_id();
            for spec in specs.iter().filter(|s| s.selects(&id)) {
                visit(&mut r.obj, &spec.path, false, &mut |v| {
                    set_image(v, re, img);
                    Ok(())
                })?;
            }
        }
    }
    Ok(())
}

fn walk_containers(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers") && child.is_array() {
                    for c in child.as_array_mut().unwrap() {
                        if let Some(img) = c.get_mut("image") {
                            f(img);
                        }
                    }
                }
                walk_containers(child, f);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk_containers(x, f)),
        _ => {}
    }
}

fn set_image(v: &mut Value, re: &Regex, img: &Image) {
    let Some(cur) = v.as_str() else { return };
    if !re.is_match(cur) {
        return;
    }
    let (mut name, mut tag, mut digest) = split_image(cur);
    if let Some(n) = img.new_name.as_deref().filter(|n| !n.is_empty()) {
        name = n.to_owned();
    }
    let new_tag = img.new_tag.as_deref().filter(|t| !t.is_empty());
    let new_digest = img.digest.as_deref().filter(|d| !d.is_empty());
    match (new_tag, new_digest) {
        (Some(t), Some(d)) => {
            tag = t.to_owned();
            digest = d.to_owned();
        }
        (Some(t), None) => {
            tag = t.to_owned();
            digest.clear();
        }
        (None, Some(d)) => {
            tag.clear();
            digest = d.to_owned();
        }
        (None, None) => {}
    }
    if let Some(sfx) = img.tag_suffix.as_deref().filter(|s| !s.is_empty()) {
        tag.push_str(sfx);
    }
    let mut out = name;
    if !tag.is_empty() {
        out = format!("{out}:{tag}");
    }
    if !digest.is_empty() {
        out = format!("{out}@{digest}");
    }
    *v = out.into();
}

/// `registry:5000/app:1.0@sha256:…` → (`registry:5000/app`, `1.0`, `sha256:…`).
fn split_image(image: &str) -> (String, String, String) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, d.to_owned()),
        None => (image, String::new()),
    };
    let slash = rest.find('/').unwrap_or(0);
    match rest[slash..].rfind(':') {
        Some(i) => (
            rest[..slash + i].to_owned(),
            rest[slash + i + 1..].to_owned(),
            digest,
        ),
        None => (rest.to_owned(), String::new(), digest),
    }
}

/// `replicas:` — by name (current or earlier) among the kinds configured.
pub fn replicas(
    res: &mut [Resource],
    replicas: &[Replica],
    specs: &[FieldSpec],
    kfile: &str,
) -> Result<()> {
    for rep in replicas {
        let mut found = false;
        for r in res.iter_mut() {
            let ids = r.all_ids();
            let cur = r.cur_id();
            for spec in specs {
                if ids.iter().any(|id| id.name == rep.name && spec.selects(id))
                    && spec.selects(&cur)
                {
                    found = true;
                    visit(&mut r.obj, &spec.path, spec.create, &mut |v| {
                        *v = rep.count.into();
                        Ok(())
                    })?;
                }
            }
        }
        if !found {
            return Err(Error::at(
                format!(
                    "replicas: no Deployment, ReplicationController, ReplicaSet or StatefulSet named '{}'; check the name",
                    rep.name
                ),
                kfile,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_split() {
        assert_eq!(split_image("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(
            split_image("reg:5000/a/b:1.2@sha256:ab"),
            ("reg:5000/a/b".into(), "1.2".into(), "sha256:ab".into())
        );
    }
}
