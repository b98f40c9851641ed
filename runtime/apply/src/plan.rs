//! From manifests to an ordered plan: each object checked for identity,
//! its namespace defaulted (or dropped for cluster-scoped kinds), labelled
//! as a member of the set, and its kind resolved. A kind the cluster does
//! not serve yet is accepted only when a CustomResourceDefinition in the
//! same set defines it; it is resolved once that CRD is established.

use std::collections::HashSet;

use crate::retry::Cluster;
use serde_json::{Value, json};
use sluice_types::{Manifest, ResourceRef};

use crate::discovery::{Resolver, Served};
use crate::error::Error;
use crate::inventory::{Member, PART_OF};
use crate::order::{self, Phase};
use crate::target::Target;

#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub reference: ResourceRef,
    pub group: String,
    pub version: String,
    pub namespaced: bool,
    pub phase: Phase,
    pub object: Value,
    /// `None` until the CRD of the set that defines the kind is served.
    pub served: Option<Served>,
}

impl Planned {
    pub fn member(&self) -> Member {
        Member {
            group: self.group.clone(),
            kind: self.reference.kind.clone(),
            namespace: self.reference.namespace.clone(),
            name: self.reference.name.clone(),
            version: self.version.clone(),
        }
    }

    pub fn target(&self) -> Option<Target> {
        Some(Target {
            reference: self.reference.clone(),
            served: self.served.clone()?,
            object: self.object.clone(),
        })
    }

    pub fn is_crd(&self) -> bool {
        order::is_crd(&self.group, &self.reference.kind)
    }

    pub fn is_namespace(&self) -> bool {
        order::is_namespace(&self.group, &self.reference.kind)
    }
}

/// A kind defined by a CRD of the set: group, kind, served versions, scope.
struct Defined {
    group: String,
    kind: String,
    versions: Vec<String>,
    namespaced: bool,
}

fn defined_kinds(manifests: &[Manifest]) -> Vec<Defined> {
    manifests
        .iter()
        .map(|m| &m.object)
        .filter(|o| {
            o["kind"] == order::CRD_KIND
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with(order::CRD_GROUP))
        })
        .map(|crd| Defined {
            group: crd["spec"]["group"].as_str().unwrap_or_default().to_owned(),
            kind: crd["spec"]["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            versions: crd["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["served"] != false)
                .filter_map(|v| v["name"].as_str().map(str::to_owned))
                .collect(),
            namespaced: crd["spec"]["scope"] == "Namespaced",
        })
        .collect()
}

/// Checks, labels and resolves every manifest; sorted by phase, input
/// order kept within a phase.
pub(crate) async fn plan(
    cluster: &Cluster,
    resolver: &mut Resolver,
    manifests: &[Manifest],
    default_namespace: &str,
    applyset_id: &str,
) -> Result<Vec<Planned>, Error> {
    let defined = defined_kinds(manifests);
    let mut seen = HashSet::new();
    let mut planned = Vec::with_capacity(manifests.len());
    for (index, manifest) in manifests.iter().enumerate() {
        let mut object = manifest.object.clone();
        let mut reference = manifest.resource();
        let invalid = |reference: &ResourceRef, message: String| {
            let object = match &manifest.origin {
                Some(origin) => format!("{origin}: {reference}"),
                None if reference.kind.is_empty() => format!("manifest #{}", index + 1),
                None => reference.to_string(),
            };
            Error::InvalidManifest { object, message }
        };
        if reference.api_version.is_empty()
            || reference.kind.is_empty()
            || reference.name.is_empty()
        {
            return Err(invalid(
                &reference,
                "apiVersion, kind and metadata.name are required".into(),
            ));
        }
        let (group, version) = match reference.api_version.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), reference.api_version.clone()),
        };
        let served = resolver
            .resolve(cluster, &reference.api_version, &reference.kind)
            .await
            .map_err(|e| Error::from_kube(&reference, "discover kind", e))?;
        let namespaced = match &served {
            Some(s) => s.namespaced,
            None => defined
                .iter()
                .find(|d| {
                    d.group == group && d.kind == reference.kind && d.versions.contains(&version)
                })
                .map(|d| d.namespaced)
                .ok_or_else(|| Error::NotServed {
                    object: reference.to_string(),
                    api_version: reference.api_version.clone(),
                    kind: reference.kind.clone(),
                })?,
        };
        let metadata = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| invalid(&reference, "metadata must be a mapping".into()))?;
        if namespaced {
            if reference.namespace.is_empty() {
                reference.namespace = default_namespace.to_owned();
            }
            metadata.insert("namespace".into(), json!(reference.namespace));
        } else {
            metadata.remove("namespace");
            reference.namespace.clear();
        }
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| invalid(&reference, "metadata.labels must be a mapping".into()))?;
        if let Some(other) = labels.get(PART_OF).and_then(Value::as_str)
            && other != applyset_id
        {
            return Err(invalid(
                &reference,
                format!("label {PART_OF} is set to {other}; remove it, sluice sets it"),
            ));
        }
        labels.insert(PART_OF.into(), json!(applyset_id));
        let key = (
            group.clone(),
            reference.kind.clone(),
            reference.namespace.clone(),
            reference.name.clone(),
        );
        if !seen.insert(key) {
            return Err(invalid(
                &reference,
                "the object appears twice in the set; keep one".into(),
            ));
        }
        planned.push(Planned {
            phase: order::phase(&group, &reference.kind, namespaced),
            reference,
            group,
            version,
            namespaced,
            object,
            served,
        });
    }
    planned.sort_by_key(|p| p.phase);
    Ok(planned)
}
