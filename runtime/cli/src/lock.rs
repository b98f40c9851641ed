//! `sluice plugin update`: pins the bundle tags the objects name in
//! `sluice.lock`, and the lock the pipeline-running commands read.
//!
//! A tag (`oci://host/repo:1.0`) can be moved to other content; the lock
//! records the digest each tag pointed at when someone last looked, so
//! `sluice check` and `sluice apply` run exactly the bundle that was
//! reviewed, and a change of digest shows in the lock's diff.

use anyhow::{Context, Result};
use clap::Args;
use sluice_pipeline::{Authority, split_tag};
use sluice_types::lock::FILE;
use sluice_types::{Lockfile, Object, Objects};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `sluice plugin update [PATH]`.
#[derive(Debug, Args)]
pub struct Update {
    /// The objects (a directory of YAML files, or one file); the lock is
    /// written beside them
    #[arg(default_value = ".")]
    pub path: PathBuf,
}

/// `sluice.lock` beside `path` (in it, for a directory).
pub fn lock_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(FILE)
    } else {
        path.parent().unwrap_or(Path::new(".")).join(FILE)
    }
}

/// The pipeline's authority for objects read from `paths`: the allowed
/// capabilities, the lock beside the first path, the bundle cache, and the
/// Docker config for bundles that name no Secret.
pub fn authority(
    paths: &[PathBuf],
    allowed: &sluice_types::Capabilities,
    cache: &Path,
) -> Result<Authority> {
    let lock = match paths.first() {
        Some(first) => {
            let path = lock_path(first);
            let lock = Lockfile::read(&path)?.unwrap_or_default();
            Some((path, lock))
        }
        None => None,
    };
    Ok(Authority {
        allowed: allowed.clone(),
        lock,
        bundle_cache: Some(cache.join("bundles")),
        docker_config: crate::artifact::docker_config(),
    })
}

/// How to reach the registry of one tag reference.
struct Tag {
    insecure: bool,
    credentials: sluice_oci::Credentials,
    /// Where it is named, for messages.
    at: String,
}

pub async fn update(args: &Update) -> Result<ExitCode> {
    let objects = Objects::load(&args.path)?;
    let tags = tags(&objects)?;
    let path = lock_path(&args.path);
    let mut lock = Lockfile::read(&path)?.unwrap_or_default();
    let mut lines = Vec::new();
    for (reference, tag) in &tags {
        let registry = sluice_oci::Registry::new(sluice_oci::Options {
            credentials: tag.credentials.clone(),
            insecure: tag.insecure,
            ..sluice_oci::Options::default()
        });
        let manifest = registry
            .manifest(sluice_oci::strip_scheme(reference))
            .await
            .with_context(|| format!("{}: cannot resolve {reference}", tag.at))?;
        let line = match lock.pin(reference, &manifest.digest) {
            None => format!("pinned  {reference} → {}", manifest.digest),
            Some(old) if old == manifest.digest => {
                format!("kept    {reference} → {}", manifest.digest)
            }
            Some(old) => format!("updated {reference} → {} (was {old})", manifest.digest),
        };
        lines.push(line);
    }
    for gone in lock.retain(|r| tags.contains_key(r)) {
        lines.push(format!(
            "removed {} (no object names it any more)",
            gone.reference
        ));
    }
    if tags.is_empty() && lines.is_empty() {
        println!(
            "no bundle tags to pin in {} (spec.bundle.url with :TAG and no @sha256:)",
            args.path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::write(&path, lock.to_yaml())
        .with_context(|| format!("cannot write {}", path.display()))?;
    for line in &lines {
        println!("{line}");
    }
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Every tag reference (no digest) in Plugin and PolicySet bundles, with
/// how to reach its registry.
fn tags(objects: &Objects) -> Result<BTreeMap<String, Tag>> {
    let mut tags = BTreeMap::new();
    for obj in &objects.items {
        let location = match &obj.object {
            Object::Plugin(_, spec) => spec.bundle.as_ref().map(|b| b.location()),
            Object::PolicySet(_, spec) => spec.bundle.as_ref().map(|b| b.location()),
            _ => None,
        };
        let Some(location) = location else { continue };
        if location.digest().is_some() || split_tag(location.url).is_none() {
            continue;
        }
        let at = format!(
            "{}:{}: {} '{}'",
            obj.file.display(),
            obj.line,
            obj.object.kind(),
            obj.name()
        );
        let credentials = match location.secret_ref {
            Some(r) => {
                let secret = objects.secret(obj.namespace(), &r.name).with_context(|| {
                    format!(
                        "{at}: spec.bundle.secretRef: no Secret named '{}' in namespace '{}'",
                        r.name,
                        obj.namespace()
                    )
                })?;
                let json = secret.data.get(".dockerconfigjson").with_context(|| {
                    format!(
                        "{at}: spec.bundle.secretRef: Secret '{}' has no .dockerconfigjson entry",
                        r.name
                    )
                })?;
                sluice_oci::Credentials::from_docker_config(json, registry_host(location.url))
                    .with_context(|| format!("{at}: spec.bundle.secretRef"))?
            }
            // As `sluice check` fetches it: the user's `docker login`.
            None => match crate::artifact::docker_config() {
                Some(path) => {
                    let json = std::fs::read(&path)
                        .with_context(|| format!("{at}: cannot read {}", path.display()))?;
                    sluice_oci::Credentials::from_docker_config(&json, registry_host(location.url))
                        .with_context(|| format!("{at}: {}", path.display()))?
                }
                None => sluice_oci::Credentials::Anonymous,
            },
        };
        tags.entry(location.url.to_owned()).or_insert(Tag {
            insecure: location.insecure,
            credentials,
            at,
        });
    }
    Ok(tags)
}

/// `host[:port]` of `oci://host[:port]/repo:tag`.
fn registry_host(url: &str) -> &str {
    sluice_oci::strip_scheme(url)
        .split('/')
        .next()
        .unwrap_or_default()
}
