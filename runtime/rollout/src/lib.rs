//! Progressive delivery on the host side: the engine observes and acts, a
//! `rollout` strategy plugin decides. For a Release with `spec.rollout` it
//! generates Flagger-style objects for the target Deployment (`objects`),
//! moves traffic through a Gateway API `HTTPRoute` or the apex Service's
//! selector (`traffic`), runs metric and webhook checks (`analysis`), and
//! drives one reconcile of a rollout from the persisted `status.rollout`
//! (`driver`).
//!
//! It talks to clusters only through `kube::Client` and knows nothing of
//! plugins: the controller implements [`Strategy`] with its plugin host.

pub mod analysis;
pub mod driver;
mod error;
pub mod objects;
pub mod traffic;

pub use driver::{Clock, Driver, Outcome, Ready, ReadyReason, Release, Strategy, SystemClock};
pub use error::{Error, Result};
pub use objects::split;
