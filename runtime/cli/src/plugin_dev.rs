//! `sluice plugin new|build|test`: writing plugins, on `sluice-plugin-dev`.

use anyhow::{Context, Result, anyhow};
use clap::Args;
use sluice_plugin_dev::scaffold::{self, NewPlugin};
use sluice_plugin_dev::{Lang, Project};
use sluice_plugin_host::PluginHost;
use sluice_types::PluginKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct New {
    /// The plugin's name: lowercase letters, digits and dashes (the directory's too)
    pub name: String,
    /// source, renderer, policy or rollout
    #[arg(long, value_parser = parse_kind)]
    pub kind: PluginKind,
    /// rust, python, js, c or go
    #[arg(long)]
    pub lang: Lang,
    /// Where to create the NAME directory
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// One line saying what the plugin does
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct Build {
    /// The plugin project (holding sluice-plugin.yaml)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the component (default DIR/dist/NAME.wasm)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Test {
    /// The plugin project (holding sluice-plugin.yaml and tests/)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Test this component as it is; without it DIR/dist/NAME.wasm is built
    /// first when missing or older than the sources
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,
}

fn parse_kind(text: &str) -> Result<PluginKind, String> {
    match text {
        "source" => Ok(PluginKind::Source),
        "renderer" => Ok(PluginKind::Renderer),
        "policy" => Ok(PluginKind::Policy),
        "rollout" => Ok(PluginKind::Rollout),
        _ => Err(format!(
            "unknown kind `{text}`; use source, renderer, policy or rollout"
        )),
    }
}

pub fn new(args: &New) -> Result<ExitCode> {
    let plugin = NewPlugin {
        name: args.name.clone(),
        kind: args.kind,
        language: args.lang,
        description: args.description.clone(),
    };
    let dir = scaffold::new(&args.dir, &plugin)?;
    println!(
        "created {} ({} plugin in {}); next: sluice plugin test {}",
        dir.display(),
        plugin.kind,
        plugin.language,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn build(args: &Build) -> Result<ExitCode> {
    let project = Project::load(&args.dir)?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| project.output(&args.dir));
    build_into(&project, &args.dir, &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Builds and says what came out, with its size and how long it took.
fn build_into(project: &Project, dir: &Path, out: &Path) -> Result<()> {
    let started = Instant::now();
    sluice_plugin_dev::build(project, dir, out)?;
    let size = std::fs::metadata(out)
        .with_context(|| format!("the build wrote no {}", out.display()))?
        .len();
    eprintln!(
        "built {} ({} KiB) in {:.1}s",
        out.display(),
        size.div_ceil(1024),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn test(host: &PluginHost, args: &Test) -> Result<ExitCode> {
    let component = match &args.component {
        Some(component) => component.clone(),
        None => {
            let project = Project::load(&args.dir)?;
            let out = project.output(&args.dir);
            if stale(&args.dir, &out)? {
                build_into(&project, &args.dir, &out)?;
            }
            out
        }
    };
    let mut stdout = std::io::stdout().lock();
    let summary = sluice_plugin_dev::test::run(host, &args.dir, &component, &mut stdout).await?;
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether `out` is missing or older than any source of the project.
fn stale(dir: &Path, out: &Path) -> Result<bool> {
    let Ok(meta) = std::fs::metadata(out) else {
        return Ok(true);
    };
    let built = meta
        .modified()
        .map_err(|e| anyhow!("cannot read the time of {}: {e}", out.display()))?;
    Ok(sluice_plugin_dev::project::newest_source(dir)? > built)
}
