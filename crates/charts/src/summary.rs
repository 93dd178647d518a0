//! The summary chart of a comparison: each benchmark's head/base ratio on a
//! log axis, with its uncertainty, coloured by verdict, over the shaded
//! noise band.
//!
//! Up to [`MAX_LABELLED_ROWS`] drawn benchmarks get one labelled row each
//! (name and ratio), so the image grows with the count. Beyond that the
//! chart is a dot plot of fixed height, [`DOT_PLOT_HEIGHT`], sorted by
//! ratio. The dot plot names only a few worse and better benchmarks, those
//! furthest from 1 whose names do not overlap.

use pitot_stats::{Comparison, Mark, Row};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::digest::InputHasher;
use crate::error::ChartError;
use crate::noise::NoiseBand;
use crate::png_image::encode_png;
use crate::style::{self, fit_label, format_ratio, recolor, text};

/// The width of the summary image, in pixels.
pub const SUMMARY_WIDTH: u32 = 900;
/// The maximum number of benchmarks drawn as labelled rows. More become a
/// dot plot.
pub const MAX_LABELLED_ROWS: usize = 40;
/// The height of the dot plot, in pixels.
pub const DOT_PLOT_HEIGHT: u32 = 800;

/// The height of one labelled row, in pixels.
const ROW_HEIGHT: u32 = 20;
/// The title and legend above the plot, in pixels.
const HEADER_HEIGHT: u32 = 56;
/// The ratio axis below the plot, in pixels.
const AXIS_HEIGHT: u32 = 44;
/// The width of the names and ratios left of the plot in labelled rows.
const LABEL_WIDTH: u32 = 330;
/// The left margin of the dot plot, which has no names there.
const DOT_PLOT_LEFT: u32 = 24;
/// The minimum vertical distance between two names in the dot plot.
const DOT_LABEL_SPACING: i32 = 14;
/// The maximum number of names the dot plot shows.
const MAX_DOT_LABELS: usize = 12;

/// The change of a benchmark, judged by its direction, which sets the
/// colour of its point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A significant change the wrong way.
    Worse,
    /// A significant change the right way.
    Better,
    /// No significant change.
    Unchanged,
    /// A maintainer quarantined the benchmark as noisy: it is drawn, but
    /// its change, whichever way, decides nothing.
    Quarantined,
    /// The benchmark's version differs between base and head, so the two
    /// values measure different code; such a benchmark is not drawn.
    NotComparable,
}

impl Verdict {
    /// Classifies a row of a comparison by pitot's verdict
    /// ([`Row::judged_worse`], [`Row::judged_better`]), the one the
    /// comment's tables follow.
    pub fn of(row: &Row) -> Verdict {
        if row.mark == Mark::NotComparable {
            Verdict::NotComparable
        } else if row.judged_worse() {
            Verdict::Worse
        } else if row.judged_better() {
            Verdict::Better
        } else {
            Verdict::Unchanged
        }
    }

    pub(crate) fn color(self) -> RGBColor {
        match self {
            Verdict::Worse => style::WORSE,
            Verdict::Better => style::BETTER,
            Verdict::Quarantined => style::QUARANTINED,
            Verdict::Unchanged | Verdict::NotComparable => style::UNCHANGED,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Worse => "worse",
            Verdict::Better => "better",
            Verdict::Unchanged => "unchanged",
            Verdict::Quarantined => "quarantined",
            Verdict::NotComparable => "not comparable",
        }
    }
}

/// One benchmark of the summary, as the comparison gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryEntry {
    /// The name shown, with parameters (and environment when several).
    pub name: String,
    pub verdict: Verdict,
    /// The base (before) value; `None` when it failed, was skipped or is
    /// missing.
    pub base: Option<f64>,
    /// The head (after) value, like `base`.
    pub head: Option<f64>,
    /// The 99% confidence interval asv stored for the base value.
    pub base_interval: Option<(f64, f64)>,
    /// The 99% confidence interval asv stored for the head value.
    pub head_interval: Option<(f64, f64)>,
}

/// How many entries the summary leaves out, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SkippedRows {
    /// A side failed, was skipped or is missing.
    pub no_value: usize,
    /// A side is zero, negative, NaN or infinite, so the ratio has no
    /// place on a log axis.
    pub not_positive: usize,
    /// The benchmark's version changed ([`Verdict::NotComparable`]).
    pub not_comparable: usize,
}

impl SkippedRows {
    pub fn total(&self) -> usize {
        self.no_value + self.not_positive + self.not_comparable
    }
}

/// One drawn row: a ratio that a log axis can show.
#[derive(Debug, Clone, PartialEq)]
struct DrawnRow {
    name: String,
    verdict: Verdict,
    ratio: f64,
    /// The ratio's uncertainty, when both sides have a usable interval.
    interval: Option<(f64, f64)>,
}

/// The input of the summary chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryChart {
    entries: Vec<SummaryEntry>,
    noise: NoiseBand,
    /// The entries a log axis can show, sorted by ratio, largest first.
    rows: Vec<DrawnRow>,
    skipped: SkippedRows,
}

impl SummaryChart {
    /// Builds the chart of `entries` with the noise band `noise`.
    ///
    /// An entry is drawn when its verdict is not
    /// [`Verdict::NotComparable`] and both values are finite and greater
    /// than zero; every other entry is counted in [`SummaryChart::skipped`].
    /// The error bar spans `head_low / base_high` to `head_high / base_low`
    /// of the two 99% intervals, and is left out when either interval is
    /// missing or not positive.
    pub fn new(entries: Vec<SummaryEntry>, noise: NoiseBand) -> SummaryChart {
        let mut skipped = SkippedRows::default();
        let mut rows = Vec::new();
        for entry in &entries {
            if entry.verdict == Verdict::NotComparable {
                skipped.not_comparable += 1;
                continue;
            }
            let (Some(base), Some(head)) = (entry.base, entry.head) else {
                skipped.no_value += 1;
                continue;
            };
            if !(is_positive(base) && is_positive(head) && is_positive(head / base)) {
                skipped.not_positive += 1;
                continue;
            }
            rows.push(DrawnRow {
                name: entry.name.clone(),
                verdict: entry.verdict,
                ratio: head / base,
                interval: ratio_interval(entry.base_interval, entry.head_interval),
            });
        }
        rows.sort_by(|a, b| {
            b.ratio
                .total_cmp(&a.ratio)
                .then_with(|| a.name.cmp(&b.name))
        });
        SummaryChart {
            entries,
            noise,
            rows,
            skipped,
        }
    }

    /// Builds the chart of every row of `comparison`. The rows for which
    /// `quarantined` is true get [`Verdict::Quarantined`] unless they are
    /// not comparable.
    pub fn from_comparison(
        comparison: &Comparison,
        noise: NoiseBand,
        quarantined: impl Fn(&Row) -> bool,
    ) -> SummaryChart {
        let with_environment = comparison.has_multiple_environments();
        let entries = comparison
            .rows
            .iter()
            .map(|row| SummaryEntry {
                name: if with_environment {
                    format!("{} [{}]", row.name, row.environment())
                } else {
                    row.name.clone()
                },
                verdict: match Verdict::of(row) {
                    Verdict::NotComparable => Verdict::NotComparable,
                    _ if quarantined(row) => Verdict::Quarantined,
                    verdict => verdict,
                },
                base: row.before.measurement.value(),
                head: row.after.measurement.value(),
                base_interval: row.before.stats.and_then(|stats| stats.ci_99),
                head_interval: row.after.stats.and_then(|stats| stats.ci_99),
            })
            .collect();
        SummaryChart::new(entries, noise)
    }

    /// Returns how many entries are drawn.
    pub fn drawn(&self) -> usize {
        self.rows.len()
    }

    /// Returns how many entries are left out, by reason.
    pub fn skipped(&self) -> SkippedRows {
        self.skipped
    }

    /// Returns the image's width and height in pixels: [`SUMMARY_WIDTH`]
    /// by 100 plus 20 a drawn benchmark (at least one) up to
    /// [`MAX_LABELLED_ROWS`], else [`DOT_PLOT_HEIGHT`].
    pub fn size(&self) -> (u32, u32) {
        if self.is_dot_plot() {
            return (SUMMARY_WIDTH, DOT_PLOT_HEIGHT);
        }
        let rows = u32::try_from(self.rows.len().max(1)).unwrap_or(1);
        (
            SUMMARY_WIDTH,
            HEADER_HEIGHT + AXIS_HEIGHT + ROW_HEIGHT * rows,
        )
    }

    /// Returns 16 hex digits of a SHA-256 over the chart's input: every
    /// entry in order and the noise band. Equal inputs give equal digests.
    pub fn digest(&self) -> String {
        let mut hasher = InputHasher::new("pitot summary chart v1");
        hasher.number(self.noise.low);
        hasher.number(self.noise.high);
        hasher.count(self.entries.len());
        for entry in &self.entries {
            hasher.text(&entry.name);
            hasher.text(entry.verdict.as_str());
            hasher.optional_number(entry.base);
            hasher.optional_number(entry.head);
            hasher.optional_interval(entry.base_interval);
            hasher.optional_interval(entry.head_interval);
        }
        hasher.finish()
    }

    /// Draws the chart and returns it as PNG bytes.
    pub fn render_png(&self) -> Result<Vec<u8>, ChartError> {
        crate::font::ensure_registered()?;
        let (width, height) = self.size();
        let mut rgb = vec![255; width as usize * height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            root.fill(&WHITE).map_err(ChartError::drawing)?;
            let (header, body) = root.split_vertically(HEADER_HEIGHT);
            self.draw_header(&header)?;
            if self.rows.is_empty() {
                draw_empty_note(&body)?;
            } else {
                self.draw_rows(&root, &body)?;
            }
            root.present().map_err(ChartError::drawing)?;
        }
        encode_png(&rgb, width, height)
    }

    fn is_dot_plot(&self) -> bool {
        self.rows.len() > MAX_LABELLED_ROWS
    }

    /// Draws the title, the legend with counts and the note on left-out
    /// entries.
    fn draw_header<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), ChartError> {
        let count = |verdict| {
            self.rows
                .iter()
                .filter(|row| row.verdict == verdict)
                .count()
        };
        let plural = if self.rows.len() == 1 { "" } else { "s" };
        let title = format!(
            "Head / base ratio of {} benchmark{plural} (log scale, 99% intervals)",
            self.rows.len()
        );
        area.draw_text(&title, &text(style::TITLE_SIZE, style::TEXT), (10, 14))
            .map_err(ChartError::drawing)?;

        let mut x = 10;
        let mut legend = vec![Verdict::Worse, Verdict::Better, Verdict::Unchanged];
        if count(Verdict::Quarantined) > 0 {
            legend.push(Verdict::Quarantined);
        }
        for verdict in legend {
            let label = format!("{} {}", count(verdict), verdict.as_str());
            area.draw(&Circle::new((x + 5, 38), 5, verdict.color().filled()))
                .map_err(ChartError::drawing)?;
            let label_style = text(style::LABEL_SIZE, style::TEXT);
            area.draw_text(&label, &label_style, (x + 14, 38))
                .map_err(ChartError::drawing)?;
            x += 24 + text_width(area, &label, &label_style);
        }
        area.draw(&Rectangle::new(
            [(x, 32), (x + 12, 44)],
            style::NOISE_FILL.filled(),
        ))
        .map_err(ChartError::drawing)?;
        let band = format!(
            "noise band {} to {}",
            format_ratio(self.noise.low),
            format_ratio(self.noise.high)
        );
        let band_style = text(style::LABEL_SIZE, style::TEXT);
        area.draw_text(&band, &band_style, (x + 18, 38))
            .map_err(ChartError::drawing)?;
        x += 30 + text_width(area, &band, &band_style);

        if self.skipped.total() > 0 {
            area.draw_text(
                &skipped_note(self.skipped),
                &text(style::SMALL_SIZE, style::MUTED_TEXT),
                (x, 38),
            )
            .map_err(ChartError::drawing)?;
        }
        Ok(())
    }

    /// Draws the axis, the noise band and one point and error bar a row,
    /// then the names: every name in labelled rows, only the worse and
    /// better ones that fit in the dot plot.
    fn draw_rows<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        body: &DrawingArea<DB, Shift>,
    ) -> Result<(), ChartError> {
        let dot_plot = self.is_dot_plot();
        let (x_min, x_max) = self.ratio_range();
        let row_count = self.rows.len() as f64;
        let mut chart = ChartBuilder::on(body)
            .margin_right(24)
            .margin_bottom(4)
            .x_label_area_size(AXIS_HEIGHT - 4)
            .y_label_area_size(if dot_plot { DOT_PLOT_LEFT } else { LABEL_WIDTH })
            .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..row_count)
            .map_err(ChartError::drawing)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            // The ticks are drawn below; plotters still labels some points
            // of a log axis with no labels requested.
            .x_label_formatter(&|_| String::new())
            .x_desc("head / base")
            .axis_desc_style(TextStyle::from(
                (crate::font::FAMILY, style::LABEL_SIZE).into_font(),
            ))
            .draw()
            .map_err(ChartError::drawing)?;
        let ticks = style::log_ticks(x_min, x_max, 10);
        chart
            .draw_series(ticks.iter().map(|&tick| {
                PathElement::new(
                    vec![(tick, 0.0), (tick, row_count)],
                    style::GRID.stroke_width(1),
                )
            }))
            .map_err(ChartError::drawing)?;
        let tick_style =
            text(style::SMALL_SIZE, style::TEXT).pos(Pos::new(HPos::Center, VPos::Top));
        for &tick in &ticks {
            let (x, y) = chart.backend_coord(&(tick, 0.0));
            root.draw_text(&format_ratio(tick), &tick_style, (x, y + 4))
                .map_err(ChartError::drawing)?;
        }

        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(self.noise.low, 0.0), (self.noise.high, row_count)],
                style::NOISE_FILL.filled(),
            )))
            .map_err(ChartError::drawing)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(1.0, 0.0), (1.0, row_count)],
                style::REFERENCE_LINE.stroke_width(1),
            )))
            .map_err(ChartError::drawing)?;

        let radius = if dot_plot { 2 } else { 4 };
        let y_of = |index: usize| row_count - index as f64 - 0.5;
        let clamp = |ratio: f64| ratio.clamp(x_min, x_max);
        chart
            .draw_series(self.rows.iter().enumerate().filter_map(|(index, row)| {
                let (low, high) = row.interval?;
                Some(PathElement::new(
                    vec![(clamp(low), y_of(index)), (clamp(high), y_of(index))],
                    row.verdict.color().stroke_width(1),
                ))
            }))
            .map_err(ChartError::drawing)?;
        chart
            .draw_series(self.rows.iter().enumerate().map(|(index, row)| {
                Circle::new(
                    (row.ratio, y_of(index)),
                    radius,
                    row.verdict.color().filled(),
                )
            }))
            .map_err(ChartError::drawing)?;

        let pixel_of = |index: usize, ratio: f64| chart.backend_coord(&(ratio, y_of(index)));
        if dot_plot {
            self.draw_dot_plot_names(root, pixel_of)
        } else {
            self.draw_row_labels(root, |index| pixel_of(index, x_min).1)
        }
    }

    /// Writes each row's name and ratio left of the plot.
    fn draw_row_labels<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        pixel_y: impl Fn(usize) -> i32,
    ) -> Result<(), ChartError> {
        let name_style = text(style::LABEL_SIZE, style::TEXT);
        let ratio_style =
            text(style::LABEL_SIZE, style::TEXT).pos(Pos::new(HPos::Right, VPos::Center));
        let ratio_right = i32::try_from(LABEL_WIDTH).unwrap_or(0) - 8;
        for (index, row) in self.rows.iter().enumerate() {
            let y = pixel_y(index);
            let ratio = format_ratio(row.ratio);
            let ratio_width = text_width(root, &ratio, &ratio_style);
            let name_width = LABEL_WIDTH.saturating_sub(ratio_width.unsigned_abs() + 30);
            let name = fit_label(root, &row.name, &name_style, name_width);
            root.draw_text(&name, &name_style, (10, y))
                .map_err(ChartError::drawing)?;
            root.draw_text(
                &ratio,
                &recolor(&ratio_style, row.verdict.color()),
                (ratio_right, y),
            )
            .map_err(ChartError::drawing)?;
        }
        Ok(())
    }

    /// Names up to [`MAX_DOT_LABELS`] worse and better points of the dot
    /// plot, right of each point, the ratios furthest from 1 first. A name
    /// that would come closer than [`DOT_LABEL_SPACING`] to one already
    /// written is left out.
    fn draw_dot_plot_names<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        pixel_of: impl Fn(usize, f64) -> (i32, i32),
    ) -> Result<(), ChartError> {
        let name_style = text(style::SMALL_SIZE, style::TEXT);
        let right_edge = i32::try_from(SUMMARY_WIDTH).unwrap_or(0) - 8;
        let mut flagged: Vec<usize> = (0..self.rows.len())
            .filter(|&index| matches!(self.rows[index].verdict, Verdict::Worse | Verdict::Better))
            .collect();
        flagged.sort_by(|&a, &b| {
            let distance = |index: usize| self.rows[index].ratio.ln().abs();
            distance(b).total_cmp(&distance(a))
        });
        let mut written: Vec<i32> = Vec::new();
        for index in flagged {
            if written.len() == MAX_DOT_LABELS {
                break;
            }
            let row = &self.rows[index];
            let (x, y) = pixel_of(index, row.ratio);
            if written
                .iter()
                .any(|&other| (y - other).abs() < DOT_LABEL_SPACING)
            {
                continue;
            }
            let Ok(available) = u32::try_from(right_edge - (x + 6)) else {
                continue;
            };
            if available < 40 {
                continue;
            }
            let name = fit_label(root, &row.name, &name_style, available);
            root.draw_text(
                &name,
                &recolor(&name_style, row.verdict.color()),
                (x + 6, y),
            )
            .map_err(ChartError::drawing)?;
            written.push(y);
        }
        Ok(())
    }

    /// Returns the ratio axis: every ratio, error bar end and the noise
    /// band, padded. An error bar widens the axis by at most a factor of
    /// 10 past the outermost ratio, so one wild interval cannot squash
    /// every point into the middle. Longer bars are cut at the axis.
    fn ratio_range(&self) -> (f64, f64) {
        let mut low = self.noise.low;
        let mut high = self.noise.high;
        for row in &self.rows {
            low = low.min(row.ratio);
            high = high.max(row.ratio);
        }
        let (ratio_low, ratio_high) = (low, high);
        for (interval_low, interval_high) in self.rows.iter().filter_map(|row| row.interval) {
            low = low.min(interval_low.max(ratio_low / 10.0));
            high = high.max(interval_high.min(ratio_high * 10.0));
        }
        style::pad_log_range(low, high, 0.04)
    }
}

fn is_positive(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

/// Returns the ratio interval of two 99% intervals, when both are usable.
fn ratio_interval(base: Option<(f64, f64)>, head: Option<(f64, f64)>) -> Option<(f64, f64)> {
    let (base_low, base_high) = base?;
    let (head_low, head_high) = head?;
    if base_low > base_high || head_low > head_high {
        return None;
    }
    let low = head_low / base_high;
    let high = head_high / base_low;
    let usable = [base_low, base_high, head_low, head_high, low, high]
        .into_iter()
        .all(is_positive);
    usable.then_some((low, high))
}

/// Returns "N not drawn: …" with the count of each reason.
fn skipped_note(skipped: SkippedRows) -> String {
    let mut reasons = Vec::new();
    if skipped.no_value > 0 {
        reasons.push(format!(
            "{} without a value on both sides",
            skipped.no_value
        ));
    }
    if skipped.not_positive > 0 {
        reasons.push(format!(
            "{} with a zero, negative or non-finite value",
            skipped.not_positive
        ));
    }
    if skipped.not_comparable > 0 {
        reasons.push(format!("{} not comparable", skipped.not_comparable));
    }
    format!("not drawn: {}", reasons.join(", "))
}

fn draw_empty_note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
    area.draw_text(
        "No benchmark has a positive value on both sides, so there is no ratio to draw.",
        &text(style::LABEL_SIZE, style::MUTED_TEXT),
        (10, 20),
    )
    .map_err(ChartError::drawing)
}

fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    label: &str,
    style: &TextStyle<'_>,
) -> i32 {
    area.estimate_text_size(label, style)
        .map(|(width, _)| i32::try_from(width).unwrap_or(0))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, base: Option<f64>, head: Option<f64>) -> SummaryEntry {
        SummaryEntry {
            name: name.to_owned(),
            verdict: Verdict::Unchanged,
            base,
            head,
            base_interval: None,
            head_interval: None,
        }
    }

    fn band() -> NoiseBand {
        NoiseBand::from_factor(1.1).expect("valid factor")
    }

    #[test]
    fn values_a_log_axis_cannot_show_are_counted() {
        let entries = vec![
            entry("drawn", Some(1.0), Some(2.0)),
            entry("failed head", Some(1.0), None),
            entry("zero base", Some(0.0), Some(1.0)),
            entry("negative head", Some(1.0), Some(-1.0)),
            entry("nan base", Some(f64::NAN), Some(1.0)),
            entry("infinite head", Some(1.0), Some(f64::INFINITY)),
            entry("ratio overflows", Some(1e-300), Some(1e300)),
            SummaryEntry {
                verdict: Verdict::NotComparable,
                ..entry("new version", Some(1.0), Some(1.0))
            },
        ];

        let chart = SummaryChart::new(entries, band());

        assert_eq!(chart.drawn(), 1);
        assert_eq!(
            chart.skipped(),
            SkippedRows {
                no_value: 1,
                not_positive: 5,
                not_comparable: 1,
            }
        );
    }

    #[test]
    fn rows_are_sorted_by_ratio_largest_first() {
        let entries = vec![
            entry("half", Some(2.0), Some(1.0)),
            entry("triple", Some(1.0), Some(3.0)),
            entry("same", Some(1.0), Some(1.0)),
        ];

        let chart = SummaryChart::new(entries, band());

        let names: Vec<&str> = chart.rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, ["triple", "same", "half"]);
    }

    #[test]
    fn ratio_interval_combines_both_sides() {
        assert_eq!(
            ratio_interval(Some((1.0, 2.0)), Some((4.0, 8.0))),
            Some((2.0, 8.0))
        );
        assert_eq!(ratio_interval(Some((0.0, 2.0)), Some((4.0, 8.0))), None);
        assert_eq!(ratio_interval(None, Some((4.0, 8.0))), None);
        assert_eq!(ratio_interval(Some((1.0, 2.0)), Some((8.0, 4.0))), None);
    }

    #[test]
    fn digest_follows_the_input() {
        let chart = SummaryChart::new(vec![entry("a", Some(1.0), Some(2.0))], band());
        let same = SummaryChart::new(vec![entry("a", Some(1.0), Some(2.0))], band());
        let other_value = SummaryChart::new(vec![entry("a", Some(1.0), Some(2.5))], band());
        let other_band = SummaryChart::new(
            vec![entry("a", Some(1.0), Some(2.0))],
            NoiseBand::from_factor(1.2).expect("valid factor"),
        );

        assert_eq!(chart.digest(), same.digest());
        assert_ne!(chart.digest(), other_value.digest());
        assert_ne!(chart.digest(), other_band.digest());
    }
}
