//! One reconcile of a Release with `spec.rollout`: compare the render with
//! what the primary runs, start, resume or restart a rollout, then ask the
//! strategy for decisions and carry them out until it says to wait (or a
//! bounded number of decisions has been taken), and hand back the new
//! `status.rollout`. Everything a later call needs is in that status, so a
//! restarted controller resumes at the same step.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::Client;
use serde_json::Value;
use sluice_types::diagnostic::{Diagnostic, Severity};
use sluice_types::rollout::{
    ABORT_ANNOTATION, CheckKind, CheckResult, Decision, PROMOTE_ANNOTATION, RolloutPhase,
    RolloutSpec, RolloutStatus, StepInput, WebhookType,
};

use crate::analysis::{self, Subject};
use crate::error::{Error, Result};
use crate::objects::{Objects, TEMPLATE_HASH_ANNOTATION, TrafficMode};
use crate::traffic;

/// Decisions taken in one call at most: a strategy that never waits cannot
/// keep a controller worker forever.
const MAX_DECISIONS: usize = 20;
/// How soon to look again while a Deployment becomes available, or a
/// `confirm-promotion` webhook says not yet.
const SHORT_RETRY: Duration = Duration::from_secs(5);
/// How soon to look again while a promotion gate (policies, approval)
/// blocks: approval comes with `sluice.dev/requestedAt`, a policy result
/// only with a new revision, which wakes the Release anyway.
const GATE_RETRY: Duration = Duration::from_secs(30);
/// When the decision budget ran out.
const BUDGET_RETRY: Duration = Duration::from_secs(1);

/// Where "now" comes from: the wall clock in the controller, a scripted
/// one in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The strategy that decides (the controller runs a `rollout` plugin).
pub trait Strategy: Send + Sync {
    /// One decision from the state, with the diagnostics saying why.
    fn step(
        &self,
        input: StepInput,
    ) -> impl Future<Output = Result<(Decision, Vec<Diagnostic>)>> + Send;
}

/// The parts of a Release the engine reads.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    pub name: &'a str,
    /// Where the generated objects go when the rendered target names no
    /// namespace (the Release's target namespace, else its own).
    pub namespace: &'a str,
    pub annotations: &'a BTreeMap<String, String>,
    pub spec: &'a RolloutSpec,
    /// `status.rollout` as last persisted.
    pub status: Option<&'a RolloutStatus>,
}

/// Why Ready is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyReason {
    /// A rollout runs (or the primary is not available yet).
    Progressing,
    /// Every step passed; a gate or `confirm-promotion` webhook holds it.
    WaitingPromotion,
    /// The primary runs the rendered revision and serves all traffic.
    Succeeded,
    /// The candidate was rolled back; the stable revision serves all traffic.
    RolledBack,
}

impl ReadyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadyReason::Progressing => "Progressing",
            ReadyReason::WaitingPromotion => "WaitingPromotion",
            ReadyReason::Succeeded => "Succeeded",
            ReadyReason::RolledBack => "RolledBack",
        }
    }
}

/// What the Ready condition should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub ready: bool,
    pub reason: ReadyReason,
    pub message: String,
}

/// The result of one call.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The new `status.rollout`, to persist.
    pub status: RolloutStatus,
    /// Reconcile again after this long; `None` when nothing is pending
    /// (the Release's interval applies).
    pub requeue_after: Option<Duration>,
    pub ready: Ready,
    /// What the strategy said, and post-rollout webhook results.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs rollouts against one cluster. Cheap to keep: one HTTP client for
/// analysis, shared by every call.
#[derive(Clone)]
pub struct Driver {
    client: Client,
    http: sluice_http::Client,
    clock: Arc<dyn Clock>,
    max_decisions: usize,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("clock", &self.clock)
            .field("max_decisions", &self.max_decisions)
            .finish_non_exhaustive()
    }
}

impl Driver {
    pub fn new(client: Client) -> Driver {
        Driver {
            client,
            http: sluice_http::Client::new(),
            clock: Arc::new(SystemClock),
            max_decisions: MAX_DECISIONS,
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Driver {
        self.clock = clock;
        self
    }

    /// At most this many decisions per call (20 by default).
    pub fn with_max_decisions(mut self, max: usize) -> Driver {
        self.max_decisions = max.max(1);
        self
    }

    /// One reconcile step: `revision` is the rendered revision, `target`
    /// the rendered target Deployment (see [`crate::objects::split`]),
    /// `gates` the caller's promotion gates (the Release's policies on the
    /// candidate); an approval gate is added when `manualApproval` is set.
    pub async fn advance<S: Strategy>(
        &self,
        release: &Release<'_>,
        revision: &str,
        target: &Value,
        gates: Vec<CheckResult>,
        strategy: &S,
    ) -> Result<Outcome> {
        let objects = Objects::new(release.name, release.namespace, target, release.spec)?;
        let primary =
            traffic::deployment(&self.client, objects.namespace(), &objects.primary_name()).await?;
        let primary_hash = primary.as_ref().and_then(|p| {
            p.pointer("/metadata/annotations")
                .and_then(|a| a.get(TEMPLATE_HASH_ANNOTATION))
                .and_then(Value::as_str)
        });
        let previous = release.status;
        let mut run = Run {
            driver: self,
            release,
            objects: &objects,
            revision,
            gates,
            diagnostics: Vec::new(),
        };
        let Some(primary_hash) = primary_hash.map(str::to_owned) else {
            // First deployment: the primary straight from the render, with
            // no analysis (Flagger's initialisation).
            return run.settle(None).await;
        };
        let same = |s: &&RolloutStatus| s.candidate_hash == objects.hash();
        if primary_hash == objects.hash() {
            return match previous.filter(same) {
                Some(s) if s.phase == RolloutPhase::Promoting => {
                    run.resume(s.clone(), strategy).await
                }
                _ => run.settle(previous).await,
            };
        }
        match previous.filter(same) {
            Some(s) if s.phase == RolloutPhase::RolledBack => run.stay_rolled_back(s.clone()).await,
            Some(s) if !s.phase.is_terminal() => run.resume(s.clone(), strategy).await,
            _ => {
                let status = run.start(previous).await?;
                run.resume(status, strategy).await
            }
        }
    }
}

/// One call's context.
struct Run<'a> {
    driver: &'a Driver,
    release: &'a Release<'a>,
    objects: &'a Objects,
    revision: &'a str,
    gates: Vec<CheckResult>,
    diagnostics: Vec<Diagnostic>,
}

fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Time from `since` (RFC 3339) to `now`; `None` when unset or unreadable.
fn elapsed(now: Timestamp, since: Option<&str>) -> Option<Duration> {
    let since: Timestamp = since?.parse().ok()?;
    let d = now.duration_since(since);
    Some(if d.is_negative() {
        Duration::ZERO
    } else {
        d.unsigned_abs()
    })
}

/// Whether an annotation's time is at or after the rollout's start.
fn newer(annotation: Option<&String>, started_at: Option<&str>) -> Option<Timestamp> {
    let at: Timestamp = annotation?.parse().ok()?;
    let start: Timestamp = started_at?.parse().ok()?;
    (at >= start).then_some(at)
}

impl Run<'_> {
    fn client(&self) -> &Client {
        &self.driver.client
    }

    fn now(&self) -> Timestamp {
        self.driver.clock.now()
    }

    fn subject<'s>(&'s self, status: &'s RolloutStatus) -> Subject<'s> {
        Subject {
            release: self.release.name,
            namespace: self.objects.namespace(),
            target: self.objects.target_name(),
            revision: &status.candidate_revision,
            checksum: &status.candidate_hash,
            phase: status.phase,
        }
    }

    /// Nothing to roll out: the primary runs the render (or is created
    /// from it). Writes the generated objects again, so drift and replica
    /// changes in the render reach the cluster, and ends a rollout whose
    /// candidate the render no longer has.
    async fn settle(&mut self, previous: Option<&RolloutStatus>) -> Result<Outcome> {
        let client = self.client();
        traffic::promote(client, self.objects).await?;
        traffic::scale_canary(client, self.objects, false).await?;
        traffic::services(client, self.objects, 0).await?;
        let primary_name = self.objects.primary_name();
        let status = match previous {
            Some(s)
                if s.phase == RolloutPhase::Succeeded
                    && s.candidate_hash == self.objects.hash() =>
            {
                RolloutStatus {
                    stable_revision: self.revision.into(),
                    candidate_revision: self.revision.into(),
                    ..s.clone()
                }
            }
            _ => {
                let message = match previous {
                    None => format!(
                        "initialised: {primary_name} runs revision {}",
                        self.revision
                    ),
                    Some(s) if !s.phase.is_terminal() => format!(
                        "rollout of {} withdrawn: the render matches {primary_name} again",
                        s.candidate_revision
                    ),
                    Some(_) => format!("{primary_name} runs revision {}", self.revision),
                };
                RolloutStatus {
                    phase: RolloutPhase::Succeeded,
                    strategy: self.objects.strategy().into(),
                    stable_revision: self.revision.into(),
                    candidate_revision: self.revision.into(),
                    candidate_hash: self.objects.hash().into(),
                    message,
                    ..RolloutStatus::default()
                }
            }
        };
        let primary =
            traffic::deployment(self.client(), self.objects.namespace(), &primary_name).await?;
        if primary.as_ref().is_some_and(traffic::available) {
            let message = format!("{primary_name} runs revision {}", self.revision);
            Ok(self.outcome(status, None, true, ReadyReason::Succeeded, message))
        } else {
            let message = format!(
                "waiting for Deployment {}/{primary_name} to be available",
                self.objects.namespace()
            );
            Ok(self.outcome(
                status,
                Some(SHORT_RETRY),
                false,
                ReadyReason::Progressing,
                message,
            ))
        }
    }

    /// A rolled-back candidate is not tried again (as Flagger): traffic
    /// stays on the primary until the render changes.
    async fn stay_rolled_back(&mut self, status: RolloutStatus) -> Result<Outcome> {
        traffic::services(self.client(), self.objects, 0).await?;
        traffic::scale_canary(self.client(), self.objects, false).await?;
        let message = status.message.clone();
        Ok(self.outcome(status, None, false, ReadyReason::RolledBack, message))
    }

    /// A new candidate: all traffic to the primary, the canary runs it.
    async fn start(&mut self, previous: Option<&RolloutStatus>) -> Result<RolloutStatus> {
        let now = format_time(self.now());
        let stable = match previous {
            // The primary already took the previous candidate.
            Some(s) if s.phase == RolloutPhase::Promoting => s.candidate_revision.clone(),
            Some(s) => s.stable_revision.clone(),
            None => String::new(),
        };
        let message = match previous {
            Some(s) if !s.phase.is_terminal() => format!(
                "restarted: candidate {} replaces {}",
                self.revision, s.candidate_revision
            ),
            _ => format!("rolling out {}", self.revision),
        };
        traffic::services(self.client(), self.objects, 0).await?;
        traffic::scale_canary(self.client(), self.objects, true).await?;
        Ok(RolloutStatus {
            phase: RolloutPhase::Initializing,
            strategy: self.objects.strategy().into(),
            stable_revision: stable,
            candidate_revision: self.revision.into(),
            candidate_hash: self.objects.hash().into(),
            started_at: Some(now.clone()),
            step_started_at: Some(now),
            message,
            ..RolloutStatus::default()
        })
    }

    /// Asks the strategy and acts until it waits or the budget is spent.
    async fn resume<S: Strategy>(
        &mut self,
        mut status: RolloutStatus,
        strategy: &S,
    ) -> Result<Outcome> {
        if let Some(at) = newer(
            self.release.annotations.get(ABORT_ANNOTATION),
            status.started_at.as_deref(),
        ) {
            let reason = format!("aborted via `sluice rollout abort` at {at}");
            return self.roll_back(status, reason).await;
        }
        for _ in 0..self.driver.max_decisions {
            let now = self.now();
            let input = self.input(&mut status, now).await?;
            let (decision, diagnostics) = strategy.step(input).await?;
            if let Some(last) = diagnostics.last() {
                status.message = last.message.clone();
            }
            tracing::debug!(release = self.release.name, ?decision, "rollout decision");
            self.diagnostics.extend(diagnostics);
            match decision {
                Decision::Wait(after) => return Ok(self.progressing(status, after)),
                Decision::Analyse => {
                    if let Some(reason) = self.analyse(&mut status, now).await? {
                        return self.roll_back(status, reason).await;
                    }
                }
                Decision::SetWeight(weight) => {
                    traffic::set_weight(self.client(), self.objects, weight).await?;
                    status.phase = RolloutPhase::Progressing;
                    status.step += 1;
                    status.canary_weight = weight;
                    status.step_started_at = Some(format_time(now));
                    status.step_passed = 0;
                    status.last_analysis.clear();
                    status.last_analysis_at = None;
                }
                Decision::Promote => {
                    if let Some(outcome) = self.promote(&mut status).await? {
                        return Ok(outcome);
                    }
                }
                Decision::Done if status.phase == RolloutPhase::Promoting => {
                    return self.succeed(status).await;
                }
                Decision::Done => {
                    return Err(Error::Strategy(
                        format!(
                            "strategy '{}' answered done in phase {:?}, before promote; the candidate is not on the primary",
                            self.objects.strategy(),
                            status.phase
                        )
                        .into(),
                    ));
                }
                Decision::Rollback(reason) => return self.roll_back(status, reason).await,
            }
        }
        Ok(self.progressing(status, BUDGET_RETRY))
    }

    /// The strategy's input; also records the gates in the status.
    async fn input(&self, status: &mut RolloutStatus, now: Timestamp) -> Result<StepInput> {
        let watched = if status.phase == RolloutPhase::Promoting {
            self.objects.primary_name()
        } else {
            self.objects.canary_name()
        };
        let candidate_ready =
            traffic::deployment(self.client(), self.objects.namespace(), &watched)
                .await?
                .as_ref()
                .is_some_and(traffic::available);
        let mut gates = self.gates.clone();
        if self.release.spec.manual_approval {
            gates.push(self.approval(status));
        }
        status.gates = gates.clone();
        let since = |t: &Option<String>| elapsed(now, t.as_deref());
        Ok(StepInput {
            config: self.release.spec.strategy.config.clone(),
            phase: status.phase,
            step: status.step,
            canary_weight: status.canary_weight,
            stable_revision: status.stable_revision.clone(),
            candidate_revision: status.candidate_revision.clone(),
            candidate_ready,
            step_elapsed: since(&status.step_started_at).unwrap_or_default(),
            total_elapsed: since(&status.started_at).unwrap_or_default(),
            analyses: status.analyses,
            failed_analyses: status.failed_analyses,
            step_passed: status.step_passed,
            since_analysis: since(&status.last_analysis_at),
            last_analysis: status.last_analysis.clone(),
            gates,
        })
    }

    /// Passes when `sluice rollout promote` ran after the rollout started.
    fn approval(&self, status: &RolloutStatus) -> CheckResult {
        let approved = newer(
            self.release.annotations.get(PROMOTE_ANNOTATION),
            status.started_at.as_deref(),
        );
        CheckResult {
            name: "approval".into(),
            kind: CheckKind::Approval,
            passed: approved.is_some(),
            query: format!("annotation {PROMOTE_ANNOTATION}"),
            value: None,
            threshold: "set after the rollout started".into(),
            message: match approved {
                Some(at) => format!("approved at {at}"),
                None => format!(
                    "waiting for approval: run `sluice rollout promote {} -n {}`",
                    self.release.name, self.release.namespace
                ),
            },
        }
    }

    /// Runs one analysis and counts it. Before any traffic moved (step 0,
    /// weight 0) the first passing run is the `pre-rollout` webhooks; a
    /// weighted canary with no traffic has no metrics to judge, so later
    /// runs there pass empty; otherwise metrics, `rollout` and `rollback`
    /// webhooks. Returns a rollback reason when a rollback webhook fired.
    async fn analyse(&self, status: &mut RolloutStatus, now: Timestamp) -> Result<Option<String>> {
        let analysis = &self.release.spec.analysis;
        let before_traffic = status.step == 0 && status.canary_weight == 0;
        let pre_rollout = analysis
            .webhooks
            .iter()
            .any(|w| w.type_ == WebhookType::PreRollout);
        let outcome = if before_traffic && status.step_passed == 0 && pre_rollout {
            let subject = self.subject(status);
            let checks = analysis::webhooks(
                &self.driver.http,
                analysis,
                WebhookType::PreRollout,
                subject,
            )
            .await;
            analysis::Outcome {
                checks,
                rollback: None,
            }
        } else if before_traffic && self.objects.mode() == TrafficMode::Weighted {
            analysis::Outcome::default()
        } else {
            analysis::analyse(&self.driver.http, analysis, self.subject(status)).await?
        };
        status.analyses += 1;
        if outcome.passed() {
            status.step_passed += 1;
        } else {
            status.failed_analyses += 1;
        }
        status.last_analysis = outcome.checks;
        status.last_analysis_at = Some(format_time(now));
        Ok(outcome.rollback)
    }

    /// Promotion, unless a gate or a `confirm-promotion` webhook holds it
    /// (then the outcome to return). Gates are enforced here whatever the
    /// strategy decided.
    async fn promote(&mut self, status: &mut RolloutStatus) -> Result<Option<Outcome>> {
        let blocked: Vec<String> = status
            .gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| format!("{}: {}", g.name, g.message))
            .collect();
        if !blocked.is_empty() {
            status.phase = RolloutPhase::WaitingPromotion;
            status.message = format!("promotion blocked by {}", blocked.join("; "));
            return Ok(Some(self.progressing(status.clone(), GATE_RETRY)));
        }
        let analysis = &self.release.spec.analysis;
        let confirm = analysis::webhooks(
            &self.driver.http,
            analysis,
            WebhookType::ConfirmPromotion,
            self.subject(status),
        )
        .await;
        if let Some(check) = confirm.iter().find(|c| !c.passed) {
            status.phase = RolloutPhase::WaitingPromotion;
            status.message = format!("promotion waits for confirmation: {}", check.message);
            return Ok(Some(self.progressing(status.clone(), SHORT_RETRY)));
        }
        traffic::promote(self.client(), self.objects).await?;
        status.phase = RolloutPhase::Promoting;
        status.message = format!(
            "promoting {}: copied to {}",
            status.candidate_revision,
            self.objects.primary_name()
        );
        Ok(None)
    }

    /// The primary runs the candidate: all traffic to it, canary off.
    async fn succeed(&mut self, mut status: RolloutStatus) -> Result<Outcome> {
        self.finish(&mut status, RolloutPhase::Succeeded).await?;
        status.stable_revision = status.candidate_revision.clone();
        status.message = format!("promoted {}", status.candidate_revision);
        let message = status.message.clone();
        Ok(self.outcome(status, None, true, ReadyReason::Succeeded, message))
    }

    /// The stable revision gets all traffic back; the reason stays in the
    /// status with the analysis that led to it.
    async fn roll_back(&mut self, mut status: RolloutStatus, reason: String) -> Result<Outcome> {
        self.finish(&mut status, RolloutPhase::RolledBack).await?;
        status.message = format!("rolled back {}: {reason}", status.candidate_revision);
        let message = status.message.clone();
        Ok(self.outcome(status, None, false, ReadyReason::RolledBack, message))
    }

    /// Traffic to the primary, the canary scaled to 0, `post-rollout`
    /// webhooks called (their results are only reported).
    async fn finish(&mut self, status: &mut RolloutStatus, phase: RolloutPhase) -> Result<()> {
        traffic::set_weight(self.client(), self.objects, 0).await?;
        traffic::scale_canary(self.client(), self.objects, false).await?;
        status.phase = phase;
        status.canary_weight = 0;
        let hooks = analysis::webhooks(
            &self.driver.http,
            &self.release.spec.analysis,
            WebhookType::PostRollout,
            self.subject(status),
        )
        .await;
        for hook in hooks {
            let (severity, message) = if hook.passed {
                (
                    Severity::Info,
                    format!("post-rollout webhook '{}' answered", hook.name),
                )
            } else {
                (Severity::Warning, hook.message)
            };
            self.diagnostics.push(Diagnostic {
                severity,
                ..Diagnostic::error(message)
            });
        }
        Ok(())
    }

    fn progressing(&mut self, status: RolloutStatus, after: Duration) -> Outcome {
        let (reason, what) = match status.phase {
            RolloutPhase::WaitingPromotion => {
                (ReadyReason::WaitingPromotion, "waiting for promotion")
            }
            RolloutPhase::Promoting => (ReadyReason::Progressing, "promoting"),
            _ => (ReadyReason::Progressing, "rolling out"),
        };
        let mut message = format!(
            "{what} {} (step {}, canary weight {}%)",
            status.candidate_revision, status.step, status.canary_weight
        );
        if !status.message.is_empty() {
            message = format!("{message}: {}", status.message);
        }
        self.outcome(status, Some(after), false, reason, message)
    }

    fn outcome(
        &mut self,
        status: RolloutStatus,
        requeue_after: Option<Duration>,
        ready: bool,
        reason: ReadyReason,
        message: String,
    ) -> Outcome {
        Outcome {
            status,
            requeue_after,
            ready: Ready {
                ready,
                reason,
                message,
            },
            diagnostics: std::mem::take(&mut self.diagnostics),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_times_from_rfc3339() {
        let now: Timestamp = "2026-01-01T00:01:30Z".parse().unwrap();
        assert_eq!(
            elapsed(now, Some("2026-01-01T00:00:00.500Z")),
            Some(Duration::from_millis(89_500))
        );
        assert_eq!(
            elapsed(now, Some("2026-01-01T00:02:00Z")),
            Some(Duration::ZERO)
        );
        assert_eq!(elapsed(now, None), None);
        assert_eq!(elapsed(now, Some("yesterday")), None);
        assert_eq!(format_time(now), "2026-01-01T00:01:30.000Z");
    }

    #[test]
    fn annotations_count_from_the_rollout_start() {
        let start = Some("2026-01-01T00:00:00Z");
        let at = |s: &str| s.to_string();
        assert!(newer(Some(&at("2026-01-01T00:00:05Z")), start).is_some());
        assert!(newer(Some(&at("2026-01-01T00:00:00Z")), start).is_some());
        assert!(newer(Some(&at("2025-12-31T23:59:59Z")), start).is_none());
        assert!(newer(Some(&at("soon")), start).is_none());
        assert!(newer(None, start).is_none());
    }
}
