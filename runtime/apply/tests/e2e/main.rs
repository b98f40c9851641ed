//! The apply engine against an API server (the local one, or a real
//! cluster with `SLUICE_TEST_KUBECONFIG`), spoken to only through
//! `kube::Client`.

mod apply;
mod definitions;
mod diff;
mod drift;
mod dry_run;
mod faults;
mod prune;
mod retry;
mod support;
mod wait;
