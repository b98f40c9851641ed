//! `sluice push artifact` and `sluice pull artifact`: OCI artifacts as
//! `flux push artifact` / `flux pull artifact` make and read them, so CI can
//! publish a directory of manifests that Sluice (or Flux) then fetches from
//! the registry.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sluice_oci::{Credentials, Options, Registry};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Pack a directory and push it as a Flux-compatible OCI artifact
    Artifact(PushArtifact),
}

#[derive(Debug, Subcommand)]
pub enum PullCommand {
    /// Pull an OCI artifact and extract its content
    Artifact(PullArtifact),
}

/// How to reach the registry.
#[derive(Debug, Args)]
pub struct Access {
    /// USERNAME:PASSWORD for the registry [default: the entry in $DOCKER_CONFIG/config.json or ~/.docker/config.json]
    #[arg(long)]
    pub creds: Option<String>,
    /// Use plain HTTP (for a registry without TLS)
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Args)]
pub struct PushArtifact {
    /// oci://HOST[:PORT]/REPOSITORY:TAG
    pub url: String,
    /// The directory to pack
    #[arg(long)]
    pub path: PathBuf,
    /// Where the content comes from, e.g. the Git URL (annotation org.opencontainers.image.source)
    #[arg(long)]
    pub source: String,
    /// The source's revision, e.g. main@sha1:<commit> (annotation org.opencontainers.image.revision)
    #[arg(long)]
    pub revision: String,
    /// Further manifest annotations (repeatable)
    #[arg(
        short = 'a',
        long = "annotation",
        visible_alias = "annotations",
        value_name = "KEY=VALUE"
    )]
    pub annotations: Vec<String>,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct PullArtifact {
    /// oci://HOST[:PORT]/REPOSITORY:TAG or oci://HOST[:PORT]/REPOSITORY@sha256:<hex>
    pub url: String,
    /// Directory to extract into (created; if it exists it must be empty)
    #[arg(short, long)]
    pub output: PathBuf,
    /// Print the digest and annotations (source, revision, created) as JSON on stdout
    #[arg(long)]
    pub print_metadata: bool,
    #[command(flatten)]
    pub access: Access,
}

pub async fn push(command: &PushCommand) -> Result<ExitCode> {
    let PushCommand::Artifact(args) = command;
    let url = oci_url(&args.url)?;
    let reference = sluice_oci::parse_reference(url)?;
    if reference.tag().is_none() || url.contains('@') {
        bail!("{}: push needs a tag (oci://HOST/REPOSITORY:TAG)", args.url);
    }
    let mut annotations = BTreeMap::new();
    for a in &args.annotations {
        let (k, v) = a
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .with_context(|| format!("--annotation '{a}': expected KEY=VALUE"))?;
        annotations.insert(k.to_string(), v.to_string());
    }
    let registry = registry(&args.access, reference.registry())?;
    eprintln!("► pushing artifact to {url}");
    let pushed = registry
        .push_artifact(
            url,
            &args.path,
            &sluice_oci::Metadata {
                source: args.source.clone(),
                revision: args.revision.clone(),
                created: None,
                annotations,
            },
        )
        .await
        .with_context(|| format!("cannot push {} to {}", args.path.display(), args.url))?;
    eprintln!("✔ artifact successfully pushed to {}", pushed.reference);
    println!("{}", pushed.reference);
    Ok(ExitCode::SUCCESS)
}

pub async fn pull(command: &PullCommand) -> Result<ExitCode> {
    let PullCommand::Artifact(args) = command;
    let url = oci_url(&args.url)?;
    let reference = sluice_oci::parse_reference(url)?;
    let repository = sluice_oci::repository_of(url)?;
    let registry = registry(&args.access, reference.registry())?;
    eprintln!("► pulling artifact from {url}");
    let manifest = registry
        .manifest(url)
        .await
        .with_context(|| format!("cannot resolve {}", args.url))?;
    let parsed: serde_json::Value = serde_json::from_str(&manifest.json)
        .with_context(|| format!("{}: the manifest is not JSON", args.url))?;
    let layers = parsed["layers"].as_array().cloned().unwrap_or_default();
    let media_type =
        |l: &serde_json::Value| l["mediaType"].as_str().unwrap_or_default().to_string();
    let layer = layers
        .iter()
        .find(|l| media_type(l) == sluice_oci::FLUX_CONTENT_MEDIA_TYPE)
        .or_else(|| layers.iter().find(|l| media_type(l).ends_with("tar+gzip")))
        .with_context(|| {
            format!(
                "{}: no Flux content layer ({}) nor tar+gzip layer in the artifact (layers: {})",
                args.url,
                sluice_oci::FLUX_CONTENT_MEDIA_TYPE,
                layers.iter().map(media_type).collect::<Vec<_>>().join(", ")
            )
        })?;
    let digest = layer["digest"]
        .as_str()
        .context("the layer has no digest")?;
    let annotations: BTreeMap<String, String> = parsed["annotations"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    for (label, key) in [
        ("source", sluice_oci::SOURCE_ANNOTATION),
        ("revision", sluice_oci::REVISION_ANNOTATION),
    ] {
        if let Some(v) = annotations.get(key) {
            eprintln!("✔ {label} {v}");
        }
    }
    let extracted = registry
        .pull_layer(&repository, digest, &args.output)
        .await
        .with_context(|| format!("cannot extract {} into {}", args.url, args.output.display()))?;
    eprintln!(
        "✔ artifact content extracted to {} ({} files, {} bytes)",
        args.output.display(),
        extracted.files,
        extracted.bytes
    );
    if args.print_metadata {
        let metadata = serde_json::json!({
            "url": format!("oci://{url}"),
            "digest": manifest.digest,
            "source": annotations.get(sluice_oci::SOURCE_ANNOTATION),
            "revision": annotations.get(sluice_oci::REVISION_ANNOTATION),
            "created": annotations.get(sluice_oci::CREATED_ANNOTATION),
            "annotations": annotations,
        });
        println!("{}", serde_json::to_string_pretty(&metadata)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn oci_url(url: &str) -> Result<&str> {
    match url.strip_prefix("oci://") {
        Some(rest) if !rest.is_empty() => Ok(rest),
        _ => bail!("'{url}' is not an OCI URL; write oci://HOST[:PORT]/REPOSITORY:TAG"),
    }
}

pub(crate) fn registry(access: &Access, host: &str) -> Result<Registry> {
    Ok(Registry::new(Options {
        credentials: credentials(access, host)?,
        insecure: access.insecure,
        ..Options::default()
    }))
}

/// `--creds`, else the Docker config's entry for `host`, else anonymous.
pub(crate) fn credentials(access: &Access, host: &str) -> Result<Credentials> {
    Ok(match &access.creds {
        Some(creds) => Credentials::from_user_password(creds).context("--creds")?,
        None => match docker_config() {
            Some(path) => {
                let json = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Credentials::from_docker_config(&json, host)
                    .with_context(|| path.display().to_string())?
            }
            None => Credentials::Anonymous,
        },
    })
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, if present.
pub(crate) fn docker_config() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))?;
    Some(dir.join("config.json")).filter(|p| p.is_file())
}
