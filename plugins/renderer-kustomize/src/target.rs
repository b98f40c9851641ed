//! One `kustomize build`: loads the kustomization tree, accumulates
//! resources (bases first, then components), runs generators and the
//! built-in transformers in kustomize's order at each level, and at the top
//! adds content hashes, fixes name references, resolves vars and sorts.

use crate::config::{FieldSpec, TransformerConfig};
use crate::error::{Error, Result, Warning};
use crate::fs::{Fs, is_within, join};
use crate::generators;
use crate::jsonpatch;
use crate::kustomization::{
    self, Kustomization, Patch, Replacement, ReplacementEntry, Var, string_pairs,
};
use crate::nameref;
use crate::replacements;
use crate::resource::{Behavior, Resource, split_api_version};
use crate::selector::Matcher;
use crate::smp;
use crate::transforms;
use serde_json::Value;
use std::collections::HashMap;

mod builtin;

/// What a build produces: objects in output order, and warnings.
#[derive(Debug)]
pub struct Output {
    pub resources: Vec<Resource>,
    pub warnings: Vec<Warning>,
}

/// Builds the kustomization in `dir` (relative to the artifact root).
pub fn build(fs: &dyn Fs, dir: &str) -> Result<Output> {
    let mut b = Builder {
        fs,
        stack: Vec::new(),
        warnings: Vec::new(),
        defaults: TransformerConfig::defaults(),
    };
    let mut acc = Acc::default();
    let root = b.accumulate(dir, &mut acc, Kind::Root)?;
    finish(&mut acc)?;
    build_metadata(&mut acc.res, &root, dir)?;
    sort(&mut acc.res, root.sort_options.as_ref())?;
    Ok(Output {
        resources: acc.res,
        warnings: b.warnings,
    })
}

#[derive(Default)]
struct Acc {
    res: Vec<Resource>,
    config: TransformerConfig,
    vars: Vec<(Var, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Root,
    Base,
    Component,
}

struct Builder<'a> {
    fs: &'a dyn Fs,
    /// Directories being built, for cycle detection.
    stack: Vec<String>,
    warnings: Vec<Warning>,
    defaults: TransformerConfig,
}

fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
        || entry.contains("?ref=")
        || entry.contains(".git//")
        || entry.ends_with(".git")
}

fn shown(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

impl Builder<'_> {
    fn accumulate(&mut self, dir: &str, acc: &mut Acc, kind: Kind) -> Result<Kustomization> {
        let kfile = kustomization::find(self.fs, dir)?.ok_or_else(|| {
            Error::at(
                format!(
                    "no kustomization file in '{}'; expected one of {}",
                    shown(dir),
                    kustomization::FILE_NAMES.join(", ")
                ),
                shown(dir),
            )
        })?;
        if let Some(pos) = self.stack.iter().position(|d| d == dir) {
            let mut cycle: Vec<&str> = self.stack[pos..].iter().map(|d| shown(d)).collect();
            cycle.push(shown(dir));
            return Err(Error::at(
                format!(
                    "cycle between kustomizations: {}; remove one of these references",
                    cycle.join(" -> ")
                ),
                &kfile,
            ));
        }
        self.stack.push(dir.to_owned());
        let k = kustomization::load(self.fs, &kfile)?;
        let is_component = k.kind.as_deref() == Some("Component");
        match kind {
            Kind::Component if !is_component => {
                return Err(Error::at(
                    "listed under 'components' but its kind is not Component; list it under 'resources' instead",
                    &kfile,
                ));
            }
            Kind::Root | Kind::Base if is_component => {
                return Err(Error::at(
                    "a Component cannot be built on its own or listed under 'resources'; list it under 'components'",
                    &kfile,
                ));
            }
            _ => {}
        }
        self.run(dir, &kfile, &k, acc)?;
        self.stack.pop();
        Ok(k)
    }

    fn run(&mut self, dir: &str, kfile: &str, k: &Kustomization, acc: &mut Acc) -> Result<()> {
        acc.config.merge(&self.defaults);
        if k.openapi.is_some() {
            self.warnings.push(Warning {
                message: "'openapi' schemas are not read: strategic-merge patches treat custom resources' lists as atomic".into(),
                file: Some(kfile.to_owned()),
            });
        }
        // The deprecations kustomize v5 warns about.
        for (old, used, new) in [
            ("bases", k.bases.is_some(), "resources"),
            ("commonLabels", k.common_labels.is_some(), "labels"),
            (
                "patchesStrategicMerge",
                k.patches_strategic_merge.is_some(),
                "patches",
            ),
            ("patchesJson6902", k.patches_json6902.is_some(), "patches"),
            ("vars", k.vars.is_some(), "replacements"),
        ] {
            if used {
                self.warnings.push(Warning {
                    message: format!("'{old}' is deprecated; use '{new}' instead ('kustomize edit fix' rewrites it)"),
                    file: Some(kfile.to_owned()),
                });
            }
        }
        for entry in k.resources.iter().flatten().chain(k.bases.iter().flatten()) {
            self.add_resource(dir, kfile, entry, acc)?;
        }
        for entry in k.components.iter().flatten() {
            let path = join(dir, entry).filter(|p| self.fs.is_dir(p));
            let path = match path {
                Some(p) => p,
                None if is_remote(entry) => return Err(remote(entry, kfile)),
                None => join(dir, entry).ok_or_else(|| leaves(entry, kfile))?,
            };
            if !self.fs.is_dir(&path) {
                return Err(Error::at(
                    format!(
                        "component '{entry}' not found: no directory '{}'",
                        shown(&path)
                    ),
                    kfile,
                ));
            }
            self.accumulate(&path, acc, Kind::Component)?;
        }
        for c in k.configurations.iter().flatten() {
            let path = self.local_file(dir, kfile, c, "configurations")?;
            let doc = self.read_doc(&path)?;
            acc.config.merge_value(&doc, &path)?;
        }
        for c in k.crds.iter().flatten() {
            let path = self.local_file(dir, kfile, c, "crds")?;
            let doc = self.read_doc(&path)?;
            crds(&doc, &mut acc.config);
        }

        for (list, secret) in [
            (&k.config_map_generator, false),
            (&k.secret_generator, true),
        ] {
            for args in list.iter().flatten() {
                let r = generators::generate(
                    self.fs,
                    dir,
                    kfile,
                    args,
                    k.generator_options.as_ref(),
                    secret,
                )?;
                absorb(&mut acc.res, r, kfile)?;
            }
        }

        if let Some(entries) = &k.generators {
            self.run_generators(dir, kfile, entries, acc)?;
        }

        // The built-in transformers, in kustomize's order.
        for p in k.patches_strategic_merge.iter().flatten() {
            self.patch_sm_legacy(dir, kfile, p, acc)?;
        }
        for p in k.patches.iter().flatten() {
            self.patch(dir, kfile, p, acc, false)?;
        }
        if let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
            transforms::namespace(&mut acc.res, ns, &acc.config.namespace)?;
        }
        transforms::prefix_suffix(
            &mut acc.res,
            k.name_prefix.as_deref().unwrap_or(""),
            "",
            &acc.config.name_prefix,
        )?;
        transforms::prefix_suffix(
            &mut acc.res,
            "",
            k.name_suffix.as_deref().unwrap_or(""),
            &acc.config.name_suffix,
        )?;
        transforms::add_pairs(
            &mut acc.res,
            &string_pairs(&k.common_labels),
            &acc.config.common_labels,
        )?;
        for label in k.labels.iter().flatten() {
            let mut specs: Vec<FieldSpec> = if label.include_selectors {
                acc.config.common_labels.clone()
            } else if label.include_templates {
                acc.config.template_labels.clone()
            } else {
                vec![FieldSpec::new("metadata/labels", true)]
            };
            for f in label.fields.iter().flatten() {
                let mut tc = TransformerConfig::default();
                let doc = serde_json::json!({ "commonLabels": [f] });
                tc.merge_value(&doc, kfile)?;
                specs.extend(tc.common_labels);
            }
            transforms::add_pairs(&mut acc.res, &string_pairs(&label.pairs), &specs)?;
        }
        transforms::add_pairs(
            &mut acc.res,
            &string_pairs(&k.common_annotations),
            &acc.config.common_annotations,
        )?;
        for p in k.patches_json6902.iter().flatten() {
            if p.target.is_none() {
                return Err(Error::at("a patchesJson6902 entry needs a target", kfile));
            }
            self.patch(dir, kfile, p, acc, true)?;
        }
        if let Some(reps) = &k.replicas {
            transforms::replicas(&mut acc.res, reps, &acc.config.replicas, kfile)?;
        }
        if let Some(images) = &k.images {
            transforms::images(&mut acc.res, images, &acc.config.images)
                .map_err(|e| e.in_file(kfile))?;
        }
        for entry in k.replacements.iter().flatten() {
            self.replacement(dir, kfile, entry, acc)?;
        }
        if let Some(entries) = &k.transformers {
            self.run_transformers(dir, kfile, entries, acc)?;
        }
        for var in k.vars.iter().flatten() {
            if acc.vars.iter().any(|(v, _)| v.name == var.name) {
                return Err(Error::at(
                    format!("var '{}' is defined more than once", var.name),
                    kfile,
                ));
            }
            acc.vars.push((var.clone(), kfile.to_owned()));
        }
        Ok(())
    }

    fn replacement(
        &mut self,
        dir: &str,
        kfile: &str,
        entry: &ReplacementEntry,
        acc: &mut Acc,
    ) -> Result<()> {
        match entry {
            ReplacementEntry::Inline(rep) => replacements::replace(&mut acc.res, rep, kfile),
            ReplacementEntry::Path { path } => {
                let file = self.local_file(dir, kfile, path, "replacements")?;
                let text = self.read_text(&file)?;
                for (doc, _) in crate::yaml::documents(&file, &text)? {
                    let list = match doc {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    for item in list {
                        let rep: Replacement = serde_json::from_value(item)
                            .map_err(|e| Error::at(format!("invalid replacement: {e}"), &file))?;
                        replacements::replace(&mut acc.res, &rep, &file)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn add_resource(&mut self, dir: &str, kfile: &str, entry: &str, acc: &mut Acc) -> Result<()> {
        // Local paths win, as in kustomize; only then is an entry a URL.
        let local = join(dir, entry).filter(|p| self.fs.is_file(p) || self.fs.is_dir(p));
        if local.is_none() && is_remote(entry) {
            return Err(remote(entry, kfile));
        }
        let path = join(dir, entry).ok_or_else(|| leaves(entry, kfile))?;
        if self.fs.is_file(&path) {
            if !is_within(&path, dir) {
                return Err(Error::at(
                    format!(
                        "resource file '{entry}' is not in or below '{}'; kustomize loads only files of the kustomization's own tree (use a kustomization in that directory instead)",
                        shown(dir)
                    ),
                    kfile,
                ));
            }
            let text = self.read_text(&path)?;
            let mut new = Vec::new();
            for (doc, line) in crate::yaml::documents(&path, &text)? {
                objects(doc, &path, line, &mut new)?;
            }
            append_all(&mut acc.res, new)
        } else if self.fs.is_dir(&path) {
            let mut sub = Acc::default();
            self.accumulate(&path, &mut sub, Kind::Base)?;
            append_all(&mut acc.res, sub.res)?;
            acc.config.merge(&sub.config);
            for (v, f) in sub.vars {
                if acc.vars.iter().any(|(x, _)| x.name == v.name) {
                    return Err(Error::at(
                        format!("var '{}' is defined more than once", v.name),
                        &f,
                    ));
                }
                acc.vars.push((v, f));
            }
            Ok(())
        } else {
            Err(Error::at(
                format!(
                    "resource '{entry}' not found: no file or directory '{path}' in the artifact"
                ),
                kfile,
            ))
        }
    }

    fn local_file(&self, dir: &str, kfile: &str, rel: &str, field: &str) -> Result<String> {
        let path = join(dir, rel).ok_or_else(|| leaves(rel, kfile))?;
        if !is_within(&path, dir) {
            return Err(Error::at(
                format!(
                    "{field}: file '{rel}' is not in or below '{}'; move it into the kustomization's directory",
                    shown(dir)
                ),
                kfile,
            ));
        }
        if !self.fs.is_file(&path) {
            return Err(Error::at(format!("{field}: file '{rel}' not found"), kfile));
        }
        Ok(path)
    }

    fn read_text(&self, path: &str) -> Result<String> {
        let bytes = self
            .fs
            .read(path)
            .map_err(|e| Error::at(format!("cannot read: {e}"), path))?;
        String::from_utf8(bytes).map_err(|_| Error::at("not UTF-8 text", path))
    }

    fn read_doc(&self, path: &str) -> Result<Value> {
        crate::yaml::document(path, &self.read_text(path)?)
    }

    /// A `patchesStrategicMerge` entry: a file, or an inline patch.
    fn patch_sm_legacy(
        &mut self,
        dir: &str,
        kfile: &str,
        entry: &str,
        acc: &mut Acc,
    ) -> Result<()> {
        let as_path = join(dir, entry).filter(|p| !entry.contains('\n') && self.fs.is_file(p));
        let (text, file) = match as_path {
            Some(p) => {
                if !is_within(&p, dir) {
                    return Err(Error::at(
                        format!("patch file '{entry}' is not in or below '{}'", shown(dir)),
                        kfile,
                    ));
                }
                (self.read_text(&p)?, p)
            }
            None if entry.contains(':') => (entry.to_owned(), kfile.to_owned()),
            None => {
                return Err(Error::at(
                    format!("patchesStrategicMerge: file '{entry}' not found"),
                    kfile,
                ));
            }
        };
        for (mut doc, _) in crate::yaml::documents(&file, &text)? {
            stringify_map(&mut doc, "labels");
            stringify_map(&mut doc, "annotations");
            apply_sm_opts(&mut acc.res, &doc, None, &file, (false, false))?;
        }
        Ok(())
    }

    /// A `patches` (or `patchesJson6902`) entry.
    fn patch(
        &mut self,
        dir: &str,
        kfile: &str,
        p: &Patch,
        acc: &mut Acc,
        json6902: bool,
    ) -> Result<()> {
        let (text, file) = match (&p.path, &p.patch) {
            (Some(_), Some(_)) => {
                return Err(Error::at(
                    "a patch has both 'path' and 'patch'; use one",
                    kfile,
                ));
            }
            (Some(path), None) => {
                let f = self.local_file(dir, kfile, path, "patches")?;
                (self.read_text(&f)?, f)
            }
            (None, Some(inline)) => (inline.clone(), kfile.to_owned()),
            (None, None) => return Err(Error::at("a patch needs 'path' or 'patch'", kfile)),
        };
        let allow = |k: &str| {
            p.options
                .as_ref()
                .and_then(|o| o.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let docs = crate::yaml::documents(&file, &text)?;
        let is_json = json6902 || matches!(docs.first(), Some((Value::Array(_), _)));
        if is_json {
            let ops: Vec<Value> = docs
                .into_iter()
                .flat_map(|(d, _)| match d {
                    Value::Array(a) => a,
                    other => vec![other],
                })
                .collect();
            let target = p.target.as_ref().ok_or_else(|| {
                Error::at(
                    "a JSON 6902 patch needs a target naming the objects it applies to",
                    &file,
                )
            })?;
            let m = Matcher::new(target).map_err(|e| e.in_file(kfile))?;
            let mut hit = false;
            for r in acc.res.iter_mut().filter(|r| m.matches(r)) {
                hit = true;
                let before = r.cur_id();
                jsonpatch::apply(&mut r.obj, &ops).map_err(|e| {
                    Error::at(format!("JSON patch on {}: {e}", before.display()), &file)
                })?;
                keep_identity(
                    r,
                    &before,
                    allow("allowNameChange"),
                    allow("allowKindChange"),
                );
            }
            if !hit {
                self.no_match(target, &file);
            }
            return Ok(());
        }
        for (doc, _) in docs {
            let opts = (allow("allowNameChange"), allow("allowKindChange"));
            let hit = apply_sm_opts(&mut acc.res, &doc, p.target.as_ref(), &file, opts)?;
            if !hit && let Some(t) = &p.target {
                self.no_match(t, &file);
            }
        }
        Ok(())
    }

    fn no_match(&mut self, t: &kustomization::Selector, file: &str) {
        let mut parts = Vec::new();
        for (k, v) in [
            ("group", &t.group),
            ("version", &t.version),
            ("kind", &t.kind),
            ("name", &t.name),
            ("namespace", &t.namespace),
            ("labelSelector", &t.label_selector),
            ("annotationSelector", &t.annotation_selector),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        self.warnings.push(Warning {
            message: format!(
                "patch target ({}) matches no object; the patch was not applied",
                parts.join(", ")
            ),
            file: Some(file.to_owned()),
        });
    }
}

fn remote(entry: &str, kfile: &str) -> Error {
    Error::at(
        format!(
            "remote base '{entry}' is not supported: the renderer reads only the artifact; vendor it into the repository or fetch it as its own source and refer to it by path"
        ),
        kfile,
    )
}

fn leaves(entry: &str, kfile: &str) -> Error {
    Error::at(
        format!("'{entry}' points outside the artifact; use a path inside it"),
        kfile,
    )
}

/// Turns one YAML document into resources (`List` kinds are expanded).
fn objects(doc: Value, file: &str, line: u32, out: &mut Vec<Resource>) -> Result<()> {
    let Value::Object(map) = &doc else {
        return Err(Error::at("a resource document must be a mapping", file).line(line, 0));
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(Error::at(
            "missing kind in object; every resource needs apiVersion and kind",
            file,
        )
        .line(line, 0));
    }
    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
        if let Some(Value::Array(items)) = map.get("items") {
            for item in items {
                objects(item.clone(), file, line, out)?;
            }
        }
        return Ok(());
    }
    if map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .starts_with("kustomize.config.k8s.io/")
    {
        return Err(Error::at(
            "a Kustomization is listed as a resource file; list its directory instead",
            file,
        )
        .line(line, 0));
    }
    let name = map
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        return Err(Error::at(format!("{kind} has no metadata.name"), file).line(line, 0));
    }
    let mut doc = doc;
    stringify_map(&mut doc, "annotations");
    out.push(Resource::new(doc, file, line));
    Ok(())
}

/// Kustomize round-trips annotations (and, for `patchesStrategicMerge`
/// patches, labels) through a string map, so `null` and `true` come out as
/// the strings "null" and "true".
fn stringify_map(doc: &mut Value, field: &str) {
    if let Some(Value::Object(m)) = doc.get_mut("metadata").and_then(|m| m.get_mut(field)) {
        for v in m.values_mut() {
            if !v.is_string() {
                let text = if v.is_null() {
                    "null".to_owned()
                } else {
                    v.to_string()
                };
                *v = text.into();
            }
        }
    }
}

/// Adds resources; two objects with the same id are an error, as in kustomize.
fn append_all(res: &mut Vec<Resource>, new: Vec<Resource>) -> Result<()> {
    let key = |r: &Resource| {
        let mut id = r.cur_id();
        if id.namespace.is_empty() {
            id.namespace = "default".into();
        }
        id
    };
    let mut seen: HashMap<crate::resource::Id, usize> =
        res.iter().enumerate().map(|(i, r)| (key(r), i)).collect();
    for r in new {
        let id = key(&r);
        if let Some(&i) = seen.get(&id) {
            return Err(Error::at(
                format!(
                    "{} is defined twice (also in {}); each object may appear once, use a patch to change it",
                    r.cur_id().display(),
                    res[i].file
                ),
                &r.file,
            )
            .line(r.line, 0));
        }
        seen.insert(id, res.len());
        res.push(r);
    }
    Ok(())
}

/// Adds a generated object according to its behavior.
fn absorb(res: &mut Vec<Resource>, mut r: Resource, kfile: &str) -> Result<()> {
    let id = r.cur_id();
    let behavior = r
        .generated
        .as_ref()
        .map_or(Behavior::Create, |g| g.behavior);
    let pos = res
        .iter()
        .position(|o| o.all_ids().iter().any(|x| x.equals(&id)));
    match (pos, behavior) {
        (None, Behavior::Create) => {
            res.push(r);
            Ok(())
        }
        (None, _) => Err(Error::at(
            format!(
                "{} does not exist; a generator with behavior merge or replace needs one from a base",
                id.display()
            ),
            kfile,
        )),
        (Some(_), Behavior::Create) => Err(Error::at(
            format!(
                "{} already exists; set behavior: merge or replace to change it",
                id.display()
            ),
            kfile,
        )),
        (Some(i), b) => {
            let old = &res[i];
            let mut labels = old.labels();
            let mut annotations = old.annotations();
            for (k, v) in r.labels() {
                set_pair(&mut labels, k, v);
            }
            for (k, v) in r.annotations() {
                set_pair(&mut annotations, k, v);
            }
            if b == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    let mut merged = old
                        .obj
                        .get(field)
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    if let Some(new) = r.obj.get(field).and_then(Value::as_object) {
                        for (k, v) in new {
                            merged.insert(k.clone(), v.clone());
                        }
                    }
                    if !merged.is_empty() {
                        r.obj[field] = Value::Object(merged);
                    }
                }
            }
            let md = r.metadata_mut();
            md.insert("name".into(), old.name().into());
            if old.namespace().is_empty() {
                md.shift_remove("namespace");
            } else {
                md.insert("namespace".into(), old.namespace().into());
            }
            let to_map = |p: Vec<(String, String)>| {
                Value::Object(p.into_iter().map(|(k, v)| (k, v.into())).collect())
            };
            if !labels.is_empty() {
                md.insert("labels".into(), to_map(labels));
            }
            if !annotations.is_empty() {
                md.insert("annotations".into(), to_map(annotations));
            }
            // Once either side disables the name suffix hash, it stays off.
            let hash = old.generated.as_ref().is_some_and(|g| g.hash)
                && r.generated.as_ref().is_some_and(|g| g.hash);
            r.prev = old.prev.clone();
            r.file = old.file.clone();
            r.line = old.line;
            r.generated = Some(crate::resource::Generated {
                behavior: Behavior::Create,
                hash,
                by: old
                    .generated
                    .as_ref()
                    .map_or("ConfigMapGenerator", |g| g.by),
            });
            res[i] = r;
            Ok(())
        }
    }
}

fn set_pair(pairs: &mut Vec<(String, String)>, k: String, v: String) {
    match pairs.iter_mut().find(|(x, _)| *x == k) {
        Some(p) => p.1 = v,
        None => pairs.push((k, v)),
    }
}

/// A patch may not rename an object or change its kind unless allowed.
fn keep_identity(
    r: &mut Resource,
    before: &crate::resource::Id,
    allow_name: bool,
    allow_kind: bool,
) {
    let after = r.cur_id();
    if (allow_name || allow_kind) && !after.equals(before) {
        r.prev.push(before.clone());
    }
    if !allow_name && after.name != before.name {
        r.set_name(&before.name);
    }
    if !allow_kind && after.kind != before.kind {
        r.obj["kind"] = before.kind.clone().into();
    }
}

/// Applies one strategic-merge patch document; returns whether it matched.
/// Without a target it must match the object it names.
fn apply_sm_opts(
    res: &mut Vec<Resource>,
    patch: &Value,
    target: Option<&kustomization::Selector>,
    file: &str,
    (allow_name, allow_kind): (bool, bool),
) -> Result<bool> {
    let Some(pm) = patch.as_object() else {
        return Err(Error::at("a strategic-merge patch must be a mapping", file));
    };
    let indices: Vec<usize> = match target {
        Some(t) => {
            let m = Matcher::new(t).map_err(|e| e.in_file(file))?;
            res.iter()
                .enumerate()
                .filter(|(_, r)| m.matches(r))
                .map(|(i, _)| i)
                .collect()
        }
        None => {
            let kind = pm.get("kind").and_then(Value::as_str).unwrap_or("");
            let api = pm.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let md = pm.get("metadata");
            let name = md
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let ns = md
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if kind.is_empty() || name.is_empty() {
                return Err(Error::at(
                    "a strategic-merge patch without a target must give kind and metadata.name of the object it patches",
                    file,
                ));
            }
            let (group, version) = split_api_version(api);
            let id = crate::resource::Id {
                group,
                version,
                kind: kind.into(),
                name: name.into(),
                namespace: ns.into(),
            };
            let found: Vec<usize> = res
                .iter()
                .enumerate()
                .filter(|(_, r)| r.all_ids().iter().any(|x| x.equals(&id)))
                .map(|(i, _)| i)
                .collect();
            if found.len() != 1 {
                return Err(Error::at(
                    format!(
                        "no unique object {} for this patch ({} found); check the patch's apiVersion, kind, name and namespace, or give it a target",
                        id.display(),
                        found.len()
                    ),
                    file,
                ));
            }
            found
        }
    };
    let mut deleted = Vec::new();
    for &i in &indices {
        let r = &mut res[i];
        let before = r.cur_id();
        let mut p = patch.clone();
        if target.is_some() {
            // The patch's own id renames what it is applied to only when allowed.
            if let Some(md) = p.get_mut("metadata").and_then(Value::as_object_mut) {
                if !allow_name {
                    md.shift_remove("name");
                }
                md.shift_remove("namespace");
            }
            if let Some(m) = p.as_object_mut()
                && !allow_kind
            {
                m.shift_remove("kind");
                m.shift_remove("apiVersion");
            }
        }
        let builtin = smp::is_builtin_group(&before.group);
        match smp::apply(&r.obj, &p, builtin, &before.kind) {
            Some(v) => {
                r.obj = v;
                if before.namespace.is_empty() {
                    if let Some(md) = r.obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        md.shift_remove("namespace");
                    }
                } else {
                    r.set_namespace(&before.namespace);
                }
                keep_identity(r, &before, allow_name, allow_kind);
            }
            None => deleted.push(i),
        }
    }
    for i in deleted.into_iter().rev() {
        res.remove(i);
    }
    Ok(!indices.is_empty())
}

/// `crds:` — a map of Go type names to OpenAPI definitions (the format
/// kustomize reads); properties marked `x-kubernetes-object-ref-kind` add
/// name references from the kind (the type name's last segment).
fn crds(doc: &Value, config: &mut TransformerConfig) {
    let Some(defs) = doc.as_object() else { return };
    for (type_name, def) in defs {
        let Some(props) = properties(def) else {
            continue;
        };
        if !["kind", "apiVersion", "metadata"]
            .iter()
            .all(|k| props.contains_key(*k))
        {
            continue;
        }
        let kind = type_name.rsplit('.').next().unwrap_or(type_name);
        let mut found = Vec::new();
        collect_refs(def, defs, "", &mut found, 0);
        for (path, ref_version, ref_kind) in found {
            let doc = serde_json::json!({"nameReference": [{
                "kind": ref_kind,
                "version": ref_version,
                "fieldSpecs": [{"path": path, "kind": kind}],
            }]});
            let mut tc = TransformerConfig::default();
            if tc.merge_value(&doc, "<crds>").is_ok() {
                config.merge(&tc);
            }
        }
    }
}

fn properties(def: &Value) -> Option<&serde_json::Map<String, Value>> {
    def.get("Schema")
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
}

fn collect_refs(
    def: &Value,
    defs: &serde_json::Map<String, Value>,
    prefix: &str,
    out: &mut Vec<(String, String, String)>,
    depth: usize,
) {
    let Some(props) = properties(def) else { return };
    if depth > 16 {
        return;
    }
    for (name, p) in props {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if let Some(kind) = p
            .get("x-kubernetes-object-ref-kind")
            .and_then(Value::as_str)
        {
            let version = p
                .get("x-kubernetes-object-ref-api-version")
                .and_then(Value::as_str)
                .unwrap_or("");
            out.push((format!("{path}/name"), version.to_owned(), kind.to_owned()));
        } else if let Some(next) = p
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| defs.get(r))
        {
            collect_refs(next, defs, &path, out, depth + 1);
        }
    }
}

/// The steps kustomize takes once, at the top: content hashes, reference
/// fix-up, vars.
fn finish(acc: &mut Acc) -> Result<()> {
    for r in acc.res.iter_mut() {
        if r.generated.as_ref().is_some_and(|g| g.hash) {
            let h = generators::content_hash(&r.obj);
            r.store_prev();
            let name = format!("{}-{h}", r.name());
            r.set_name(&name);
        }
    }
    nameref::fix(&mut acc.res, &acc.config)?;
    replacements::resolve_vars(&mut acc.res, &acc.vars, &acc.config.var_reference)?;
    Ok(())
}

/// `buildMetadata` of the kustomization built (kustomize ignores it in
/// bases): the managed-by label and origin annotations.
fn build_metadata(res: &mut [Resource], k: &Kustomization, top: &str) -> Result<()> {
    for option in k.build_metadata.iter().flatten() {
        match option.as_str() {
            "managedByLabel" => {
                // The version kustomize reports when built into kubectl.
                let label = [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "kustomize-(devel)".to_owned(),
                )];
                let spec = [FieldSpec::new("metadata/labels", true)];
                transforms::add_pairs(res, &label, &spec)?;
            }
            "originAnnotations" => {
                for r in res.iter_mut() {
                    let path = relative(top, &r.file);
                    let origin = match &r.generated {
                        Some(g) => format!(
                            "configuredIn: {path}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {}\n",
                            g.by
                        ),
                        None => format!("path: {path}\n"),
                    };
                    let md = r.metadata_mut();
                    let annotations = md
                        .entry("annotations")
                        .or_insert_with(|| Value::Object(Default::default()));
                    if let Value::Object(a) = annotations {
                        a.insert("config.kubernetes.io/origin".into(), origin.into());
                    }
                }
            }
            "transformerAnnotations" => {}
            other => {
                return Err(Error::new(format!(
                    "buildMetadata option '{other}' is unknown; use managedByLabel, originAnnotations or transformerAnnotations"
                )));
            }
        }
    }
    Ok(())
}

/// `to` relative to directory `from` (both artifact-relative).
fn relative(from: &str, to: &str) -> String {
    let f: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let t: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; f.len() - common];
    parts.extend(&t[common..]);
    parts.join("/")
}

const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Output order: kustomize's legacy order by kind then id (the default),
/// or the order of accumulation (`fifo`).
fn sort(res: &mut [Resource], opts: Option<&kustomization::SortOptions>) -> Result<()> {
    let order = opts.and_then(|o| o.order.as_deref()).unwrap_or("legacy");
    match order {
        "fifo" => Ok(()),
        "legacy" => {
            let legacy = opts.and_then(|o| o.legacy_sort_options.as_ref());
            let first: Vec<String> = legacy
                .and_then(|l| l.order_first.clone())
                .unwrap_or_else(|| ORDER_FIRST.iter().map(|s| s.to_string()).collect());
            let last: Vec<String> = legacy
                .and_then(|l| l.order_last.clone())
                .unwrap_or_else(|| ORDER_LAST.iter().map(|s| s.to_string()).collect());
            let rank = |kind: &str| -> i64 {
                if let Some(i) = first.iter().position(|k| k == kind) {
                    i as i64 - first.len() as i64
                } else if let Some(i) = last.iter().position(|k| k == kind) {
                    i as i64 + 1
                } else {
                    0
                }
            };
            let gvk_str = |id: &crate::resource::Id| {
                let or = |s: &str, d: &str| {
                    if s.is_empty() {
                        d.to_owned()
                    } else {
                        s.to_owned()
                    }
                };
                format!(
                    "{}_{}_{}",
                    or(&id.group, "~G"),
                    or(&id.version, "~V"),
                    or(&id.kind, "~K")
                )
            };
            let key = |r: &Resource| {
                let id = r.cur_id();
                let ns = if id.namespace.is_empty() {
                    "~X".to_owned()
                } else {
                    id.namespace.clone()
                };
                let name = if id.name.is_empty() {
                    "~N".to_owned()
                } else {
                    id.name.clone()
                };
                (
                    rank(&id.kind),
                    gvk_str(&id),
                    format!("{}|{ns}|{name}", gvk_str(&id)),
                )
            };
            res.sort_by_cached_key(key);
            Ok(())
        }
        other => Err(Error::new(format!(
            "sortOptions.order '{other}' is not legacy or fifo"
        ))),
    }
}
