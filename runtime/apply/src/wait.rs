//! Waiting for applied objects to become healthy, from watches: one per
//! resource and namespace (not one per object, not polling), each started
//! from a list's resourceVersion. Like kube-runtime's watcher, a stream
//! that ends or breaks is resumed from the last resourceVersion seen (an
//! event's or a bookmark's), and `410 Gone` starts over with a new list, so
//! a dropped connection costs one request rather than the wait.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use serde_json::Value;
use sluice_types::ResourceRef;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::engine::Applier;
use crate::error::Error;
use crate::health::{Health, assess};
use crate::retry::Cluster;

/// How long the server keeps one watch open (kube's default, below its
/// 295 s read timeout).
const WATCH_SECONDS: u32 = 290;
/// Pause before watching again after a stream that ended or broke
/// without an event, so a server that closes watches at once is not
/// hammered.
const REWATCH_PAUSE: Duration = Duration::from_millis(200);

/// Where a wait stands, after each change.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub ready: usize,
    pub total: usize,
    /// Objects not ready yet, with why.
    pub pending: &'a [(ResourceRef, String)],
}

/// The objects of one resource in one namespace (or cluster-wide).
struct Watched {
    api: Api<DynamicObject>,
    /// Names of the objects waited for, with their index in the wait.
    names: HashMap<String, usize>,
    /// `apiVersion` and `kind`, which list items may leave out.
    api_version: String,
    kind: String,
    /// For errors: the first object of the group.
    first: ResourceRef,
}

/// What a watch reports to the waiter.
enum Update {
    /// `Listed(group, states)`: after a (re-)list, every object of the
    /// group, present or not.
    Listed(usize, Vec<(usize, Option<Value>)>),
    Changed(usize, Option<Value>),
    Failed(Error),
}

impl Applier {
    /// Waits until every object in `objects` is healthy. Fails at once when
    /// one has failed for good (a failed Job), and after `timeout` with
    /// every object not ready and why. `progress` sees the state once every
    /// object was read, then after each change.
    pub async fn wait(
        &mut self,
        objects: &[ResourceRef],
        timeout: Duration,
        mut progress: impl FnMut(&Progress<'_>),
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let groups = self.group(objects).await?;
        let (tx, mut rx) = mpsc::channel(256);
        let mut watches = JoinSet::new();
        for (id, group) in groups.into_values().enumerate() {
            watches.spawn(follow(self.cluster.clone(), id, group, tx.clone()));
        }
        // Groups read at least once; progress starts when all were.
        let mut listed = vec![false; watches.len()];
        let mut health: Vec<Health> = objects
            .iter()
            .map(|_| Health::InProgress("not found".into()))
            .collect();
        loop {
            // `tx` stays alive here, so only the deadline ends the receiving.
            let first = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(update)) => update,
                Ok(None) | Err(_) => {
                    return Err(Error::WaitTimeout {
                        timeout,
                        pending: pending(objects, &health)
                            .iter()
                            .map(|(r, why)| format!("{r}: {why}"))
                            .collect(),
                    });
                }
            };
            let mut next = Some(first);
            while let Some(update) = next {
                match update {
                    Update::Listed(id, states) => {
                        listed[id] = true;
                        for (index, live) in states {
                            health[index] = judge(live.as_ref());
                        }
                    }
                    Update::Changed(index, live) => health[index] = judge(live.as_ref()),
                    Update::Failed(error) => return Err(error),
                }
                next = rx.try_recv().ok();
            }
            if listed.contains(&false) {
                continue;
            }
            if let Some((index, Health::Failed(message))) = health
                .iter()
                .enumerate()
                .find(|(_, h)| matches!(h, Health::Failed(_)))
            {
                return Err(Error::Failed {
                    object: objects[index].to_string(),
                    message: message.clone(),
                });
            }
            let pending = pending(objects, &health);
            progress(&Progress {
                ready: objects.len() - pending.len(),
                total: objects.len(),
                pending: &pending,
            });
            if pending.is_empty() {
                return Ok(());
            }
        }
    }

    /// Resolves each object's resource and groups the objects by resource
    /// and namespace, one watch each.
    async fn group(
        &mut self,
        objects: &[ResourceRef],
    ) -> Result<HashMap<(String, String, String), Watched>, Error> {
        let mut groups: HashMap<(String, String, String), Watched> = HashMap::new();
        for (index, reference) in objects.iter().enumerate() {
            let served = self
                .resolver
                .resolve(&self.cluster, &reference.api_version, &reference.kind)
                .await
                .map_err(|e| Error::from_kube(reference, "discover kind", e))?
                .ok_or_else(|| Error::NotServed {
                    object: reference.to_string(),
                    api_version: reference.api_version.clone(),
                    kind: reference.kind.clone(),
                })?;
            let resource = served.resource;
            let namespace = if served.namespaced {
                reference.namespace.clone()
            } else {
                String::new()
            };
            let key = (
                resource.api_version.clone(),
                resource.plural.clone(),
                namespace.clone(),
            );
            let client = self.cluster.client.clone();
            let group = groups.entry(key).or_insert_with(|| Watched {
                api: if served.namespaced {
                    Api::namespaced_with(client, &namespace, &resource)
                } else {
                    Api::all_with(client, &resource)
                },
                names: HashMap::new(),
                api_version: resource.api_version.clone(),
                kind: resource.kind.clone(),
                first: reference.clone(),
            });
            group.names.insert(reference.name.clone(), index);
        }
        Ok(groups)
    }
}

fn judge(live: Option<&Value>) -> Health {
    live.map_or_else(|| Health::InProgress("not found".into()), assess)
}

fn pending(objects: &[ResourceRef], health: &[Health]) -> Vec<(ResourceRef, String)> {
    objects
        .iter()
        .zip(health)
        .filter_map(|(reference, health)| match health {
            Health::Current => None,
            Health::InProgress(why) | Health::Failed(why) => Some((reference.clone(), why.clone())),
        })
        .collect()
}

/// Lists then watches one group until the waiter goes away (it drops the
/// receiver and aborts the task). Transient failures to start a watch are
/// retried like every other request; anything else ends the wait.
async fn follow(cluster: Cluster, id: usize, group: Watched, tx: mpsc::Sender<Update>) {
    let fail = |action, e| Update::Failed(Error::from_kube(&group.first, action, e));
    // One object: let the server filter (every resource serves `metadata.name`).
    let only = (group.names.len() == 1).then(|| {
        let name: String = group.names.keys().cloned().collect();
        format!("metadata.name={name}")
    });
    let mut list_params = ListParams::default();
    let mut watch_params = WatchParams::default().timeout(WATCH_SECONDS);
    if let Some(only) = &only {
        list_params = list_params.fields(only);
        watch_params = watch_params.fields(only);
    }
    'list: loop {
        let list = match cluster.call(|| group.api.list(&list_params)).await {
            Ok(list) => list,
            Err(e) => {
                let _ = tx.send(fail("list for wait", e)).await;
                return;
            }
        };
        let mut version = list.metadata.resource_version.clone().unwrap_or_default();
        let mut states: HashMap<usize, Option<Value>> =
            group.names.values().map(|i| (*i, None)).collect();
        for object in list.items {
            if let Some((index, value)) = relevant(&group, object) {
                states.insert(index, Some(value));
            }
        }
        if tx
            .send(Update::Listed(id, states.into_iter().collect()))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let stream = match cluster
                .call(|| group.api.watch(&watch_params, &version))
                .await
            {
                Ok(stream) => stream,
                Err(kube::Error::Api(status)) if status.code == 410 => continue 'list,
                Err(e) => {
                    let _ = tx.send(fail("watch", e)).await;
                    return;
                }
            };
            let mut stream = std::pin::pin!(stream);
            let mut events = 0;
            while let Some(event) = stream.next().await {
                events += usize::from(event.is_ok());
                let (object, deleted) = match event {
                    Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => (o, false),
                    Ok(WatchEvent::Deleted(o)) => (o, true),
                    Ok(WatchEvent::Bookmark(b)) => {
                        version = b.metadata.resource_version;
                        continue;
                    }
                    Ok(WatchEvent::Error(status)) if status.code == 410 => continue 'list,
                    Ok(WatchEvent::Error(status)) => {
                        tracing::debug!(?status, "watch error event, watching again");
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "watch stream broke, watching again");
                        break;
                    }
                };
                if let Some(rv) = &object.metadata.resource_version {
                    version.clone_from(rv);
                }
                if let Some((index, value)) = relevant(&group, object) {
                    let update = Update::Changed(index, (!deleted).then_some(value));
                    if tx.send(update).await.is_err() {
                        return;
                    }
                }
            }
            if events == 0 {
                tokio::time::sleep(REWATCH_PAUSE).await;
            }
        }
    }
}

/// The index and JSON of an object the waiter asked about, with the
/// `apiVersion` and `kind` that list items leave out.
fn relevant(group: &Watched, object: DynamicObject) -> Option<(usize, Value)> {
    let index = *group.names.get(object.metadata.name.as_deref()?)?;
    let mut value = serde_json::to_value(object).ok()?;
    value["apiVersion"] = Value::String(group.api_version.clone());
    value["kind"] = Value::String(group.kind.clone());
    Some((index, value))
}
