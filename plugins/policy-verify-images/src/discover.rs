//! Where workloads keep their images: the pod spec of a Pod, of a
//! PodTemplate, of a CronJob's job template, and `spec.template.spec` of
//! every other kind (Deployment, StatefulSet, DaemonSet, ReplicaSet,
//! ReplicationController, Job, and kinds Sluice does not know, such as Argo
//! Rollouts, that follow the same shape). In each: `initContainers`,
//! `containers` and `ephemeralContainers`.

use serde_json::Value;

/// One image field in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub container: String,
    pub image: String,
    /// Dotted with indices, as diagnostics carry it:
    /// `spec.template.spec.containers[1].image`.
    pub field: String,
    /// The same place as a JSON pointer, for rewriting it.
    pub pointer: String,
}

const LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// The pod spec of `object`, with its dotted path and JSON pointer.
pub fn pod_spec(object: &Value) -> Option<(&'static str, &'static str, &Value)> {
    let kind = object.get("kind").and_then(Value::as_str)?;
    let (path, pointer) = match kind {
        "Pod" => ("spec", "/spec"),
        "PodTemplate" => ("template.spec", "/template/spec"),
        "CronJob" => (
            "spec.jobTemplate.spec.template.spec",
            "/spec/jobTemplate/spec/template/spec",
        ),
        _ => ("spec.template.spec", "/spec/template/spec"),
    };
    let spec = object.pointer(pointer).filter(|s| s.is_object())?;
    Some((path, pointer, spec))
}

/// Every image of `object`, in document order of the container lists.
pub fn images(object: &Value) -> Vec<Occurrence> {
    let Some((path, pointer, spec)) = pod_spec(object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for list in LISTS {
        let Some(containers) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in containers.iter().enumerate() {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                continue;
            };
            out.push(Occurrence {
                container: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
                image: image.to_owned(),
                field: format!("{path}.{list}[{i}].image"),
                pointer: format!("{pointer}/{list}/{i}/image"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(object: Value) -> Vec<(String, String)> {
        let found = images(&object);
        for o in &found {
            assert_eq!(
                object.pointer(&o.pointer).and_then(Value::as_str),
                Some(o.image.as_str()),
                "the pointer leads to the image"
            );
        }
        found.into_iter().map(|o| (o.field, o.image)).collect()
    }

    fn pod() -> Value {
        json!({
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}],
            "ephemeralContainers": [{"name": "debug", "image": "debug:1"}],
        })
    }

    #[test]
    fn every_list_of_a_pod() {
        assert_eq!(
            fields(json!({"kind": "Pod", "spec": pod()})),
            [
                ("spec.initContainers[0].image".into(), "busybox".into()),
                ("spec.containers[0].image".into(), "a:1".into()),
                ("spec.containers[1].image".into(), "b:1".into()),
                ("spec.ephemeralContainers[0].image".into(), "debug:1".into()),
            ]
        );
    }

    #[test]
    fn templates_of_every_workload_kind() {
        for kind in [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "ReplicationController",
            "Job",
            "Rollout",
        ] {
            let found = fields(json!({"kind": kind, "spec": {"template": {"spec": pod()}}}));
            assert_eq!(found.len(), 4, "{kind}");
            assert_eq!(
                found[2].0, "spec.template.spec.containers[1].image",
                "{kind}"
            );
        }
        let cron = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": pod()}}}}});
        assert_eq!(
            fields(cron)[1].0,
            "spec.jobTemplate.spec.template.spec.containers[0].image"
        );
        let template = json!({"kind": "PodTemplate", "template": {"spec": pod()}});
        assert_eq!(
            fields(template)[0].0,
            "template.spec.initContainers[0].image"
        );
    }

    #[test]
    fn objects_without_pods_have_no_images() {
        assert!(fields(json!({"kind": "ConfigMap", "data": {"image": "x"}})).is_empty());
        assert!(fields(json!({"kind": "Service", "spec": {"template": "x"}})).is_empty());
        assert!(fields(json!({"kind": "Pod", "spec": {"containers": [{"name": "x"}]}})).is_empty());
    }
}
