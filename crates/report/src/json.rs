//! pitot's JSON report. The field names are a stable interface: add fields
//! freely, but rename or remove one only with a new `version`.
//!
//! ```json
//! {
//!   "version": 1,
//!   "before": {"hash": "22b920c6…", "name": null},
//!   "after": {"hash": "fcf8c079…", "name": "main"},
//!   "factor": 1.1,
//!   "use_stats": true,
//!   "detection": {"fdr_level": 0.05, "interval_level": 0.99},
//!   "summary": {"worse": 1, "better": 0, "not_comparable": 0, "unchanged": 3, "total": 4},
//!   "rows": [{
//!     "name": "time_units.time_unit_parse",
//!     "benchmark": "time_units.time_unit_parse",
//!     "params": [],
//!     "machine": "cheetah",
//!     "env": "py2.7-numpy1.8",
//!     "kind": "time",
//!     "unit": "seconds",
//!     "direction": "lower_is_better",
//!     "before": {"state": "value", "value": 0.000372, "error": null,
//!                "ci_99": null, "repeat": null, "sample_count": null, "version": null},
//!     "after": {"state": "value", "value": 0.0115, "error": null,
//!               "ci_99": null, "repeat": null, "sample_count": null, "version": null},
//!     "ratio": 30.81,
//!     "mark": "+",
//!     "change": "worse",
//!     "significance": {"test": "not_tested", "p_value": null, "different": null},
//!     "insignificant": false,
//!     "verdict": {"finding": "regression", "adjusted_p": null,
//!                 "threshold": 0.1, "threshold_source": "default", "history_points": 0,
//!                 "interval": null}
//!   }]
//! }
//! ```
//!
//! - `summary` counts all rows; `rows` honours `only_changed` and `sort`.
//! - `state` is `value`, `failed`, `skipped` or `missing` (no result on
//!   that side). `error` is half the interquartile range, as asv's `±`.
//! - `mark` is asv's `Change` symbol (`+`, `-`, `!`, `*`, `x` or a space),
//!   which ignores direction. `change` (`worse`, `better`,
//!   `not_comparable`, `unchanged`) takes direction into account.
//! - `significance.test` is `not_tested`, `mann_whitney_u`,
//!   `confidence_intervals` or `inconclusive`; `p_value` is set for the
//!   U test only.
//! - `kind` is `time`, `memory`, `peakmemory`, `track`, another type from
//!   `benchmarks.json`, or `null` for a benchmark it lacks.
//! - `detection` is `{"fdr_level": 0.05, "interval_level": 0.99}` when the
//!   comparison carries pitot's verdict, else `null`; each row's `verdict`
//!   is then set, else `null`. `change` and `summary` follow pitot's
//!   verdict when it is present.
//! - `verdict.finding` is `regression`, `improvement`, `within_noise`,
//!   `not_discovered` (dropped by the false discovery rate control),
//!   `not_significant` or `not_applicable` (asv's mark decides).
//!   `threshold` is a fraction (0.1 is 10%); `threshold_source` is
//!   `history`, `floor` or `default`. `interval` is `{"estimate", "low",
//!   "high", "method", "level"}` with `method` `hodges_lehmann` or
//!   `stored_intervals` (`level` null), or `null`.
//! - Infinite and NaN numbers are written as `null`, which JSON requires.

use pitot_asv::BenchmarkType;
use pitot_stats::{
    Comparison, Detection, Direction, IntervalMethod, Measurement, RatioInterval, Row, Side,
    Significance, ThresholdSource,
};
use serde::Serialize;

use crate::options::{CommitLabel, RenderOptions};
use crate::summary::{selected_rows, Change, Summary};

/// The version of the JSON layout.
pub const JSON_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    before: Commit<'a>,
    after: Commit<'a>,
    factor: f64,
    use_stats: bool,
    detection: Option<JsonDetectionOptions>,
    summary: JsonSummary,
    rows: Vec<JsonRow<'a>>,
}

#[derive(Serialize)]
struct JsonDetectionOptions {
    fdr_level: f64,
    interval_level: f64,
}

#[derive(Serialize)]
struct JsonVerdict {
    finding: &'static str,
    adjusted_p: Option<f64>,
    threshold: f64,
    threshold_source: &'static str,
    history_points: usize,
    interval: Option<JsonInterval>,
}

#[derive(Serialize)]
struct JsonInterval {
    estimate: f64,
    low: f64,
    high: f64,
    method: &'static str,
    level: Option<f64>,
}

#[derive(Serialize)]
struct Commit<'a> {
    hash: &'a str,
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSummary {
    worse: usize,
    better: usize,
    not_comparable: usize,
    unchanged: usize,
    total: usize,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    name: &'a str,
    benchmark: &'a str,
    params: &'a [String],
    machine: &'a str,
    env: &'a str,
    kind: Option<&'a str>,
    unit: Option<&'a str>,
    direction: &'static str,
    before: JsonSide<'a>,
    after: JsonSide<'a>,
    ratio: Option<f64>,
    mark: String,
    change: &'static str,
    significance: JsonSignificance,
    insignificant: bool,
    verdict: Option<JsonVerdict>,
}

#[derive(Serialize)]
struct JsonSide<'a> {
    state: &'static str,
    value: Option<f64>,
    error: Option<f64>,
    ci_99: Option<[f64; 2]>,
    repeat: Option<f64>,
    sample_count: Option<usize>,
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSignificance {
    test: &'static str,
    p_value: Option<f64>,
    different: Option<bool>,
}

/// Renders the comparison as pretty-printed JSON, ending with a line break.
pub fn render_json(
    comparison: &Comparison,
    options: &RenderOptions,
) -> Result<String, serde_json::Error> {
    let summary = Summary::of(comparison);
    let report = Report {
        version: JSON_VERSION,
        before: commit(&options.before),
        after: commit(&options.after),
        factor: comparison.options.factor,
        use_stats: comparison.options.use_stats,
        detection: comparison.detection.map(|options| JsonDetectionOptions {
            fdr_level: options.fdr_level,
            interval_level: options.interval_level,
        }),
        summary: JsonSummary {
            worse: summary.worse,
            better: summary.better,
            not_comparable: summary.not_comparable,
            unchanged: summary.unchanged,
            total: summary.total(),
        },
        rows: selected_rows(comparison, options)
            .into_iter()
            .map(json_row)
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report)?;
    text.push('\n');
    Ok(text)
}

fn commit(label: &CommitLabel) -> Commit<'_> {
    Commit {
        hash: &label.hash,
        name: label.name.as_deref(),
    }
}

fn json_row(row: &Row) -> JsonRow<'_> {
    JsonRow {
        name: &row.name,
        benchmark: &row.benchmark,
        params: &row.params,
        machine: &row.machine,
        env: &row.env_name,
        kind: row.kind.as_ref().map(kind_name),
        unit: row.unit.as_deref(),
        direction: match row.direction {
            Direction::LowerIsBetter => "lower_is_better",
            Direction::HigherIsBetter => "higher_is_better",
        },
        before: json_side(&row.before),
        after: json_side(&row.after),
        ratio: row.ratio,
        mark: row.mark.symbol().to_string(),
        change: Change::of(row).as_str(),
        significance: json_significance(row.significance),
        insignificant: row.insignificant,
        verdict: row.detection.as_ref().map(json_verdict),
    }
}

fn json_verdict(detection: &Detection) -> JsonVerdict {
    let (threshold_source, history_points) = match detection.threshold.source {
        ThresholdSource::History { points } => ("history", points),
        ThresholdSource::Floor { points } => ("floor", points),
        ThresholdSource::Default { points } => ("default", points),
        ThresholdSource::Calibration { points, .. } => ("calibration", points),
    };
    JsonVerdict {
        finding: detection.finding.as_str(),
        adjusted_p: detection.adjusted_p,
        threshold: detection.threshold.relative,
        threshold_source,
        history_points,
        interval: detection.interval.as_ref().map(json_interval),
    }
}

fn json_interval(interval: &RatioInterval) -> JsonInterval {
    let (method, level) = match interval.method {
        IntervalMethod::HodgesLehmann { level } => ("hodges_lehmann", Some(level)),
        IntervalMethod::StoredIntervals => ("stored_intervals", None),
    };
    JsonInterval {
        estimate: interval.estimate,
        low: interval.low,
        high: interval.high,
        method,
        level,
    }
}

fn kind_name(kind: &BenchmarkType) -> &str {
    match kind {
        BenchmarkType::Time => "time",
        BenchmarkType::Memory => "memory",
        BenchmarkType::PeakMemory => "peakmemory",
        BenchmarkType::Track => "track",
        BenchmarkType::Other(name) => name,
    }
}

fn json_side(side: &Side) -> JsonSide<'_> {
    let (state, value) = match side.measurement {
        Measurement::Value(value) => ("value", Some(value)),
        Measurement::Failed => ("failed", None),
        Measurement::Skipped => ("skipped", None),
        Measurement::Missing => ("missing", None),
    };
    JsonSide {
        state,
        value,
        error: side.error(),
        ci_99: side
            .stats
            .and_then(|stats| stats.ci_99)
            .map(|(low, high)| [low, high]),
        repeat: side.stats.and_then(|stats| stats.repeat),
        sample_count: side.samples.as_ref().map(Vec::len),
        version: side.version.as_deref(),
    }
}

fn json_significance(significance: Significance) -> JsonSignificance {
    let (test, p_value, different) = match significance {
        Significance::NotTested => ("not_tested", None, None),
        Significance::Inconclusive => ("inconclusive", None, None),
        Significance::MannWhitneyU { p_value, different } => {
            ("mann_whitney_u", Some(p_value), Some(different))
        }
        Significance::ConfidenceIntervals { different } => {
            ("confidence_intervals", None, Some(different))
        }
    };
    JsonSignificance {
        test,
        p_value,
        different,
    }
}
