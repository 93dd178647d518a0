//! When and how long to wait before retrying a GitHub request.
//!
//! Server errors, timeouts and dropped connections back off exponentially
//! with jitter. Rate limits wait as long as GitHub requests, following "Rate
//! limits for the REST API" (API version 2022-11-28). A `retry-after` header
//! gives the seconds to wait. Without it, `x-ratelimit-remaining: 0` means
//! wait until `x-ratelimit-reset` (UTC epoch seconds). Failing both, a
//! secondary rate limit means wait at least one minute.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// How often and how long the client retries a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// Backoff before the first retry; it doubles with each further retry.
    pub base_delay: Duration,
    /// Upper bound of one backoff wait.
    pub max_delay: Duration,
    /// Maximum single wait for a rate limit to lift. When GitHub requests a
    /// longer one, the call fails at once with `RateLimited`, so a worker can
    /// reschedule the job instead of holding on to it.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

/// The wait GitHub's rate-limit guide prescribes for a secondary rate limit
/// that names no time.
const SECONDARY_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

impl RetryPolicy {
    /// Returns the backoff before retry number `retry` (1 for the first
    /// retry): `base_delay * 2^(retry-1)`, capped at `max_delay`, of which a
    /// random part up to half is taken off so that clients that failed
    /// together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubling = 2_u32.saturating_pow(retry.saturating_sub(1));
        let full = self.base_delay.saturating_mul(doubling).min(self.max_delay);
        let jitter = full.mul_f64(fastrand::f64() / 2.0);
        full - jitter
    }
}

/// Returns how long GitHub requests the client to wait when `status` and
/// `headers` report a rate limit, or `None` when the response is not a rate
/// limit (a plain 403 is a missing permission and must not be retried).
///
/// `message` is the `message` field of the error body; `now_epoch` is the
/// current time in seconds since the Unix epoch.
pub(crate) fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    message: &str,
    now_epoch: f64,
) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    if let Some(wait) = retry_after(headers) {
        return Some(wait);
    }
    if header_number(headers, "x-ratelimit-remaining") == Some(0) {
        if let Some(reset) = header_number(headers, "x-ratelimit-reset") {
            return Some(Duration::from_secs_f64((reset as f64 - now_epoch).max(0.0)));
        }
    }
    let names_rate_limit = message.to_ascii_lowercase().contains("rate limit");
    if status == StatusCode::TOO_MANY_REQUESTS || names_rate_limit {
        return Some(SECONDARY_RATE_LIMIT_WAIT);
    }
    None
}

/// Returns the `retry-after` header in seconds. GitHub sends whole seconds;
/// the HTTP-date form is not read.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_number(headers, "retry-after").map(Duration::from_secs)
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };

        for _ in 0..50 {
            let first = policy.backoff(1);
            let second = policy.backoff(2);
            let capped = policy.backoff(10);

            assert!((50..=100).contains(&first.as_millis()), "first retry waited {first:?}");
            assert!(
                (100..=200).contains(&second.as_millis()),
                "second retry waited {second:?}"
            );
            assert!(
                (175..=350).contains(&capped.as_millis()),
                "tenth retry waited {capped:?}"
            );
        }
    }

    #[test]
    fn backoff_survives_huge_retry_numbers() {
        let policy = RetryPolicy::default();

        let wait = policy.backoff(u32::MAX);

        assert!(wait <= policy.max_delay);
    }

    #[test]
    fn rate_limit_waits() {
        let now = 1_700_000_000.0;
        let forbidden = StatusCode::FORBIDDEN;
        let too_many = StatusCode::TOO_MANY_REQUESTS;
        let cases: [(&str, StatusCode, HeaderMap, &str, Option<Duration>); 7] = [
            (
                "retry-after wins",
                forbidden,
                headers(&[("retry-after", "7")]),
                "",
                Some(Duration::from_secs(7)),
            ),
            (
                "primary limit waits for the reset",
                forbidden,
                headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000030")]),
                "API rate limit exceeded",
                Some(Duration::from_secs(30)),
            ),
            (
                "a reset in the past waits nothing",
                forbidden,
                headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1699999990")]),
                "",
                Some(Duration::ZERO),
            ),
            (
                "secondary limit without headers waits a minute",
                forbidden,
                headers(&[("x-ratelimit-remaining", "4000")]),
                "You have exceeded a secondary rate limit.",
                Some(SECONDARY_RATE_LIMIT_WAIT),
            ),
            (
                "429 without headers waits a minute",
                too_many,
                HeaderMap::new(),
                "",
                Some(SECONDARY_RATE_LIMIT_WAIT),
            ),
            (
                "plain 403 is a permission problem",
                forbidden,
                headers(&[("x-ratelimit-remaining", "4000")]),
                "Resource not accessible by integration",
                None,
            ),
            (
                "500 is never a rate limit",
                StatusCode::INTERNAL_SERVER_ERROR,
                headers(&[("retry-after", "3")]),
                "",
                None,
            ),
        ];

        for (case, status, headers, message, expected) in cases {
            let wait = rate_limit_wait(status, &headers, message, now);

            assert_eq!(wait, expected, "{case}");
        }
    }
}
