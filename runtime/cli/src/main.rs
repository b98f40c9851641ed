//! `sluice`: build, check and inspect releases and plugins.

mod apply;
mod args;
mod artifact;
mod bundle;
mod commands;
mod controller;
mod lock;
mod manage;
mod observe;
mod output;
mod playground;
mod plugin_dev;
mod policy;
mod render;
mod rollout;
mod sops;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let json = match &cli.command {
        args::Command::Controller(c) => c.log_format.json(),
        _ => false,
    };
    init_tracing(cli.verbose, json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", output::printable(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Text for people; JSON lines (`--log-format json`) for log collectors.
fn init_tracing(verbose: u8, json: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}
