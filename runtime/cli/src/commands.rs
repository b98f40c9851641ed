//! What each command does.

use crate::args::{Cli, Command, Format, PluginCommand, Selection};
use crate::output;
use anyhow::{Context, Result, bail};
use sluice_pipeline::{ArtifactStore, Mode, Pipeline};
use sluice_plugin_host::{HostConfig, Plugin, PluginHost};
use sluice_types::{Loaded, Object, Objects};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Playground(options) => return crate::playground::run(options).await,
        Command::Push(push) => return crate::artifact::push(push).await,
        Command::Pull(pull) => return crate::artifact::pull(pull).await,
        Command::Crds { output_dir } => return crate::controller::crds(output_dir.as_deref()),
        Command::Install { .. } => {
            print!("{}", sluice_controller::install_yaml());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Get {
            kind,
            target,
            all_namespaces,
        } => return crate::manage::get(*kind, target, *all_namespaces).await,
        Command::Reconcile {
            kind,
            name,
            target,
            with_source,
            timeout,
        } => return crate::manage::reconcile(*kind, name, target, *with_source, timeout.0).await,
        Command::Suspend { kind, name, target } => {
            return crate::manage::suspend(*kind, name, target, true, Duration::ZERO).await;
        }
        Command::Resume {
            kind,
            name,
            target,
            timeout,
        } => return crate::manage::suspend(*kind, name, target, false, timeout.0).await,
        Command::Tree { name, target, .. } => return crate::manage::tree(name, target).await,
        Command::Events {
            target,
            all_namespaces,
            for_object,
            watch,
        } => {
            return crate::observe::events(target, *all_namespaces, for_object.as_deref(), *watch)
                .await;
        }
        Command::Logs(args) => return crate::observe::logs(args).await,
        Command::Rollout(command) => return crate::rollout::run(command).await,
        Command::Plugin(PluginCommand::New(args)) => return crate::plugin_dev::new(args),
        Command::Plugin(PluginCommand::Build(args)) => return crate::plugin_dev::build(args),
        Command::Plugin(PluginCommand::Update(args)) => return crate::lock::update(args).await,
        _ => {}
    }
    if let Command::Sops(sops) = cli.command {
        return crate::sops::run(sops);
    }
    let cache = cache_dir(cli.cache_dir);
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.join("plugins")),
        ..HostConfig::default()
    })?;
    let store = ArtifactStore::open(cache.join("artifacts"))?;
    match cli.command {
        Command::Build {
            selection,
            show_secrets,
        } => build(host, store, &selection, &cache, show_secrets).await,
        Command::Render(args) => crate::render::run(host, store, &args).await,
        Command::Check { selection, output } => {
            check(host, store, &selection, &cache, output).await
        }
        Command::Policy(command) => crate::policy::run(host, command).await,
        Command::Plugin(PluginCommand::List { bundle: true, .. }) => {
            let built = sluice_bundle::build_builtins(&host).await?;
            println!("{}", serde_json::to_string_pretty(&built.bundle.manifest)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::List { paths, output, .. }) => {
            list(host, &paths, &cache, output).await
        }
        Command::Plugin(PluginCommand::Inspect {
            plugin,
            from,
            output,
        }) => inspect(host, &plugin, &from, &cache, output).await,
        Command::Apply {
            selection,
            cluster,
            dry_run,
            prune,
            force,
            wait,
            timeout,
            output,
        } => {
            let (pipeline, releases) = prepare(host, store, &selection, &cache)?;
            let options = crate::apply::Options {
                dry_run,
                prune,
                force,
                wait,
                timeout: timeout.map(|t| t.0),
                format: output,
            };
            crate::apply::apply(&pipeline, &releases, &cluster, &options).await
        }
        Command::Diff {
            selection,
            cluster,
            prune,
            no_color,
        } => {
            let (pipeline, releases) = prepare(host, store, &selection, &cache)?;
            crate::apply::diff(&pipeline, &releases, &cluster, prune, !no_color).await
        }
        Command::Controller(args) => crate::controller::run(host, store, &args).await,
        Command::Bundle(command) => crate::bundle::run(host, command).await,
        Command::Plugin(PluginCommand::Test(args)) => crate::plugin_dev::test(&host, &args).await,
        Command::Plugin(PluginCommand::New(_) | PluginCommand::Build(_)) => {
            unreachable!("handled before the plugin host starts")
        }
        Command::Plugin(PluginCommand::Update(_)) => unreachable!("needs no plugin host"),
        Command::Playground(_)
        | Command::Push(_)
        | Command::Pull(_)
        | Command::Sops(_)
        | Command::Crds { .. }
        | Command::Install { .. }
        | Command::Get { .. }
        | Command::Reconcile { .. }
        | Command::Suspend { .. }
        | Command::Resume { .. }
        | Command::Rollout(_)
        | Command::Events { .. }
        | Command::Logs(_)
        | Command::Tree { .. } => {
            unreachable!("handled before the plugin host starts")
        }
    }
}

fn cache_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("SLUICE_CACHE_DIR").map(PathBuf::from))
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("sluice")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/sluice")))
        .unwrap_or_else(|| std::env::temp_dir().join("sluice-cache"))
}

fn load(paths: &[PathBuf]) -> Result<Objects> {
    let mut objects = Objects::default();
    for path in paths {
        objects.read(path)?;
    }
    Ok(objects)
}

fn shown(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

fn selected<'a>(objects: &'a Objects, selection: &Selection) -> Result<Vec<&'a Loaded>> {
    let releases: Vec<&Loaded> = objects
        .releases()
        .filter(|r| selection.release.as_deref().is_none_or(|n| r.name() == n))
        .collect();
    if releases.is_empty() {
        match &selection.release {
            Some(name) => bail!("no Release named '{name}' in {}", shown(&selection.paths)),
            None => bail!(
                "no Release objects (apiVersion sluice.dev/v1alpha1, kind Release) in {}",
                shown(&selection.paths)
            ),
        }
    }
    Ok(releases)
}

/// The pipeline over the selected inputs and the releases to run; user
/// plugins get the capabilities `--allow-capabilities` allows, bundle tags
/// resolve through the `sluice.lock` beside the objects.
fn prepare(
    host: PluginHost,
    store: ArtifactStore,
    selection: &Selection,
    cache: &Path,
) -> Result<(Pipeline, Vec<Loaded>)> {
    let objects = load(&selection.paths)?;
    let releases = selected(&objects, selection)?
        .into_iter()
        .cloned()
        .collect();
    let authority = crate::lock::authority(
        &selection.paths,
        &selection.authority.allow_capabilities,
        cache,
    )?;
    let pipeline = Pipeline::with_store(host, objects, store).with_authority(authority);
    Ok((pipeline, releases))
}

async fn build(
    host: PluginHost,
    store: ArtifactStore,
    selection: &Selection,
    cache: &Path,
    show_secrets: bool,
) -> Result<ExitCode> {
    let (pipeline, releases) = prepare(host, store, selection, cache)?;
    let mut documents = Vec::new();
    for release in &releases {
        let report = pipeline.run(release, Mode::Build).await?;
        output::print_diagnostics(&report.release, &report.diagnostics);
        let mut objects: Vec<_> = report.manifests.into_iter().map(|m| m.object).collect();
        let decrypts =
            matches!(&release.object, Object::Release(_, spec) if spec.decryption.is_some());
        if decrypts && !show_secrets {
            output::mask_secrets(&mut objects);
        }
        documents.extend(objects);
    }
    print!("{}", output::yaml_stream(&documents)?);
    Ok(ExitCode::SUCCESS)
}

async fn check(
    host: PluginHost,
    store: ArtifactStore,
    selection: &Selection,
    cache: &Path,
    format: Format,
) -> Result<ExitCode> {
    let (pipeline, releases) = prepare(host, store, selection, cache)?;
    let mut results = Vec::new();
    for release in &releases {
        results.push((
            release.name().to_owned(),
            pipeline.run(release, Mode::Check).await,
        ));
    }
    let failed = results.iter().any(|(_, r)| r.is_err());
    let blocked = results
        .iter()
        .any(|(_, r)| r.as_ref().is_ok_and(|r| r.blocked()));
    let verdicts = crate::policy::check_verdicts(&pipeline, &results).await;
    match format {
        Format::Json => println!(
            "{}",
            crate::policy::with_verdicts(&output::check_json(&results)?, &verdicts)?
        ),
        Format::Table => print!(
            "{}{}",
            output::check_table(&results),
            crate::policy::check_table(&verdicts)
        ),
    }
    Ok(if failed {
        ExitCode::from(2)
    } else if blocked {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Listing and inspecting read a plugin's metadata and schema, with no
/// grants: every capability is allowed, so a plugin can be looked at
/// before anyone decides to allow what it asks for.
fn inspection(host: PluginHost, paths: &[PathBuf], cache: &Path) -> Result<Pipeline> {
    let objects = load(paths)?;
    let authority = crate::lock::authority(paths, &sluice_types::Capabilities::all(), cache)?;
    Ok(Pipeline::new(host, objects).with_authority(authority))
}

async fn list(
    host: PluginHost,
    paths: &[PathBuf],
    cache: &Path,
    format: Format,
) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for b in sluice_builtins::BUILTINS {
        let p = host.load(b.name, b.wasm, None, None).await?;
        rows.push((p, "built-in".to_owned()));
    }
    let pipeline = inspection(host, paths, cache)?;
    for obj in pipeline.catalog().objects().plugins() {
        let Object::Plugin(_, spec) = &obj.object else {
            continue;
        };
        let from = match (&spec.file, &spec.bundle) {
            (Some(file), _) => obj.base_dir().join(file).display().to_string(),
            (None, Some(bundle)) => bundle.url.clone(),
            (None, None) => String::new(),
        };
        let p = pipeline
            .catalog()
            .get(obj.name(), obj.namespace())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| {
                format!(
                    "{}:{}: Plugin '{}'",
                    obj.file.display(),
                    obj.line,
                    obj.name()
                )
            })?;
        rows.push((p, from));
    }
    match format {
        Format::Json => println!("{}", output::plugins_json(&rows)?),
        Format::Table => print!("{}", output::plugins_table(&rows)),
    }
    Ok(ExitCode::SUCCESS)
}

async fn inspect(
    host: PluginHost,
    name: &str,
    from: &[PathBuf],
    cache: &Path,
    format: Format,
) -> Result<ExitCode> {
    let plugin: Plugin = if name.ends_with(".wasm") {
        let stem = Path::new(name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(name);
        host.load_file(stem, Path::new(name), None, None).await?
    } else {
        let pipeline = inspection(host, from, cache)?;
        match pipeline.catalog().get(name, "default").await {
            Ok(p) => p,
            Err(sluice_pipeline::Lookup::Load(e)) => return Err(e.into()),
            Err(other) => bail!("{other}"),
        }
    };
    match format {
        Format::Json => println!("{}", output::inspect_json(&plugin)?),
        Format::Table => print!("{}", output::inspect_text(&plugin)),
    }
    Ok(ExitCode::SUCCESS)
}
