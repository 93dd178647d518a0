//! A job's comparison, built from the report its agent stored.
//!
//! The reporter and the chart endpoints both build it here, so a chart
//! shows the same comparison as the comment that embeds it.

use anyhow::{anyhow, Context as _};
use pitot_asv::{parse_benchmarks, parse_results, BenchmarkSuite, ResultsFile};
use pitot_stats::{CompareOptions, Comparison, DEFAULT_FACTOR};
use pitot_store::file_sha256;
use pitot_store::job_reports::ReportFile;

/// The options every job is compared with: asv's defaults.
pub(crate) const COMPARE_OPTIONS: CompareOptions = CompareOptions {
    factor: DEFAULT_FACTOR,
    use_stats: true,
};

/// The parsed files of an agent's report.
pub(crate) struct ParsedReport {
    /// Each results file with the SHA-256 of its bytes.
    pub(crate) results: Vec<(ResultsFile, [u8; 32])>,
    /// The agent's `benchmarks.json`, when it sent one.
    pub(crate) suite: Option<BenchmarkSuite>,
}

/// Parses the results files and `benchmarks.json` of a report. The agent's
/// `machine.json` files are skipped.
pub(crate) fn parse_report(
    files: &[ReportFile],
    benchmarks_json: Option<&str>,
) -> anyhow::Result<ParsedReport> {
    let mut results = Vec::new();
    for file in files {
        if file.path.ends_with("/machine.json") || file.path == "machine.json" {
            continue;
        }
        let parsed = parse_results(file.content.as_bytes()).with_context(|| {
            format!(
                "the results file {:?} from the agent is not valid asv output",
                file.path
            )
        })?;
        results.push((parsed, file_sha256(file.content.as_bytes())));
    }
    let suite = benchmarks_json
        .map(|text| {
            parse_benchmarks(text.as_bytes())
                .context("the benchmarks.json from the agent is not valid asv output")
        })
        .transpose()?;
    Ok(ParsedReport { results, suite })
}

impl ParsedReport {
    /// Compares the head's results with the merge-base's by asv's rule.
    pub(crate) fn compare(self, base_sha: &str, head_sha: &str) -> anyhow::Result<Comparison> {
        let (base, head) = split_by_commit(
            self.results.into_iter().map(|(file, _)| file),
            base_sha,
            head_sha,
        );
        if head.is_empty() {
            return Err(anyhow!(
                "asv wrote no results for the head commit {}; see the log",
                short_sha(head_sha)
            ));
        }
        if base.is_empty() {
            return Err(anyhow!(
                "asv wrote no results for the merge-base {}; see the log",
                short_sha(base_sha)
            ));
        }
        let suite = self.suite.unwrap_or_default();
        pitot_stats::compare(&base, &head, &suite, &COMPARE_OPTIONS)
            .context("cannot compare the results")
    }
}

/// Splits results files into those of the merge-base and those of the head.
fn split_by_commit(
    files: impl Iterator<Item = ResultsFile>,
    base_sha: &str,
    head_sha: &str,
) -> (Vec<ResultsFile>, Vec<ResultsFile>) {
    let mut base = Vec::new();
    let mut head = Vec::new();
    for file in files {
        if file.commit_hash.eq_ignore_ascii_case(head_sha) {
            head.push(file);
        } else if file.commit_hash.eq_ignore_ascii_case(base_sha) {
            base.push(file);
        } else {
            tracing::warn!(commit = %file.commit_hash, "ignoring a results file of neither the base nor the head");
        }
    }
    (base, head)
}

/// Returns the first 10 characters of a commit hash.
pub(crate) fn short_sha(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}
