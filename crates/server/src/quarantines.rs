//! Quarantining benchmarks: the input checks that the JSON API and the
//! `/pitot quarantine` command share, and the active quarantines that the
//! reporter passes to the pull-request comment.
//!
//! A quarantine stops a benchmark from failing the check; the rendering
//! lives in `pitot_report`, which takes the quarantines as plain values.

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use pitot_report::{QuarantineKind, QuarantineNote, Quarantines};
use pitot_store::quarantines::{self, NewQuarantine, Quarantine};
use sqlx::{PgConnection, PgExecutor};

/// The maximum length of a reason, in characters. The comment shows at
/// most 200 of them; the dashboard shows the rest.
pub const MAX_REASON_CHARS: usize = 1_000;

/// The maximum length of a benchmark name, in bytes. asv writes names of
/// a few hundred characters at most.
const MAX_BENCHMARK_BYTES: usize = 1_000;

/// A quarantine request that is not valid; the message names the value and
/// the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidQuarantine {
    #[error(
        "invalid benchmark {0:?}: give the full asv name without parameters, such as `bench.Suite.time_sort`"
    )]
    Benchmark(String),
    #[error("unknown quarantine kind {0:?}: use noisy or ignored")]
    Kind(String),
    #[error("missing reason: say why the benchmark is quarantined")]
    EmptyReason,
    #[error("the reason has {0} characters: shorten it to at most {MAX_REASON_CHARS}")]
    LongReason(usize),
    #[error("expiry {0} is in the past: give a later time, or none for no expiry")]
    PastExpiry(String),
}

/// A checked request to quarantine a benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRequest {
    pub benchmark: String,
    pub kind: QuarantineKind,
    /// Trimmed and not empty.
    pub reason: String,
    /// Later than the time of the check, when given.
    pub expires_at: Option<DateTime<Utc>>,
}

impl QuarantineRequest {
    /// Checks each part of a request, with `now` as the time that an
    /// expiry must follow.
    pub fn parse(
        benchmark: &str,
        kind: &str,
        reason: &str,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, InvalidQuarantine> {
        let benchmark = check_benchmark(benchmark)?;
        let kind =
            QuarantineKind::parse(kind).ok_or_else(|| InvalidQuarantine::Kind(kind.to_owned()))?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(InvalidQuarantine::EmptyReason);
        }
        let reason_chars = reason.chars().count();
        if reason_chars > MAX_REASON_CHARS {
            return Err(InvalidQuarantine::LongReason(reason_chars));
        }
        if let Some(expires_at) = expires_at.filter(|expires_at| *expires_at <= now) {
            return Err(InvalidQuarantine::PastExpiry(expires_at.to_rfc3339()));
        }
        Ok(QuarantineRequest {
            benchmark,
            kind,
            reason: reason.to_owned(),
            expires_at,
        })
    }
}

/// Checks a benchmark name: not blank, not too long, and without the
/// parameters that asv appends in brackets, because a quarantine covers
/// every parameter combination.
pub fn check_benchmark(name: &str) -> Result<String, InvalidQuarantine> {
    let valid = !name.trim().is_empty()
        && name.trim() == name
        && name.len() <= MAX_BENCHMARK_BYTES
        && !name.contains('(')
        && !name.chars().any(char::is_control);
    if valid {
        Ok(name.to_owned())
    } else {
        Err(InvalidQuarantine::Benchmark(name.to_owned()))
    }
}

/// Returns the expiry of a quarantine whose last day is `last_day`: the
/// start of the next day, in UTC.
pub fn expiry_after(last_day: NaiveDate) -> DateTime<Utc> {
    let next_day = last_day.succ_opt().unwrap_or(last_day);
    next_day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Sets the benchmark's quarantine, replacing the active one, and returns
/// the stored row. `created_by` is the API token's name or `github:<login>`.
pub async fn set(
    conn: &mut PgConnection,
    repository_id: i32,
    request: &QuarantineRequest,
    created_by: &str,
) -> anyhow::Result<Quarantine> {
    let new = NewQuarantine {
        repository_id,
        benchmark: &request.benchmark,
        kind: request.kind.as_str(),
        reason: &request.reason,
        expires_at: request.expires_at,
        created_by,
    };
    quarantines::set_quarantine(conn, &new)
        .await
        .with_context(|| format!("failed to quarantine benchmark {}", request.benchmark))
}

/// Loads the repository's active quarantines as the comment shows them.
pub async fn comment_quarantines(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
) -> anyhow::Result<Quarantines> {
    let rows = quarantines::active_quarantines(executor, repository_id)
        .await
        .context("failed to load the repository's quarantines")?;
    let mut notes = Quarantines::default();
    for row in rows {
        // The table's check constraint allows only the two kinds.
        let Some(kind) = QuarantineKind::parse(&row.kind) else {
            continue;
        };
        notes.insert(
            row.benchmark,
            QuarantineNote {
                kind,
                reason: row.reason,
                expires: row
                    .expires_at
                    .map(|expires_at| expires_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            },
        );
    }
    Ok(notes)
}

/// Returns the kinds of `quarantines` as a JSON object from benchmark
/// name to kind, as `jobs.chart_quarantines` stores them.
pub(crate) fn kinds_to_json(quarantines: &Quarantines) -> serde_json::Value {
    quarantines
        .kinds()
        .map(|(benchmark, kind)| (benchmark.to_owned(), kind.as_str().into()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Reads what [`kinds_to_json`] wrote. The notes have no reason or
/// expiry, which the charts do not show. Entries of an unknown kind are
/// left out.
pub(crate) fn kinds_from_json(value: &serde_json::Value) -> Quarantines {
    let mut quarantines = Quarantines::default();
    for (benchmark, kind) in value.as_object().into_iter().flatten() {
        let Some(kind) = kind.as_str().and_then(QuarantineKind::parse) else {
            continue;
        };
        let note = QuarantineNote {
            kind,
            reason: String::new(),
            expires: None,
        };
        quarantines.insert(benchmark.clone(), note);
    }
    quarantines
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    #[test]
    fn chart_kinds_survive_json() {
        let mut quarantines = Quarantines::default();
        for (benchmark, kind) in [("bench.time_a", QuarantineKind::Noisy), ("bench.time_b", QuarantineKind::Ignored)] {
            let note = QuarantineNote { kind, reason: "flaky".to_owned(), expires: None };
            quarantines.insert(benchmark, note);
        }

        let json = kinds_to_json(&quarantines);
        let read: Vec<(String, QuarantineKind)> = kinds_from_json(&json)
            .kinds()
            .map(|(benchmark, kind)| (benchmark.to_owned(), kind))
            .collect();

        assert_eq!(json, serde_json::json!({"bench.time_a": "noisy", "bench.time_b": "ignored"}));
        assert_eq!(
            read,
            [
                ("bench.time_a".to_owned(), QuarantineKind::Noisy),
                ("bench.time_b".to_owned(), QuarantineKind::Ignored),
            ]
        );
        assert!(kinds_from_json(&serde_json::json!({"bench.time_c": "lost"})).is_empty());
    }

    #[test]
    fn request_accepts_trimmed_reason() {
        let expires_at = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();

        let request = QuarantineRequest::parse(
            "bench.time_x",
            "noisy",
            "  shared runner \n",
            Some(expires_at),
            now(),
        )
        .expect("valid");

        assert_eq!(request.kind, QuarantineKind::Noisy);
        assert_eq!(request.reason, "shared runner");
        assert_eq!(request.expires_at, Some(expires_at));
    }

    #[test]
    fn request_rejects_bad_input() {
        let past = Utc.with_ymd_and_hms(2026, 12, 6, 11, 59, 59).unwrap();
        let long_reason = "x".repeat(MAX_REASON_CHARS + 1);
        let cases = [
            ("", "noisy", "why", None, "invalid benchmark \"\""),
            (" bench.x", "noisy", "why", None, "invalid benchmark"),
            ("bench.x(1)", "noisy", "why", None, "without parameters"),
            (
                "bench.x",
                "flaky",
                "why",
                None,
                "unknown quarantine kind \"flaky\"",
            ),
            ("bench.x", "noisy", "  ", None, "missing reason"),
            (
                "bench.x",
                "noisy",
                long_reason.as_str(),
                None,
                "at most 1000",
            ),
            ("bench.x", "ignored", "why", Some(past), "is in the past"),
        ];
        for (benchmark, kind, reason, expires_at, expected) in cases {
            let error = QuarantineRequest::parse(benchmark, kind, reason, expires_at, now())
                .expect_err(expected);
            assert!(error.to_string().contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn expiry_after_is_the_next_midnight() {
        let last_day = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();

        assert_eq!(
            expiry_after(last_day),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
    }
}
