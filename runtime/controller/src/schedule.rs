//! When to run again: `interval` with jitter after success, `retryInterval`
//! doubled per consecutive failure (capped at the interval) after failure,
//! and a memo so the events a reconcile causes itself (its status write) do
//! not run the pipeline again before it is due.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Up to this share of the interval is added at random, so objects created
/// together do not reconcile together forever (Flux's interval jitter).
const JITTER: f64 = 0.1;

/// What a finished reconcile saw, and when it is due again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub generation: Option<i64>,
    pub requested_at: Option<String>,
    /// The Source's last recorded revision (releases only).
    pub source_revision: Option<String>,
}

#[derive(Debug)]
struct Entry {
    seen: Seen,
    due: Instant,
    failures: u32,
}

/// Per object (`Kind/namespace/name`): the last outcome.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Memo {
    /// How long until `key` is due, when nothing it depends on changed.
    pub fn wait(&self, key: &str, seen: &Seen) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key).filter(|e| &e.seen == seen)?;
        let left = entry.due.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Records a success; the next run is `interval` plus jitter away.
    pub fn succeeded(&self, key: &str, seen: Seen, interval: Duration) -> Duration {
        let next = jittered(interval);
        self.put(key, seen, next, 0);
        next
    }

    /// Records a failure; the next run backs off from `retry`.
    pub fn failed(&self, key: &str, seen: Seen, retry: Duration, cap: Duration) -> Duration {
        let failures = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.get(key).map_or(0, |e| e.failures)
        } + 1;
        let next = backoff(retry, cap, failures);
        self.put(key, seen, next, failures);
        next
    }

    /// Forgets `key` (deleted, suspended, or its dependencies not ready).
    pub fn forget(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }

    fn put(&self, key: &str, seen: Seen, next: Duration, failures: u32) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(
            key.to_owned(),
            Entry {
                seen,
                due: Instant::now() + next,
                failures,
            },
        );
    }
}

/// `interval` plus up to 10% more, at random.
pub(crate) fn jittered(interval: Duration) -> Duration {
    // A fresh RandomState is seeded from the OS: enough randomness to
    // spread requeues without a random-number crate.
    let bits = RandomState::new().hash_one(Instant::now());
    let share = (bits % 10_000) as f64 / 10_000.0 * JITTER;
    interval + interval.mul_f64(share)
}

/// `retry × 2^(failures−1)`, at most `cap` (and never less than `retry`).
pub(crate) fn backoff(retry: Duration, cap: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    retry.saturating_mul(factor).min(cap.max(retry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(5), s(60), 1), s(5));
        assert_eq!(backoff(s(5), s(60), 2), s(10));
        assert_eq!(backoff(s(5), s(60), 4), s(40));
        assert_eq!(backoff(s(5), s(60), 5), s(60));
        assert_eq!(backoff(s(5), s(60), 40), s(60));
        assert_eq!(backoff(s(90), s(60), 3), s(90), "cap never undercuts retry");
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(100);
        let spread: Vec<Duration> = (0..50).map(|_| jittered(interval)).collect();
        assert!(
            spread
                .iter()
                .all(|d| *d >= interval && *d <= interval.mul_f64(1.1))
        );
        assert!(spread.iter().any(|d| *d != spread[0]), "jitter varies");
    }

    #[test]
    fn memo_holds_until_due_or_changed() {
        let memo = Memo::default();
        let seen = Seen {
            generation: Some(1),
            requested_at: None,
            source_revision: Some("r1".into()),
        };
        memo.succeeded("k", seen.clone(), Duration::from_secs(60));
        assert!(memo.wait("k", &seen).is_some());
        let changed = Seen {
            source_revision: Some("r2".into()),
            ..seen.clone()
        };
        assert!(
            memo.wait("k", &changed).is_none(),
            "a new revision runs now"
        );
        let first = memo.failed(
            "k",
            seen.clone(),
            Duration::from_secs(1),
            Duration::from_secs(60),
        );
        let second = memo.failed("k", seen, Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(
            (first, second),
            (Duration::from_secs(1), Duration::from_secs(2))
        );
    }
}
