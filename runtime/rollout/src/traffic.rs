//! Acting on the cluster: writing the generated objects, moving traffic,
//! scaling the canary and copying the candidate to the primary. Every write
//! is a forced server-side apply of the whole object as field manager
//! `sluice-rollout` (forced: before the Release had `spec.rollout`, the
//! apex Service was the release's own, applied by `sluice`), so a repeated
//! action is a no-op and a partial object never drops fields the engine set
//! before.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::objects::{FIELD_MANAGER, Objects, Role, TrafficMode};

/// The kinds the engine writes, without a discovery round trip.
fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "Deployment" => "deployments",
        "Service" => "services",
        "HTTPRoute" => "httproutes",
        other => unreachable!("the rollout engine never writes {other}"),
    };
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn describe(object: &Value) -> String {
    sluice_types::ResourceRef::of(object).to_string()
}

/// Server-side applies one generated object.
pub async fn apply(client: &Client, object: &Value) -> Result<()> {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let ar = resource(text("/apiVersion"), text("/kind"));
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), text("/metadata/namespace"), &ar);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(text("/metadata/name"), &params, &Patch::Apply(object))
        .await
        .map(|_| ())
        .map_err(|source| Error::Kube {
            action: "apply",
            object: describe(object),
            source,
        })
}

/// Reads a Deployment; `None` when it does not exist.
pub async fn deployment(client: &Client, namespace: &str, name: &str) -> Result<Option<Value>> {
    let ar = resource("apps/v1", "Deployment");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
    let found = api.get_opt(name).await.map_err(|source| Error::Kube {
        action: "read",
        object: format!("Deployment/{namespace}/{name}"),
        source,
    })?;
    Ok(found.map(|o| serde_json::to_value(o).unwrap_or_default()))
}

/// Whether a Deployment runs its current spec with every replica
/// available (kstatus' "Current" for Deployments).
pub fn available(deployment: &Value) -> bool {
    let int = |p: &str| deployment.pointer(p).and_then(Value::as_i64);
    let wanted = int("/spec/replicas").unwrap_or(1);
    let generation = int("/metadata/generation").unwrap_or(0);
    let observed = int("/status/observedGeneration").unwrap_or(-1);
    let stuck = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded")
        });
    let updated = int("/status/updatedReplicas").unwrap_or(0);
    // More pods than updated ones: old pods are still being replaced.
    let old_pods_left = int("/status/replicas").unwrap_or(0) > updated;
    observed >= generation
        && !stuck
        && !old_pods_left
        && updated >= wanted
        && int("/status/availableReplicas").unwrap_or(0) >= wanted
}

/// Routes `weight` percent of the traffic to the canary: HTTPRoute
/// backend weights, or for a switching strategy the apex Service's
/// selector (canary pods at 100, primary pods at 0).
pub async fn set_weight(client: &Client, objects: &Objects, weight: u8) -> Result<()> {
    match objects.mode() {
        TrafficMode::Weighted => apply(client, &objects.http_route(weight)).await,
        TrafficMode::Switch => {
            let role = match weight {
                0 => Role::Primary,
                100 => Role::Canary,
                _ => {
                    return Err(Error::Weight {
                        release: objects.release().into(),
                        plugin: objects.strategy().into(),
                        weight,
                    });
                }
            };
            apply(client, &objects.apex_service(role)).await
        }
    }
}

/// The canary Deployment with the render's replicas (`running`) or none.
pub async fn scale_canary(client: &Client, objects: &Objects, running: bool) -> Result<()> {
    apply(client, &objects.canary(running)).await
}

/// Copies the rendered (candidate) template to the primary.
pub async fn promote(client: &Client, objects: &Objects) -> Result<()> {
    apply(client, &objects.primary()).await
}

/// The Services, and the traffic at `weight`: what every state needs,
/// written again so drift is corrected.
pub async fn services(client: &Client, objects: &Objects, weight: u8) -> Result<()> {
    for service in objects.role_services() {
        apply(client, &service).await?;
    }
    if objects.mode() == TrafficMode::Weighted {
        apply(client, &objects.apex_service(Role::Primary)).await?;
    }
    set_weight(client, objects, weight).await
}
