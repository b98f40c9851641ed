//! Simulated controllers: with no kubelet or controller-manager behind the
//! server, workloads would never become ready. When enabled, this writes
//! the status a healthy cluster would report (all replicas ready, jobs
//! complete, claims bound) through the status subresource after a delay.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock;
use crate::managed_fields::Scope;
use crate::ops::{self, Target, WriteOptions};
use crate::resources::ResourceInfo;
use crate::server::Shared;

/// The manager the simulated controllers write as.
const MANAGER: &str = "kube-controller-manager";

/// Whether writes of this resource get a simulated status.
pub fn simulated(info: &ResourceInfo) -> bool {
    info.builtin()
        && matches!(
            info.plural.as_str(),
            "deployments"
                | "statefulsets"
                | "daemonsets"
                | "replicasets"
                | "jobs"
                | "persistentvolumeclaims"
                | "pods"
        )
}

/// Writes the ready status of an object after `delay`, unless it is gone
/// or was replaced (different uid) in the meantime.
pub fn schedule(shared: Arc<Shared>, info: ResourceInfo, object: Value, delay: Duration) {
    let (namespace, name) = crate::store::object_key(&object);
    let uid = object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut state = shared.lock();
        let Some(current) = state.get(&info.storage_key(), &namespace, &name).cloned() else {
            return;
        };
        if current.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
            return;
        }
        let Some(status) = ready_status(&info.plural, &current) else {
            return;
        };
        if current.get("status").map(timeless) == Some(timeless(&status)) {
            return;
        }
        let mut body = current;
        body["status"] = status;
        let target = Target {
            info,
            namespace,
            name,
            scope: Scope::Status,
        };
        let options = WriteOptions {
            manager: MANAGER.into(),
            ..WriteOptions::default()
        };
        if let Err(e) = ops::update(&mut state, &target, body, &options) {
            tracing::debug!(message = %e.message, "simulated status not written");
        }
        state.flush();
    });
}

/// A status without its timestamps, to tell a real change from a rewrite.
fn timeless(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.ends_with("Time"))
                .map(|(k, v)| (k.clone(), timeless(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(timeless).collect()),
        other => other.clone(),
    }
}

/// The status a healthy cluster would report for `object`.
fn ready_status(plural: &str, object: &Value) -> Option<Value> {
    let generation = object
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let replicas = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let now = clock::now_rfc3339();
    let condition = |kind: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": "True", "reason": reason, "message": message,
               "lastTransitionTime": now, "lastUpdateTime": now})
    };
    let status = match plural {
        "deployments" | "statefulsets" | "replicasets" => {
            let mut status = json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": replicas,
                "updatedReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [condition("Available", "MinimumReplicasAvailable", "has minimum availability")],
            });
            if plural == "deployments" {
                status["conditions"].as_array_mut()?.push(condition(
                    "Progressing",
                    "NewReplicaSetAvailable",
                    "has successfully progressed",
                ));
            }
            if plural == "statefulsets" {
                status["currentReplicas"] = json!(replicas);
            }
            status
        }
        "daemonsets" => json!({
            "observedGeneration": generation,
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1,
            "numberReady": 1,
            "numberAvailable": 1,
            "numberMisscheduled": 0,
            "conditions": [condition("Available", "MinimumReplicasAvailable", "has minimum availability")],
        }),
        "jobs" => {
            let completions = object
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let start = object
                .pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(json!(now));
            json!({
                "succeeded": completions,
                "active": 0,
                "ready": 0,
                "startTime": start,
                "completionTime": now,
                "conditions": [
                    condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                    condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                ],
            })
        }
        "persistentvolumeclaims" => {
            let mut status = json!({"phase": "Bound"});
            if let Some(modes) = object.pointer("/spec/accessModes") {
                status["accessModes"] = modes.clone();
            }
            if let Some(size) = object.pointer("/spec/resources/requests/storage") {
                status["capacity"] = json!({"storage": size});
            }
            status
        }
        "pods" => {
            let conditions: Vec<Value> =
                ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
                    .iter()
                    .map(|kind| json!({"type": kind, "status": "True", "lastTransitionTime": now}))
                    .collect();
            let start = object
                .pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(json!(now));
            json!({"phase": "Running", "conditions": conditions, "startTime": start})
        }
        _ => return None,
    };
    Some(status)
}
