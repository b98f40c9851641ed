//! Sluice's apply engine: makes a cluster match a release's rendered
//! manifests the way Flux's kustomize-controller and
//! `kubectl apply --server-side` do.
//!
//! - Server-side apply under one field manager (`sluice`), with `force`
//!   to take over fields other managers own.
//! - Order: CustomResourceDefinitions and Namespaces, then the set waits for
//!   each CRD to be Established, then other cluster-scoped objects, then
//!   namespaced ones.
//! - A server-side dry-run of the whole set before the first write, so an
//!   invalid object or a conflict stops the release with nothing changed
//!   (objects depending on a CRD or Namespace of the same set are dry-run
//!   right after that phase; see [`Applier::apply`]).
//! - An unchanged object is not written: its dry-run result is compared
//!   with the live object.
//! - Inventory as a kubectl ApplySet (KEP-3659), pruning (opt-in), health
//!   checks with a bounded wait, diffs and drift reports.

mod apply;
mod crd;
mod diff;
mod discovery;
mod engine;
mod error;
mod health;
mod inventory;
mod order;
mod plan;
mod prune;
mod report;
mod retry;
mod target;
mod wait;

pub use diff::{Change, ObjectDiff};
pub use engine::{Applier, ApplyOptions};
pub use error::Error;
pub use health::{Health, assess};
pub use inventory::{ApplySet, Member, applyset_id};
pub use prune::PRUNE_ANNOTATION;
pub use report::{Action, ApplyReport, Counts, ObjectResult};
pub use wait::Progress;

/// Labels and annotations of the ApplySet convention.
pub mod labels {
    pub use crate::inventory::{
        ADDITIONAL_NAMESPACES, GROUP_KINDS, ID, PART_OF, TOOLING, TOOLING_VALUE,
    };
}
