//! Writing kstatus conditions through the status subresource.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_types::status::{Condition, condition, remove_condition, set_condition};

use crate::error::{Error, Result};

/// Now, as Kubernetes writes times (RFC 3339, seconds).
pub(crate) fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: now(),
        observed_generation: generation,
    }
}

/// Ready=True; no Reconciling, no Stalled.
pub(crate) fn ready(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    set_condition(
        conditions,
        condition(condition::READY, "True", reason, message, generation),
    );
    remove_condition(conditions, condition::RECONCILING);
    remove_condition(conditions, condition::STALLED);
}

/// Ready=False. A stalled object also gets Stalled=True and no
/// Reconciling; otherwise Reconciling=True (`ProgressingWithRetry`) says a
/// retry is coming.
pub(crate) fn not_ready(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    stalled: bool,
) {
    set_condition(
        conditions,
        condition(condition::READY, "False", reason, message, generation),
    );
    if stalled {
        set_condition(
            conditions,
            condition(condition::STALLED, "True", reason, message, generation),
        );
        remove_condition(conditions, condition::RECONCILING);
    } else {
        set_condition(
            conditions,
            condition(
                condition::RECONCILING,
                "True",
                sluice_types::status::reason::PROGRESSING_WITH_RETRY,
                message,
                generation,
            ),
        );
        remove_condition(conditions, condition::STALLED);
    }
}

/// Ready=Unknown, Reconciling=True: work on a new generation has begun.
pub(crate) fn progressing(conditions: &mut Vec<Condition>, message: &str, generation: Option<i64>) {
    let reason = sluice_types::status::reason::PROGRESSING;
    set_condition(
        conditions,
        condition(condition::READY, "Unknown", reason, message, generation),
    );
    set_condition(
        conditions,
        condition(condition::RECONCILING, "True", reason, message, generation),
    );
    remove_condition(conditions, condition::STALLED);
}

/// Server-side applies `status` as the controller's field manager. An
/// unchanged status is a no-op on the server, so it wakes nobody.
pub(crate) async fn write<K, S>(
    api: &Api<K>,
    object: &K,
    field_manager: &str,
    status: &S,
) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::WriteStatus {
        kind: K::kind(&()).into_owned(),
        namespace: object.namespace().unwrap_or_default(),
        name: object.name_any(),
        source,
    })?;
    Ok(())
}
