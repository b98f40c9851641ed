//! Plugins and policies from OCI bundles (`spec.bundle` of a Plugin or a
//! PolicySet): the reference pinned to a digest (in the URL, or by
//! `sluice.lock`), the bundle fetched and verified by `sluice-bundle`
//! (manifest digest, every blob, the cosign signature when `verify` names a
//! key), once per pipeline. Every refusal points at the declaring object.

use crate::authority::Authority;
use crate::error::{At, Error, Result};
use sluice_bundle::Bundle;
use sluice_types::object::{BundleLocation, PluginBundle, PolicySetBundle};
use sluice_types::{Capabilities, Loaded, Objects, PluginSpec, PolicyRef};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Bundles fetched by one pipeline, by pinned reference.
#[derive(Debug, Default)]
pub(crate) struct Fetched(Mutex<HashMap<String, Arc<Bundle>>>);

/// `oci://host/repo:tag` → (`oci://host/repo`, `tag`); `None` for a
/// reference without a tag.
pub fn split_tag(url: &str) -> Option<(&str, &str)> {
    let name_start = url.rfind('/')? + 1;
    let colon = url[name_start..].find(':')? + name_start;
    Some((&url[..colon], &url[colon + 1..]))
}

/// The reference to fetch: `url` itself when it carries a digest, else its
/// repository at the digest `sluice.lock` pins it to, else (only with
/// `allowUnpinned`) the tag as it is.
fn pinned(location: &BundleLocation, authority: &Authority, at: &At) -> Result<String> {
    if location.digest().is_some() {
        return Ok(location.url.to_owned());
    }
    let repository = split_tag(location.url).map_or(location.url, |(r, _)| r);
    if let Some((_, lock)) = &authority.lock
        && let Some(digest) = lock.digest(location.url)
    {
        return Ok(format!("{repository}@{digest}"));
    }
    if location.allow_unpinned {
        return Ok(location.url.to_owned());
    }
    let how = match &authority.lock {
        Some((path, _)) => format!(
            "run `sluice plugin update` to pin it in {}, or pin {repository}@sha256:…, or set spec.bundle.allowUnpinned: true",
            path.display()
        ),
        None => format!(
            "pin {repository}@sha256:… (`sluice plugin update` writes the digest of each tag to sluice.lock), or set spec.bundle.allowUnpinned: true"
        ),
    };
    Err(Error::Reference {
        at: at.clone(),
        field: "spec.bundle.url",
        message: format!("{} is not pinned: {how}", location.url),
    })
}

/// Each PEM block of `text` (a `publicKey` or a `*.pub` entry may hold
/// several keys one after another); the text as it is when it has none, so
/// the cosign check says what is wrong with it.
fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        }
        if let Some(block) = &mut current {
            block.push_str(line);
            block.push('\n');
            if line.starts_with("-----END ") {
                blocks.extend(current.take());
            }
        }
    }
    if blocks.is_empty() {
        blocks.push(text.to_owned());
    }
    blocks
}

/// The PEM keys `verify` names: inline, or every `*.pub` entry of its
/// Secret; a signature by any one of them is accepted.
fn keys(location: &BundleLocation, objects: &Objects, ns: &str, at: &At) -> Result<Vec<String>> {
    let Some(verify) = location.verify else {
        return Ok(Vec::new());
    };
    let error = |message: String| Error::Reference {
        at: at.clone(),
        field: "spec.bundle.verify",
        message,
    };
    if let Some(pem) = &verify.public_key {
        return Ok(pem_blocks(pem));
    }
    let Some(secret_ref) = &verify.secret_ref else {
        return Err(error(
            "set publicKey (a PEM key) or secretRef (a Secret with *.pub entries)".into(),
        ));
    };
    let secret = objects.secret(ns, &secret_ref.name).ok_or_else(|| {
        error(format!(
            "no Secret named '{}' in namespace '{ns}'; declare it (apiVersion v1, kind Secret) with the cosign public key in an entry named cosign.pub",
            secret_ref.name
        ))
    })?;
    let keys: Vec<String> = secret
        .data
        .iter()
        .filter(|(k, _)| k.ends_with(".pub"))
        .flat_map(|(_, v)| pem_blocks(&String::from_utf8_lossy(v)))
        .collect();
    if keys.is_empty() {
        return Err(error(format!(
            "Secret '{}' ({}:{}) has no *.pub entry; put the cosign public key in an entry named cosign.pub",
            secret_ref.name,
            secret.file.display(),
            secret.line
        )));
    }
    Ok(keys)
}

/// Registry credentials from the `.dockerconfigjson` of `secretRef`, else
/// from the authority's Docker config, else none.
fn credentials(
    location: &BundleLocation,
    authority: &Authority,
    objects: &Objects,
    ns: &str,
    at: &At,
) -> Result<sluice_oci::Credentials> {
    let host = sluice_oci::strip_scheme(location.url)
        .split('/')
        .next()
        .unwrap_or_default();
    let Some(secret_ref) = location.secret_ref else {
        let Some(path) = &authority.docker_config else {
            return Ok(sluice_oci::Credentials::Anonymous);
        };
        let error = |message: String| Error::Reference {
            at: at.clone(),
            field: "spec.bundle.url",
            message: format!(
                "{message} (the Docker config is read because spec.bundle.secretRef is not set)"
            ),
        };
        let json = std::fs::read(path)
            .map_err(|e| error(format!("cannot read {}: {e}", path.display())))?;
        return sluice_oci::Credentials::from_docker_config(&json, host)
            .map_err(|e| error(format!("{}: {e}", path.display())));
    };
    let error = |message: String| Error::Reference {
        at: at.clone(),
        field: "spec.bundle.secretRef",
        message,
    };
    let secret = objects.secret(ns, &secret_ref.name).ok_or_else(|| {
        error(format!(
            "no Secret named '{}' in namespace '{ns}'; declare it (type kubernetes.io/dockerconfigjson) with the registry credentials",
            secret_ref.name
        ))
    })?;
    let json = secret.data.get(".dockerconfigjson").ok_or_else(|| {
        error(format!(
            "Secret '{}' has no .dockerconfigjson entry (make it with kubectl create secret docker-registry)",
            secret_ref.name
        ))
    })?;
    sluice_oci::Credentials::from_docker_config(json, host).map_err(|e| error(e.to_string()))
}

/// Fetches (once per pipeline) and verifies the bundle `location` names,
/// for `obj` (a Plugin or PolicySet).
pub(crate) async fn fetch(
    fetched: &Fetched,
    authority: &Authority,
    objects: &Objects,
    obj: &Loaded,
    location: BundleLocation<'_>,
    at: &At,
) -> Result<Arc<Bundle>> {
    let reference = pinned(&location, authority, at)?;
    let keys = keys(&location, objects, obj.namespace(), at)?;
    let credentials = credentials(&location, authority, objects, obj.namespace(), at)?;
    // One fetch per reference and key set: another object naming the same
    // bundle with other keys is checked against its own keys.
    let cache_key = format!("{reference} {}", keys.join(" "));
    let mut fetched = fetched.0.lock().await;
    if let Some(b) = fetched.get(&cache_key) {
        return Ok(b.clone());
    }
    let options = sluice_bundle::FetchOptions {
        verify_keys: keys,
        insecure: location.insecure,
        credentials,
        cache_dir: authority.bundle_cache.clone(),
        ..sluice_bundle::FetchOptions::default()
    };
    let bundle = sluice_bundle::fetch(&reference, &options)
        .await
        .map_err(|e| refusal(e, at))?;
    let bundle = Arc::new(bundle);
    fetched.insert(cache_key, bundle.clone());
    Ok(bundle)
}

/// A fetch failure at the object: a bundle that is not what was pinned or
/// signed is refused for good (the spec must change); an unreachable
/// registry is worth trying again.
fn refusal(e: sluice_bundle::Error, at: &At) -> Error {
    match e {
        sluice_bundle::Error::Registry { .. } => Error::Io {
            at: at.clone(),
            message: format!("spec.bundle.url: {e}"),
        },
        sluice_bundle::Error::Unsigned { .. } | sluice_bundle::Error::Rejected { .. } => {
            Error::Reference {
                at: at.clone(),
                field: "spec.bundle.verify",
                message: e.to_string(),
            }
        }
        other => Error::Reference {
            at: at.clone(),
            field: "spec.bundle.url",
            message: other.to_string(),
        },
    }
}

/// The component of Plugin object `obj` from its bundle, and the
/// capabilities its bundle entry declares.
pub(crate) async fn component(
    catalog: &crate::Catalog,
    obj: &Loaded,
    spec: &PluginSpec,
    bundle_ref: &PluginBundle,
    at: &At,
) -> Result<(Vec<u8>, Capabilities)> {
    let bundle = fetch(
        &catalog.bundles,
        catalog.authority(),
        catalog.objects(),
        obj,
        bundle_ref.location(),
        at,
    )
    .await?;
    let name = bundle_ref.plugin.as_deref().unwrap_or(obj.name());
    let not_found = |e: sluice_bundle::Error| Error::Reference {
        at: at.clone(),
        field: "spec.bundle.plugin",
        message: e.to_string(),
    };
    let entry = bundle.plugin(name).map_err(not_found)?;
    if entry.kind != spec.kind {
        return Err(Error::Reference {
            at: at.clone(),
            field: "spec.kind",
            message: format!(
                "the bundle's plugin '{name}' is a {} plugin, not a {} one",
                entry.kind, spec.kind
            ),
        });
    }
    let declared = entry.capabilities.clone();
    let wasm = bundle.component(name).map_err(not_found)?.to_vec();
    Ok((wasm, declared))
}

/// The policies a PolicySet's bundle adds (those `policies` names, or
/// all), each with the name of the bundle policy list it came from.
pub(crate) async fn policies(
    catalog: &crate::Catalog,
    set: &Loaded,
    bundle_ref: &PolicySetBundle,
    at: &At,
) -> Result<(Arc<Bundle>, Vec<(String, PolicyRef)>)> {
    let bundle = fetch(
        &catalog.bundles,
        catalog.authority(),
        catalog.objects(),
        set,
        bundle_ref.location(),
        at,
    )
    .await?;
    let lists = bundle.policies();
    if let Some(missing) = bundle_ref
        .policies
        .iter()
        .find(|n| !lists.iter().any(|l| &l.name == *n))
    {
        let have: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
        return Err(Error::Reference {
            at: at.clone(),
            field: "spec.bundle.policies",
            message: format!(
                "bundle {} has no policies named '{missing}'; it has: {}",
                bundle_ref.url,
                have.join(", ")
            ),
        });
    }
    let chosen = lists
        .iter()
        .filter(|l| bundle_ref.policies.is_empty() || bundle_ref.policies.contains(&l.name))
        .flat_map(|l| l.policies.iter().map(|p| (l.name.clone(), p.clone())))
        .collect();
    Ok((bundle.clone(), chosen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_types::Lockfile;
    use std::path::PathBuf;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn at() -> At {
        At {
            file: "p.yaml".into(),
            line: 3,
            object: "Plugin 'x'".into(),
        }
    }

    fn location(url: &str, allow_unpinned: bool) -> BundleLocation<'_> {
        BundleLocation {
            url,
            verify: None,
            secret_ref: None,
            insecure: false,
            allow_unpinned,
        }
    }

    #[test]
    fn several_keys_in_one_value_are_several_keys() {
        let one = "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n";
        let two = "-----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----";
        assert_eq!(pem_blocks(one), [one]);
        assert_eq!(
            pem_blocks(&format!("{one}\n  {two}\n")),
            [one.to_string(), format!("{two}\n")]
        );
        assert_eq!(pem_blocks("not a key"), ["not a key"]);
    }

    #[test]
    fn splits_tags_after_the_port() {
        assert_eq!(
            split_tag("oci://127.0.0.1:5000/a/b:1.0"),
            Some(("oci://127.0.0.1:5000/a/b", "1.0"))
        );
        assert_eq!(split_tag("oci://127.0.0.1:5000/a/b"), None);
    }

    #[test]
    fn tags_resolve_through_the_lock_or_are_refused() {
        let url = "oci://r.example/b:1.0";
        let mut lock = Lockfile::default();
        lock.pin(url, DIGEST);
        let locked = Authority {
            lock: Some((PathBuf::from("dir/sluice.lock"), lock)),
            ..Authority::default()
        };
        assert_eq!(
            pinned(&location(url, false), &locked, &at()).unwrap(),
            format!("oci://r.example/b@{DIGEST}")
        );
        let pinned_url = format!("oci://r.example/b@{DIGEST}");
        assert_eq!(
            pinned(&location(&pinned_url, false), &Authority::default(), &at()).unwrap(),
            pinned_url
        );

        let empty = Authority {
            lock: Some((PathBuf::from("dir/sluice.lock"), Lockfile::default())),
            ..Authority::default()
        };
        let e = pinned(&location(url, false), &empty, &at())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "p.yaml:3: Plugin 'x': spec.bundle.url: oci://r.example/b:1.0 is not pinned: run `sluice plugin update` to pin it in dir/sluice.lock, or pin oci://r.example/b@sha256:…, or set spec.bundle.allowUnpinned: true"
        );
        assert_eq!(
            pinned(&location(url, true), &empty, &at()).unwrap(),
            url,
            "allowUnpinned takes the tag as it is"
        );
        // The controller has no lock: the digest must be in the URL.
        let e = pinned(&location(url, false), &Authority::default(), &at())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is not pinned: pin oci://r.example/b@sha256:…"),
            "{e}"
        );
    }
}
