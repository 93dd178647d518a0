//! pitot's verdict per row, stricter than asv's marks.
//!
//! A row counts as a regression (or an improvement, by the benchmark's
//! direction) only when all three hold:
//!
//! 1. asv's statistical test finds a difference ([`Significance`]: the
//!    Mann-Whitney U test at p < 0.002, else disjoint 99% intervals);
//! 2. the Benjamini-Hochberg procedure across the comparison keeps the row
//!    at the false discovery rate of [`DetectionOptions::fdr_level`]. Rows
//!    decided by the stored intervals have no p-value and skip this step;
//! 3. the change exceeds the series' [`NoiseThreshold`]. The threshold
//!    replaces asv's factor: learnt from history it can be below 10%, and
//!    without history it is the factor itself.
//!
//! Rows with a zero or negative value on either side have no relative
//! change, so for them asv's factor rule on the raw values replaces
//! step 3. Rows without a value on both sides (failures, skips, missing
//! benchmarks) and rows whose benchmark version changed keep asv's marks.

use crate::compare::{CompareError, Comparison, Mark, Row};
use crate::direction::Direction;
use crate::fdr::{benjamini_hochberg, DEFAULT_FDR_LEVEL};
use crate::interval::{ratio_interval, RatioInterval, INTERVAL_LEVEL};
use crate::noise::{relative_change, NoiseThreshold};
use crate::significance::Significance;

/// The levels of pitot's verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectionOptions {
    /// The false discovery rate at which rows are kept, between 0 and 1.
    pub fdr_level: f64,
    /// The confidence level of the ratio interval, between 0 and 1.
    pub interval_level: f64,
}

impl Default for DetectionOptions {
    fn default() -> Self {
        DetectionOptions {
            fdr_level: DEFAULT_FDR_LEVEL,
            interval_level: INTERVAL_LEVEL,
        }
    }
}

impl DetectionOptions {
    /// Rejects levels outside the open interval (0, 1); an FDR level of 1
    /// is accepted and keeps every row.
    pub fn validate(&self) -> Result<(), CompareError> {
        if !(self.fdr_level > 0.0 && self.fdr_level <= 1.0) {
            return Err(CompareError::InvalidFdrLevel(self.fdr_level));
        }
        if !(self.interval_level > 0.0 && self.interval_level < 1.0) {
            return Err(CompareError::InvalidIntervalLevel(self.interval_level));
        }
        Ok(())
    }
}

/// pitot's finding for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// All three conditions hold and the change is the wrong way.
    Regression,
    /// All three conditions hold and the change is the right way.
    Improvement,
    /// Significant and kept by the FDR control, but no larger than the
    /// noise threshold (or, for non-positive values, than asv's factor).
    WithinNoise,
    /// asv's test found a difference, but the FDR control dropped it.
    NotDiscovered,
    /// asv's test found no difference.
    NotSignificant,
    /// No value on one side, or a changed benchmark version: asv's mark
    /// is the verdict.
    NotApplicable,
}

impl Finding {
    /// Returns the snake-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Regression => "regression",
            Finding::Improvement => "improvement",
            Finding::WithinNoise => "within_noise",
            Finding::NotDiscovered => "not_discovered",
            Finding::NotSignificant => "not_significant",
            Finding::NotApplicable => "not_applicable",
        }
    }
}

/// pitot's verdict on one row and the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub finding: Finding,
    /// The threshold the change was held against.
    pub threshold: NoiseThreshold,
    /// The interval for head / base; `None` without positive samples or
    /// stored intervals on both sides.
    pub interval: Option<RatioInterval>,
    /// The Benjamini-Hochberg adjusted p-value; `None` unless asv's
    /// decision came from the U test.
    pub adjusted_p: Option<f64>,
}

/// Adds pitot's verdict to every row of `comparison`.
///
/// `threshold_of` returns each row's noise threshold, usually
/// [`crate::noise::noise_threshold`] of its history, or
/// [`NoiseThreshold::without_history`] with the comparison's factor.
/// asv's marks are left as they are.
pub fn assess(
    comparison: &mut Comparison,
    threshold_of: impl Fn(&Row) -> NoiseThreshold,
    options: &DetectionOptions,
) -> Result<(), CompareError> {
    options.validate()?;
    let p_values: Vec<Option<f64>> = comparison
        .rows
        .iter()
        .map(|row| match row.significance {
            Significance::MannWhitneyU { p_value, .. } if has_values(row) => Some(p_value),
            _ => None,
        })
        .collect();
    let adjusted = benjamini_hochberg(&p_values);

    let factor = comparison.options.factor;
    for (row, adjusted_p) in comparison.rows.iter_mut().zip(adjusted) {
        let mut threshold = threshold_of(row);
        let finding = if has_values(row) {
            let (before, after) = values(row);
            if relative_change(before, after).is_none() {
                threshold = NoiseThreshold::without_history(0, factor);
            }
            judge(row, threshold, adjusted_p, options.fdr_level)
        } else {
            Finding::NotApplicable
        };
        row.detection = Some(Detection {
            finding,
            threshold,
            interval: ratio_interval(&row.before, &row.after, options.interval_level),
            adjusted_p,
        });
    }
    comparison.detection = Some(*options);
    Ok(())
}

fn has_values(row: &Row) -> bool {
    row.mark != Mark::NotComparable
        && row.before.measurement.value().is_some()
        && row.after.measurement.value().is_some()
}

fn values(row: &Row) -> (f64, f64) {
    (
        row.before.measurement.value().unwrap_or(f64::NAN),
        row.after.measurement.value().unwrap_or(f64::NAN),
    )
}

/// Applies the three conditions to a row with values on both sides.
fn judge(row: &Row, threshold: NoiseThreshold, adjusted_p: Option<f64>, fdr_level: f64) -> Finding {
    if !row.significance.allows_change() {
        return Finding::NotSignificant;
    }
    if adjusted_p.is_some_and(|p| p > fdr_level) {
        return Finding::NotDiscovered;
    }
    let (before, after) = values(row);
    let exceeds = match relative_change(before, after) {
        Some(_) => threshold.is_exceeded(before, after),
        // Zero or negative values: asv's factor rule on the raw values.
        None => matches!(row.mark, Mark::Increased | Mark::Decreased),
    };
    if !exceeds {
        return Finding::WithinNoise;
    }
    let increased = after > before;
    match (increased, row.direction) {
        (true, Direction::LowerIsBetter) | (false, Direction::HigherIsBetter) => {
            Finding::Regression
        }
        (true, Direction::HigherIsBetter) | (false, Direction::LowerIsBetter) => {
            Finding::Improvement
        }
    }
}
