//! A hook for whoever runs pipelines to watch their plugin calls (the
//! controller exports them as metrics), without the pipeline knowing who
//! listens or what they do with it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_types::PluginKind;

/// One finished plugin call.
#[derive(Debug, Clone, Copy)]
pub struct PluginCall<'a> {
    /// The plugin's name as the release names it (`kustomize`, `guardrails`).
    pub plugin: &'a str,
    pub kind: PluginKind,
    /// From the call until its answer, compile-cache loads excluded.
    pub took: Duration,
    /// The plugin returned an error (trapped, timed out, failed); a policy
    /// that denies has not failed.
    pub failed: bool,
}

/// Told about every plugin call of a pipeline it is given to
/// ([`crate::Pipeline::with_observer`]). Called on the pipeline's task:
/// keep it quick.
pub trait Observer: Send + Sync + std::fmt::Debug {
    fn plugin_call(&self, call: PluginCall<'_>);
}

/// Times `call` and tells `observer`, if any.
pub(crate) async fn timed<T, E>(
    observer: Option<&Arc<dyn Observer>>,
    plugin: &str,
    kind: PluginKind,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = call.await;
    if let Some(observer) = observer {
        observer.plugin_call(PluginCall {
            plugin,
            kind,
            took: started.elapsed(),
            failed: result.is_err(),
        });
    }
    result
}
