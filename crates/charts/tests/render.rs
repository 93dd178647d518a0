//! Rendering the charts to PNG: the images decode, have the documented
//! sizes for 1, 30 and 1,000 benchmarks, and survive zeros, negative
//! values and gaps.

use std::path::PathBuf;

use pitot_asv::{parse_benchmarks, parse_results, ResultsFile};
use pitot_charts::{
    HistoryChart, HistoryPoint, NoiseBand, SkippedRows, SummaryChart, SummaryEntry, Verdict,
    HISTORY_HEIGHT, HISTORY_WIDTH,
};
use pitot_stats::{compare, CompareOptions, Comparison};

/// The colour of worse points, as drawn.
const WORSE_RGB: [u8; 3] = [200, 40, 40];
/// The colour of quarantined points, as drawn.
const QUARANTINED_RGB: [u8; 3] = [190, 120, 0];

/// A decoded PNG: its size and RGB pixels.
struct Decoded {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Decoded {
    fn count_color(&self, color: [u8; 3]) -> usize {
        self.rgb
            .chunks_exact(3)
            .filter(|pixel| *pixel == color)
            .count()
    }
}

#[track_caller]
fn decode(bytes: &[u8]) -> Decoded {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("PNG header decodes");
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).expect("PNG image data decodes");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.truncate(info.buffer_size());
    Decoded {
        width: info.width,
        height: info.height,
        rgb,
    }
}

fn band() -> NoiseBand {
    NoiseBand::from_factor(1.1).expect("valid factor")
}

/// Returns `count` benchmarks with ratios spread from 0.5 to 2, every
/// tenth of them worse and every seventh better.
fn entries(count: usize) -> Vec<SummaryEntry> {
    (0..count)
        .map(|index| {
            let ratio = 0.5 * 4f64.powf(index as f64 / count.max(2) as f64);
            let verdict = if index % 10 == 0 {
                Verdict::Worse
            } else if index % 7 == 0 {
                Verdict::Better
            } else {
                Verdict::Unchanged
            };
            SummaryEntry {
                name: format!("benchmarks.TimeSuite.time_operation_{index}(param_{index})"),
                verdict,
                base: Some(1e-3),
                head: Some(1e-3 * ratio),
                base_interval: Some((0.95e-3, 1.05e-3)),
                head_interval: Some((0.95e-3 * ratio, 1.05e-3 * ratio)),
            }
        })
        .collect()
}

#[test]
fn summary_sizes_for_1_30_and_1000_benchmarks() {
    // Labelled rows: 100 pixels plus 20 a benchmark; beyond 40 benchmarks
    // a dot plot of 800 pixels.
    let cases = [(1, 120), (30, 700), (1_000, 800)];
    for (count, expected_height) in cases {
        let chart = SummaryChart::new(entries(count), band());

        let image = decode(&chart.render_png().expect("renders"));

        assert_eq!(image.width, 900, "{count} benchmarks");
        assert_eq!(image.height, expected_height, "{count} benchmarks");
        assert_eq!(
            chart.size(),
            (image.width, image.height),
            "{count} benchmarks"
        );
        assert!(
            image.count_color(WORSE_RGB) > 0,
            "{count} benchmarks: worse points are drawn in red"
        );
    }
}

#[test]
fn summary_survives_zeros_negatives_and_gaps() {
    let mut entries = entries(5);
    entries[0].base = Some(0.0);
    entries[1].head = Some(-2.0);
    entries[2].head = None;
    entries[3].base = Some(f64::NAN);
    entries[4].head_interval = Some((-1.0, 0.0));

    let chart = SummaryChart::new(entries, band());
    let image = decode(&chart.render_png().expect("renders"));

    assert_eq!(chart.drawn(), 1);
    assert_eq!(
        chart.skipped(),
        SkippedRows {
            no_value: 1,
            not_positive: 3,
            not_comparable: 0,
        }
    );
    assert_eq!((image.width, image.height), (900, 120));
}

#[test]
fn summary_with_nothing_drawable_renders_a_note() {
    let mut entries = entries(3);
    for entry in &mut entries {
        entry.base = None;
    }

    let chart = SummaryChart::new(entries, band());
    let image = decode(&chart.render_png().expect("renders"));

    assert_eq!(chart.drawn(), 0);
    assert_eq!((image.width, image.height), (900, 120));
}

#[test]
fn summary_digest_changes_with_the_input() {
    let chart = SummaryChart::new(entries(30), band());
    let same = SummaryChart::new(entries(30), band());
    let mut changed_entries = entries(30);
    changed_entries[7].head = Some(5e-3);
    let changed = SummaryChart::new(changed_entries, band());

    assert_eq!(chart.digest(), same.digest());
    assert_ne!(chart.digest(), changed.digest());
}

fn asv_example(file: &str) -> ResultsFile {
    let path = workspace_path("tests/fixtures/asv/example_results/cheetah").join(file);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    parse_results(&bytes).expect("asv's example results parse")
}

fn workspace_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// Compares two of asv's example results files with a factor of 2.
fn example_comparison() -> Comparison {
    let suite_bytes = std::fs::read(workspace_path(
        "tests/fixtures/asv/example_results/benchmarks.json",
    ))
    .expect("benchmarks.json is readable");
    let suite = parse_benchmarks(&suite_bytes).expect("benchmarks.json parses");
    let before = [asv_example("22b920c6-py2.7-Cython-numpy1.8.json")];
    let after = [asv_example("fcf8c079-py2.7-Cython-numpy1.8.json")];
    let options = CompareOptions {
        factor: 2.0,
        use_stats: true,
    };
    compare(&before, &after, &suite, &options).expect("compares")
}

#[test]
fn summary_of_a_real_comparison() {
    let comparison = example_comparison();

    let chart = SummaryChart::from_comparison(
        &comparison,
        NoiseBand::from_factor(comparison.options.factor).expect("valid factor"),
        |_| false,
    );
    let image = decode(&chart.render_png().expect("renders"));

    assert_eq!(
        chart.drawn() + chart.skipped().total(),
        comparison.rows.len(),
        "every row is drawn or counted as left out"
    );
    assert!(chart.drawn() > 0, "{:?}", chart.skipped());
    assert!(
        chart.skipped().no_value > 0,
        "the example has failed benchmarks"
    );
    assert_eq!((image.width, image.height), chart.size());
}

#[test]
fn quarantined_benchmarks_get_their_own_colour() {
    let comparison = example_comparison();
    let noise = NoiseBand::from_factor(comparison.options.factor).expect("valid factor");
    let drawable = |value: Option<f64>| value.is_some_and(|value| value > 0.0);
    let quarantined = comparison
        .rows
        .iter()
        .find(|row| {
            drawable(row.before.measurement.value()) && drawable(row.after.measurement.value())
        })
        .map(|row| row.benchmark.clone())
        .expect("a benchmark with values on both sides");

    let plain = SummaryChart::from_comparison(&comparison, noise, |_| false);
    let marked =
        SummaryChart::from_comparison(&comparison, noise, |row| row.benchmark == quarantined);

    let plain_image = decode(&plain.render_png().expect("renders"));
    let marked_image = decode(&marked.render_png().expect("renders"));
    assert_eq!(plain_image.count_color(QUARANTINED_RGB), 0);
    assert!(
        marked_image.count_color(QUARANTINED_RGB) > 0,
        "{quarantined} is drawn in the quarantine colour"
    );
    assert_eq!(plain.drawn(), marked.drawn(), "a quarantined benchmark is still drawn");
    assert_ne!(plain.digest(), marked.digest(), "the URL changes with the quarantine");
}

fn history_point(commit: usize, value: Option<f64>) -> HistoryPoint {
    HistoryPoint {
        commit: format!("{commit:040x}"),
        value,
        interval: value.map(|value| (value * 0.9, value * 1.1)),
    }
}

fn history(values: &[Option<f64>]) -> HistoryChart {
    HistoryChart {
        title: "benchmarks.TimeSuite.time_sort(1000)".to_owned(),
        unit: Some("seconds".to_owned()),
        history: values
            .iter()
            .enumerate()
            .map(|(index, value)| history_point(index, *value))
            .collect(),
        base: history_point(9_000, Some(1e-3)),
        head: history_point(9_001, Some(3e-3)),
        head_verdict: Verdict::Worse,
        noise: band(),
    }
}

#[test]
fn history_survives_zeros_and_gaps() {
    let values = [
        Some(1e-3),
        Some(0.0),
        None,
        Some(1.1e-3),
        Some(-1.0),
        Some(f64::NAN),
        Some(0.9e-3),
    ];
    let chart = history(&values);

    let image = decode(&chart.render_png().expect("renders"));

    assert_eq!((image.width, image.height), (HISTORY_WIDTH, HISTORY_HEIGHT));
    assert_eq!(chart.skipped(), 4);
    assert!(
        image.count_color(WORSE_RGB) > 0,
        "the worse head is drawn in red"
    );
}

#[test]
fn history_of_500_commits_renders() {
    let values: Vec<Option<f64>> = (0..500)
        .map(|index| Some(1e-3 * (1.0 + 0.05 * ((index % 17) as f64 / 17.0))))
        .collect();
    let chart = history(&values);

    let image = decode(&chart.render_png().expect("renders"));

    assert_eq!((image.width, image.height), (HISTORY_WIDTH, HISTORY_HEIGHT));
    assert_eq!(chart.skipped(), 0);
}

#[test]
fn history_with_nothing_drawable_renders_a_note() {
    let mut chart = history(&[None, Some(0.0)]);
    chart.base.value = None;
    chart.head.value = Some(-1.0);

    let image = decode(&chart.render_png().expect("renders"));

    assert_eq!((image.width, image.height), (HISTORY_WIDTH, HISTORY_HEIGHT));
    assert_eq!(chart.skipped(), 4);
}

#[test]
fn history_digest_changes_with_the_input() {
    let values = [Some(1e-3), None, Some(1.2e-3)];
    let chart = history(&values);
    let same = history(&values);
    let longer = history(&[Some(1e-3), None, Some(1.2e-3), Some(1.3e-3)]);
    let mut other_head = history(&values);
    other_head.head.value = Some(2e-3);

    assert_eq!(chart.digest(), same.digest());
    assert_ne!(chart.digest(), longer.digest());
    assert_ne!(chart.digest(), other_head.digest());
}
