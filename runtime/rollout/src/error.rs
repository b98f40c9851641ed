//! What can stop a reconcile of a rollout. Failed checks are not errors:
//! they are analysis results the strategy decides on.

/// An error that names the Release, object or field and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Release '{release}': spec.rollout.targetRef names Deployment '{name}', which the render does not have ({found}); set spec.rollout.targetRef.name to one of them, or add the Deployment to the release's manifests"
    )]
    TargetMissing {
        release: String,
        name: String,
        found: String,
    },
    #[error(
        "Release '{release}': spec.rollout.targetRef names Deployment '{name}', which the render has in several namespaces ({namespaces}); render it once"
    )]
    AmbiguousTarget {
        release: String,
        name: String,
        namespaces: String,
    },
    #[error(
        "Release '{release}': spec.rollout.targetRef is {kind} ({api_version}), but only Deployments (apps/v1) can be rolled out"
    )]
    UnsupportedTarget {
        release: String,
        api_version: String,
        kind: String,
    },
    #[error("Release '{release}': Deployment '{name}': {field} {problem}")]
    InvalidTarget {
        release: String,
        name: String,
        field: String,
        problem: String,
    },
    #[error("Release '{release}': spec.rollout.analysis.metrics[{index}] ('{metric}'): {problem}")]
    Metric {
        release: String,
        index: usize,
        metric: String,
        problem: String,
    },
    #[error(
        "Release '{release}': the strategy asked for canary weight {weight}, but '{plugin}' switches the apex Service's selector, which only takes 0 or 100"
    )]
    Weight {
        release: String,
        plugin: String,
        weight: u8,
    },
    #[error("cannot {action} {object}: {source}")]
    Kube {
        action: &'static str,
        object: String,
        #[source]
        source: kube::Error,
    },
    /// The strategy plugin failed (trap, timeout, bad answer); the
    /// controller wraps its plugin-host error here.
    #[error("the rollout strategy failed: {0}")]
    Strategy(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
