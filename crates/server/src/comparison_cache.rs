//! The comparisons that public pages built lately, kept in memory for a
//! short time. A job's page, its JSON detail and each of its chart images
//! need the same comparison, and building it parses every results file of
//! the job's report, so a page with ten charts would otherwise parse the
//! report eleven times.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pitot_stats::Comparison;

/// How many comparisons the cache keeps; the oldest goes first.
const CAPACITY: usize = 8;

/// How long a comparison is served from the cache. The verdicts also
/// depend on the default branch's history, which a new history run
/// changes, so a comparison is built again after this.
const TIME_TO_LIVE: Duration = Duration::from_secs(60);

/// A comparison built from one job report, with the merge-base it used.
#[derive(Default)]
pub struct ComparisonCache {
    entries: Mutex<VecDeque<Entry>>,
}

struct Entry {
    report_id: i64,
    built_at: Instant,
    base_sha: String,
    comparison: Comparison,
}

impl ComparisonCache {
    /// Returns the merge-base and a copy of the comparison built from the
    /// report `report_id`, when one was built less than a minute ago.
    pub fn get(&self, report_id: i64) -> Option<(String, Comparison)> {
        let entries = self.lock();
        entries
            .iter()
            .find(|entry| entry.report_id == report_id && entry.built_at.elapsed() < TIME_TO_LIVE)
            .map(|entry| (entry.base_sha.clone(), entry.comparison.clone()))
    }

    /// Keeps the comparison built from the report `report_id`, in place of
    /// an older one of the same report.
    pub fn insert(&self, report_id: i64, base_sha: &str, comparison: &Comparison) {
        let mut entries = self.lock();
        entries.retain(|entry| entry.report_id != report_id && entry.built_at.elapsed() < TIME_TO_LIVE);
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(Entry {
            report_id,
            built_at: Instant::now(),
            base_sha: base_sha.to_owned(),
            comparison: comparison.clone(),
        });
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        // The entries stay valid after a panic elsewhere.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison() -> Comparison {
        Comparison {
            rows: Vec::new(),
            environments: vec!["m1/py3.12".to_owned()],
            options: pitot_stats::CompareOptions::default(),
            detection: None,
        }
    }

    #[test]
    fn keeps_the_newest_comparisons() {
        let cache = ComparisonCache::default();
        for report_id in 0..=CAPACITY as i64 {
            cache.insert(report_id, "base", &comparison());
        }

        assert!(cache.get(0).is_none(), "the oldest went first");
        assert_eq!(cache.get(1).map(|(base, _)| base).as_deref(), Some("base"));
        assert!(cache.get(CAPACITY as i64).is_some());
        assert!(cache.get(-1).is_none(), "an unknown report");
    }
}
