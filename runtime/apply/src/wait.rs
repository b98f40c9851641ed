//! Waiting for applied objects to become healthy, by polling: a handful of
//! GETs per second is cheaper to reason about than one watch per kind, and
//! works the same against every server.

use std::time::{Duration, Instant};

use sluice_types::ResourceRef;

use crate::engine::Applier;
use crate::error::Error;
use crate::health::{Health, assess};
use crate::target::Target;

const POLL: Duration = Duration::from_millis(200);

/// Where a wait stands, after each round of checks.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub ready: usize,
    pub total: usize,
    /// Objects not ready yet, with why.
    pub pending: &'a [(ResourceRef, String)],
}

impl Applier {
    /// Polls until every object in `objects` is healthy. Fails at once when
    /// one has failed for good (a failed Job), and after `timeout` with
    /// every object not ready and why. `progress` sees each round.
    pub async fn wait(
        &mut self,
        objects: &[ResourceRef],
        timeout: Duration,
        mut progress: impl FnMut(&Progress<'_>),
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let mut targets = Vec::with_capacity(objects.len());
        for reference in objects {
            let served = self
                .resolver
                .resolve(&self.client, &reference.api_version, &reference.kind)
                .await
                .map_err(|e| Error::from_kube(reference, "discover kind", e))?
                .ok_or_else(|| Error::NotServed {
                    object: reference.to_string(),
                    api_version: reference.api_version.clone(),
                    kind: reference.kind.clone(),
                })?;
            targets.push(Target {
                reference: reference.clone(),
                served,
                object: serde_json::Value::Null,
            });
        }
        loop {
            let mut pending = Vec::new();
            for target in &targets {
                let health = match target.get(&self.client).await? {
                    Some(live) => assess(&live),
                    None => Health::InProgress("not found".into()),
                };
                match health {
                    Health::Current => {}
                    Health::InProgress(why) => pending.push((target.reference.clone(), why)),
                    Health::Failed(message) => {
                        return Err(Error::Failed {
                            object: target.reference.to_string(),
                            message,
                        });
                    }
                }
            }
            progress(&Progress {
                ready: targets.len() - pending.len(),
                total: targets.len(),
                pending: &pending,
            });
            if pending.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::WaitTimeout {
                    timeout,
                    pending: pending
                        .iter()
                        .map(|(r, why)| format!("{r}: {why}"))
                        .collect(),
                });
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
        }
    }
}
