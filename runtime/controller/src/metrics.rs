//! Prometheus metrics on `/metrics`, in the text format (no client
//! library: three metric families do not need one). Labels are fixed
//! strings and object names, never error text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use sluice_types::Verdict;

/// Upper bounds of the reconcile duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    durations: BTreeMap<&'static str, Histogram>,
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
        let seconds = took.as_secs_f64();
        let mut inner = self.inner();
        let h = inner.durations.entry(kind).or_default();
        for (slot, bound) in h.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *slot += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn ready(&self, kind: &'static str, namespace: &str, name: &str, status: &str) {
        let key = (kind, namespace.to_owned(), name.to_owned());
        self.inner().ready.insert(key, status.to_owned());
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
            for (count, bound) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "sluice_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "sluice_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "sluice_reconcile_duration_seconds_sum{{kind=\"{kind}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "sluice_reconcile_duration_seconds_count{{kind=\"{kind}\"}} {}",
                h.count
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
        out
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
