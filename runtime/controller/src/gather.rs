//! The objects one Release needs, read from the cluster into the
//! [`Objects`] the pipeline takes: the Release, its Source, its PolicySets,
//! the namespace's Plugin objects, and only the Secrets and ConfigMaps it
//! names (`substituteFrom` ones as the Release's service account).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt};
use serde::de::DeserializeOwned;
use sluice_types::crd::{Plugin, PolicySet, Release, Source, loaded};
use sluice_types::object::SubstituteKind;
use sluice_types::{ConfigMapData, Objects, SecretData};
use std::path::PathBuf;

use crate::Context;

/// Everything `release` refers to that exists; a missing reference is left
/// for the pipeline to report with the field that names it.
pub(crate) async fn objects(
    ctx: &Context,
    release: &Release,
    source: Option<&Source>,
) -> Result<Objects, String> {
    let ns = release.namespace().unwrap_or_default();
    let spec = &release.spec;
    let mut objects = Objects::default();
    objects.items.push(loaded(release.to_object()));
    let mut secrets: Vec<(String, String)> = Vec::new();
    if let Some(source) = source {
        objects.items.push(loaded(source.to_object()));
        if let Some(r) = &source.spec.secret_ref {
            secrets.push((source.namespace().unwrap_or_default(), r.name.clone()));
        }
    }
    for set in &spec.policy_set_refs {
        let set_ns = set.namespace.clone().unwrap_or_else(|| ns.clone());
        let api: Api<PolicySet> = Api::namespaced(ctx.client.clone(), &set_ns);
        if let Some(found) = get(&api, "PolicySet", &set_ns, &set.name).await? {
            objects.items.push(loaded(found.to_object()));
        }
    }
    let plugins: Api<Plugin> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = plugins
        .list(&Default::default())
        .await
        .map_err(|e| format!("cannot list Plugins in namespace '{ns}': {e}"))?;
    objects
        .items
        .extend(listed.items.iter().map(|p| loaded(p.to_object())));

    if let Some(r) = spec.decryption.as_ref().and_then(|d| d.secret_ref.as_ref()) {
        secrets.push((ns.clone(), r.name.clone()));
    }
    // Bundles' registry credentials and verification keys (spec.bundle of
    // Plugins and PolicySets) are the controller's, as a Source's are.
    for item in &objects.items {
        let location = match &item.object {
            sluice_types::Object::Plugin(_, s) => s.bundle.as_ref().map(|b| b.location()),
            sluice_types::Object::PolicySet(_, s) => s.bundle.as_ref().map(|b| b.location()),
            _ => None,
        };
        let Some(location) = location else { continue };
        let named = location
            .secret_ref
            .into_iter()
            .chain(location.verify.and_then(|v| v.secret_ref.as_ref()));
        for r in named {
            secrets.push((item.namespace().to_owned(), r.name.clone()));
        }
    }
    // Substitution variables are read as the tenant, as Flux reads them
    // with the impersonating client: a Release cannot reach values its
    // service account may not read. Source and decryption credentials are
    // the controller's.
    let tenant = ctx
        .tenants
        .client(release, ctx.options.default_service_account.as_deref())?;
    let mut secrets: Vec<(kube::Client, String, String)> = secrets
        .into_iter()
        .map(|(secret_ns, name)| (ctx.client.clone(), secret_ns, name))
        .collect();
    let mut config_maps = Vec::new();
    for r in spec.post_build.iter().flat_map(|p| &p.substitute_from) {
        match r.kind {
            SubstituteKind::Secret => secrets.push((tenant.clone(), ns.clone(), r.name.clone())),
            SubstituteKind::ConfigMap => config_maps.push(r.name.clone()),
        }
    }
    for (client, secret_ns, name) in secrets {
        let api: Api<Secret> = Api::namespaced(client, &secret_ns);
        if let Some(secret) = get(&api, "Secret", &secret_ns, &name).await? {
            let doc = document(&secret, "Secret")?;
            // The message names the key at fault, never a value.
            let data =
                SecretData::from_document(&doc, PathBuf::from(sluice_types::crd::CLUSTER_FILE), 0)
                    .map_err(|e| format!("Secret '{secret_ns}/{name}': {e}"))?;
            objects.secrets.push(data);
        }
    }
    for name in config_maps {
        let api: Api<ConfigMap> = Api::namespaced(tenant.clone(), &ns);
        if let Some(map) = get(&api, "ConfigMap", &ns, &name).await? {
            let doc = document(&map, "ConfigMap")?;
            let data = ConfigMapData::from_document(
                &doc,
                PathBuf::from(sluice_types::crd::CLUSTER_FILE),
                0,
            )
            .map_err(|e| format!("ConfigMap '{ns}/{name}': {e}"))?;
            objects.config_maps.push(data);
        }
    }
    Ok(objects)
}

async fn get<K>(api: &Api<K>, kind: &str, ns: &str, name: &str) -> Result<Option<K>, String>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name)
        .await
        .map_err(|e| format!("cannot read {kind} '{ns}/{name}': {e}"))
}

fn document<K: serde::Serialize>(object: &K, kind: &str) -> Result<serde_json::Value, String> {
    let mut doc = serde_json::to_value(object).map_err(|e| format!("cannot read a {kind}: {e}"))?;
    doc["apiVersion"] = "v1".into();
    doc["kind"] = kind.into();
    Ok(doc)
}
