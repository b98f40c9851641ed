//! End-to-end tests of the controller against the in-process API server
//! (`sluice-apiserver`) through `kube::Client` over HTTP, and of `deploy/`.

mod deploy;
mod finalize;
mod gitops;
mod leader;
mod metrics;
mod plugins;
mod reconcile;
mod rollout;
mod support;
mod tenancy;
