//! The text of pitot's verdict ([`pitot_stats::assess`]) in reports: the
//! ratio with its interval, the noise threshold of a row, and the sentence
//! that explains how the verdict was decided.

use pitot_stats::{Comparison, Detection, IntervalMethod, Row, ThresholdSource};

use crate::asv_text::ratio_text;
use crate::pyfmt;

/// Returns the ratio with its interval, such as `1.12 [1.08, 1.17]`, or
/// asv's ratio text when the row has no interval.
pub(crate) fn ratio_with_interval(row: &Row) -> String {
    match row.detection.and_then(|detection| detection.interval) {
        Some(interval) => format!(
            "{} [{}, {}]",
            pyfmt::fixed(interval.estimate, 2),
            pyfmt::fixed(interval.low, 2),
            pyfmt::fixed(interval.high, 2),
        ),
        None => ratio_text(row),
    }
}

/// Returns the row's threshold as a percentage with its source, such as
/// `4.5%`, `2.0% (floor)`, `10.0% (default)` or `6.0% (calibration)`;
/// empty when not assessed.
pub(crate) fn threshold_text(row: &Row) -> String {
    let Some(detection) = row.detection else {
        return String::new();
    };
    let percent = format!("{}%", pyfmt::fixed(detection.threshold.relative * 100.0, 1));
    match detection.threshold.source {
        ThresholdSource::History { .. } => percent,
        ThresholdSource::Floor { .. } => format!("{percent} (floor)"),
        ThresholdSource::Default { .. } => format!("{percent} (default)"),
        ThresholdSource::Calibration { .. } => format!("{percent} (calibration)"),
    }
}

/// Returns the sentence that explains pitot's verdict, or `None` when the
/// comparison was not assessed. It names the FDR level, the number of
/// tests, the interval method and how many rows had too little history.
pub(crate) fn rule_sentence(comparison: &Comparison) -> Option<String> {
    let options = comparison.detection?;
    let detections: Vec<&Detection> = comparison
        .rows
        .iter()
        .filter_map(|row| row.detection.as_ref())
        .collect();
    let tests = detections
        .iter()
        .filter(|detection| detection.adjusted_p.is_some())
        .count();
    let defaulted = detections
        .iter()
        .filter(|detection| matches!(detection.threshold.source, ThresholdSource::Default { .. }))
        .count();
    let calibrated = detections
        .iter()
        .filter(|detection| matches!(detection.threshold.source, ThresholdSource::Calibration { .. }))
        .count();
    let stored = detections
        .iter()
        .filter(|detection| {
            detection
                .interval
                .is_some_and(|interval| interval.method == IntervalMethod::StoredIntervals)
        })
        .count();
    let with_interval = detections
        .iter()
        .filter(|detection| detection.interval.is_some())
        .count();

    let fdr = pyfmt::fixed(options.fdr_level * 100.0, 0);
    let level = pyfmt::fixed(options.interval_level * 100.0, 0);
    let mut sentence = format!(
        "pitot's verdict: a benchmark changed when asv's test finds a difference, \
         the Benjamini-Hochberg procedure keeps it at a false discovery rate of {fdr}% \
         across {tests} U tests, and the change exceeds the benchmark's noise threshold, \
         learnt from its recent default-branch history."
    );
    if defaulted > 0 {
        sentence.push_str(&format!(
            " {} too little history (fewer than {} results), so the factor {} is the threshold.",
            had(defaulted),
            pitot_stats::noise::MIN_HISTORY_POINTS,
            pyfmt::fixed(comparison.options.factor, 2),
        ));
    }
    if calibrated > 0 {
        sentence.push_str(&format!(
            " {} too little history, so {} times the noise of an A/A calibration run on the machine is the threshold.",
            had(calibrated),
            pyfmt::fixed(pitot_stats::calibration::CALIBRATION_MULTIPLIER, 0),
        ));
    }
    sentence.push_str(&format!(
        " Ratios show head / base with an interval: {} at {level}% from the samples \
         (Hodges-Lehmann), {stored} from asv's stored 99% intervals.",
        with_interval - stored
    ));
    Some(sentence)
}

fn had(count: usize) -> String {
    if count == 1 {
        "1 benchmark had".to_owned()
    } else {
        format!("{count} benchmarks had")
    }
}
