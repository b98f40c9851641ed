//! Sluice in a cluster: one controller that reconciles `Source` and
//! `Release` objects continuously, as Flux's source- and
//! kustomize-controllers do together.
//!
//! - Sources are fetched at their `interval` into the artifact store; the
//!   revision goes to their status, which wakes the releases that use them.
//! - A Release waits for its `dependsOn` to be Ready, runs the pipeline
//!   (source → render → policies), applies with `sluice-apply` when no
//!   policy blocks, and reports kstatus conditions, revisions, inventory and
//!   verdicts through the status subresource. A denied revision is not
//!   applied: the last good one keeps running.
//! - Requeues at `interval` with jitter; failures back off from
//!   `retryInterval`; `sluice.dev/requestedAt` asks for a run now;
//!   `suspend` stops both.
//! - A reconciled Release carries a finalizer: deleting it deletes what it
//!   applied (with `prune`, unless suspended) before it goes (`finalize`).
//! - Kubernetes Events on Ready transitions; Prometheus metrics (reconcile
//!   durations, Ready per object, policy verdicts, plugin call durations
//!   and failures) on `/metrics`.
//! - `/healthz` and `/readyz`; on shutdown, in-flight reconciles finish.
//! - With leader election (a `coordination.k8s.io/v1` Lease, see
//!   `leader`), only the instance holding the Lease runs the reconcilers;
//!   the others stand by and take over when it stops or its lease expires.

mod deploy;
mod error;
mod events;
mod finalize;
mod gather;
mod health;
mod leader;
mod metrics;
mod release;
mod rollout;
mod schedule;
mod source;
mod status;
mod tenant;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use sluice_pipeline::ArtifactStore;
use sluice_plugin_host::PluginHost;
use sluice_types::crd::{Release, Source};

pub use deploy::{crd_documents, crds_yaml, install_yaml};
pub use error::{Error, Result};
pub use finalize::FINALIZER;
pub use leader::{DEFAULT_LEASE, LeaderElection, lease_name};

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Releases and Sources reconciled at the same time (each kind).
    pub concurrent: u16,
    /// Interval of objects that set none (Flux requires one; we default).
    pub default_interval: Duration,
    /// How often a Release whose dependencies are not Ready looks again
    /// (dependency changes also wake it at once).
    pub dependency_requeue: Duration,
    /// `/healthz`, `/readyz` and `/metrics`; `None` serves none.
    pub health_address: Option<SocketAddr>,
    /// Only objects in this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// The server-side apply field manager for applies and status.
    pub field_manager: String,
    /// Refuse Releases whose sourceRef, dependsOn or policySetRefs name
    /// another namespace (Stalled, `AccessDenied`), as Flux's lockdown.
    pub no_cross_namespace_refs: bool,
    /// Service account impersonated by Releases that name none; `None`
    /// applies those as the controller.
    pub default_service_account: Option<String>,
    /// Only objects with matching labels (e.g. `sharding.sluice.dev/key=shard1`):
    /// several instances split the objects by shard, as Flux's
    /// `--watch-label-selector`.
    pub watch_label_selector: Option<String>,
    /// Reconcile only while holding this Lease; `None` reconciles at once
    /// (one instance, or shards that never overlap).
    pub leader_election: Option<LeaderElection>,
    /// Capabilities `Plugin` objects may ask for (`--allow-capabilities`);
    /// none by default. Built-ins keep their own grants.
    pub allowed_capabilities: sluice_types::Capabilities,
}

/// The label that assigns an object to a shard.
pub const SHARD_LABEL: &str = "sharding.sluice.dev/key";

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrent: 4,
            default_interval: Duration::from_secs(600),
            dependency_requeue: Duration::from_secs(30),
            health_address: None,
            namespace: None,
            field_manager: "sluice-controller".into(),
            no_cross_namespace_refs: false,
            default_service_account: None,
            watch_label_selector: None,
            leader_election: None,
            allowed_capabilities: sluice_types::Capabilities::default(),
        }
    }
}

/// What every reconcile shares.
pub(crate) struct Context {
    pub client: Client,
    /// Clients that apply as a Release's service account.
    pub tenants: tenant::Tenants,
    pub host: PluginHost,
    pub store: ArtifactStore,
    pub options: Options,
    pub sources: kube::runtime::reflector::Store<Source>,
    pub releases: kube::runtime::reflector::Store<Release>,
    pub memo: schedule::Memo,
    pub metrics: Arc<metrics::Metrics>,
}

fn api<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs until `shutdown` resolves, then lets in-flight reconciles (and
/// their applies) finish before returning. `client` acts as the
/// controller; `config` (what it was built from) is where tenants' clients
/// impersonate from. With `options.leader_election`, waits to lead first,
/// releases the Lease on shutdown, and fails with [`Error::LeaderLost`]
/// (reconciles cancelled) when it can no longer renew it.
pub async fn run(
    client: Client,
    config: kube::Config,
    host: PluginHost,
    store: ArtifactStore,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight reconciles");
        let _ = stop_tx.send(true);
    });
    let metrics = Arc::new(metrics::Metrics::default());
    let ready = health::Readiness::default();
    let probes = match options.health_address {
        Some(address) => Some(
            health::serve(
                address,
                ready.clone(),
                metrics.clone(),
                stopped(stop_rx.clone()),
            )
            .await?,
        ),
        None => None,
    };
    let mut elector = options
        .leader_election
        .clone()
        .map(|settings| leader::Elector::new(client.clone(), settings));
    if let Some(elector) = &mut elector {
        ready.standby();
        let stop = stopped(stop_rx.clone());
        tokio::select! {
            () = elector.acquire() => {}
            () = stop => {
                // Never led: nothing to finish, nothing to release.
                if let Some(probes) = probes {
                    let _ = probes.await;
                }
                return Ok(());
            }
        }
    }

    let tenants = tenant::Tenants::new(config, client.clone());
    let config = Config::default().concurrency(options.concurrent);
    let watched = match &options.watch_label_selector {
        Some(selector) => watcher::Config::default().labels(selector),
        None => watcher::Config::default(),
    };

    let sources_api: Api<Source> = api(&client, &options.namespace);
    let releases_api: Api<Release> = api(&client, &options.namespace);
    let source_controller = Controller::new(sources_api.clone(), watched.clone())
        .with_config(config.clone())
        .graceful_shutdown_on(stopped(stop_rx.clone()));
    let release_controller =
        Controller::new(releases_api.clone(), watched.clone()).with_config(config);
    let releases = release_controller.store();
    let sources = source_controller.store();

    // A Source's new revision wakes the releases that use it; a Release
    // turning Ready wakes those that depend on it.
    let users = releases.clone();
    let dependents = releases.clone();
    let release_controller = release_controller
        .watches(sources_api, watched.clone(), move |source| {
            let (ns, name) = (source.namespace().unwrap_or_default(), source.name_any());
            users
                .state()
                .into_iter()
                .filter(|r| {
                    let own = r.namespace().unwrap_or_default();
                    r.spec.source_ref.name == name
                        && r.spec.source_ref.namespace.as_deref().unwrap_or(&own) == ns
                })
                .map(|r| ObjectRef::from_obj(&*r))
                .collect::<Vec<_>>()
        })
        .watches(releases_api, watched, move |dependency| {
            let (ns, name) = (
                dependency.namespace().unwrap_or_default(),
                dependency.name_any(),
            );
            dependents
                .state()
                .into_iter()
                .filter(|r| {
                    let own = r.namespace().unwrap_or_default();
                    r.spec
                        .depends_on
                        .iter()
                        .any(|d| d.name == name && d.namespace.as_deref().unwrap_or(&own) == ns)
                })
                .map(|r| ObjectRef::from_obj(&*r))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(stopped(stop_rx.clone()));

    let context = Arc::new(Context {
        client,
        tenants,
        host,
        store,
        options: options.clone(),
        sources: sources.clone(),
        releases: releases.clone(),
        memo: schedule::Memo::default(),
        metrics,
    });

    {
        let ready = ready.clone();
        let (sources, releases) = (sources.clone(), releases.clone());
        tokio::spawn(async move {
            // Ready once both caches hold a full list.
            if synced(&sources).await && synced(&releases).await {
                ready.set();
            }
        });
    }
    let sources_run = source_controller
        .run(source::reconcile, source::error_policy, context.clone())
        .for_each(log::<Source>);
    let releases_run = release_controller
        .run(release::reconcile, release::error_policy, context)
        .for_each(log::<Release>);
    let work = async {
        tokio::join!(sources_run, releases_run);
    };
    let lost = match &mut elector {
        Some(elector) => tokio::select! {
            () = work => None,
            why = elector.keep() => Some(why),
        },
        None => {
            work.await;
            None
        }
    };
    if let (Some(why), Some(elector)) = (lost, &elector) {
        tracing::error!(lease = %elector.lease(), "lost the leader lease: {why}");
        if let Some(probes) = probes {
            probes.abort();
        }
        return Err(Error::LeaderLost {
            lease: elector.lease(),
            why,
        });
    }
    if let Some(elector) = &mut elector {
        elector.release().await;
    }
    if let Some(probes) = probes {
        let _ = probes.await;
    }
    Ok(())
}

/// Reconcile errors are logged by the error policies; what remains here
/// is the controller's own trouble (a watch failing, a missing object).
async fn log<K: kube::Resource>(
    result: std::result::Result<
        (ObjectRef<K>, kube::runtime::controller::Action),
        kube::runtime::controller::Error<Error, watcher::Error>,
    >,
) {
    if let Err(e) = result {
        tracing::debug!("{e}");
    }
}

/// Whether `store` got its first full list (false: its writer is gone).
/// The controller waits on the same one-shot signal, which wakes only its
/// latest poller, so this looks again every 200 ms instead of waiting for
/// a wake.
async fn synced<K>(store: &kube::runtime::reflector::Store<K>) -> bool
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        let wait = tokio::time::timeout(Duration::from_millis(200), store.wait_until_ready());
        if let Ok(result) = wait.await {
            return result.is_ok();
        }
    }
}
