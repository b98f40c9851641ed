//! Reconciling a Source: fetch at `interval` into the artifact store and
//! record the revision. A new revision in status wakes the releases using
//! the Source (see the watches in `run`).

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use sluice_pipeline::Pipeline;
use sluice_types::Objects;
use sluice_types::crd::{CLUSTER_FILE, REQUESTED_AT, Source, loaded};
use sluice_types::status::{ArtifactStatus, SourceStatus, reason};

use crate::schedule::Seen;
use crate::{Context, Error, status};

pub(crate) async fn reconcile(source: Arc<Source>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = format!(
        "Source/{}/{}",
        source.namespace().unwrap_or_default(),
        source.name_any()
    );
    if source.spec.suspend {
        ctx.memo.forget(&key);
        return Ok(Action::await_change());
    }
    let generation = source.metadata.generation;
    let requested_at = source.annotations().get(REQUESTED_AT).cloned();
    let seen = Seen {
        generation,
        requested_at: requested_at.clone(),
        source_revision: None,
    };
    if let Some(left) = ctx.memo.wait(&key, &seen) {
        return Ok(Action::requeue(left));
    }
    let interval = source
        .spec
        .interval
        .map_or(ctx.options.default_interval, |d| d.0);

    let object = loaded(source.to_object());
    let mut objects = Objects::default();
    if let Some(r) = &source.spec.secret_ref {
        let ns = source.namespace().unwrap_or_default();
        let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(ctx.client.clone(), &ns);
        if let Ok(Some(secret)) = api.get_opt(&r.name).await
            && let Ok(mut doc) = serde_json::to_value(&secret)
        {
            doc["apiVersion"] = "v1".into();
            doc["kind"] = "Secret".into();
            if let Ok(data) = sluice_types::SecretData::from_document(&doc, CLUSTER_FILE.into(), 0)
            {
                objects.secrets.push(data);
            }
        }
    }
    objects.items.push(object.clone());
    let pipeline = Pipeline::with_store(ctx.host.clone(), objects, ctx.store.clone())
        .with_observer(ctx.metrics.clone());
    let started = std::time::Instant::now();
    let fetched = pipeline.fetch_source(&object).await;
    ctx.metrics.reconciled("Source", started.elapsed());

    let mut next = source.status.clone().unwrap_or_default();
    next.observed_generation = generation;
    next.last_handled_reconcile_at = requested_at.or(next.last_handled_reconcile_at);
    let action = match fetched {
        Ok((url, revision)) => {
            if next.artifact.as_ref().map(|a| (&a.url, &a.revision)) != Some((&url, &revision)) {
                next.artifact = Some(ArtifactStatus {
                    url,
                    revision: revision.clone(),
                    last_update_time: status::now(),
                });
            }
            let message = format!("stored artifact for revision '{revision}'");
            status::ready(
                &mut next.conditions,
                reason::SUCCEEDED,
                &message,
                generation,
            );
            Action::requeue(ctx.memo.succeeded(&key, seen, interval))
        }
        Err(e) => {
            let stalled = matches!(e, sluice_pipeline::Error::Reference { .. });
            let message = crate::release::unlocated(&e.to_string());
            let why = if stalled {
                reason::INVALID_SPEC
            } else {
                reason::ARTIFACT_FAILED
            };
            status::not_ready(&mut next.conditions, why, &message, generation, stalled);
            tracing::warn!(source = %key, "{message}");
            if stalled {
                ctx.memo.forget(&key);
                Action::await_change()
            } else {
                Action::requeue(ctx.memo.failed(
                    &key,
                    seen,
                    interval.min(Duration::from_secs(60)),
                    interval,
                ))
            }
        }
    };
    let api: Api<Source> =
        Api::namespaced(ctx.client.clone(), &source.namespace().unwrap_or_default());
    write_status(&api, &source, &ctx, &next).await?;
    let before = source
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let revision = next.artifact.as_ref().map(|a| a.revision.as_str());
    crate::events::transition(&ctx, &*source, &before, &next.conditions, revision).await;
    Ok(action)
}

async fn write_status(
    api: &Api<Source>,
    source: &Source,
    ctx: &Context,
    next: &SourceStatus,
) -> Result<(), Error> {
    if source.status.as_ref() == Some(next) {
        return Ok(());
    }
    status::write(api, source, &ctx.options.field_manager, next).await
}

pub(crate) fn error_policy(source: Arc<Source>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(source = %source.name_any(), reason = error.reason(), "{error}");
    Action::requeue(Duration::from_secs(5))
}
