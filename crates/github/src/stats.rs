//! Counts of the REST calls a client sent, for the server's `/metrics`.
//!
//! The counts live in the client and are shared by its clones, so this
//! crate needs no metrics library. The server reads a [`CallStats`]
//! snapshot when it is scraped.

use std::collections::BTreeMap;
use std::sync::Mutex;

use http::HeaderMap;

/// Counts of the attempts a client has sent so far. A call that was
/// retried twice counts three times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Attempts by outcome: the HTTP status code as text (`"200"`, `"502"`),
    /// or `"timeout"` and `"transport_error"` for attempts without a response.
    pub attempts: BTreeMap<String, u64>,
    /// The latest `x-ratelimit-remaining` GitHub sent, by the
    /// `x-ratelimit-resource` it names (`core` when the header is missing).
    pub rate_limit_remaining: BTreeMap<String, u64>,
}

/// The shared, updatable form of [`CallStats`].
#[derive(Debug, Default)]
pub(crate) struct CallRecorder {
    stats: Mutex<CallStats>,
}

impl CallRecorder {
    /// Records an attempt that got a response with `status` and `headers`.
    pub fn record_response(&self, status: u16, headers: &HeaderMap) {
        let remaining = headers
            .get("x-ratelimit-remaining")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|value| value.to_str().ok())
            .filter(|value| is_resource_name(value))
            .unwrap_or("core");
        let mut stats = self.lock();
        *stats.attempts.entry(status.to_string()).or_default() += 1;
        if let Some(remaining) = remaining {
            stats
                .rate_limit_remaining
                .insert(resource.to_owned(), remaining);
        }
    }

    /// Records an attempt that got no response; `outcome` is `"timeout"` or
    /// `"transport_error"`.
    pub fn record_failure(&self, outcome: &'static str) {
        *self.lock().attempts.entry(outcome.to_owned()).or_default() += 1;
    }

    pub fn snapshot(&self) -> CallStats {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CallStats> {
        // A panic while holding the lock leaves plain counters behind, which
        // stay valid, so a poisoned lock is used as is.
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Checks a resource name before it becomes a metric label: GitHub's are
/// short snake_case words (`core`, `search`, `graphql`), and anything else
/// would let a proxy's header grow the label set.
fn is_resource_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 40
        && value
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(remaining: &'static str, resource: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static(remaining));
        headers.insert("x-ratelimit-resource", HeaderValue::from_static(resource));
        headers
    }

    #[test]
    fn responses_count_by_status() {
        let recorder = CallRecorder::default();

        recorder.record_response(201, &headers("4999", "core"));
        recorder.record_response(502, &HeaderMap::new());
        recorder.record_response(201, &headers("4997", "core"));
        recorder.record_failure("timeout");

        let stats = recorder.snapshot();
        assert_eq!(stats.attempts.get("201"), Some(&2));
        assert_eq!(stats.attempts.get("502"), Some(&1));
        assert_eq!(stats.attempts.get("timeout"), Some(&1));
        assert_eq!(stats.rate_limit_remaining.get("core"), Some(&4997));
    }

    #[test]
    fn odd_resource_names_fall_back_to_core() {
        let recorder = CallRecorder::default();

        recorder.record_response(200, &headers("12", "Not A Name"));
        recorder.record_response(200, &headers("30", "search"));

        let stats = recorder.snapshot();
        assert_eq!(stats.rate_limit_remaining.get("core"), Some(&12));
        assert_eq!(stats.rate_limit_remaining.get("search"), Some(&30));
    }
}
