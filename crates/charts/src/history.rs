//! The history chart of one benchmark: its values on the default branch,
//! commit by commit with their 99% intervals, then the pull request's base
//! and head, over the noise band around the base value.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::digest::InputHasher;
use crate::error::ChartError;
use crate::noise::NoiseBand;
use crate::png_image::encode_png;
use crate::style::{self, fit_label, format_number, text};
use crate::summary::Verdict;

/// The width of a history image, in pixels.
pub const HISTORY_WIDTH: u32 = 900;
/// The height of a history image, in pixels.
pub const HISTORY_HEIGHT: u32 = 420;

/// The title and note above the plot, in pixels.
const HEADER_HEIGHT: u32 = 50;
/// How many characters of a commit hash the axis shows.
const SHORT_SHA: usize = 7;

/// A benchmark's result at one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    /// The commit's full hash.
    pub commit: String,
    /// The value; `None` when the benchmark failed, was skipped or has no
    /// result at this commit.
    pub value: Option<f64>,
    /// The 99% confidence interval asv stored with the value.
    pub interval: Option<(f64, f64)>,
}

impl HistoryPoint {
    /// Returns the value when a log axis can show it: finite and positive.
    fn drawable_value(&self) -> Option<f64> {
        self.value.filter(|value| value.is_finite() && *value > 0.0)
    }

    /// Returns the interval when a log axis can show both ends.
    fn drawable_interval(&self) -> Option<(f64, f64)> {
        let (low, high) = self.interval?;
        let usable = low.is_finite() && high.is_finite() && 0.0 < low && low <= high;
        usable.then_some((low, high))
    }
}

/// The input of a history chart.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryChart {
    /// The benchmark's name as the comment shows it.
    pub title: String,
    /// The unit from `benchmarks.json`, such as "seconds".
    pub unit: Option<String>,
    /// The default branch's results, oldest first, without the base.
    pub history: Vec<HistoryPoint>,
    pub base: HistoryPoint,
    pub head: HistoryPoint,
    /// The colour of the head point.
    pub head_verdict: Verdict,
    /// The band shaded around the base value.
    pub noise: NoiseBand,
}

impl HistoryChart {
    /// Returns the image's width and height in pixels, the same for every
    /// history.
    pub fn size(&self) -> (u32, u32) {
        (HISTORY_WIDTH, HISTORY_HEIGHT)
    }

    /// Returns how many points of the history, base and head are left
    /// out because a log axis cannot show them (failed, skipped, missing,
    /// zero, negative or not finite).
    pub fn skipped(&self) -> usize {
        self.all_points()
            .filter(|(_, point)| point.drawable_value().is_none())
            .count()
    }

    /// Returns 16 hex digits of a SHA-256 over the chart's input.
    pub fn digest(&self) -> String {
        let mut hasher = InputHasher::new("pitot history chart v1");
        hasher.text(&self.title);
        hasher.text(self.unit.as_deref().unwrap_or(""));
        hasher.count(self.history.len());
        for point in self.history.iter().chain([&self.base, &self.head]) {
            hasher.text(&point.commit);
            hasher.optional_number(point.value);
            hasher.optional_interval(point.interval);
        }
        hasher.text(&format!("{:?}", self.head_verdict));
        hasher.number(self.noise.low);
        hasher.number(self.noise.high);
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
            match self.value_range() {
                Some((low, high)) => self.draw_plot(&root, &body, low, high)?,
                None => {
                    body.draw_text(
                        "No result of this benchmark has a positive value to draw.",
                        &text(style::LABEL_SIZE, style::MUTED_TEXT),
                        (10, 20),
                    )
                    .map_err(ChartError::drawing)?;
                }
            }
            root.present().map_err(ChartError::drawing)?;
        }
        encode_png(&rgb, width, height)
    }

    /// Returns every point with its x position: the history from 0, then
    /// the base and the head.
    fn all_points(&self) -> impl Iterator<Item = (f64, &HistoryPoint)> {
        self.history
            .iter()
            .chain([&self.base, &self.head])
            .enumerate()
            .map(|(index, point)| (index as f64, point))
    }

    fn draw_header<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), ChartError> {
        let title_style = text(style::TITLE_SIZE, style::TEXT);
        let title = fit_label(area, &self.title, &title_style, HISTORY_WIDTH - 20);
        area.draw_text(&title, &title_style, (10, 14))
            .map_err(ChartError::drawing)?;
        let plural = if self.history.len() == 1 { "" } else { "s" };
        let mut note = format!(
            "{} earlier commit{plural} of the default branch, then the pull request's base and head; \
             log scale, 99% intervals",
            self.history.len()
        );
        let skipped = self.skipped();
        if skipped > 0 {
            note.push_str(&format!(
                "; {skipped} not drawn (failed, missing, zero or negative)"
            ));
        }
        let note_style = text(style::SMALL_SIZE, style::MUTED_TEXT);
        let note = fit_label(area, &note, &note_style, HISTORY_WIDTH - 20);
        area.draw_text(&note, &note_style, (10, 36))
            .map_err(ChartError::drawing)
    }

    /// Draws the plot in `area`; text placed at a point's pixel goes on
    /// `root`, whose coordinates those pixels are.
    fn draw_plot<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        low: f64,
        high: f64,
    ) -> Result<(), ChartError> {
        let last = (self.history.len() + 1) as f64;
        let mut chart = ChartBuilder::on(area)
            .margin_right(30)
            .margin_bottom(6)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..last + 0.5, (low..high).log_scale())
            .map_err(ChartError::drawing)?;
        let commit_label = |x: &f64| self.commit_label(*x);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(8)
            .x_label_formatter(&commit_label)
            .y_labels(0)
            // The ticks are drawn below; plotters still labels some points
            // of a log axis with no labels requested.
            .y_label_formatter(&|_| String::new())
            .y_desc(self.unit.as_deref().unwrap_or("value"))
            .label_style(TextStyle::from(
                (crate::font::FAMILY, style::SMALL_SIZE).into_font(),
            ))
            .axis_desc_style(TextStyle::from(
                (crate::font::FAMILY, style::LABEL_SIZE).into_font(),
            ))
            .light_line_style(WHITE)
            .bold_line_style(style::GRID)
            .draw()
            .map_err(ChartError::drawing)?;
        let ticks = style::log_ticks(low, high, 8);
        chart
            .draw_series(ticks.iter().map(|&tick| {
                PathElement::new(
                    vec![(-0.5, tick), (last + 0.5, tick)],
                    style::GRID.stroke_width(1),
                )
            }))
            .map_err(ChartError::drawing)?;
        let tick_style =
            text(style::SMALL_SIZE, style::TEXT).pos(Pos::new(HPos::Right, VPos::Center));
        for &tick in &ticks {
            let (x, y) = chart.backend_coord(&(-0.5, tick));
            root.draw_text(&format_number(tick), &tick_style, (x - 6, y))
                .map_err(ChartError::drawing)?;
        }

        if let Some(base) = self.base.drawable_value() {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (-0.5, base * self.noise.low),
                        (last + 0.5, base * self.noise.high),
                    ],
                    style::NOISE_FILL.filled(),
                )))
                .map_err(ChartError::drawing)?;
        }

        let clamp = |value: f64| value.clamp(low, high);
        chart
            .draw_series(self.all_points().filter_map(|(x, point)| {
                let (interval_low, interval_high) = point.drawable_interval()?;
                Some(PathElement::new(
                    vec![(x, clamp(interval_low)), (x, clamp(interval_high))],
                    style::HISTORY.mix(0.45).stroke_width(1),
                ))
            }))
            .map_err(ChartError::drawing)?;
        // A line joins consecutive drawn points of the history; a commit
        // without a drawable value breaks it, so gaps stay visible.
        for segment in self.history_segments() {
            chart
                .draw_series(LineSeries::new(
                    segment,
                    style::HISTORY.mix(0.6).stroke_width(1),
                ))
                .map_err(ChartError::drawing)?;
        }
        chart
            .draw_series(
                self.history
                    .iter()
                    .enumerate()
                    .filter_map(|(index, point)| {
                        let value = point.drawable_value()?;
                        Some(Circle::new(
                            (index as f64, value),
                            3,
                            style::HISTORY.filled(),
                        ))
                    }),
            )
            .map_err(ChartError::drawing)?;

        let marked = [
            (last - 1.0, &self.base, BLACK, "base"),
            (last, &self.head, self.head_verdict.color(), "head"),
        ];
        for (x, point, color, label) in marked {
            let Some(value) = point.drawable_value() else {
                continue;
            };
            chart
                .draw_series(std::iter::once(Circle::new((x, value), 6, color.filled())))
                .map_err(ChartError::drawing)?;
            let (pixel_x, pixel_y) = chart.backend_coord(&(x, value));
            let label_style =
                text(style::SMALL_SIZE, color).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw_text(label, &label_style, (pixel_x - 10, pixel_y))
                .map_err(ChartError::drawing)?;
        }
        Ok(())
    }

    /// Returns the runs of consecutive history points that have a drawable
    /// value.
    fn history_segments(&self) -> Vec<Vec<(f64, f64)>> {
        let mut segments = vec![Vec::new()];
        for (index, point) in self.history.iter().enumerate() {
            match point.drawable_value() {
                Some(value) => segments
                    .last_mut()
                    .expect("segments starts with one entry")
                    .push((index as f64, value)),
                None => segments.push(Vec::new()),
            }
        }
        segments.retain(|segment| segment.len() > 1);
        segments
    }

    /// Returns the axis label at `x`: the short hash of the commit there,
    /// "base" or "head", or nothing between commits.
    fn commit_label(&self, x: f64) -> String {
        let index = x.round();
        if (x - index).abs() > 0.01 || index < 0.0 {
            return String::new();
        }
        let index = index as usize;
        match index.cmp(&self.history.len()) {
            std::cmp::Ordering::Less => {
                self.history[index].commit.chars().take(SHORT_SHA).collect()
            }
            std::cmp::Ordering::Equal => "base".to_owned(),
            std::cmp::Ordering::Greater if index == self.history.len() + 1 => "head".to_owned(),
            std::cmp::Ordering::Greater => String::new(),
        }
    }

    /// Returns the value axis: every drawable value and interval end, the
    /// noise band around the base, padded; `None` when nothing is drawable.
    fn value_range(&self) -> Option<(f64, f64)> {
        let mut values: Vec<f64> = Vec::new();
        for (_, point) in self.all_points() {
            values.extend(point.drawable_value());
            if let Some((low, high)) = point.drawable_interval() {
                values.extend([low, high]);
            }
        }
        if let Some(base) = self.base.drawable_value() {
            values.extend([base * self.noise.low, base * self.noise.high]);
        }
        let low = values.iter().copied().reduce(f64::min)?;
        let high = values.iter().copied().reduce(f64::max)?;
        Some(style::pad_log_range(low, high, 0.06))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(commit: &str, value: Option<f64>) -> HistoryPoint {
        HistoryPoint {
            commit: commit.to_owned(),
            value,
            interval: None,
        }
    }

    fn chart(history: Vec<HistoryPoint>) -> HistoryChart {
        HistoryChart {
            title: "time_sort".to_owned(),
            unit: Some("seconds".to_owned()),
            history,
            base: point("b", Some(1.0)),
            head: point("h", Some(2.0)),
            head_verdict: Verdict::Worse,
            noise: NoiseBand::from_factor(1.1).expect("valid factor"),
        }
    }

    #[test]
    fn gaps_and_zeros_split_the_line() {
        let chart = chart(vec![
            point("1", Some(1.0)),
            point("2", Some(1.1)),
            point("3", Some(0.0)),
            point("4", Some(1.2)),
            point("5", None),
            point("6", Some(1.3)),
            point("7", Some(1.4)),
        ]);

        assert_eq!(
            chart.history_segments(),
            vec![vec![(0.0, 1.0), (1.0, 1.1)], vec![(5.0, 1.3), (6.0, 1.4)]]
        );
        assert_eq!(chart.skipped(), 2);
    }

    #[test]
    fn axis_labels_name_commits_base_and_head() {
        let chart = chart(vec![point("0123456789abcdef", Some(1.0))]);

        assert_eq!(chart.commit_label(0.0), "0123456");
        assert_eq!(chart.commit_label(1.0), "base");
        assert_eq!(chart.commit_label(2.0), "head");
        assert_eq!(chart.commit_label(0.5), "");
        assert_eq!(chart.commit_label(3.0), "");
    }

    #[test]
    fn nothing_drawable_has_no_range() {
        let mut chart = chart(vec![point("1", Some(-1.0))]);
        chart.base.value = None;
        chart.head.value = Some(f64::NAN);

        assert_eq!(chart.value_range(), None);
        assert_eq!(chart.skipped(), 3);
    }
}
