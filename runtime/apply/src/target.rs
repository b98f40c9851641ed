//! A manifest resolved to the resource that serves it, ready to send.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;
use sluice_types::ResourceRef;

use crate::discovery::Served;
use crate::error::Error;
use crate::retry::Cluster;

#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub reference: ResourceRef,
    pub served: Served,
    /// The desired object, namespace defaulted and labelled `part-of`.
    pub object: Value,
}

impl Target {
    fn api(&self, cluster: &Cluster) -> Api<DynamicObject> {
        let resource = &self.served.resource;
        if self.served.namespaced {
            Api::namespaced_with(cluster.client.clone(), &self.reference.namespace, resource)
        } else {
            Api::all_with(cluster.client.clone(), resource)
        }
    }

    /// The live object, `None` when it does not exist.
    pub async fn get(&self, cluster: &Cluster) -> Result<Option<Value>, Error> {
        let api = self.api(cluster);
        let found = cluster
            .call(|| api.get_opt(&self.reference.name))
            .await
            .map_err(|e| Error::from_kube(&self.reference, "read", e))?;
        found.map(|o| to_value(&self.reference, o)).transpose()
    }

    /// Server-side apply of the desired object (a dry-run when `params`
    /// says so); the object as the server stored (or would store) it.
    pub async fn apply(&self, cluster: &Cluster, params: &PatchParams) -> Result<Value, Error> {
        let api = self.api(cluster);
        let patch = Patch::Apply(&self.object);
        let applied = cluster
            .call(|| api.patch(&self.reference.name, params, &patch))
            .await
            .map_err(|e| Error::from_kube(&self.reference, "apply", e))?;
        to_value(&self.reference, applied)
    }

    /// Deletes the object in the background (its dependents follow).
    pub async fn delete(&self, cluster: &Cluster) -> Result<(), Error> {
        let api = self.api(cluster);
        let params = kube::api::DeleteParams::background();
        match cluster
            .call(|| api.delete(&self.reference.name, &params))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(Error::from_kube(&self.reference, "delete", e)),
        }
    }
}

fn to_value(reference: &ResourceRef, object: DynamicObject) -> Result<Value, Error> {
    serde_json::to_value(object)
        .map_err(|e| Error::from_kube(reference, "read", kube::Error::SerdeError(e)))
}
