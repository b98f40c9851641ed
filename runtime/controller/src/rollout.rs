//! Releases with `spec.rollout`: the rendered target Deployment goes through
//! `sluice-rollout` (primary and canary, traffic, analysis), driven by the
//! strategy plugin; the rest of the render is applied as usual. The
//! Release's policies on the candidate are the promotion gate.

use std::time::Duration;

use kube::{Client, ResourceExt};
use sluice_plugin_host::Plugin;
use sluice_rollout::{Driver, Outcome, Strategy};
use sluice_types::crd::Release;
use sluice_types::object::ReleaseSpec;
use sluice_types::rollout::{CheckKind, CheckResult, Decision, RolloutSpec, StepInput};
use sluice_types::status::ReleaseStatus;
use sluice_types::{Diagnostic, ReleaseReport};

/// A `rollout` plugin as the engine's strategy.
struct PluginStrategy(Plugin);

impl Strategy for PluginStrategy {
    async fn step(&self, input: StepInput) -> sluice_rollout::Result<(Decision, Vec<Diagnostic>)> {
        self.0
            .step(&input)
            .await
            .map_err(|e| sluice_rollout::Error::Strategy(Box::new(e)))
    }
}

/// Whether a rollout of another revision than the primary's is under way:
/// then nothing is pruned (the primary may still use objects the candidate
/// dropped) and a policy denial holds promotion instead of stopping the run.
pub(crate) fn in_progress(status: &ReleaseStatus) -> bool {
    status
        .rollout
        .as_ref()
        .is_some_and(|r| !r.phase.is_terminal())
}

/// Whether `report` renders the candidate of the rollout under way (the
/// same pod template), rather than a new one.
pub(crate) fn renders_candidate(
    name: &str,
    spec: &ReleaseSpec,
    report: &ReleaseReport,
    status: &ReleaseStatus,
) -> bool {
    let (Some(rollout), Some(current)) = (&spec.rollout, &status.rollout) else {
        return false;
    };
    sluice_rollout::split(name, rollout, report.manifests.clone()).is_ok_and(|(target, _)| {
        sluice_rollout::objects::template_hash(&target.object) == current.candidate_hash
    })
}

/// The policies gate: passes when no policy denies the candidate, whatever
/// its failure action (an audited denial still must not be promoted).
pub(crate) fn policy_gate(report: &ReleaseReport) -> CheckResult {
    let denied: Vec<&str> = report
        .policies
        .iter()
        .filter(|p| p.verdict == sluice_types::Verdict::Deny)
        .map(|p| p.policy.as_str())
        .collect();
    let names: Vec<&str> = report.policies.iter().map(|p| p.policy.as_str()).collect();
    CheckResult {
        name: "policies".into(),
        kind: CheckKind::Policy,
        passed: denied.is_empty(),
        query: names.join(", "),
        value: None,
        threshold: "no policy denies".into(),
        message: if denied.is_empty() {
            format!(
                "{} policies allow revision {}",
                names.len(),
                report.revision
            )
        } else {
            format!(
                "policy {} denied revision {}; fix the release or the policy, promotion waits",
                denied.join(", "),
                report.revision
            )
        },
    }
}

/// One step of the rollout for `report`'s revision. `target` is the
/// rendered target Deployment, already split from the rest.
pub(crate) async fn advance(
    catalog: &sluice_pipeline::Catalog,
    client: Client,
    release: &Release,
    spec: &RolloutSpec,
    report: &ReleaseReport,
    target: &serde_json::Value,
    status: &ReleaseStatus,
) -> Result<Outcome, String> {
    let ns = release.namespace().unwrap_or_default();
    let name = release.name_any();
    let plugin = catalog
        .get(&spec.strategy.plugin, &ns)
        .await
        .map_err(|e| match e {
            sluice_pipeline::Lookup::Unknown(why) => format!("spec.rollout.strategy.plugin: {why}"),
            sluice_pipeline::Lookup::Load(e) => format!(
                "spec.rollout.strategy.plugin: cannot load rollout strategy '{}': {e}",
                spec.strategy.plugin
            ),
            sluice_pipeline::Lookup::Refused(e) => format!("spec.rollout.strategy.plugin: {e}"),
        })?;
    let strategy = PluginStrategy(plugin);
    let target_ns = release
        .spec
        .target_namespace
        .clone()
        .unwrap_or_else(|| ns.clone());
    let annotations = release.annotations().clone();
    let engine_release = sluice_rollout::Release {
        name: &name,
        namespace: &target_ns,
        annotations: &annotations,
        spec,
        status: status.rollout.as_ref(),
    };
    Driver::new(client)
        .advance(
            &engine_release,
            &report.revision,
            target,
            vec![policy_gate(report)],
            &strategy,
        )
        .await
        .map_err(|e| e.to_string())
}

/// While a rollout waits, how soon to look again when the engine names no
/// time: short, since the strategy's intervals are what pace it.
pub(crate) const POLL: Duration = Duration::from_secs(5);
