//! `spec.targetNamespace`: sets the namespace of every namespaced object, as
//! Flux and Kustomize do. Without a cluster to ask, scope comes from the
//! built-in cluster-scoped kinds and from CRDs in the same render.

use serde_json::Value;
use sluice_types::Manifest;
use std::collections::HashSet;

/// Kubernetes' built-in cluster-scoped kinds, by `group/Kind`.
const CLUSTER_SCOPED: &[&str] = &[
    "/Namespace",
    "/Node",
    "/PersistentVolume",
    "/ComponentStatus",
    "rbac.authorization.k8s.io/ClusterRole",
    "rbac.authorization.k8s.io/ClusterRoleBinding",
    "apiextensions.k8s.io/CustomResourceDefinition",
    "apiregistration.k8s.io/APIService",
    "admissionregistration.k8s.io/MutatingWebhookConfiguration",
    "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
    "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
    "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
    "storage.k8s.io/StorageClass",
    "storage.k8s.io/CSIDriver",
    "storage.k8s.io/CSINode",
    "storage.k8s.io/VolumeAttachment",
    "scheduling.k8s.io/PriorityClass",
    "node.k8s.io/RuntimeClass",
    "networking.k8s.io/IngressClass",
    "flowcontrol.apiserver.k8s.io/FlowSchema",
    "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
    "certificates.k8s.io/CertificateSigningRequest",
];

fn group_kind(object: &Value) -> (String, String) {
    let api = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    (group, kind)
}

/// Sets `metadata.namespace` to `namespace` on every namespaced object.
pub fn apply(manifests: &mut [Manifest], namespace: &str) {
    let mut cluster: HashSet<String> = CLUSTER_SCOPED.iter().map(|s| s.to_string()).collect();
    for m in manifests.iter() {
        let (group, kind) = group_kind(&m.object);
        if group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition" {
            let spec = &m.object["spec"];
            if spec["scope"] == "Cluster" {
                let g = spec["group"].as_str().unwrap_or("");
                let k = spec["names"]["kind"].as_str().unwrap_or("");
                cluster.insert(format!("{g}/{k}"));
            }
        }
    }
    for m in manifests.iter_mut() {
        let (group, kind) = group_kind(&m.object);
        if cluster.contains(&format!("{group}/{kind}")) {
            continue;
        }
        if let Some(meta) = m.object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(namespace.into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespaced_only() {
        let mut ms: Vec<Manifest> = [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"}}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": "ws.e.io"}, "spec": {"group": "e.io", "scope": "Cluster", "names": {"kind": "W"}}}),
            json!({"apiVersion": "e.io/v1", "kind": "W", "metadata": {"name": "w"}}),
        ]
        .into_iter()
        .map(|object| Manifest { object, origin: None })
        .collect();
        apply(&mut ms, "prod");
        assert!(ms[0].object["metadata"].get("namespace").is_none());
        assert_eq!(ms[1].object["metadata"]["namespace"], "prod");
        assert!(ms[3].object["metadata"].get("namespace").is_none());
    }
}
