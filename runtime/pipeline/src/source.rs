//! From a `Source` object to what its plugin may do: which plugin, which
//! endpoints it may reach (only those of its own `spec.url`), which secret,
//! and how long it may take.

use crate::error::{At, Error, Result};
use sluice_plugin_host::cosign::Cache;
use sluice_plugin_host::{CosignGrant, Grants, OciGrant, Secret, TransferLimits, UrlPrefix};
use sluice_types::{Loaded, Objects, SourceSpec};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Flux's default timeout for a source fetch.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How one Source is fetched.
#[derive(Debug)]
pub(crate) struct Plan {
    pub plugin: String,
    /// The URL given to the plugin: `spec.url`, with relative `file://`
    /// paths made absolute against the declaring file.
    pub url: String,
    /// For `file://` URLs: the directory, preopened at `/source`.
    pub local_dir: Option<PathBuf>,
    pub secret: Option<String>,
    pub insecure: bool,
    pub timeout: Duration,
    pub grants: Arc<Grants>,
    /// The `verify` entry for the plugin's config (`spec.verify`).
    pub verify: Option<serde_json::Value>,
}

/// Works out the plan for `source`, resolving its secret from `objects`;
/// signature checks (`spec.verify`) keep their results in `cosign_cache`.
pub(crate) fn plan(
    source: &Loaded,
    spec: &SourceSpec,
    objects: &Objects,
    at: &At,
    cosign_cache: &Arc<Cache>,
) -> Result<Plan> {
    let reference = |field: &'static str, message: String| Error::Reference {
        at: at.clone(),
        field,
        message,
    };
    let (scheme, rest) = spec
        .url
        .split_once("://")
        .unwrap_or(("file", spec.url.as_str()));
    let scheme = scheme.to_ascii_lowercase();
    let timeout = spec.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let mut grants = Grants {
        transfer: TransferLimits {
            timeout,
            ..TransferLimits::default()
        },
        ..Grants::default()
    };

    let mut url = spec.url.clone();
    let mut local_dir = None;
    match scheme.as_str() {
        "file" => {
            let dir = source.base_dir().join(rest);
            if !dir.is_dir() {
                return Err(reference(
                    "spec.url",
                    format!(
                        "{} is not a directory; the path is relative to the file that declares the Source",
                        dir.display()
                    ),
                ));
            }
            let absolute = std::path::absolute(&dir).unwrap_or(dir.clone());
            url = format!("file://{}", absolute.display());
            // A Git repository on disk is reached through the git transport.
            grants.git.push(url.clone());
            local_dir = Some(dir);
        }
        "oci" => {
            let repository = oci_repository(rest).ok_or_else(|| {
                reference(
                    "spec.url",
                    "an OCI URL is oci://HOST[:PORT]/REPOSITORY (the tag or digest goes in spec.config.ref)".into(),
                )
            })?;
            grants.oci.push(OciGrant {
                repository,
                insecure: spec.insecure,
            });
        }
        "s3" => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket = path.split('/').next().unwrap_or("");
            if host.is_empty() || bucket.is_empty() {
                return Err(reference(
                    "spec.url",
                    "a bucket URL is s3://ENDPOINT[:PORT]/BUCKET[/PREFIX]".into(),
                ));
            }
            let http = if spec.insecure { "http" } else { "https" };
            grants
                .http
                .push(UrlPrefix::new(format!("{http}://{host}/{bucket}")));
            grants
                .http
                .push(UrlPrefix::new(format!("{http}://{bucket}.{host}/")));
        }
        "http" | "https" | "git" | "ssh" => {
            if scheme == "http" || scheme == "https" {
                grants.http.push(UrlPrefix::new(spec.url.clone()));
            }
            grants.git.push(spec.url.clone());
        }
        other => {
            return Err(reference(
                "spec.url",
                format!(
                    "'{other}://' URLs are not supported; use file://, https://, http://, git://, ssh://, oci:// or s3://"
                ),
            ));
        }
    }

    let plugin = match &spec.plugin {
        Some(p) => p.clone(),
        None => default_plugin(&scheme, &spec.url)
            .ok_or_else(|| {
                reference(
                    "spec.plugin",
                    format!(
                        "cannot tell which source plugin handles '{}': set spec.plugin (git, oci, bucket, archive or a Plugin object)",
                        spec.url
                    ),
                )
            })?
            .to_owned(),
    };

    let secret = match &spec.secret_ref {
        Some(r) => {
            let found = objects.secret(source.namespace(), &r.name).ok_or_else(|| {
                reference(
                    "spec.secretRef",
                    format!(
                        "no Secret named '{}' in namespace '{}'; declare it (apiVersion v1, kind Secret) in the files given to sluice",
                        r.name,
                        source.namespace()
                    ),
                )
            })?;
            grants
                .secrets
                .insert(r.name.clone(), Secret(found.data.clone()));
            Some(r.name.clone())
        }
        None => None,
    };

    let verify = match &spec.verify {
        None => None,
        Some(_) if scheme != "oci" => {
            return Err(reference(
                "spec.verify",
                "signatures are verified for oci:// sources only".into(),
            ));
        }
        Some(v) => {
            let (config, trusted_root) =
                crate::cosign::source_verify(v, objects, source.namespace(), at)?;
            grants.cosign = Some(CosignGrant {
                repositories: grants.oci.clone(),
                trusted_root,
                cache: cosign_cache.clone(),
            });
            Some(config)
        }
    };

    Ok(Plan {
        plugin,
        url,
        local_dir,
        secret,
        insecure: spec.insecure,
        timeout,
        grants: Arc::new(grants),
        verify,
    })
}

/// The built-in plugin for a URL, as Flux picks a source kind.
fn default_plugin(scheme: &str, url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.trim_end_matches('/');
    match scheme {
        "file" => Some("local"),
        "oci" => Some("oci"),
        "s3" => Some("bucket"),
        "git" | "ssh" => Some("git"),
        "http" | "https" if path.ends_with(".git") => Some("git"),
        "http" | "https"
            if [".tar.gz", ".tgz", ".zip"]
                .iter()
                .any(|ext| path.ends_with(ext)) =>
        {
            Some("archive")
        }
        _ => None,
    }
}

/// `HOST[:PORT]/REPO[:TAG|@DIGEST]` → `HOST[:PORT]/REPO`.
fn oci_repository(rest: &str) -> Option<String> {
    let rest = rest.split('@').next()?;
    let (host, path) = rest.split_once('/')?;
    // A tag is a colon after the last slash; a port's colon is before it.
    let path = match path.rsplit_once('/') {
        Some((dir, last)) => format!("{dir}/{}", last.split(':').next()?),
        None => path.split(':').next()?.to_owned(),
    };
    (!host.is_empty() && !path.is_empty()).then(|| format!("{host}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plugins_follow_the_url() {
        assert_eq!(
            default_plugin("https", "https://h/org/repo.git"),
            Some("git")
        );
        assert_eq!(default_plugin("git", "git://h/repo"), Some("git"));
        assert_eq!(
            default_plugin("https", "https://h/a/b.tar.gz?x=1"),
            Some("archive")
        );
        assert_eq!(default_plugin("http", "http://h/a.zip"), Some("archive"));
        assert_eq!(default_plugin("oci", "oci://h/r"), Some("oci"));
        assert_eq!(default_plugin("s3", "s3://h/b"), Some("bucket"));
        assert_eq!(default_plugin("https", "https://h/org/repo"), None);
    }

    #[test]
    fn oci_repositories_drop_tags_and_digests_but_keep_ports() {
        assert_eq!(
            oci_repository("127.0.0.1:5000/apps/web").unwrap(),
            "127.0.0.1:5000/apps/web"
        );
        assert_eq!(
            oci_repository("127.0.0.1:5000/apps/web:v1").unwrap(),
            "127.0.0.1:5000/apps/web"
        );
        assert_eq!(
            oci_repository("ghcr.io/org/app@sha256:ab").unwrap(),
            "ghcr.io/org/app"
        );
        assert_eq!(oci_repository("ghcr.io/app:1.0").unwrap(), "ghcr.io/app");
        assert!(oci_repository("ghcr.io").is_none());
    }
}
