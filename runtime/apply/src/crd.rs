//! The set's own CustomResourceDefinitions: waiting until each is
//! Established, then until discovery serves the kinds they define, before
//! any custom resource of theirs is dry-run or applied.

use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_types::ResourceRef;

use crate::engine::Applier;
use crate::error::Error;
use crate::health::{Health, assess};
use crate::order::{CRD_GROUP, CRD_KIND};
use crate::plan::Planned;
use crate::target::Target;

impl Applier {
    /// Waits until CRD `name` is Established.
    pub(crate) async fn established(&mut self, name: &str) -> Result<(), Error> {
        let reference = ResourceRef {
            api_version: format!("{CRD_GROUP}/v1"),
            kind: CRD_KIND.into(),
            namespace: String::new(),
            name: name.into(),
        };
        let deadline = Instant::now() + self.options.crd_timeout;
        let served = self
            .resolver
            .resolve(&self.cluster, &reference.api_version, &reference.kind)
            .await
            .map_err(|e| Error::from_kube(&reference, "discover kind", e))?;
        let Some(served) = served else {
            return Err(Error::NotServed {
                object: reference.to_string(),
                api_version: reference.api_version,
                kind: reference.kind,
            });
        };
        let target = Target {
            reference,
            served,
            object: Value::Null,
        };
        loop {
            let reason = match target.get(&self.cluster).await? {
                Some(live) => match assess(&live) {
                    Health::Current => return Ok(()),
                    Health::InProgress(why) | Health::Failed(why) => why,
                },
                None => "not found".into(),
            };
            if Instant::now() >= deadline {
                return Err(Error::NotEstablished {
                    name: name.into(),
                    timeout: self.options.crd_timeout,
                    reason,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resolves a kind its CRD (in the set, now established) defines;
    /// discovery can lag behind `Established` on real clusters.
    pub(crate) async fn serve(&mut self, planned: &mut Planned) -> Result<(), Error> {
        let reference = &planned.reference;
        let deadline = Instant::now() + self.options.crd_timeout;
        loop {
            let served = self
                .resolver
                .resolve(&self.cluster, &reference.api_version, &reference.kind)
                .await
                .map_err(|e| Error::from_kube(reference, "discover kind", e))?;
            if let Some(served) = served {
                planned.served = Some(served);
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::NotServed {
                    object: reference.to_string(),
                    api_version: reference.api_version.clone(),
                    kind: reference.kind.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
