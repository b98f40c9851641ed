//! Prometheus metrics on `/metrics`, in the text format (no client
//! library: five metric families do not need one). Labels are fixed
//! strings, object and plugin names, never error text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use sluice_pipeline::{Observer, PluginCall};
use sluice_types::Verdict;

/// Upper bounds of the reconcile duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Upper bounds of the plugin call buckets, in seconds: a policy over a
/// few objects answers in milliseconds, a Git fetch in seconds.
const CALL_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0,
];

#[derive(Debug)]
struct Histogram<const N: usize> {
    counts: [u64; N],
    count: u64,
    sum: f64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram {
            counts: [0; N],
            count: 0,
            sum: 0.0,
        }
    }
}

impl<const N: usize> Histogram<N> {
    fn observe(&mut self, bounds: &[f64; N], seconds: f64) {
        for (slot, bound) in self.counts.iter_mut().zip(bounds) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    /// The `_bucket`, `_sum` and `_count` lines of one series.
    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64; N]) {
        for (count, bound) in self.counts.iter().zip(bounds) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// One plugin's calls of one kind.
#[derive(Debug, Default)]
struct Calls {
    durations: Histogram<{ CALL_BUCKETS.len() }>,
    failures: u64,
}

#[derive(Debug, Default)]
struct Inner {
    durations: BTreeMap<&'static str, Histogram<{ BUCKETS.len() }>>,
    /// (plugin, kind) → its calls.
    calls: BTreeMap<(String, &'static str), Calls>,
    /// (kind, namespace, name) → Ready status.
    ready: BTreeMap<(&'static str, String, String), String>,
    /// (policy, verdict) → how many runs got it.
    verdicts: BTreeMap<(String, Verdict), u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics(Mutex<Inner>);

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reconciled(&self, kind: &'static str, took: Duration) {
        self.inner()
            .durations
            .entry(kind)
            .or_default()
            .observe(&BUCKETS, took.as_secs_f64());
    }

    pub fn ready(&self, kind: &'static str, namespace: &str, name: &str, status: &str) {
        let key = (kind, namespace.to_owned(), name.to_owned());
        self.inner().ready.insert(key, status.to_owned());
    }

    /// Drops the Ready series of a deleted object.
    pub fn forget(&self, kind: &'static str, namespace: &str, name: &str) {
        let key = (kind, namespace.to_owned(), name.to_owned());
        self.inner().ready.remove(&key);
    }

    pub fn verdict(&self, policy: &str, verdict: Verdict) {
        *self
            .inner()
            .verdicts
            .entry((policy.to_owned(), verdict))
            .or_default() += 1;
    }

    pub fn render(&self) -> String {
        let inner = self.inner();
        let mut out = String::new();
        out.push_str("# HELP sluice_reconcile_duration_seconds How long one reconcile took.\n");
        out.push_str("# TYPE sluice_reconcile_duration_seconds histogram\n");
        for (kind, h) in &inner.durations {
            let labels = format!("kind=\"{kind}\"");
            h.render(
                &mut out,
                "sluice_reconcile_duration_seconds",
                &labels,
                &BUCKETS,
            );
        }
        out.push_str("# HELP sluice_condition The Ready condition of each object, one series per status (1 for the current one).\n");
        out.push_str("# TYPE sluice_condition gauge\n");
        for ((kind, ns, name), current) in &inner.ready {
            for status in ["True", "False", "Unknown"] {
                let _ = writeln!(
                    out,
                    "sluice_condition{{kind=\"{kind}\",namespace=\"{}\",name=\"{}\",type=\"Ready\",status=\"{status}\"}} {}",
                    escape(ns),
                    escape(name),
                    u8::from(current == status)
                );
            }
        }
        out.push_str("# HELP sluice_policy_verdicts_total Policy verdicts on release runs.\n");
        out.push_str("# TYPE sluice_policy_verdicts_total counter\n");
        for ((policy, verdict), count) in &inner.verdicts {
            let _ = writeln!(
                out,
                "sluice_policy_verdicts_total{{policy=\"{}\",verdict=\"{verdict}\"}} {count}",
                escape(policy)
            );
        }
        out.push_str("# HELP sluice_plugin_call_duration_seconds How long one plugin call took.\n");
        out.push_str("# TYPE sluice_plugin_call_duration_seconds histogram\n");
        for ((plugin, kind), calls) in &inner.calls {
            let labels = format!("plugin=\"{}\",kind=\"{kind}\"", escape(plugin));
            calls.durations.render(
                &mut out,
                "sluice_plugin_call_duration_seconds",
                &labels,
                &CALL_BUCKETS,
            );
        }
        out.push_str("# HELP sluice_plugin_call_failures_total Plugin calls that returned an error (trap, timeout, failure).\n");
        out.push_str("# TYPE sluice_plugin_call_failures_total counter\n");
        for ((plugin, kind), calls) in &inner.calls {
            let _ = writeln!(
                out,
                "sluice_plugin_call_failures_total{{plugin=\"{}\",kind=\"{kind}\"}} {}",
                escape(plugin),
                calls.failures
            );
        }
        out
    }
}

impl Observer for Metrics {
    fn plugin_call(&self, call: PluginCall<'_>) {
        let mut inner = self.inner();
        let calls = inner
            .calls
            .entry((call.plugin.to_owned(), call.kind.world()))
            .or_default();
        calls
            .durations
            .observe(&CALL_BUCKETS, call.took.as_secs_f64());
        calls.failures += u64::from(call.failed);
    }
}

/// Label values escape backslash, quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_types::PluginKind;

    #[test]
    fn plugin_calls_by_plugin_and_kind() {
        let m = Metrics::default();
        let call = |plugin, kind, ms, failed| PluginCall {
            plugin,
            kind,
            took: Duration::from_millis(ms),
            failed,
        };
        m.plugin_call(call("guardrails", PluginKind::Policy, 3, false));
        m.plugin_call(call("guardrails", PluginKind::Policy, 200, true));
        m.plugin_call(call("git", PluginKind::Source, 2000, false));
        let text = m.render();
        for line in [
            "sluice_plugin_call_duration_seconds_bucket{plugin=\"guardrails\",kind=\"policy\",le=\"0.005\"} 1\n",
            "sluice_plugin_call_duration_seconds_bucket{plugin=\"guardrails\",kind=\"policy\",le=\"0.25\"} 2\n",
            "sluice_plugin_call_duration_seconds_count{plugin=\"guardrails\",kind=\"policy\"} 2\n",
            "sluice_plugin_call_duration_seconds_bucket{plugin=\"git\",kind=\"source\",le=\"1\"} 0\n",
            "sluice_plugin_call_duration_seconds_bucket{plugin=\"git\",kind=\"source\",le=\"5\"} 1\n",
            "sluice_plugin_call_failures_total{plugin=\"guardrails\",kind=\"policy\"} 1\n",
            "sluice_plugin_call_failures_total{plugin=\"git\",kind=\"source\"} 0\n",
            "# TYPE sluice_plugin_call_failures_total counter\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn renders_the_three_families() {
        let m = Metrics::default();
        m.reconciled("Release", Duration::from_millis(300));
        m.reconciled("Release", Duration::from_secs(3));
        m.ready("Release", "default", "web", "False");
        m.verdict("no-latest", Verdict::Deny);
        m.verdict("no-latest", Verdict::Deny);
        let text = m.render();
        assert!(
            text.contains(
                "sluice_reconcile_duration_seconds_bucket{kind=\"Release\",le=\"0.5\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "sluice_reconcile_duration_seconds_bucket{kind=\"Release\",le=\"5\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("sluice_reconcile_duration_seconds_count{kind=\"Release\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("sluice_condition{kind=\"Release\",namespace=\"default\",name=\"web\",type=\"Ready\",status=\"False\"} 1\n"), "{text}");
        assert!(text.contains("status=\"True\"} 0\n"), "{text}");
        assert!(
            text.contains(
                "sluice_policy_verdicts_total{policy=\"no-latest\",verdict=\"deny\"} 2\n"
            ),
            "{text}"
        );
    }
}
