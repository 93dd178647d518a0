//! Whether a smaller or a larger value of a benchmark is the better one.
//!
//! asv ignores this: its `+` always means "the value grew". pitot's own
//! report formats use it to say "worse" or "better" correctly for track
//! benchmarks that measure something like a speedup.

use pitot_asv::BenchmarkType;

/// Whether a benchmark improves when its value falls or when it rises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// Unit words that mean "more is better", matched against the whole words
/// of a track benchmark's unit, case-insensitively.
const HIGHER_IS_BETTER_WORDS: &[&str] = &[
    "speedup",
    "throughput",
    "bandwidth",
    "ops",
    "iops",
    "qps",
    "rps",
    "fps",
    "hz",
    "khz",
    "mhz",
    "ghz",
];

/// Returns the direction of a benchmark of `kind` (from `benchmarks.json`)
/// reporting values in `unit`.
///
/// Time, memory and peak-memory benchmarks are lower-is-better. So is a
/// track benchmark, unless its unit reads as a rate or a gain: one of
/// [`HIGHER_IS_BETTER_WORDS`] as a whole word, or a unit per time such as
/// `ops/s`, `MB/sec`, `items per second`. A benchmark missing from
/// `benchmarks.json` (`kind` is `None`) is treated like a track benchmark.
pub fn direction_of(kind: Option<&BenchmarkType>, unit: Option<&str>) -> Direction {
    match kind {
        Some(BenchmarkType::Time | BenchmarkType::Memory | BenchmarkType::PeakMemory) => {
            Direction::LowerIsBetter
        }
        Some(BenchmarkType::Track | BenchmarkType::Other(_)) | None => match unit {
            Some(unit) if unit_reads_higher_is_better(unit) => Direction::HigherIsBetter,
            _ => Direction::LowerIsBetter,
        },
    }
}

fn unit_reads_higher_is_better(unit: &str) -> bool {
    let unit = unit.to_lowercase();
    let words: Vec<&str> = unit
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    if words
        .iter()
        .any(|word| HIGHER_IS_BETTER_WORDS.contains(word))
    {
        return true;
    }
    let per_time = [
        "/s",
        "/sec",
        "/second",
        " per second",
        " per sec",
        "/min",
        " per minute",
    ];
    per_time
        .iter()
        .any(|suffix| unit.trim_end().ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_of_kinds_and_units() {
        let cases = [
            (
                Some(BenchmarkType::Time),
                Some("seconds"),
                Direction::LowerIsBetter,
                "time",
            ),
            (
                Some(BenchmarkType::Memory),
                Some("bytes"),
                Direction::LowerIsBetter,
                "memory",
            ),
            (
                Some(BenchmarkType::PeakMemory),
                Some("bytes"),
                Direction::LowerIsBetter,
                "peak memory",
            ),
            (
                Some(BenchmarkType::Time),
                Some("speedup"),
                Direction::LowerIsBetter,
                "time ignores unit",
            ),
            (
                Some(BenchmarkType::Track),
                Some("unit"),
                Direction::LowerIsBetter,
                "asv's default track unit",
            ),
            (
                Some(BenchmarkType::Track),
                None,
                Direction::LowerIsBetter,
                "track without unit",
            ),
            (
                Some(BenchmarkType::Track),
                Some("Speedup"),
                Direction::HigherIsBetter,
                "speedup",
            ),
            (
                Some(BenchmarkType::Track),
                Some("x speedup"),
                Direction::HigherIsBetter,
                "speedup as a word",
            ),
            (
                Some(BenchmarkType::Track),
                Some("ops/s"),
                Direction::HigherIsBetter,
                "ops per second",
            ),
            (
                Some(BenchmarkType::Track),
                Some("MB/sec"),
                Direction::HigherIsBetter,
                "bandwidth as a rate",
            ),
            (
                Some(BenchmarkType::Track),
                Some("items per second"),
                Direction::HigherIsBetter,
                "per second",
            ),
            (
                Some(BenchmarkType::Track),
                Some("stops"),
                Direction::LowerIsBetter,
                "ops inside a word",
            ),
            (
                Some(BenchmarkType::Track),
                Some("seconds"),
                Direction::LowerIsBetter,
                "seconds",
            ),
            (
                Some(BenchmarkType::Track),
                Some("errors"),
                Direction::LowerIsBetter,
                "a count",
            ),
            (
                None,
                Some("throughput"),
                Direction::HigherIsBetter,
                "unknown kind",
            ),
            (None, None, Direction::LowerIsBetter, "nothing known"),
        ];
        for (kind, unit, expected, what) in cases {
            assert_eq!(direction_of(kind.as_ref(), unit), expected, "{what}");
        }
    }
}
