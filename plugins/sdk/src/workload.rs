//! Where the pod spec of each workload kind lives, so container checks are
//! written once and name the right field path for every kind.

use serde_json::Value;

/// Kinds with a pod spec, and the field path of that spec.
pub const WORKLOAD_KINDS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("Deployment", "spec.template.spec"),
    ("StatefulSet", "spec.template.spec"),
    ("DaemonSet", "spec.template.spec"),
    ("ReplicaSet", "spec.template.spec"),
    ("Job", "spec.template.spec"),
    ("CronJob", "spec.jobTemplate.spec.template.spec"),
];

/// The pod spec of a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSpec<'a> {
    /// Field path of the spec (`spec.template.spec`), the prefix for
    /// diagnostics about its containers.
    pub path: &'static str,
    /// The spec; `Value::Null` when the workload does not set it.
    pub spec: &'a Value,
}

impl<'a> PodSpec<'a> {
    /// The containers of one list (`containers`, `initContainers`,
    /// `ephemeralContainers`), each with its field path
    /// (`spec.template.spec.containers[0]`). Empty when the list is absent
    /// or not a list.
    pub fn containers(&self, list: &str) -> Vec<(String, &'a Value)> {
        let Some(Value::Array(items)) = self.spec.get(list) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{}.{list}[{i}]", self.path), c))
            .collect()
    }
}

/// The pod spec of `object` when its `kind` is a workload kind
/// ([`WORKLOAD_KINDS`]), else `None`.
pub fn pod_spec(object: &Value) -> Option<PodSpec<'_>> {
    let kind = object.get("kind")?.as_str()?;
    let (_, path) = WORKLOAD_KINDS.iter().find(|(k, _)| *k == kind)?;
    let spec = path
        .split('.')
        .try_fold(object, |v, key| v.get(key))
        .unwrap_or(&Value::Null);
    Some(PodSpec { path, spec })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_spec_of_each_kind() {
        let pod = json!({"kind": "Pod", "spec": {"containers": [{"name": "a"}]}});
        let p = pod_spec(&pod).unwrap();
        assert_eq!(p.path, "spec");
        assert_eq!(p.containers("containers")[0].0, "spec.containers[0]");

        let cron = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "i"}], "containers": [{"name": "a"}, {"name": "b"}]}}}}}});
        let p = pod_spec(&cron).unwrap();
        assert_eq!(p.path, "spec.jobTemplate.spec.template.spec");
        let c = p.containers("containers");
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].0, "spec.jobTemplate.spec.template.spec.containers[1]");
        assert_eq!(c[1].1["name"], "b");
        assert_eq!(p.containers("initContainers").len(), 1);

        for kind in [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "Job",
        ] {
            let o = json!({"kind": kind, "spec": {"template": {"spec": {"containers": []}}}});
            assert_eq!(pod_spec(&o).unwrap().path, "spec.template.spec", "{kind}");
        }
    }

    #[test]
    fn other_kinds_and_missing_specs() {
        assert!(pod_spec(&json!({"kind": "Service", "spec": {}})).is_none());
        assert!(pod_spec(&json!({"metadata": {}})).is_none());
        let bare = json!({"kind": "Deployment"});
        let p = pod_spec(&bare).unwrap();
        assert_eq!(p.spec, &Value::Null);
        assert!(p.containers("containers").is_empty());
    }
}
