//! The order objects are written and pruned in, following Flux: what
//! others depend on (CustomResourceDefinitions, Namespaces) first, then
//! cluster-scoped objects, then namespaced ones; pruning goes the other way.

pub(crate) const CRD_GROUP: &str = "apiextensions.k8s.io";
pub(crate) const CRD_KIND: &str = "CustomResourceDefinition";

/// Apply phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// CustomResourceDefinitions and Namespaces.
    Definitions,
    /// Everything else that is cluster-scoped.
    Cluster,
    /// Namespaced objects.
    Namespaced,
}

pub(crate) fn is_crd(group: &str, kind: &str) -> bool {
    group == CRD_GROUP && kind == CRD_KIND
}

pub(crate) fn is_namespace(group: &str, kind: &str) -> bool {
    group.is_empty() && kind == "Namespace"
}

/// The phase an object of this kind is applied in.
pub(crate) fn phase(group: &str, kind: &str, namespaced: bool) -> Phase {
    if is_crd(group, kind) || is_namespace(group, kind) {
        Phase::Definitions
    } else if namespaced {
        Phase::Namespaced
    } else {
        Phase::Cluster
    }
}

/// Sort key for pruning: namespaced objects first, then cluster-scoped,
/// Namespaces (which take their contents with them) and CRDs last (which
/// take every custom resource of theirs with them).
pub(crate) fn prune_rank(group: &str, kind: &str, namespaced: bool) -> u8 {
    if is_crd(group, kind) {
        3
    } else if is_namespace(group, kind) {
        2
    } else if namespaced {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_come_first_and_go_last() {
        assert_eq!(phase(CRD_GROUP, CRD_KIND, false), Phase::Definitions);
        assert_eq!(phase("", "Namespace", false), Phase::Definitions);
        assert_eq!(
            phase("rbac.authorization.k8s.io", "ClusterRole", false),
            Phase::Cluster
        );
        assert_eq!(phase("apps", "Deployment", true), Phase::Namespaced);
        assert!(Phase::Definitions < Phase::Cluster && Phase::Cluster < Phase::Namespaced);
        let mut kinds = [
            (CRD_GROUP, CRD_KIND, false),
            ("", "Namespace", false),
            ("", "ConfigMap", true),
            ("", "PersistentVolume", false),
        ];
        kinds.sort_by_key(|(g, k, n)| prune_rank(g, k, *n));
        assert_eq!(
            kinds.map(|(_, k, _)| k),
            ["ConfigMap", "PersistentVolume", "Namespace", CRD_KIND]
        );
    }
}
