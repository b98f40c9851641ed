//! `sluice bundle build|push|pull|sign|verify|keygen`: plugins and policies
//! shipped as one signed OCI artifact (see `sluice-bundle`). Keys and
//! signatures are cosign's, so `cosign verify --key cosign.pub` accepts a
//! bundle signed here and the other way round.

use crate::args::Format;
use crate::artifact::{Access, oci_url, registry};
use crate::output::table;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sluice_bundle::{Bundle, FetchOptions, Layout};
use sluice_cosign::sign::{SigningKey, generate_key_pair};
use sluice_plugin_host::PluginHost;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Build a bundle from DIR/bundle.yaml (or the built-ins) into an OCI image layout
    Build(BuildArgs),
    /// Push an OCI layout built by `bundle build`; prints oci://HOST/REPO@sha256:…
    Push {
        /// The OCI layout directory
        layout: PathBuf,
        /// oci://HOST[:PORT]/REPOSITORY:TAG
        url: String,
        #[command(flatten)]
        access: Access,
    },
    /// Fetch a bundle, verify every blob (and the signature with --key), write it as an OCI layout
    Pull {
        /// oci://HOST[:PORT]/REPOSITORY@sha256:… or …:TAG
        url: String,
        /// Directory to write the OCI layout to
        #[arg(short, long)]
        output: PathBuf,
        /// cosign.pub: refuse the bundle unless signed by this key (repeat: by any of them)
        #[arg(long)]
        key: Vec<PathBuf>,
        #[command(flatten)]
        access: Access,
    },
    /// Sign a pushed bundle with a cosign key (password in COSIGN_PASSWORD)
    Sign {
        /// oci://HOST[:PORT]/REPOSITORY@sha256:… (a tag is resolved to its digest)
        url: String,
        /// cosign.key, as `sluice bundle keygen` or `cosign generate-key-pair` write it
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        access: Access,
    },
    /// Check a bundle's signature by a key, its manifest digest and every blob's digest
    Verify {
        /// oci://HOST[:PORT]/REPOSITORY@sha256:… or …:TAG
        url: String,
        /// cosign.pub (repeat: a signature by any of them is accepted)
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        access: Access,
    },
    /// Write a cosign key pair, cosign.key (encrypted with COSIGN_PASSWORD) and cosign.pub
    Keygen {
        /// Where to write the two files
        #[arg(long, default_value = ".")]
        output_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Directory holding bundle.yaml
    #[arg(required_unless_present = "builtins", conflicts_with = "builtins")]
    pub dir: Option<PathBuf>,
    /// The plugins embedded in this binary, as the default bundle
    #[arg(long)]
    pub builtins: bool,
    /// The OCI layout directory to write (created, or replaced if it is one)
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn run(host: PluginHost, command: BundleCommand) -> Result<ExitCode> {
    match command {
        BundleCommand::Build(args) => build(&host, &args).await,
        BundleCommand::Push {
            layout,
            url,
            access,
        } => push(&layout, &url, &access).await,
        BundleCommand::Pull {
            url,
            output,
            key,
            access,
        } => pull(&url, &output, &key, &access).await,
        BundleCommand::Sign { url, key, access } => sign(&url, &key, &access).await,
        BundleCommand::Verify {
            url,
            key,
            format,
            access,
        } => verify(&url, &key, format, &access).await,
        BundleCommand::Keygen { output_dir } => keygen(&output_dir),
    }
}

async fn build(host: &PluginHost, args: &BuildArgs) -> Result<ExitCode> {
    let built = match &args.dir {
        Some(dir) => sluice_bundle::build_dir(host, dir).await?,
        None => sluice_bundle::build_builtins(host).await?,
    };
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    built.bundle.layout().write(&args.output)?;
    eprintln!(
        "✔ bundle {} {} written to {} ({} bytes, {})",
        built.bundle.manifest.name,
        built.bundle.manifest.version,
        args.output.display(),
        built.bundle.layout().size(),
        built.bundle.digest
    );
    print_bundle(&built.bundle, args.format)?;
    Ok(ExitCode::SUCCESS)
}

async fn push(layout: &Path, url: &str, access: &Access) -> Result<ExitCode> {
    let target = oci_url(url)?;
    let reference = sluice_oci::parse_reference(target)?;
    if reference.tag().is_none() || target.contains('@') {
        bail!("{url}: push needs a tag (oci://HOST/REPOSITORY:TAG)");
    }
    let layout = Layout::read(layout)?;
    let registry = registry(access, reference.registry())?;
    let started = Instant::now();
    let pushed = sluice_bundle::push(&registry, &layout, url).await?;
    eprintln!(
        "✔ bundle pushed ({} bytes in {:.2?}); sign it with: sluice bundle sign {pushed} --key cosign.key",
        layout.size(),
        started.elapsed()
    );
    println!("{pushed}");
    Ok(ExitCode::SUCCESS)
}

fn options(access: &Access, host: &str, keys: &[PathBuf]) -> Result<FetchOptions> {
    let verify_keys = keys
        .iter()
        .map(|k| std::fs::read_to_string(k).with_context(|| format!("cannot read {}", k.display())))
        .collect::<Result<Vec<_>>>()?;
    // The credentials the other OCI commands use (--creds, Docker config).
    let credentials = crate::artifact::credentials(access, host)?;
    Ok(FetchOptions {
        verify_keys,
        insecure: access.insecure,
        credentials,
        ..FetchOptions::default()
    })
}

async fn pull(url: &str, output: &Path, keys: &[PathBuf], access: &Access) -> Result<ExitCode> {
    let target = oci_url(url)?;
    let reference = sluice_oci::parse_reference(target)?;
    let options = options(access, reference.registry(), keys)?;
    let started = Instant::now();
    let bundle = sluice_bundle::fetch(url, &options).await?;
    bundle.layout().write(output)?;
    eprintln!(
        "✔ bundle {} {} ({}) pulled to {} in {:.2?}; every blob matches its digest{}",
        bundle.manifest.name,
        bundle.manifest.version,
        bundle.digest,
        output.display(),
        started.elapsed(),
        if !keys.is_empty() {
            ", signed by the key"
        } else {
            " (signature not checked: give --key cosign.pub)"
        }
    );
    print_bundle(&bundle, Format::Table)?;
    Ok(ExitCode::SUCCESS)
}

async fn sign(url: &str, key: &Path, access: &Access) -> Result<ExitCode> {
    let target = oci_url(url)?;
    let reference = sluice_oci::parse_reference(target)?;
    let pem = std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
    let password = std::env::var("COSIGN_PASSWORD").context(
        "COSIGN_PASSWORD is not set: export the password the key was made with (empty for none)",
    )?;
    let signing_key =
        SigningKey::from_encrypted_pem(&pem, password.as_bytes(), &key.display().to_string())?;
    if reference.digest().is_none() {
        eprintln!(
            "warning: {url} is a tag; signing the digest it names now (sign oci://…@sha256:… to be sure what you sign)"
        );
    }
    let registry = registry(access, reference.registry())?;
    let (digest, signed) = sluice_bundle::sign(&registry, url, &signing_key).await?;
    eprintln!("✔ signed {digest}; signature at {}", signed.signature_tag);
    println!("{}", signed.signature_tag);
    Ok(ExitCode::SUCCESS)
}

async fn verify(url: &str, keys: &[PathBuf], format: Format, access: &Access) -> Result<ExitCode> {
    let target = oci_url(url)?;
    let reference = sluice_oci::parse_reference(target)?;
    let options = options(access, reference.registry(), keys)?;
    let bundle = sluice_bundle::fetch(url, &options).await?;
    let keys: Vec<String> = keys.iter().map(|k| k.display().to_string()).collect();
    eprintln!(
        "✔ {url} ({}) is signed by {}; its manifest and all {} blobs match their digests",
        bundle.digest,
        keys.join(" or "),
        bundle.layout().blobs().len()
    );
    print_bundle(&bundle, format)?;
    Ok(ExitCode::SUCCESS)
}

fn keygen(dir: &Path) -> Result<ExitCode> {
    let password = std::env::var("COSIGN_PASSWORD").context(
        "COSIGN_PASSWORD is not set: export the password to encrypt cosign.key with (empty for none)",
    )?;
    let private = dir.join("cosign.key");
    let public = dir.join("cosign.pub");
    for p in [&private, &public] {
        if p.exists() {
            bail!(
                "{} exists; remove it or choose another --output-dir",
                p.display()
            );
        }
    }
    let files = generate_key_pair(password.as_bytes())?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_private(&private, files.private_pem.as_bytes())
        .with_context(|| format!("cannot write {}", private.display()))?;
    std::fs::write(&public, &files.public_pem)
        .with_context(|| format!("cannot write {}", public.display()))?;
    eprintln!(
        "✔ private key written to {} (keep it secret), public key to {} (give it to verifiers)",
        private.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Readable by the owner only, like cosign's.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(data)
}

fn print_bundle(bundle: &Bundle, format: Format) -> Result<()> {
    match format {
        Format::Json => {
            let mut value = serde_json::to_value(&bundle.manifest)?;
            value["digest"] = bundle.digest.clone().into();
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        Format::Table => {
            let mut rows: Vec<Vec<String>> = bundle
                .manifest
                .plugins
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.kind.to_string(),
                        p.version.clone(),
                        p.size.to_string(),
                        if p.capabilities.is_empty() {
                            "-".into()
                        } else {
                            let names: Vec<&str> =
                                p.capabilities.0.iter().map(|c| c.as_str()).collect();
                            names.join(",")
                        },
                        p.digest.clone(),
                    ]
                })
                .collect();
            rows.extend(bundle.policies().iter().map(|p| {
                vec![
                    p.name.clone(),
                    "policies".into(),
                    "-".into(),
                    p.policies.len().to_string(),
                    "-".into(),
                    p.digest.clone(),
                ]
            }));
            print!(
                "{}",
                table(
                    &["NAME", "KIND", "VERSION", "SIZE", "CAPABILITIES", "DIGEST"],
                    &rows
                )
            );
        }
    }
    Ok(())
}
