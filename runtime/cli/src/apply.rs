//! `sluice apply` and `sluice diff`: the pipeline, then the cluster.

use crate::args::{Cluster, Format};
use crate::output;
use anyhow::{Context, Result};
use serde_json::json;
use sluice_apply::{Applier, ApplyOptions, Change};
use sluice_pipeline::{Mode, Pipeline};
use sluice_types::{Loaded, Object, ReleaseReport};
use std::process::ExitCode;
use std::time::Duration;

/// How long `--wait` waits when neither the flag nor `spec.timeout` says.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct Options {
    pub dry_run: bool,
    pub prune: bool,
    pub force: bool,
    pub wait: bool,
    pub timeout: Option<Duration>,
    pub format: Format,
}

/// A client for the kubeconfig users expect: `--kubeconfig`, else
/// `$KUBECONFIG`, else `~/.kube/config`; `--context` or the current one.
pub(crate) async fn client(cluster: &Cluster) -> Result<kube::Client> {
    kube::Client::try_from(config(cluster).await?).context("cannot create a Kubernetes client")
}

/// The config behind [`client`].
pub(crate) async fn config(cluster: &Cluster) -> Result<kube::Config> {
    let options = kube::config::KubeConfigOptions {
        context: cluster.context.clone(),
        ..Default::default()
    };
    let hint =
        "point --kubeconfig or KUBECONFIG at a cluster, or start one with `sluice playground`";
    match &cluster.kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).with_context(|| {
                format!("cannot read the kubeconfig {}; {hint}", path.display())
            })?;
            kube::Config::from_custom_kubeconfig(file, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .with_context(|| format!("cannot load a kubeconfig; {hint}"))
}

/// Renders and checks one release; `None` (after printing why) when a
/// policy blocks it, so nothing reaches the cluster.
async fn checked(pipeline: &Pipeline, release: &Loaded) -> Result<Option<ReleaseReport>> {
    let report = pipeline.run(release, Mode::Check).await?;
    print_warnings(&report);
    if report.blocked() {
        let name = report.release.clone();
        print!("{}", output::check_table(&[(name, Ok(report))]));
        eprintln!(
            "release '{}' is blocked by policy; nothing was applied",
            release.name()
        );
        return Ok(None);
    }
    Ok(Some(report))
}

/// Source and renderer warnings; notes such as skipped files are for `build`.
fn print_warnings(report: &ReleaseReport) {
    let warnings: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity != sluice_types::Severity::Info)
        .cloned()
        .collect();
    output::print_diagnostics(&report.release, &warnings);
}

fn applier(client: &kube::Client, release: &Loaded, prune: bool, force: bool) -> Applier {
    let Object::Release(_, spec) = &release.object else {
        unreachable!("releases only")
    };
    let options = ApplyOptions {
        prune: prune || spec.prune,
        force,
        ..ApplyOptions::default()
    };
    Applier::new(client.clone(), release.name(), release.namespace(), options)
}

pub async fn apply(
    pipeline: &Pipeline,
    releases: &[Loaded],
    cluster: &Cluster,
    opts: &Options,
) -> Result<ExitCode> {
    let client = client(cluster).await?;
    let mut results = Vec::new();
    for release in releases {
        let Some(report) = checked(pipeline, release).await? else {
            return Ok(ExitCode::from(1));
        };
        let at = || format!("Release '{}'", release.name());
        let mut applier = applier(&client, release, opts.prune, opts.force);
        if opts.dry_run {
            let diffs = applier
                .diff(&report.manifests, false)
                .await
                .with_context(at)?;
            for d in &diffs {
                let what = match d.change {
                    Change::Added => "would be created",
                    Change::Changed => "would be configured",
                    Change::Unchanged => "unchanged",
                    Change::Removed => "would be pruned",
                };
                println!("{} {what} (server dry run)", d.object);
            }
            continue;
        }
        let applied = applier.apply(&report.manifests).await.with_context(at)?;
        let mut healthy = None;
        if opts.wait {
            let Object::Release(_, spec) = &release.object else {
                unreachable!()
            };
            let timeout = opts
                .timeout
                .or(spec.timeout.map(|t| t.0))
                .unwrap_or(DEFAULT_TIMEOUT);
            let objects = applied.applied();
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            let waited = applier
                .wait(&objects, timeout, |p| {
                    let next = p
                        .pending
                        .first()
                        .map(|(r, why)| format!(": {r} {why}"))
                        .unwrap_or_default();
                    bar.set_message(format!(
                        "waiting for health, {}/{} ready{next}",
                        p.ready, p.total
                    ));
                })
                .await;
            bar.finish_and_clear();
            waited.with_context(at)?;
            healthy = Some(true);
        }
        if opts.format == Format::Table {
            print_applied(
                release.name(),
                &report.revision,
                &applied,
                healthy.is_some(),
            );
        }
        results.push(json!({
            "release": release.name(),
            "revision": report.revision,
            "applyset": applied.applyset,
            "objects": applied.objects,
            "healthy": healthy,
        }));
    }
    if opts.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// What was applied, as `kubectl get` lays it out, with health once waited for.
fn print_applied(release: &str, revision: &str, report: &sluice_apply::ApplyReport, waited: bool) {
    let rows: Vec<Vec<String>> = report
        .objects
        .iter()
        .map(|o| {
            let mut action = o.action.to_string();
            if !o.drifted.is_empty() {
                action = format!("{action}, drift corrected: {}", o.drifted.join(", "));
            }
            let health = match (&o.action, waited) {
                (sluice_apply::Action::Pruned | sluice_apply::Action::Skipped(_), _) => "-",
                (_, true) => "Current",
                (_, false) => "not waited for (--wait)",
            };
            vec![
                o.object.namespace.clone(),
                o.object.kind.clone(),
                o.object.name.clone(),
                health.to_owned(),
                action,
            ]
        })
        .collect();
    println!("Release '{release}' at {revision}:");
    print!(
        "{}",
        output::table(&["NAMESPACE", "KIND", "NAME", "HEALTH", "ACTION"], &rows)
    );
    let c = report.counts();
    println!(
        "{} created, {} configured, {} unchanged, {} pruned, {} skipped{}",
        c.created,
        c.configured,
        c.unchanged,
        c.pruned,
        c.skipped,
        if waited {
            "; all applied objects are healthy"
        } else {
            ""
        }
    );
}

/// Exit 0 when nothing would change, 1 when something would (as `kubectl diff`).
pub async fn diff(
    pipeline: &Pipeline,
    releases: &[Loaded],
    cluster: &Cluster,
    prune: bool,
    colour: bool,
) -> Result<ExitCode> {
    let client = client(cluster).await?;
    let mut changed = 0;
    for release in releases {
        let report = pipeline.run(release, Mode::Check).await?;
        output::print_diagnostics(&report.release, &report.diagnostics);
        if report.blocked() {
            eprintln!(
                "note: release '{}' is blocked by policy; `sluice apply` would refuse it",
                release.name()
            );
        }
        let diffs = applier(&client, release, prune, false)
            .diff(&report.manifests, colour)
            .await
            .with_context(|| format!("Release '{}'", release.name()))?;
        for d in diffs.iter().filter(|d| d.change != Change::Unchanged) {
            changed += 1;
            print!("{}", d.text);
            if !d.text.ends_with('\n') {
                println!();
            }
        }
    }
    eprintln!("{changed} object(s) would change");
    Ok(if changed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
