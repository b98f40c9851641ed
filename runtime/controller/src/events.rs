//! Kubernetes Events (core `v1`, what `kubectl describe` and
//! `kubectl get events` show) on every Ready transition, with Flux's
//! shape: the Ready reason as the event reason, Warning for failures, the
//! revision in an annotation. Publishing is best effort: a failure is
//! logged and never fails the reconcile.

use k8s_openapi::api::core::v1::Event;
use kube::api::PostParams;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use sluice_types::status::{Condition, condition, find_condition};

use crate::Context;

/// The annotation that carries the revision an event is about.
pub const REVISION: &str = "sluice.dev/revision";

pub(crate) async fn publish<K>(
    ctx: &Context,
    object: &K,
    warning: bool,
    reason: &str,
    message: &str,
    revision: Option<&str>,
) where
    K: Resource<DynamicType = ()>,
{
    let ns = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let now = crate::status::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut annotations = serde_json::Map::new();
    if let Some(revision) = revision {
        annotations.insert(REVISION.into(), revision.into());
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{name}.{nanos:x}"),
            "namespace": ns,
            "annotations": annotations,
        },
        "involvedObject": {
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "name": name,
            "namespace": ns,
            "uid": object.meta().uid,
            "resourceVersion": object.meta().resource_version,
        },
        "type": if warning { "Warning" } else { "Normal" },
        "reason": reason,
        "message": message,
        "source": {"component": ctx.options.field_manager},
        "reportingComponent": ctx.options.field_manager,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    });
    let event: Event = match serde_json::from_value(event) {
        Ok(event) => event,
        Err(e) => {
            tracing::debug!("cannot build an event: {e}");
            return;
        }
    };
    let api: Api<Event> = Api::namespaced(ctx.client.clone(), &ns);
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::debug!(object = %name, "cannot publish an event: {e}");
    }
}

/// After a reconcile: an event when the Ready condition changed status or
/// reason, and the condition gauge.
pub(crate) async fn transition<K>(
    ctx: &Context,
    object: &K,
    before: &[Condition],
    after: &[Condition],
    revision: Option<&str>,
) where
    K: Resource<DynamicType = ()>,
{
    let Some(now) = find_condition(after, condition::READY) else {
        return;
    };
    let kind = if K::kind(&()) == "Source" {
        "Source"
    } else {
        "Release"
    };
    ctx.metrics.ready(
        kind,
        &object.namespace().unwrap_or_default(),
        &object.name_any(),
        &now.status,
    );
    let was = find_condition(before, condition::READY);
    if was.is_some_and(|w| w.status == now.status && w.reason == now.reason) {
        return;
    }
    publish(
        ctx,
        object,
        now.status == "False",
        &now.reason,
        &now.message,
        revision,
    )
    .await;
}
