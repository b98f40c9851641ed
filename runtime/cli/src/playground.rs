//! `sluice playground`: the local API server as a long-lived process, for
//! trying Sluice without a cluster. It says loudly that it is not one.

use crate::args::Playground;
use anyhow::{Context, Result};
use sluice_apiserver::{ApiServer, Options};
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn run(args: &Playground) -> Result<ExitCode> {
    let kubeconfig = args.kubeconfig.clone().unwrap_or_else(default_kubeconfig);
    let server = ApiServer::start(Options {
        port: args.port,
        state_file: args.state.clone(),
        ..Options::default().with_readiness(args.ready_after.0)
    })
    .await
    .context("cannot start the playground API server")?;
    if let Some(dir) = kubeconfig.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&kubeconfig, server.kubeconfig())
        .with_context(|| format!("cannot write the kubeconfig {}", kubeconfig.display()))?;

    eprintln!(
        "sluice playground: a local Kubernetes API server for trying Sluice, NOT a real cluster"
    );
    eprintln!(
        "  (nothing runs: simulated controllers mark workloads ready after {})",
        args.ready_after
    );
    eprintln!("  API server: {}", server.url());
    eprintln!("  kubeconfig: {}", kubeconfig.display());
    match &args.state {
        Some(state) => eprintln!("  state:      {} (kept across restarts)", state.display()),
        None => eprintln!("  state:      in memory (use --state FILE to keep it)"),
    }
    eprintln!("  use it:     export KUBECONFIG={}", kubeconfig.display());
    eprintln!("Ctrl-C stops it.");

    wait_for_stop().await?;
    server.shutdown().await;
    eprintln!("sluice playground stopped");
    Ok(ExitCode::SUCCESS)
}

fn default_kubeconfig() -> PathBuf {
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/sluice/playground.kubeconfig"))
        .unwrap_or_else(|| std::env::temp_dir().join("sluice-playground.kubeconfig"))
}

/// Ctrl-C or SIGTERM (how process managers and `kill` stop it).
async fn wait_for_stop() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
