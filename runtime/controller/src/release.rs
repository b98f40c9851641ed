//! Reconciling a Release: dependencies, pipeline, policy gate, apply,
//! health, status.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use sluice_apply::{Applier, ApplyOptions};
use sluice_pipeline::{Mode, Pipeline};
use sluice_types::crd::{CLUSTER_FILE, REQUESTED_AT, Release, loaded};
use sluice_types::status::{
    Inventory, InventoryEntry, MAX_FINDINGS, PolicyStatus, ReleaseStatus, condition,
    find_condition, reason,
};
use sluice_types::{ReleaseReport, ResourceRef};

use crate::schedule::Seen;
use crate::{Context, Error, events, finalize, gather, rollout, status, tenant};

/// How long an apply and its wait may take when `spec.timeout` is unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a run did not end with the revision applied and healthy.
struct Failure {
    reason: &'static str,
    message: String,
    /// Retrying cannot help: Stalled=True, no requeue until the spec changes.
    stalled: bool,
}

impl Failure {
    fn new(reason: &'static str, message: String) -> Failure {
        Failure {
            reason,
            message,
            stalled: false,
        }
    }
}

/// A pipeline error's message without its location (`cluster:0: `): the
/// status it lands in is on the object itself.
pub(crate) fn unlocated(message: &str) -> String {
    let prefix = format!("{CLUSTER_FILE}:0: ");
    message.strip_prefix(&prefix).unwrap_or(message).to_owned()
}

pub(crate) async fn reconcile(release: Arc<Release>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = release.namespace().unwrap_or_default();
    let name = release.name_any();
    let key = format!("Release/{ns}/{name}");
    let api: Api<Release> = Api::namespaced(ctx.client.clone(), &ns);
    if release.metadata.deletion_timestamp.is_some() {
        ctx.memo.forget(&key);
        return finalize::release(&ctx, &release).await;
    }
    // Before anything is applied, so a deletion always finds it.
    finalize::ensure(&api, &release).await?;
    if release.spec.suspend {
        ctx.memo.forget(&key);
        return Ok(Action::await_change());
    }
    let spec = &release.spec;
    let generation = release.metadata.generation;
    let requested_at = release.annotations().get(REQUESTED_AT).cloned();
    let interval = spec.interval.map_or(ctx.options.default_interval, |d| d.0);
    let retry = spec.retry_interval.map_or(interval, |d| d.0);
    let mut next = release.status.clone().unwrap_or_default();
    next.observed_generation = generation;
    next.last_handled_reconcile_at = requested_at.clone().or(next.last_handled_reconcile_at);

    if ctx.options.no_cross_namespace_refs
        && let Some(refused) = tenant::cross_namespace_ref(&release)
    {
        ctx.memo.forget(&key);
        tracing::warn!(release = %key, reason = reason::ACCESS_DENIED, "{refused}");
        status::not_ready(
            &mut next.conditions,
            reason::ACCESS_DENIED,
            &refused,
            generation,
            true,
        );
        write_status(&api, &release, &ctx, &next).await?;
        events::transition(
            &ctx,
            &*release,
            &old_conditions(&release),
            &next.conditions,
            None,
        )
        .await;
        return Ok(Action::await_change());
    }

    // Dependencies first: cheap, from the cache, never memoised (their
    // turning Ready wakes this release through the watch in `run`).
    if let Some(waiting) = dependency_not_ready(&ctx, &release) {
        ctx.memo.forget(&key);
        status::not_ready(
            &mut next.conditions,
            reason::DEPENDENCY_NOT_READY,
            &waiting,
            generation,
            false,
        );
        write_status(&api, &release, &ctx, &next).await?;
        events::transition(
            &ctx,
            &*release,
            &old_conditions(&release),
            &next.conditions,
            None,
        )
        .await;
        return Ok(Action::requeue(ctx.options.dependency_requeue));
    }

    let source_ns = spec
        .source_ref
        .namespace
        .clone()
        .unwrap_or_else(|| ns.clone());
    let mut source = ctx.sources.find(|s| {
        s.name_any() == spec.source_ref.name && s.namespace().as_deref() == Some(source_ns.as_str())
    });
    let mut seen = Seen {
        generation,
        requested_at,
        source_revision: revision_of(source.as_deref()),
    };
    if let Some(left) = ctx.memo.wait(&key, &seen) {
        // The Source watch that woke this run is not the one filling
        // `ctx.sources`: under load the store can lag behind it. Before
        // skipping, ask the server whether the Source really is unchanged.
        let live = Api::<sluice_types::crd::Source>::namespaced(ctx.client.clone(), &source_ns)
            .get_opt(&spec.source_ref.name)
            .await
            .ok()
            .flatten();
        let live_revision = revision_of(live.as_ref());
        if live.is_none() || live_revision == seen.source_revision {
            return Ok(Action::requeue(left));
        }
        seen.source_revision = live_revision;
        source = live.map(Arc::new);
    }
    if next.observed_generation != release.status.as_ref().and_then(|s| s.observed_generation) {
        status::progressing(
            &mut next.conditions,
            &format!("reconciling generation {}", generation.unwrap_or_default()),
            generation,
        );
        write_status(&api, &release, &ctx, &next).await?;
    }

    let started = std::time::Instant::now();
    let outcome = run(&ctx, &release, source.as_deref(), &mut next).await;
    ctx.metrics.reconciled("Release", started.elapsed());
    let action = match outcome {
        Ok(Done::RollingOut { message, after }) => {
            ctx.memo.forget(&key);
            status::progressing(&mut next.conditions, &message, generation);
            tracing::info!(release = %key, "{message}");
            Action::requeue(after)
        }
        Ok(Done::Applied(revision)) => {
            let message = format!("Applied revision: {revision}");
            status::ready(
                &mut next.conditions,
                reason::SUCCEEDED,
                &message,
                generation,
            );
            tracing::info!(release = %key, %revision, "applied");
            Action::requeue(ctx.memo.succeeded(&key, seen, interval))
        }
        Err(failure) => {
            tracing::warn!(release = %key, reason = failure.reason, "{}", failure.message);
            status::not_ready(
                &mut next.conditions,
                failure.reason,
                &failure.message,
                generation,
                failure.stalled,
            );
            if failure.stalled {
                ctx.memo.forget(&key);
                Action::await_change()
            } else {
                Action::requeue(ctx.memo.failed(&key, seen, retry, interval))
            }
        }
    };
    write_status(&api, &release, &ctx, &next).await?;
    let revision = next.last_attempted_revision.as_deref();
    events::transition(
        &ctx,
        &*release,
        &old_conditions(&release),
        &next.conditions,
        revision,
    )
    .await;
    Ok(action)
}

/// The artifact revision a Source's status names.
fn revision_of(source: Option<&sluice_types::crd::Source>) -> Option<String> {
    source
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
}

fn old_conditions(release: &Release) -> Vec<sluice_types::status::Condition> {
    release
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default()
}

/// `None` when every `dependsOn` Release is Ready for its own generation;
/// otherwise why not, in Flux's words.
fn dependency_not_ready(ctx: &Context, release: &Release) -> Option<String> {
    let own = release.namespace().unwrap_or_default();
    for dep in &release.spec.depends_on {
        let ns = dep.namespace.clone().unwrap_or_else(|| own.clone());
        let found = ctx
            .releases
            .find(|r| r.name_any() == dep.name && r.namespace().as_deref() == Some(ns.as_str()));
        let ready = found.as_ref().is_some_and(|r| {
            r.status.as_ref().is_some_and(|s| {
                s.observed_generation == r.metadata.generation
                    && find_condition(&s.conditions, condition::READY).is_some_and(|c| c.is_true())
            })
        });
        if !ready {
            return Some(match found {
                None => format!("dependency '{ns}/{}' not found", dep.name),
                Some(_) => format!("dependency '{ns}/{}' is not ready", dep.name),
            });
        }
    }
    None
}

/// How a run that did not fail ended.
enum Done {
    /// The revision is applied (and healthy when asked).
    Applied(String),
    /// A rollout runs: Ready=Unknown with this message, look again soon.
    RollingOut { message: String, after: Duration },
}

/// Source → render → policies → apply → health (or a rollout step). Fills
/// in the revisions, verdicts and inventory of `next`.
async fn run(
    ctx: &Context,
    release: &Release,
    source: Option<&sluice_types::crd::Source>,
    next: &mut ReleaseStatus,
) -> Result<Done, Failure> {
    let ns = release.namespace().unwrap_or_default();
    let name = release.name_any();
    if let Some(source) = source
        && !source
            .status
            .as_ref()
            .and_then(|s| find_condition(&s.conditions, condition::READY))
            .is_some_and(|c| c.is_true())
        && source
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_none()
    {
        return Err(Failure::new(
            reason::SOURCE_NOT_READY,
            format!(
                "source '{}' has no artifact yet",
                release.spec.source_ref.name
            ),
        ));
    }
    let objects = gather::objects(ctx, release, source)
        .await
        .map_err(|m| Failure::new(reason::FAILED, m))?;
    // No lock file in a cluster: bundle references carry their digest.
    let authority = sluice_pipeline::Authority {
        allowed: ctx.options.allowed_capabilities.clone(),
        lock: None,
        bundle_cache: ctx.store.root().parent().map(|p| p.join("bundles")),
        docker_config: None,
    };
    let pipeline = Pipeline::with_store(ctx.host.clone(), objects, ctx.store.clone())
        .with_observer(ctx.metrics.clone())
        .with_authority(authority);
    let report = pipeline
        .run(&loaded(release.to_object()), Mode::Check)
        .await
        .map_err(|e| {
            let stalled = matches!(e, sluice_pipeline::Error::Reference { .. });
            let why = match &e {
                _ if stalled => reason::INVALID_SPEC,
                sluice_pipeline::Error::Io { .. } => reason::ARTIFACT_FAILED,
                sluice_pipeline::Error::Plugin { at, .. } if at.object.starts_with("Source") => {
                    reason::ARTIFACT_FAILED
                }
                _ => reason::BUILD_FAILED,
            };
            Failure {
                reason: why,
                message: unlocated(&e.to_string()),
                stalled,
            }
        })?;
    next.last_attempted_revision = Some(report.revision.clone());
    next.policies = verdicts(&report);
    for p in &report.policies {
        ctx.metrics.verdict(&p.policy, p.verdict);
    }
    let spec = &release.spec;
    let rolling = rollout::in_progress(next);
    // A denial of the candidate under rollout holds its promotion (the gate
    // fails) rather than stopping the rollout's clock; before a rollout, or
    // for a new candidate, it stops the run: nothing denied reaches even the
    // canary.
    let hold =
        report.blocked() && rolling && rollout::renders_candidate(&name, spec, &report, next);
    if report.blocked() && !hold {
        return Err(Failure::new(reason::POLICY_DENIED, denial(&report)));
    }
    let client = ctx
        .tenants
        .client(release, ctx.options.default_service_account.as_deref())
        .map_err(|m| Failure::new(reason::APPLY_FAILED, m))?;
    let (rollout_target, manifests) = match &spec.rollout {
        Some(rollout) => {
            let (target, rest) = sluice_rollout::split(&name, rollout, report.manifests.clone())
                .map_err(|e| Failure {
                    reason: reason::INVALID_SPEC,
                    message: e.to_string(),
                    stalled: true,
                })?;
            (Some(target), rest)
        }
        None => (None, report.manifests.clone()),
    };
    let options = ApplyOptions {
        field_manager: ctx.options.field_manager.clone(),
        prune: spec.prune && !rolling,
        force: spec.force,
        ..ApplyOptions::default()
    };
    let mut applier = Applier::new(client.clone(), &name, &ns, options);
    let timeout = spec.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    if hold {
        return step_rollout(&pipeline, client, release, &report, rollout_target, next).await;
    }
    let applied = tokio::time::timeout(timeout, applier.apply(&manifests))
        .await
        .map_err(|_| {
            Failure::new(
                reason::APPLY_FAILED,
                format!(
                    "failed to apply revision '{}': timed out after {}",
                    report.revision,
                    sluice_types::quantity::Duration(timeout)
                ),
            )
        })?
        .map_err(|e| {
            Failure::new(
                reason::APPLY_FAILED,
                format!("failed to apply revision '{}': {e}", report.revision),
            )
        })?;
    let objects = applied.applied();
    next.inventory = Some(Inventory {
        applyset: applied.applyset.clone(),
        entries: objects.iter().map(entry).collect(),
    });
    next.last_applied_revision = Some(report.revision.clone());

    let mut checked: Vec<ResourceRef> = if spec.wait { objects } else { Vec::new() };
    let target = spec.target_namespace.clone().unwrap_or_else(|| ns.clone());
    checked.extend(spec.health_checks.iter().map(|h| ResourceRef {
        api_version: h.api_version.clone(),
        kind: h.kind.clone(),
        namespace: h.namespace.clone().unwrap_or_else(|| target.clone()),
        name: h.name.clone(),
    }));
    if !checked.is_empty() {
        applier.wait(&checked, timeout, |_| {}).await.map_err(|e| {
            Failure::new(
                reason::HEALTH_CHECK_FAILED,
                format!(
                    "health check failed after applying revision '{}': {e}",
                    report.revision
                ),
            )
        })?;
    }
    if rollout_target.is_some() {
        return step_rollout(&pipeline, client, release, &report, rollout_target, next).await;
    }
    Ok(Done::Applied(report.revision))
}

/// The rollout part of a run: one engine step for the rendered target.
async fn step_rollout(
    pipeline: &Pipeline,
    client: kube::Client,
    release: &Release,
    report: &ReleaseReport,
    target: Option<sluice_types::Manifest>,
    next: &mut ReleaseStatus,
) -> Result<Done, Failure> {
    let (Some(spec), Some(target)) = (&release.spec.rollout, target) else {
        return Ok(Done::Applied(report.revision.clone()));
    };
    let outcome = rollout::advance(
        pipeline.catalog(),
        client,
        release,
        spec,
        report,
        &target.object,
        next,
    )
    .await
    .map_err(|m| Failure::new(reason::APPLY_FAILED, m))?;
    next.rollout = Some(outcome.status);
    let message = outcome.ready.message;
    match outcome.ready.reason {
        sluice_rollout::ReadyReason::Succeeded if outcome.ready.ready => {
            Ok(Done::Applied(report.revision.clone()))
        }
        sluice_rollout::ReadyReason::RolledBack => Err(Failure::new(reason::ROLLED_BACK, message)),
        _ => Ok(Done::RollingOut {
            message,
            after: outcome.requeue_after.unwrap_or(rollout::POLL),
        }),
    }
}

fn entry(r: &ResourceRef) -> InventoryEntry {
    InventoryEntry {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
    }
}

/// Every policy's verdict, with its first findings.
fn verdicts(report: &ReleaseReport) -> Vec<PolicyStatus> {
    report
        .policies
        .iter()
        .map(|p| {
            let mut lines: Vec<String> = p
                .diagnostics
                .iter()
                .take(MAX_FINDINGS)
                .map(|d| match &d.resource {
                    Some(r) => format!("{r}: {}", d.message),
                    None => d.message.clone(),
                })
                .collect();
            if p.diagnostics.len() > MAX_FINDINGS {
                lines.push(format!("… and {} more", p.diagnostics.len() - MAX_FINDINGS));
            }
            PolicyStatus {
                policy: p.policy.clone(),
                plugin: p.plugin.clone(),
                verdict: p.verdict,
                failure_action: p.failure_action,
                message: lines.join("\n"),
            }
        })
        .collect()
}

/// `policy 'x' denied revision 'r': findings` for each blocking policy.
fn denial(report: &ReleaseReport) -> String {
    let parts: Vec<String> = report
        .policies
        .iter()
        .filter(|p| p.blocks())
        .map(|p| {
            let first: Vec<String> = p
                .diagnostics
                .iter()
                .take(MAX_FINDINGS)
                .map(|d| match &d.resource {
                    Some(r) => format!("{r}: {}", d.message),
                    None => d.message.clone(),
                })
                .collect();
            format!("policy '{}' denied: {}", p.policy, first.join("; "))
        })
        .collect();
    format!(
        "revision '{}' blocked, the last applied revision keeps running: {}",
        report.revision,
        parts.join("; ")
    )
}

async fn write_status(
    api: &Api<Release>,
    release: &Release,
    ctx: &Context,
    next: &ReleaseStatus,
) -> Result<(), Error> {
    if release.status.as_ref() == Some(next) {
        return Ok(());
    }
    status::write(api, release, &ctx.options.field_manager, next).await
}

pub(crate) fn error_policy(release: Arc<Release>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(release = %release.name_any(), reason = error.reason(), "{error}");
    Action::requeue(Duration::from_secs(5))
}
