//! `sluice render DIR`: renders a directory with no Release written, the way
//! `kustomize build DIR` does, to compare with kustomize or look at a tree.
//!
//! It declares a `file://` Source and a Release in memory and runs them
//! through the same pipeline as `sluice build`, so the renderer is chosen
//! as for a Release without `spec.renderer` and runs in the same sandbox.
//! The Source is the enclosing Git work tree (so overlays may reach
//! `../base` as they do with kustomize), or DIR itself outside one.

use crate::args::Render;
use crate::output;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sluice_pipeline::{ArtifactStore, Mode, Pipeline};
use sluice_plugin_host::PluginHost;
use sluice_types::Objects;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub async fn run(host: PluginHost, store: ArtifactStore, args: &Render) -> Result<ExitCode> {
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("cannot resolve {}", args.dir.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a directory", args.dir.display());
    }
    let root = match &args.root {
        Some(r) => std::path::absolute(r)?,
        None => work_tree(&dir).unwrap_or_else(|| dir.clone()),
    };
    let Ok(path) = dir.strip_prefix(&root) else {
        bail!(
            "{} is not inside --root {}",
            args.dir.display(),
            root.display()
        );
    };
    let renderer = match (&args.renderer, &args.config) {
        (Some(plugin), config) => {
            let config: Value = match config {
                Some(text) => serde_json::from_str(text).context("--config is not JSON")?,
                None => json!({}),
            };
            json!({"plugin": plugin, "config": config})
        }
        (None, _) => Value::Null,
    };
    let mut release = json!({
        "apiVersion": sluice_types::API_VERSION,
        "kind": "Release",
        "metadata": {"name": "render"},
        "spec": {"sourceRef": {"name": "render"}, "path": format!("./{}", path.display())},
    });
    if !renderer.is_null() {
        release["spec"]["renderer"] = renderer;
    }
    let source = json!({
        "apiVersion": sluice_types::API_VERSION,
        "kind": "Source",
        "metadata": {"name": "render"},
        "spec": {"url": format!("file://{}", root.display())},
    });
    // JSON is YAML; the objects load as if from a file the user wrote.
    let text = format!("{release}\n---\n{source}\n");
    let mut objects = Objects::default();
    objects.parse_into(Path::new("sluice render"), &text)?;
    let release = objects.releases().next().cloned().expect("declared above");
    let pipeline = Pipeline::with_store(host, objects, store);
    let report = pipeline.run(&release, Mode::Build).await?;
    output::print_diagnostics(&args.dir.display().to_string(), &report.diagnostics);
    let documents: Vec<Value> = report.manifests.into_iter().map(|m| m.object).collect();
    let stream = output::yaml_stream(&documents)?;
    // `kustomize build` puts `---` between documents, not before the first.
    print!("{}", stream.strip_prefix("---\n").unwrap_or(&stream));
    Ok(ExitCode::SUCCESS)
}

/// The top of the Git work tree holding `dir`, if any.
fn work_tree(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}
