//! Deleting what a release no longer contains: members of the previous
//! inventory missing from the new set, in reverse apply order. Objects that
//! opt out (`sluice.dev/prune: disabled`) or that another ApplySet has
//! claimed since are left alone and reported.

use std::collections::HashSet;

use crate::retry::Cluster;
use serde_json::Value;

use crate::discovery::Resolver;
use crate::error::Error;
use crate::inventory::{Member, PART_OF};
use crate::order::prune_rank;
use crate::report::{Action, ObjectResult};
use crate::target::Target;

/// The annotation that keeps an object when it leaves the set.
pub const PRUNE_ANNOTATION: &str = "sluice.dev/prune";

/// A previous member that is not in the new set, with its live object.
#[derive(Debug)]
pub(crate) struct Leaving {
    pub target: Target,
    pub live: Value,
    /// Why it must stay, if it must.
    pub keep: Option<String>,
}

/// The previous members missing from `current` that still exist, in
/// pruning order.
pub(crate) async fn leaving(
    cluster: &Cluster,
    resolver: &mut Resolver,
    previous: &[Member],
    current: &HashSet<Member>,
    applyset_id: &str,
) -> Result<Vec<Leaving>, Error> {
    let current: HashSet<_> = current.iter().map(Member::key).collect();
    let mut gone: Vec<&Member> = previous
        .iter()
        .filter(|m| !current.contains(&m.key()))
        .collect();
    gone.sort_by_key(|m| prune_rank(&m.group, &m.kind, !m.namespace.is_empty()));
    let mut found = Vec::new();
    for member in gone {
        let reference = member.reference();
        let served = resolver
            .resolve(cluster, &reference.api_version, &reference.kind)
            .await
            .map_err(|e| Error::from_kube(&reference, "discover kind", e))?;
        // A kind no longer served took its objects with it.
        let Some(served) = served else { continue };
        let target = Target {
            reference,
            served,
            object: Value::Null,
        };
        let Some(live) = target.get(cluster).await? else {
            continue;
        };
        let keep = reason_to_keep(&live, applyset_id);
        found.push(Leaving { target, live, keep });
    }
    Ok(found)
}

fn reason_to_keep(live: &Value, applyset_id: &str) -> Option<String> {
    let meta = &live["metadata"];
    if meta["annotations"][PRUNE_ANNOTATION] == "disabled" {
        return Some(format!("{PRUNE_ANNOTATION}: disabled"));
    }
    match meta["labels"][PART_OF].as_str() {
        Some(id) if id == applyset_id => None,
        Some(other) => Some(format!("part of another ApplySet ({other})")),
        None => Some(format!("no longer labelled {PART_OF}")),
    }
}

/// Deletes what may go; reports every object as pruned or skipped.
pub(crate) async fn prune(
    cluster: &Cluster,
    leaving: Vec<Leaving>,
) -> Result<Vec<ObjectResult>, Error> {
    let mut results = Vec::with_capacity(leaving.len());
    for object in leaving {
        let action = match object.keep {
            Some(why) => Action::Skipped(why),
            None => {
                object.target.delete(cluster).await?;
                Action::Pruned
            }
        };
        results.push(ObjectResult {
            object: object.target.reference,
            action,
            drifted: Vec::new(),
        });
    }
    Ok(results)
}
