//! Bounded retries of transient failures: a busy or restarting API server
//! (429 with `Retry-After`, 5xx), a broken connection or a request that
//! hangs should not fail a release that would succeed a second later.
//!
//! Every call has its own deadline: kube's socket read timeout (295 s by
//! default, sized for watches) would leave a hung request stuck for
//! minutes. Retrying after a timeout is safe because every write is
//! idempotent (server-side apply; a repeated delete finds 404).

use std::future::Future;
use std::time::Duration;

use kube::Client;

/// The client and the deadline of each of its calls; every request of the
/// engine goes through [`Cluster::call`].
#[derive(Clone)]
pub(crate) struct Cluster {
    pub client: Client,
    pub timeout: Duration,
}

impl Cluster {
    /// `call` with a deadline per attempt and bounded retries.
    pub async fn call<T, F, Fut>(&self, call: F) -> kube::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = kube::Result<T>>,
    {
        retry(self.timeout, call).await
    }
}

const ATTEMPTS: u32 = 5;
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Runs `call` until it succeeds, fails for good, or [`ATTEMPTS`] are used;
/// an attempt without an answer after `timeout` counts as a transient
/// failure.
async fn retry<T, F, Fut>(timeout: Duration, mut call: F) -> kube::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = kube::Result<T>>,
{
    let mut attempt = 1;
    loop {
        let answer = tokio::time::timeout(timeout, call())
            .await
            .unwrap_or_else(|_| Err(timed_out(timeout)));
        match answer {
            Err(e) if attempt < ATTEMPTS => match delay(&e, attempt) {
                Some(wait) => {
                    tracing::debug!(error = %e, ?wait, attempt, "transient API error, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// A call that got no answer in time, as kube reports a broken connection.
pub(crate) fn timed_out(timeout: Duration) -> kube::Error {
    let error = std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer from the API server within {timeout:?}"),
    );
    kube::Error::Service(Box::new(error))
}

/// How long to wait before attempt `attempt + 1`, or `None` when `error`
/// is not worth retrying. The server's `Retry-After` wins, capped.
fn delay(error: &kube::Error, attempt: u32) -> Option<Duration> {
    let backoff = FIRST_DELAY
        .saturating_mul(2u32.saturating_pow(attempt - 1))
        .min(MAX_DELAY);
    match error {
        kube::Error::Api(status) if matches!(status.code, 429 | 500 | 502 | 503 | 504) => {
            let asked = status
                .details
                .as_ref()
                .map(|d| Duration::from_secs(d.retry_after_seconds.into()))
                .filter(|d| !d.is_zero());
            Some(asked.map_or(backoff, |d| d.min(MAX_DELAY)))
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(backoff),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::{Status, response::StatusDetails};
    use std::cell::Cell;

    fn status(code: u16, retry_after: u32) -> kube::Error {
        let details = StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds: retry_after,
        };
        kube::Error::Api(
            Status::failure("busy", "TooManyRequests")
                .with_code(code)
                .with_details(details)
                .boxed(),
        )
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = Cell::new(0);
        let result = retry(Duration::from_secs(5), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err(status(500, 0)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.ok(), Some(3));
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = Cell::new(0);
        let result: kube::Result<()> = retry(Duration::from_secs(5), || {
            calls.set(calls.get() + 1);
            async { Err(status(422, 0)) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn calls_that_hang_time_out_and_are_retried() {
        let calls = Cell::new(0);
        let result = retry(Duration::from_millis(50), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    std::future::pending::<()>().await;
                }
                Ok(n)
            }
        })
        .await;
        assert_eq!(result.ok(), Some(3));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        assert_eq!(delay(&status(429, 2), 1), Some(Duration::from_secs(2)));
        assert_eq!(delay(&status(429, 600), 1), Some(MAX_DELAY));
        assert_eq!(delay(&status(503, 0), 3), Some(Duration::from_millis(400)));
        assert_eq!(delay(&status(404, 0), 1), None);
    }
}
