//! Resources as kustomize tracks them: the object, where it came from, and
//! every id it had before (names and namespaces change as transformers run,
//! and references are fixed up by matching any of them).

use serde_json::{Map, Value};

/// Group, version, kind, name and namespace of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Id {
    /// Kustomize treats an empty namespace and `default` as the same one.
    pub fn ns_equals(&self, other: &Id) -> bool {
        norm_ns(&self.namespace) == norm_ns(&other.namespace)
    }

    pub fn gvk_equals(&self, other: &Id) -> bool {
        self.group == other.group && self.version == other.version && self.kind == other.kind
    }

    pub fn equals(&self, other: &Id) -> bool {
        self.gvk_equals(other) && self.name == other.name && self.ns_equals(other)
    }

    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(&self.kind)
    }

    /// `Kind.version.group/name.namespace`, as kustomize prints ids.
    pub fn display(&self) -> String {
        let gv = if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}.{}", self.version, self.group)
        };
        let ns = if self.namespace.is_empty() {
            "[noNs]"
        } else {
            &self.namespace
        };
        format!("{}.{gv}/{}.{ns}", self.kind, self.name)
    }
}

fn norm_ns(ns: &str) -> &str {
    if ns.is_empty() { "default" } else { ns }
}

/// Kinds that kustomize's built-in schema (Kubernetes 1.21) knows as
/// cluster-scoped; everything else, custom resources and newer kinds
/// included, gets a namespace, as in kustomize.
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "APIService"
            | "CertificateSigningRequest"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "ComponentStatus"
            | "CSIDriver"
            | "CSINode"
            | "CustomResourceDefinition"
            | "FlowSchema"
            | "IngressClass"
            | "MutatingWebhookConfiguration"
            | "Namespace"
            | "Node"
            | "PersistentVolume"
            | "PodSecurityPolicy"
            | "PriorityClass"
            | "PriorityLevelConfiguration"
            | "RuntimeClass"
            | "SelfSubjectAccessReview"
            | "SelfSubjectRulesReview"
            | "StorageClass"
            | "StorageVersion"
            | "SubjectAccessReview"
            | "TokenReview"
            | "ValidatingWebhookConfiguration"
            | "VolumeAttachment"
    )
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api: &str) -> (String, String) {
    match api.rsplit_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), api.to_owned()),
    }
}

/// How a generated object combines with one of the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Create,
    Merge,
    Replace,
}

/// A ConfigMap or Secret made by a generator.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub behavior: Behavior,
    /// Appends the content hash to the name at the end of the build.
    pub hash: bool,
    /// `ConfigMapGenerator` or `SecretGenerator`, for origin annotations.
    pub by: &'static str,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub obj: Value,
    /// Origin in the artifact, for diagnostics.
    pub file: String,
    pub line: u32,
    /// Ids before each rename, oldest first.
    pub prev: Vec<Id>,
    pub generated: Option<Generated>,
}

impl Resource {
    pub fn new(obj: Value, file: &str, line: u32) -> Self {
        Resource {
            obj,
            file: file.to_owned(),
            line,
            prev: Vec::new(),
            generated: None,
        }
    }

    fn str_at(&self, path: &[&str]) -> &str {
        let mut v = &self.obj;
        for p in path {
            match v.get(p) {
                Some(x) => v = x,
                None => return "",
            }
        }
        v.as_str().unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.str_at(&["kind"])
    }
    pub fn api_version(&self) -> &str {
        self.str_at(&["apiVersion"])
    }
    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"])
    }
    pub fn namespace(&self) -> &str {
        self.str_at(&["metadata", "namespace"])
    }

    pub fn cur_id(&self) -> Id {
        let (group, version) = split_api_version(self.api_version());
        Id {
            group,
            version,
            kind: self.kind().to_owned(),
            name: self.name().to_owned(),
            namespace: self.namespace().to_owned(),
        }
    }

    /// The id as first read or generated.
    pub fn org_id(&self) -> Id {
        self.prev.first().cloned().unwrap_or_else(|| self.cur_id())
    }

    /// Current id and all earlier ones.
    pub fn all_ids(&self) -> Vec<Id> {
        let mut ids = self.prev.clone();
        ids.push(self.cur_id());
        ids
    }

    /// Remembers the current id before a rename.
    pub fn store_prev(&mut self) {
        let id = self.cur_id();
        self.prev.push(id);
    }

    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let obj = self.obj.as_object_mut().expect("resources are objects");
        let md = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !md.is_object() {
            *md = Value::Object(Map::new());
        }
        md.as_object_mut().unwrap()
    }

    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut().insert("name".into(), name.into());
    }

    pub fn set_namespace(&mut self, ns: &str) {
        self.metadata_mut().insert("namespace".into(), ns.into());
    }

    pub fn string_map(&self, field: &str) -> Vec<(String, String)> {
        match self.obj.get("metadata").and_then(|m| m.get(field)) {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), scalar_string(v)))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn labels(&self) -> Vec<(String, String)> {
        self.string_map("labels")
    }
    pub fn annotations(&self) -> Vec<(String, String)> {
        self.string_map("annotations")
    }
}

/// A scalar as the text kustomize sees in YAML.
pub fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
