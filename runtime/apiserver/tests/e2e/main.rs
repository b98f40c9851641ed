//! End-to-end tests: a server per test, spoken to only through
//! `kube::Client` over HTTP, as the rest of Sluice will.

mod apply;
mod crd;
mod crud;
mod discovery;
mod finalizers;
mod kubectl;
mod list;
mod logs;
mod patch;
mod readiness;
mod state;
mod status;
mod support;
mod watch;
