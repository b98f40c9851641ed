//! Deleting a Release, as Flux's kustomize-controller does: a reconciled
//! Release carries the finalizer `finalizers.sluice.dev`, so deleting it
//! waits until the controller has deleted what it applied (when
//! `spec.prune` is set) and removed the finalizer. A suspended Release is
//! let go without touching its objects.
//!
//! What to delete comes from the Release's ApplySet parent (the
//! `sluice-<release>` ConfigMap that `sluice-apply` keeps), not from its
//! status: the parent is written before any object, so it also lists the
//! objects of a run killed half-way. Objects marked
//! `sluice.dev/prune: disabled`, or claimed by another ApplySet since,
//! stay.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use sluice_apply::{Action as Applied, Applier, ApplyOptions, ApplySet};
use sluice_types::crd::Release;

use crate::{Context, Error};

/// The finalizer the controller puts on every Release it reconciles.
pub const FINALIZER: &str = "finalizers.sluice.dev";

/// Adds the finalizer unless the Release has it. The object's
/// `resourceVersion` in the patch makes it a compare-and-swap, so a
/// concurrent change of the list fails (and is retried) instead of being
/// overwritten.
pub(crate) async fn ensure(api: &Api<Release>, release: &Release) -> Result<(), Error> {
    let mut finalizers = release.finalizers().to_vec();
    if finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    finalizers.push(FINALIZER.to_owned());
    patch(api, release, finalizers, "add").await
}

/// The Release is being deleted: delete its objects (with `spec.prune`,
/// unless suspended) and the ApplySet parent, then remove the finalizer.
/// Deletes as the Release's service account, as its applies do.
pub(crate) async fn release(ctx: &Context, release: &Release) -> Result<Action, Error> {
    if !release.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let ns = release.namespace().unwrap_or_default();
    let name = release.name_any();
    if release.spec.suspend {
        tracing::info!(release = %format!("{ns}/{name}"), "deleted while suspended: its objects stay");
    } else if release.spec.prune {
        let client = ctx
            .tenants
            .client(release, ctx.options.default_service_account.as_deref())
            .map_err(|message| Error::Prune {
                namespace: ns.clone(),
                name: name.clone(),
                message,
            })?;
        prune(client, &name, &ns, &ctx.options.field_manager).await?;
    }
    let api: Api<Release> = Api::namespaced(ctx.client.clone(), &ns);
    let rest = release
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch(&api, release, rest, "remove").await?;
    ctx.metrics.forget("Release", &ns, &name);
    Ok(Action::await_change())
}

/// Deletes every member of the Release's ApplySet (an apply of the empty
/// set, pruning), then the parent itself.
async fn prune(
    client: kube::Client,
    release: &str,
    ns: &str,
    field_manager: &str,
) -> Result<(), Error> {
    let set = ApplySet::for_release(release, ns);
    let parents: Api<ConfigMap> = Api::namespaced(client.clone(), &set.namespace);
    let failed = |message: String| Error::Prune {
        namespace: ns.to_owned(),
        name: release.to_owned(),
        message,
    };
    let present = parents.get_opt(&set.name).await.map_err(|e| {
        failed(format!(
            "cannot read its inventory ConfigMap '{}': {e}",
            set.name
        ))
    })?;
    if present.is_none() {
        return Ok(());
    }
    let options = ApplyOptions {
        field_manager: field_manager.to_owned(),
        prune: true,
        ..ApplyOptions::default()
    };
    let report = Applier::new(client, release, ns, options)
        .apply(&[])
        .await
        .map_err(|e| failed(e.to_string()))?;
    for object in &report.objects {
        match &object.action {
            Applied::Skipped(why) => {
                tracing::info!(release = %format!("{ns}/{release}"), object = %object.object, "kept: {why}");
            }
            _ => {
                tracing::info!(release = %format!("{ns}/{release}"), object = %object.object, "deleted");
            }
        }
    }
    match parents.delete(&set.name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(failed(format!(
            "cannot delete its inventory ConfigMap '{}': {e}",
            set.name
        ))),
    }
}

async fn patch(
    api: &Api<Release>,
    release: &Release,
    finalizers: Vec<String>,
    what: &'static str,
) -> Result<(), Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": release.resource_version(),
            "finalizers": finalizers,
        }
    });
    api.patch(
        &release.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|source| Error::Finalizer {
        what,
        namespace: release.namespace().unwrap_or_default(),
        name: release.name_any(),
        source,
    })?;
    Ok(())
}
