//! Which resources the server serves: a built-in table of common
//! Kubernetes types plus whatever the stored CustomResourceDefinitions
//! declare. Objects are untyped JSON, so this table is all the server knows
//! about a type: its names, its scope, whether it has a status subresource
//! and whether strategic merge (built-in schemas) applies.

use serde_json::Value;

/// One served group/version/resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub status: bool,
    pub short_names: Vec<String>,
    /// Discovery categories (`kubectl get all` lists the `all` category).
    pub categories: Vec<String>,
    /// The CRD that declared it; `None` for built-ins, which have merge keys.
    pub crd: Option<String>,
    /// A CRD version's `additionalPrinterColumns`, for `kubectl get` tables.
    pub printer_columns: Vec<Value>,
    /// A CRD version's `schema.openAPIV3Schema`, published in `/openapi/v3`.
    pub schema: Option<Value>,
}

impl ResourceInfo {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn builtin(&self) -> bool {
        self.crd.is_none()
    }

    /// Storage is per group and resource; every version of a CRD shares it.
    pub fn storage_key(&self) -> StorageKey {
        StorageKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }

    /// Whether `metadata.generation` is kept: types with a spec/status split.
    pub fn tracks_generation(&self) -> bool {
        self.status || !self.builtin()
    }

    pub fn subject(&self) -> crate::status::Subject<'_> {
        crate::status::Subject {
            group: &self.group,
            resource: &self.plural,
            kind: &self.kind,
        }
    }
}

/// Where objects of one resource are stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorageKey {
    pub group: String,
    pub plural: String,
}

/// group, version, plural, kind, namespaced, status subresource, short names.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    &'static [&'static str],
);

const BUILTINS: &[Builtin] = &[
    ("", "v1", "namespaces", "Namespace", false, true, &["ns"]),
    ("", "v1", "configmaps", "ConfigMap", true, false, &["cm"]),
    ("", "v1", "secrets", "Secret", true, false, &[]),
    ("", "v1", "services", "Service", true, true, &["svc"]),
    (
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        false,
        &["sa"],
    ),
    ("", "v1", "pods", "Pod", true, true, &["po"]),
    (
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        true,
        &["pvc"],
    ),
    (
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
        true,
        &["pv"],
    ),
    ("", "v1", "events", "Event", true, false, &["ev"]),
    ("", "v1", "nodes", "Node", false, true, &["no"]),
    (
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        true,
        &["deploy"],
    ),
    (
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        true,
        &["sts"],
    ),
    ("apps", "v1", "daemonsets", "DaemonSet", true, true, &["ds"]),
    (
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        true,
        &["rs"],
    ),
    ("batch", "v1", "jobs", "Job", true, true, &[]),
    ("batch", "v1", "cronjobs", "CronJob", true, true, &["cj"]),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        false,
        &[],
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        true,
        &["ing"],
    ),
    (
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        false,
        &["netpol"],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        true,
        &["crd", "crds"],
    ),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        true,
        &["pdb"],
    ),
    (
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        true,
        &["hpa"],
    ),
    // Leader election (the controller's `--leader-elect`).
    (
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        false,
        &[],
    ),
];

/// The built-ins in the `all` category, as a real server's discovery lists them.
const ALL_CATEGORY: &[&str] = &[
    "pods",
    "services",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "jobs",
    "cronjobs",
    "horizontalpodautoscalers",
];

/// The group of CustomResourceDefinitions, whose writes change this registry.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
pub const CRD_PLURAL: &str = "customresourcedefinitions";

/// Built-ins plus the resources of registered CRDs.
#[derive(Debug, Clone)]
pub struct Registry {
    resources: Vec<ResourceInfo>,
}

impl Default for Registry {
    fn default() -> Self {
        let resources = BUILTINS
            .iter()
            .map(
                |&(group, version, plural, kind, namespaced, status, short)| ResourceInfo {
                    group: group.into(),
                    version: version.into(),
                    plural: plural.into(),
                    singular: kind.to_lowercase(),
                    kind: kind.into(),
                    namespaced,
                    status,
                    short_names: short.iter().map(|s| (*s).to_owned()).collect(),
                    categories: if ALL_CATEGORY.contains(&plural) {
                        vec!["all".to_owned()]
                    } else {
                        Vec::new()
                    },
                    crd: None,
                    printer_columns: Vec::new(),
                    schema: None,
                },
            )
            .collect();
        Registry { resources }
    }
}

impl Registry {
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    pub fn all(&self) -> &[ResourceInfo] {
        &self.resources
    }

    /// Groups in the order they were first served, each with its versions.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            match groups.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) if !versions.contains(&r.version) => {
                    versions.push(r.version.clone())
                }
                Some(_) => {}
                None => groups.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        groups
    }

    /// Registers (or re-registers) the served versions of a CRD object.
    /// A definition that lacks the names it needs is ignored; validation
    /// rejects those before they are stored.
    pub fn register_crd(&mut self, crd: &Value) {
        let Some(name) = crd.pointer("/metadata/name").and_then(Value::as_str) else {
            return;
        };
        self.unregister_crd(name);
        self.resources.extend(crd_resources(crd));
    }

    pub fn unregister_crd(&mut self, name: &str) {
        self.resources.retain(|r| r.crd.as_deref() != Some(name));
    }
}

/// The resources a CRD declares, one per served version.
pub fn crd_resources(crd: &Value) -> Vec<ResourceInfo> {
    let text = |pointer: &str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (name, group, plural, kind) = (
        text("/metadata/name"),
        text("/spec/group"),
        text("/spec/names/plural"),
        text("/spec/names/kind"),
    );
    if name.is_empty() || group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Vec::new();
    }
    let singular = match text("/spec/names/singular") {
        "" => kind.to_lowercase(),
        s => s.to_owned(),
    };
    let strings = |pointer: &str| -> Vec<String> {
        crd.pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strings("/spec/names/shortNames");
    let categories = strings("/spec/names/categories");
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|v| {
            Some(ResourceInfo {
                group: group.to_owned(),
                version: v.get("name")?.as_str()?.to_owned(),
                plural: plural.to_owned(),
                singular: singular.clone(),
                kind: kind.to_owned(),
                namespaced: text("/spec/scope") != "Cluster",
                status: v.pointer("/subresources/status").is_some(),
                short_names: short_names.clone(),
                categories: categories.clone(),
                crd: Some(name.to_owned()),
                printer_columns: v
                    .get("additionalPrinterColumns")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                schema: v.pointer("/schema/openAPIV3Schema").cloned(),
            })
        })
        .collect()
}
