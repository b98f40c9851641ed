//! Whether an object has become what it was asked to be, kstatus-style as
//! Flux's health checks judge it: workloads by their replica counts once the
//! controller has observed the latest generation, jobs by their terminal
//! condition, anything else by a `Ready` condition when it has one, and
//! everything else as soon as it exists.

use serde_json::Value;

/// The verdict on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Current,
    /// Not there yet, and why (`1 of 3 replicas available`).
    InProgress(String),
    /// Will not get there without a change (a failed Job).
    Failed(String),
}

/// Judges a live object by its kind.
pub fn assess(object: &Value) -> Health {
    let group = object["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .map_or("", |(g, _)| g);
    let kind = object["kind"].as_str().unwrap_or_default();
    if let Some(waiting) = unobserved(object) {
        return Health::InProgress(waiting);
    }
    match (group, kind) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => replicas(object, &["readyReplicas", "updatedReplicas"]),
        ("apps", "ReplicaSet") => replicas(object, &["readyReplicas", "availableReplicas"]),
        ("apps", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        ("", "PersistentVolumeClaim") => {
            match object.pointer("/status/phase").and_then(Value::as_str) {
                Some("Bound") => Health::Current,
                phase => Health::InProgress(format!("claim is {}", phase.unwrap_or("Pending"))),
            }
        }
        ("", "Service") => service(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => condition(object, "Established"),
        _ if has_condition(object, "Ready") => condition(object, "Ready"),
        _ => Health::Current,
    }
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// The controller has not seen the latest spec yet (only for objects that
/// report `status.observedGeneration`; others cannot tell).
fn unobserved(object: &Value) -> Option<String> {
    let generation = int(object, "/metadata/generation")?;
    let observed = int(object, "/status/observedGeneration");
    let workload = matches!(
        object["kind"].as_str(),
        Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
    );
    match observed {
        Some(o) if o >= generation => None,
        Some(o) => Some(format!(
            "generation {generation} not observed yet (observed {o})"
        )),
        None if workload => Some("waiting for the controller to report status".into()),
        None => None,
    }
}

fn deployment(object: &Value) -> Health {
    let progressing = find_condition(object, "Progressing");
    if let Some(c) = progressing.filter(|c| c["reason"] == "ProgressDeadlineExceeded") {
        return Health::Failed(
            c["message"]
                .as_str()
                .unwrap_or("progress deadline exceeded")
                .into(),
        );
    }
    replicas(
        object,
        &["updatedReplicas", "readyReplicas", "availableReplicas"],
    )
}

/// Every count in `fields` has reached `spec.replicas` (default 1).
fn replicas(object: &Value, fields: &[&str]) -> Health {
    let wanted = int(object, "/spec/replicas").unwrap_or(1);
    for field in fields {
        let have = int(object, &format!("/status/{field}")).unwrap_or(0);
        if have < wanted {
            let word = field.trim_end_matches("Replicas");
            return Health::InProgress(format!("{have} of {wanted} replicas {word}"));
        }
    }
    Health::Current
}

fn daemon_set(object: &Value) -> Health {
    let wanted = int(object, "/status/desiredNumberScheduled").unwrap_or(0);
    for (field, word) in [
        ("updatedNumberScheduled", "updated"),
        ("numberAvailable", "available"),
    ] {
        let have = int(object, &format!("/status/{field}")).unwrap_or(0);
        if have < wanted {
            return Health::InProgress(format!("{have} of {wanted} pods {word}"));
        }
    }
    Health::Current
}

fn job(object: &Value) -> Health {
    let is_true = |kind| find_condition(object, kind).is_some_and(|c| c["status"] == "True");
    if is_true("Complete") {
        Health::Current
    } else if let Some(c) = find_condition(object, "Failed").filter(|c| c["status"] == "True") {
        Health::Failed(c["message"].as_str().unwrap_or("job failed").into())
    } else {
        let succeeded = int(object, "/status/succeeded").unwrap_or(0);
        Health::InProgress(format!("job running, {succeeded} succeeded"))
    }
}

fn service(object: &Value) -> Health {
    if object.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer") {
        return Health::Current;
    }
    let ingress = object
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array);
    if ingress.is_some_and(|i| !i.is_empty()) {
        Health::Current
    } else {
        Health::InProgress("waiting for a load balancer address".into())
    }
}

fn find_condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn has_condition(object: &Value, kind: &str) -> bool {
    find_condition(object, kind).is_some()
}

/// Current when condition `kind` is True; its message otherwise.
fn condition(object: &Value, kind: &str) -> Health {
    match find_condition(object, kind) {
        Some(c) if c["status"] == "True" => Health::Current,
        Some(c) => {
            let why = c["message"].as_str().or(c["reason"].as_str()).unwrap_or("");
            Health::InProgress(format!(
                "{kind} is {}: {why}",
                c["status"].as_str().unwrap_or("Unknown")
            ))
        }
        None => Health::InProgress(format!("no {kind} condition yet")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_counts_replicas_once_observed() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1}});
        assert!(matches!(assess(&d), Health::InProgress(m) if m.contains("generation 2")));
        d["status"] = json!({"observedGeneration": 2, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 1});
        assert_eq!(
            assess(&d),
            Health::InProgress("1 of 3 replicas available".into())
        );
        d["status"]["availableReplicas"] = json!(3);
        assert_eq!(assess(&d), Health::Current);
    }

    #[test]
    fn stateful_and_daemon_sets() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1},
            "spec": {"replicas": 2}, "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1}});
        assert_eq!(
            assess(&sts),
            Health::InProgress("1 of 2 replicas updated".into())
        );
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}});
        assert_eq!(
            assess(&ds),
            Health::InProgress("2 of 3 pods available".into())
        );
        let unreported =
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1}});
        assert!(matches!(assess(&unreported), Health::InProgress(_)));
    }

    #[test]
    fn jobs_claims_services_and_conditions() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [
            {"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert_eq!(assess(&job), Health::Failed("BackoffLimitExceeded".into()));
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}});
        assert_eq!(assess(&pvc), Health::InProgress("claim is Pending".into()));
        let lb = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}});
        assert!(matches!(assess(&lb), Health::InProgress(_)));
        let cluster_ip = json!({"apiVersion": "v1", "kind": "Service", "spec": {}});
        assert_eq!(assess(&cluster_ip), Health::Current);
        let custom = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False", "message": "warming up"}]}});
        assert_eq!(
            assess(&custom),
            Health::InProgress("Ready is False: warming up".into())
        );
        assert_eq!(
            assess(&json!({"apiVersion": "v1", "kind": "ConfigMap"})),
            Health::Current
        );
    }
}
