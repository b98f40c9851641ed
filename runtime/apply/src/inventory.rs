//! The release's inventory, kept as a kubectl ApplySet (KEP-3659) so
//! `kubectl` users recognise it: a ConfigMap parent labelled with the set's
//! id, members labelled `part-of` that id. The parent also lists its members
//! explicitly (`data.inventory`), so pruning reads one object instead of
//! listing every kind in every namespace.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::api::core::v1::ConfigMap;

use kube::api::{Api, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluice_types::ResourceRef;

use crate::error::Error;
use crate::retry::Cluster;

/// Label on every member: the id of the set it belongs to.
pub const PART_OF: &str = "applyset.kubernetes.io/part-of";
/// Label on the parent: the set's id.
pub const ID: &str = "applyset.kubernetes.io/id";
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";
pub const GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const ADDITIONAL_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
/// Our `tooling` value; KEP-3659 tools refuse sets owned by another tool.
pub const TOOLING_VALUE: &str = concat!("sluice/v", env!("CARGO_PKG_VERSION"));
const INVENTORY_KEY: &str = "inventory";

/// One object of the set, as recorded in the parent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    pub version: String,
}

impl Member {
    /// Identity without the version: the same object under another
    /// apiVersion is still the same member.
    pub fn key(&self) -> (&str, &str, &str, &str) {
        (&self.group, &self.kind, &self.namespace, &self.name)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn reference(&self) -> ResourceRef {
        ResourceRef {
            api_version: self.api_version(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// `Kind` for the core group, `Kind.group` otherwise, as the
    /// `contains-group-kinds` annotation spells it.
    fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// The parent ConfigMap of one release's ApplySet.
#[derive(Debug, Clone)]
pub struct ApplySet {
    pub name: String,
    pub namespace: String,
    id: String,
}

impl ApplySet {
    /// The set of release `release` in `namespace`, parent `sluice-<release>`.
    pub fn for_release(release: &str, namespace: &str) -> Self {
        let name = format!("sluice-{release}");
        let id = applyset_id(&name, namespace, "ConfigMap", "");
        ApplySet {
            name,
            namespace: namespace.to_owned(),
            id,
        }
    }

    /// The value of `applyset.kubernetes.io/id` and members' `part-of`.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn parent(&self) -> String {
        format!("ConfigMap/{}/{}", self.namespace, self.name)
    }

    fn api(&self, cluster: &Cluster) -> Api<ConfigMap> {
        Api::namespaced(cluster.client.clone(), &self.namespace)
    }

    /// The members recorded by the last run; empty when there is no parent
    /// (or its namespace does not exist yet).
    pub(crate) async fn load(&self, cluster: &Cluster) -> Result<Vec<Member>, Error> {
        let api = self.api(cluster);
        let parent = cluster
            .call(|| api.get_opt(&self.name))
            .await
            .map_err(|e| Error::from_kube(&self.parent(), "read inventory", e))?;
        let Some(parent) = parent else {
            return Ok(Vec::new());
        };
        let invalid = |message: String| Error::Inventory {
            parent: self.parent(),
            message,
        };
        let labels = parent.metadata.labels.unwrap_or_default();
        if labels.get(ID).is_some_and(|id| id != &self.id) {
            return Err(invalid(format!(
                "label {ID} is not {}; it is another set's parent, rename the release or delete the ConfigMap",
                self.id
            )));
        }
        let annotations = parent.metadata.annotations.unwrap_or_default();
        if let Some(tool) = annotations.get(TOOLING)
            && !tool.starts_with("sluice/")
        {
            return Err(invalid(format!(
                "the set is managed by {tool}, not sluice; use that tool or another release name"
            )));
        }
        let Some(text) = parent.data.unwrap_or_default().remove(INVENTORY_KEY) else {
            return Ok(Vec::new());
        };
        serde_json::from_str(&text).map_err(|e| {
            invalid(format!(
                "data.{INVENTORY_KEY} is not a member list ({e}); delete the key to start a new inventory"
            ))
        })
    }

    /// Records `members` on the parent; no write when it already says so.
    pub(crate) async fn store(
        &self,
        cluster: &Cluster,
        manager: &str,
        members: &BTreeSet<Member>,
    ) -> Result<(), Error> {
        let api = self.api(cluster);
        let fail = |action| move |e| Error::from_kube(&self.parent(), action, e);
        let desired = self.desired(members);
        let live = cluster
            .call(|| api.get_opt(&self.name))
            .await
            .map_err(fail("read inventory"))?;
        if live.is_some_and(|live| records(&live, &desired)) {
            return Ok(());
        }
        let params = PatchParams::apply(manager).force();
        let patch = Patch::Apply(&desired);
        cluster
            .call(|| api.patch(&self.name, &params, &patch))
            .await
            .map_err(fail("write inventory"))?;
        Ok(())
    }

    fn desired(&self, members: &BTreeSet<Member>) -> Value {
        let kinds: BTreeSet<String> = members.iter().map(Member::group_kind).collect();
        let namespaces: BTreeSet<&str> = members
            .iter()
            .map(|m| m.namespace.as_str())
            .filter(|ns| !ns.is_empty() && *ns != self.namespace)
            .collect();
        let mut annotations = json!({
            TOOLING: TOOLING_VALUE,
            GROUP_KINDS: kinds.into_iter().collect::<Vec<_>>().join(","),
        });
        if !namespaces.is_empty() {
            annotations[ADDITIONAL_NAMESPACES] =
                json!(namespaces.into_iter().collect::<Vec<_>>().join(","));
        }
        let list: Vec<&Member> = members.iter().collect();
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {ID: self.id},
                "annotations": annotations,
            },
            "data": {INVENTORY_KEY: serde_json::to_string(&list).unwrap_or_default()},
        })
    }
}

/// Whether the live parent already carries everything `desired` sets.
fn records(live: &ConfigMap, desired: &Value) -> bool {
    let labels = live.metadata.labels.clone().unwrap_or_default();
    let annotations = live.metadata.annotations.clone().unwrap_or_default();
    let data = live.data.clone().unwrap_or_default();
    let same = |map: &std::collections::BTreeMap<String, String>, wanted: &Value| {
        wanted.as_object().is_some_and(|wanted| {
            wanted
                .iter()
                .all(|(k, v)| map.get(k).map(String::as_str) == v.as_str())
        })
    };
    let stale_namespaces = annotations.contains_key(ADDITIONAL_NAMESPACES)
        && desired["metadata"]["annotations"]
            .get(ADDITIONAL_NAMESPACES)
            .is_none();
    same(&labels, &desired["metadata"]["labels"])
        && same(&annotations, &desired["metadata"]["annotations"])
        && same(&data, &desired["data"])
        && !stale_namespaces
}

/// KEP-3659's id: `applyset-` + unpadded base64url of
/// sha256(`<name>.<namespace>.<kind>.<group>`) + `-v1`, exactly as kubectl
/// computes it (the suffix keeps the label value ending alphanumeric).
pub fn applyset_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let hash = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}"));
    format!("applyset-{}-v1", URL_SAFE_NO_PAD.encode(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_follows_kubectl() {
        let id = applyset_id("sluice-web", "default", "ConfigMap", "");
        let hash = Sha256::digest("sluice-web.default.ConfigMap.");
        assert_eq!(id, format!("applyset-{}-v1", URL_SAFE_NO_PAD.encode(hash)));
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert!(!id.contains('=') && !id.contains('+') && !id.contains('/'));
        assert_eq!(ApplySet::for_release("web", "default").id(), id);
    }

    #[test]
    fn parent_lists_group_kinds_and_other_namespaces() {
        let set = ApplySet::for_release("web", "apps");
        let member = |group: &str, kind: &str, namespace: &str| Member {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: "x".into(),
            version: "v1".into(),
        };
        let members = BTreeSet::from([
            member("apps", "Deployment", "apps"),
            member("", "ConfigMap", "other"),
            member("", "Namespace", ""),
        ]);
        let parent = set.desired(&members);
        let annotations = &parent["metadata"]["annotations"];
        assert_eq!(
            annotations[GROUP_KINDS],
            "ConfigMap,Deployment.apps,Namespace"
        );
        assert_eq!(annotations[ADDITIONAL_NAMESPACES], "other");
        assert_eq!(annotations[TOOLING], "sluice/v0.1.0");
        assert_eq!(parent["metadata"]["labels"][ID], set.id());
    }
}
