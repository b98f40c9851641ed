//! `sluice controller` and `sluice crds`.

use crate::args::ControllerArgs;
use anyhow::{Context, Result};
use sluice_pipeline::ArtifactStore;
use sluice_plugin_host::PluginHost;
use std::path::Path;
use std::process::ExitCode;

/// Prints the CRDs, or writes one file each into `dir`.
pub fn crds(dir: Option<&Path>) -> Result<ExitCode> {
    let Some(dir) = dir else {
        print!("{}", sluice_controller::crds_yaml());
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, yaml) in sluice_controller::crd_documents() {
        let path = dir.join(file);
        std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(
    host: PluginHost,
    store: ArtifactStore,
    args: &ControllerArgs,
) -> Result<ExitCode> {
    // In a pod: the service account; elsewhere: the kubeconfig as kubectl reads it.
    let explicit = args.cluster.kubeconfig.is_some()
        || args.cluster.context.is_some()
        || std::env::var_os("KUBECONFIG").is_some();
    let config = if explicit {
        crate::apply::config(&args.cluster).await?
    } else {
        kube::Config::infer()
            .await
            .context("cannot find the cluster: not in a pod and no kubeconfig; pass --kubeconfig")?
    };
    let client =
        kube::Client::try_from(config.clone()).context("cannot create a Kubernetes client")?;
    let options = sluice_controller::Options {
        concurrent: args.concurrent.max(1),
        default_interval: args.default_interval.0,
        dependency_requeue: args.dependency_requeue.0,
        health_address: args.health_address,
        namespace: args.namespace.clone(),
        no_cross_namespace_refs: args.no_cross_namespace_refs,
        default_service_account: args.default_service_account.clone(),
        watch_label_selector: args.watch_label_selector.clone(),
        leader_election: args.leader_elect.then(|| {
            let namespace = args
                .leader_election_namespace
                .clone()
                .unwrap_or_else(|| config.default_namespace.clone());
            let name = match &args.leader_election_id {
                Some(id) => id.clone(),
                None => sluice_controller::lease_name(
                    sluice_controller::DEFAULT_LEASE,
                    args.watch_label_selector.as_deref(),
                ),
            };
            sluice_controller::LeaderElection::new(namespace, name)
        }),
        allowed_capabilities: args.authority.allow_capabilities.clone(),
        ..sluice_controller::Options::default()
    };
    sluice_controller::run(client, config, host, store, options, stop()).await?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (the kubelet) or Ctrl-C.
async fn stop() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
