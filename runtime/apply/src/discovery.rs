//! Which resource serves a kind. Lookups are cached per group-version; a
//! miss fetches that group-version again once, so a kind whose
//! CustomResourceDefinition was applied earlier in the same run is found.

use std::collections::HashMap;

use kube::core::{ApiResource, GroupVersion};
use kube::discovery::{self, Scope};

use crate::retry::Cluster;

/// A served kind: where to send requests and whether objects live in a
/// namespace.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Kinds by apiVersion, filled on demand.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    by_version: HashMap<String, HashMap<String, Served>>,
}

impl Resolver {
    /// The resource serving `kind` in `api_version`, or `None` when the
    /// cluster does not serve it.
    pub async fn resolve(
        &mut self,
        cluster: &Cluster,
        api_version: &str,
        kind: &str,
    ) -> kube::Result<Option<Served>> {
        if let Some(found) = self.cached(api_version, kind) {
            return Ok(Some(found));
        }
        self.refresh(cluster, api_version).await?;
        Ok(self.cached(api_version, kind))
    }

    fn cached(&self, api_version: &str, kind: &str) -> Option<Served> {
        self.by_version.get(api_version)?.get(kind).cloned()
    }

    /// Fetches the resource list of one group-version; a version the
    /// server does not know (404) is cached as empty.
    async fn refresh(&mut self, cluster: &Cluster, api_version: &str) -> kube::Result<()> {
        let Ok(gv) = api_version.parse::<GroupVersion>() else {
            self.by_version
                .insert(api_version.to_owned(), HashMap::new());
            return Ok(());
        };
        let kinds = match cluster
            .call(|| discovery::pinned_group(&cluster.client, &gv))
            .await
        {
            Ok(group) => group
                .versioned_resources(&gv.version)
                .into_iter()
                .map(|(resource, caps)| {
                    let served = Served {
                        namespaced: caps.scope == Scope::Namespaced,
                        resource,
                    };
                    (served.resource.kind.clone(), served)
                })
                .collect(),
            Err(kube::Error::Api(status)) if status.code == 404 => HashMap::new(),
            Err(e) => return Err(e),
        };
        self.by_version.insert(api_version.to_owned(), kinds);
        Ok(())
    }
}
