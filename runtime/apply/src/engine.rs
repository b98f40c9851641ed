//! One release's apply, end to end: plan, dry-run everything that can be
//! dry-run, write phase by phase (skipping objects a write would not
//! change), prune, record the inventory.
//!
//! Objects whose CustomResourceDefinition or Namespace is created by the
//! same set cannot be dry-run before those exist (the server does not know
//! the kind, or refuses objects in a missing namespace). They are dry-run
//! right after the CRD and Namespace phase; an error there stops the
//! release with only that phase written.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use kube::Client;
use kube::api::PatchParams;
use serde_json::Value;
use sluice_types::Manifest;

use crate::apply::{drifted_fields, unchanged};
use crate::discovery::Resolver;
use crate::error::Error;
use crate::inventory::{ApplySet, Member, PART_OF};
use crate::order::Phase;
use crate::plan::{Planned, plan};
use crate::prune;
use crate::report::{Action, ApplyReport, ObjectResult};
use crate::retry::Cluster;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The server-side apply field manager.
    pub field_manager: String,
    /// Take over fields other managers own instead of failing on conflicts.
    pub force: bool,
    /// Delete members of the previous inventory that left the set.
    pub prune: bool,
    /// How long a CustomResourceDefinition of the set may take to be
    /// Established (and served) before its custom resources are applied.
    pub crd_timeout: Duration,
    /// How long one request may go unanswered before it is retried: far
    /// more than a healthy API server needs for one object, far less than
    /// kube's socket read timeout (295 s).
    pub request_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            field_manager: "sluice".into(),
            force: false,
            prune: false,
            crd_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Applies one release's manifests to a cluster and keeps its inventory.
pub struct Applier {
    pub(crate) cluster: Cluster,
    pub(crate) set: ApplySet,
    pub(crate) options: ApplyOptions,
    pub(crate) resolver: Resolver,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("applyset", &self.set)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// An object of the plan with what the cluster says about it.
pub(crate) struct Entry {
    pub planned: Planned,
    pub live: Option<Value>,
    pub dry_run: Option<Value>,
    pub skip: Option<String>,
}

impl Applier {
    /// The applier of release `release` whose inventory lives in `namespace`
    /// (also the namespace of namespaced objects that do not name one).
    pub fn new(client: Client, release: &str, namespace: &str, options: ApplyOptions) -> Self {
        Applier {
            cluster: Cluster {
                client,
                timeout: options.request_timeout,
            },
            set: ApplySet::for_release(release, namespace),
            options,
            resolver: Resolver::default(),
        }
    }

    pub fn applyset(&self) -> &ApplySet {
        &self.set
    }

    fn params(&self, dry_run: bool) -> PatchParams {
        let mut params = PatchParams::apply(&self.options.field_manager);
        params.force = self.options.force;
        params.dry_run = dry_run;
        params
    }

    /// Makes the cluster match `manifests`: dry-run, CRDs and Namespaces,
    /// wait for the CRDs to be Established, cluster-scoped objects,
    /// namespaced objects, prune (when enabled), inventory.
    ///
    /// Objects whose CustomResourceDefinition or Namespace is created by
    /// the same set cannot be dry-run before those exist; they are dry-run
    /// right after the CRD and Namespace phase, and an error there stops
    /// the release with only that phase written
    /// ([`Error::DryRun`] with `after_definitions`).
    pub async fn apply(&mut self, manifests: &[Manifest]) -> Result<ApplyReport, Error> {
        let (previous, entries) = self.start(manifests, false).await?;

        let current: HashSet<Member> = entries.iter().map(|e| e.planned.member()).collect();
        let union: BTreeSet<Member> = previous
            .iter()
            .cloned()
            .chain(current.iter().cloned())
            .collect();
        // The inventory lists every object before any is written, so a run
        // killed half-way leaves nothing the next run cannot prune. Only the
        // parent's own namespace, when the set creates it, must come first.
        let mut results = Vec::with_capacity(entries.len());
        let (parent_namespace, entries): (Vec<Entry>, Vec<Entry>) =
            entries.into_iter().partition(|e| {
                e.planned.is_namespace() && e.planned.reference.name == self.set.namespace
            });
        for entry in &parent_namespace {
            results.push(self.write(entry).await?);
        }
        self.set
            .store(&self.cluster, &self.options.field_manager, &union)
            .await?;

        let (definitions, rest): (Vec<Entry>, Vec<Entry>) = entries
            .into_iter()
            .partition(|e| e.planned.phase == Phase::Definitions);
        for entry in &definitions {
            results.push(self.write(entry).await?);
        }
        for entry in definitions.iter().filter(|e| e.planned.is_crd()) {
            self.established(&entry.planned.reference.name).await?;
        }

        let mut rest = rest;
        for entry in rest.iter_mut().filter(|e| e.planned.served.is_none()) {
            self.serve(&mut entry.planned).await?;
        }
        let waiting = |e: &Entry| e.skip.is_none() && e.dry_run.is_none();
        self.dry_run(&mut rest, waiting, true).await?;
        for entry in &rest {
            results.push(self.write(entry).await?);
        }

        let mut tracked = if self.options.prune {
            current.iter().cloned().collect()
        } else {
            union
        };
        if self.options.prune {
            let leaving = prune::leaving(
                &self.cluster,
                &mut self.resolver,
                &previous,
                &current,
                self.set.id(),
            )
            .await?;
            results.extend(prune::prune(&self.cluster, leaving).await?);
        }
        tracked.retain(|m| {
            !results
                .iter()
                .any(|r| matches!(r.action, Action::Skipped(_)) && r.object == m.reference())
        });
        self.set
            .store(&self.cluster, &self.options.field_manager, &tracked)
            .await?;
        Ok(ApplyReport {
            applyset: self.set.id().to_owned(),
            objects: results,
        })
    }

    /// Reads each resolved object; marks those another ApplySet owns.
    /// The common start of apply and diff: the previous inventory, the plan
    /// with what is live, and a server dry-run of every entry that can have
    /// one now (not those waiting for a CRD or Namespace of the same set;
    /// skipped entries only when `dry_run_skipped`). Writes nothing.
    pub(crate) async fn start(
        &mut self,
        manifests: &[Manifest],
        dry_run_skipped: bool,
    ) -> Result<(Vec<Member>, Vec<Entry>), Error> {
        let previous = self.set.load(&self.cluster).await?;
        let planned = plan(
            &self.cluster,
            &mut self.resolver,
            manifests,
            &self.set.namespace,
            self.set.id(),
        )
        .await?;
        let mut entries = self.survey(planned).await?;
        let new_namespaces = new_namespaces(&entries);
        let ready_now = |e: &Entry| {
            (dry_run_skipped || e.skip.is_none()) && !dependent(&e.planned, &new_namespaces)
        };
        self.dry_run(&mut entries, ready_now, false).await?;
        Ok((previous, entries))
    }

    pub(crate) async fn survey(&self, planned: Vec<Planned>) -> Result<Vec<Entry>, Error> {
        let mut entries = Vec::with_capacity(planned.len());
        for planned in planned {
            let live = match planned.target() {
                Some(target) => target.get(&self.cluster).await?,
                None => None,
            };
            let owner = live
                .as_ref()
                .and_then(|l| l["metadata"]["labels"][PART_OF].as_str())
                .filter(|owner| *owner != self.set.id());
            let skip = owner.map(|o| format!("part of another ApplySet ({o})"));
            entries.push(Entry {
                planned,
                live,
                dry_run: None,
                skip,
            });
        }
        Ok(entries)
    }

    /// Dry-runs the entries `select` picks; every failure is collected so
    /// one run shows them all.
    pub(crate) async fn dry_run(
        &self,
        entries: &mut [Entry],
        select: impl Fn(&Entry) -> bool,
        after_definitions: bool,
    ) -> Result<(), Error> {
        let params = self.params(true);
        let mut failures = Vec::new();
        for entry in entries.iter_mut().filter(|e| select(e)) {
            let Some(target) = entry.planned.target() else {
                continue;
            };
            match target.apply(&self.cluster, &params).await {
                Ok(result) => entry.dry_run = Some(result),
                Err(e) => failures.push(e),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::DryRun {
                failures,
                after_definitions,
            })
        }
    }

    /// Applies one entry unless the dry-run showed nothing would change.
    async fn write(&self, entry: &Entry) -> Result<ObjectResult, Error> {
        let reference = entry.planned.reference.clone();
        let result = |action, drifted| ObjectResult {
            object: reference.clone(),
            action,
            drifted,
        };
        if let Some(why) = &entry.skip {
            return Ok(result(Action::Skipped(why.clone()), Vec::new()));
        }
        let Some(target) = entry.planned.target() else {
            return Err(Error::NotServed {
                object: reference.to_string(),
                api_version: reference.api_version.clone(),
                kind: reference.kind.clone(),
            });
        };
        match (&entry.live, &entry.dry_run) {
            (Some(live), Some(dry)) if unchanged(live, dry) => {
                Ok(result(Action::Unchanged, Vec::new()))
            }
            (Some(live), _) => {
                let drifted = drifted_fields(&target.object, live, &self.options.field_manager);
                target.apply(&self.cluster, &self.params(false)).await?;
                Ok(result(Action::Configured, drifted))
            }
            (None, _) => {
                target.apply(&self.cluster, &self.params(false)).await?;
                Ok(result(Action::Created, Vec::new()))
            }
        }
    }
}

/// Namespaces the set creates (they do not exist yet).
pub(crate) fn new_namespaces(entries: &[Entry]) -> HashSet<String> {
    entries
        .iter()
        .filter(|e| e.planned.is_namespace() && e.live.is_none())
        .map(|e| e.planned.reference.name.clone())
        .collect()
}

/// Whether an object can only be dry-run once its CRD or namespace from
/// the same set exists.
pub(crate) fn dependent(planned: &Planned, new_namespaces: &HashSet<String>) -> bool {
    planned.served.is_none()
        || (planned.namespaced && new_namespaces.contains(&planned.reference.namespace))
}
