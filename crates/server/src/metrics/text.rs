//! Prometheus's text exposition format (version 0.0.4), written by hand,
//! because pitot exports eight metric families and the format is a few
//! lines of text each.

use std::fmt::Write as _;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kind of a metric family, as its `# TYPE` line names it.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A histogram with fixed bucket bounds, in seconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Upper bounds, ascending; `+Inf` is implied.
    bounds: &'static [f64],
    /// Observations per bucket, not cumulative; the last is the `+Inf` bucket.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket] += 1;
        self.sum += value;
    }
}

/// Builds the text of one scrape.
#[derive(Debug, Default)]
pub struct Encoder {
    text: String,
}

impl Encoder {
    /// Starts a metric family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// Writes one sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (index, (label, label_value)) in labels.iter().enumerate() {
                if index > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label_value(label_value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }

    /// Writes a histogram's `_bucket`, `_sum` and `_count` samples.
    pub fn histogram(&mut self, name: &str, histogram: &Histogram) {
        let bucket_name = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, count) in histogram.bounds.iter().zip(&histogram.counts) {
            cumulative += count;
            let bound = format_value(*bound);
            self.sample(&bucket_name, &[("le", &bound)], cumulative as f64);
        }
        let total: u64 = histogram.counts.iter().sum();
        self.sample(&bucket_name, &[("le", "+Inf")], total as f64);
        self.sample(&format!("{name}_sum"), &[], histogram.sum);
        self.sample(&format!("{name}_count"), &[], total as f64);
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// Escapes a label value as the format requires: backslash, double quote
/// and line feed.
fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes integers without a fraction and infinities as `+Inf`/`-Inf`.
fn format_value(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let mut encoder = Encoder::default();

        encoder.sample("x_total", &[("event", "a\"b\\c\nd")], 2.0);

        assert_eq!(encoder.finish(), "x_total{event=\"a\\\"b\\\\c\\nd\"} 2\n");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut histogram = Histogram::new(&[1.0, 10.0]);
        for value in [0.5, 1.0, 3.0, 20.0] {
            histogram.observe(value);
        }
        let mut encoder = Encoder::default();

        encoder.histogram("wait_seconds", &histogram);

        let text = encoder.finish();
        let expected = [
            "wait_seconds_bucket{le=\"1\"} 2",
            "wait_seconds_bucket{le=\"10\"} 3",
            "wait_seconds_bucket{le=\"+Inf\"} 4",
            "wait_seconds_sum 24.5",
            "wait_seconds_count 4",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn family_writes_help_and_type() {
        let mut encoder = Encoder::default();

        encoder.family("pitot_jobs", Kind::Gauge, "Jobs by state.");

        assert_eq!(
            encoder.finish(),
            "# HELP pitot_jobs Jobs by state.\n# TYPE pitot_jobs gauge\n"
        );
    }
}
