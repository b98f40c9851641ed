//! Field specs: where each built-in transformer looks in which kinds.
//!
//! The defaults are kustomize v5.5.0's built-in transformer configuration
//! (`config/defaults.rs`); `configurations:` files of a kustomization and
//! `crds:` add to them the same way they do in kustomize.

use crate::error::{Error, Result};
use crate::resource::Id;
use serde_json::Value;

mod defaults;

/// A built-in field spec: group, version, kind, path, create.
struct S(&'static str, &'static str, &'static str, &'static str, bool);

impl S {
    fn spec(&self) -> FieldSpec {
        FieldSpec {
            group: self.0.into(),
            version: self.1.into(),
            kind: self.2.into(),
            path: parse_path(self.3),
            path_text: self.3.into(),
            create: self.4,
        }
    }
}

fn table(rows: &[S]) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    add(&mut out, &rows.iter().map(S::spec).collect::<Vec<_>>());
    out
}

/// One segment of a field spec path: a field name, and whether it was
/// written `name[]` (the field holds a list).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Seg {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: Vec<Seg>,
    pub path_text: String,
    pub create: bool,
}

impl FieldSpec {
    pub fn new(path: &str, create: bool) -> Self {
        FieldSpec {
            group: String::new(),
            version: String::new(),
            kind: String::new(),
            path: parse_path(path),
            path_text: path.to_owned(),
            create,
        }
    }

    /// Whether the spec applies to an object of this group/version/kind;
    /// empty spec fields match anything.
    pub fn selects(&self, id: &Id) -> bool {
        (self.group.is_empty() || self.group == id.group)
            && (self.version.is_empty() || self.version == id.version)
            && (self.kind.is_empty() || self.kind == id.kind)
    }

    fn from_value(v: &Value, what: &str) -> Result<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let path = s("path");
        if path.is_empty() {
            return Err(Error::new(format!("{what}: a field spec needs a path")));
        }
        Ok(FieldSpec {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
            path: parse_path(&path),
            path_text: path,
            create: v.get("create").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Splits `a/b\/c/d[]` into `a`, `b/c`, `d`.
pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| Seg {
            name: s.strip_suffix("[]").unwrap_or(&s).to_owned(),
        })
        .collect()
}

/// A kind that others refer to by name, and the fields that do.
#[derive(Debug, Clone, PartialEq)]
pub struct NameRef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub specs: Vec<FieldSpec>,
}

#[derive(Debug, Clone, Default)]
pub struct TransformerConfig {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
    pub var_reference: Vec<FieldSpec>,
    pub name_reference: Vec<NameRef>,
}

impl TransformerConfig {
    pub fn defaults() -> Self {
        let name = [FieldSpec::new("metadata/name", false)];
        TransformerConfig {
            name_prefix: name.to_vec(),
            name_suffix: name.to_vec(),
            namespace: table(defaults::NAMESPACE),
            common_labels: table(defaults::COMMON_LABELS),
            template_labels: table(defaults::TEMPLATE_LABELS),
            common_annotations: table(defaults::COMMON_ANNOTATIONS),
            images: table(defaults::IMAGES),
            replicas: table(defaults::REPLICAS),
            var_reference: table(defaults::VAR_REFERENCE),
            name_reference: defaults::NAME_REFERENCE
                .iter()
                .map(|(group, version, kind, specs)| NameRef {
                    group: (*group).into(),
                    version: (*version).into(),
                    kind: (*kind).into(),
                    specs: table(specs),
                })
                .collect(),
        }
    }

    /// Adds a `configurations:` document.
    pub fn merge_value(&mut self, v: &Value, file: &str) -> Result<()> {
        let Some(map) = v.as_object() else {
            return Err(Error::at(
                "a transformer configuration must be a mapping",
                file,
            ));
        };
        for (key, val) in map {
            let list = match val {
                Value::Array(a) => a.as_slice(),
                Value::Null => &[],
                _ => {
                    return Err(Error::at(format!("'{key}' must be a list"), file));
                }
            };
            if key == "nameReference" {
                for item in list {
                    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                    let mut specs = Vec::new();
                    for fs in item
                        .get("fieldSpecs")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        specs.push(FieldSpec::from_value(fs, key).map_err(|e| e.in_file(file))?);
                    }
                    let nr = NameRef {
                        group: s("group"),
                        version: s("version"),
                        kind: s("kind"),
                        specs,
                    };
                    match self.name_reference.iter_mut().find(|x| {
                        x.group == nr.group && x.version == nr.version && x.kind == nr.kind
                    }) {
                        Some(existing) => {
                            for spec in nr.specs {
                                add(&mut existing.specs, std::slice::from_ref(&spec));
                            }
                        }
                        None => self.name_reference.push(nr),
                    }
                }
                continue;
            }
            let target = match key.as_str() {
                "namePrefix" => &mut self.name_prefix,
                "nameSuffix" => &mut self.name_suffix,
                "namespace" => &mut self.namespace,
                "commonLabels" => &mut self.common_labels,
                "templateLabels" => &mut self.template_labels,
                "commonAnnotations" => &mut self.common_annotations,
                "images" => &mut self.images,
                "replicas" => &mut self.replicas,
                "varReference" => &mut self.var_reference,
                other => {
                    return Err(Error::at(
                        format!("unknown transformer configuration field '{other}'"),
                        file,
                    ));
                }
            };
            for item in list {
                let spec = FieldSpec::from_value(item, key).map_err(|e| e.in_file(file))?;
                add(target, std::slice::from_ref(&spec));
            }
        }
        Ok(())
    }

    pub fn merge(&mut self, other: &TransformerConfig) {
        add(&mut self.name_prefix, &other.name_prefix);
        add(&mut self.name_suffix, &other.name_suffix);
        add(&mut self.namespace, &other.namespace);
        add(&mut self.common_labels, &other.common_labels);
        add(&mut self.template_labels, &other.template_labels);
        add(&mut self.common_annotations, &other.common_annotations);
        add(&mut self.images, &other.images);
        add(&mut self.replicas, &other.replicas);
        add(&mut self.var_reference, &other.var_reference);
        for nr in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|x| x.group == nr.group && x.version == nr.version && x.kind == nr.kind)
            {
                Some(existing) => add(&mut existing.specs, &nr.specs),
                None => self.name_reference.push(nr.clone()),
            }
        }
    }
}

/// Appends the specs of `from` that `to` lacks, in order.
fn add(to: &mut Vec<FieldSpec>, from: &[FieldSpec]) {
    if to.is_empty() {
        to.extend_from_slice(from);
        return;
    }
    if from.len() <= 2 {
        for s in from {
            if !to.contains(s) {
                to.push(s.clone());
            }
        }
        return;
    }
    let mut seen: std::collections::HashSet<FieldSpec> = to.iter().cloned().collect();
    for s in from {
        if seen.insert(s.clone()) {
            to.push(s.clone());
        }
    }
}

/// Visits the value(s) at `spec.path` in `obj`, descending into every
/// element of lists met on the way, creating missing maps when the spec
/// says `create` (the visitor then sees `null` and fills it in).
pub fn visit(
    obj: &mut Value,
    path: &[Seg],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    if let Value::Array(items) = obj {
        for item in items {
            visit(item, path, create, f)?;
        }
        return Ok(());
    }
    let Some((seg, rest)) = path.split_first() else {
        return f(obj);
    };
    if obj.is_null() && create {
        *obj = Value::Object(Default::default());
    }
    let Value::Object(map) = obj else {
        return Ok(());
    };
    if !map.contains_key(&seg.name) {
        if !create {
            return Ok(());
        }
        let fresh = if rest.is_empty() {
            Value::Null
        } else {
            Value::Object(Default::default())
        };
        map.insert(seg.name.clone(), fresh);
    }
    let child = map.get_mut(&seg.name).unwrap();
    if child.is_null() && !rest.is_empty() && !create {
        return Ok(());
    }
    visit(child, rest, create, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load() {
        let c = TransformerConfig::defaults();
        assert!(c.common_labels.iter().any(|s| s.kind == "Service"));
        assert!(c.name_reference.iter().any(|n| n.kind == "ConfigMap"));
        assert_eq!(c.name_prefix.len(), 1);
        let annotated =
            parse_path("metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret");
        assert_eq!(annotated[2].name, "nginx.ingress.kubernetes.io/auth-secret");
    }
}
