//! The decision rule of `asv compare` (asv 0.6.6), case by case, including
//! the edge cases that the crate documentation lists.

use pitot_asv::{
    BenchmarkInfo, BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile, Stats,
};
use pitot_stats::{
    compare, CompareError, CompareOptions, Direction, Mark, Measurement, ResultSet, Row,
    Significance,
};

fn stats(ci: (f64, f64), repeat: Option<f64>) -> Stats {
    Stats {
        ci_99: Some(ci),
        q_25: Some(ci.0),
        q_75: Some(ci.1),
        number: Some(1.0),
        repeat,
    }
}

/// One side of a case: the outcome and what is stored beside it.
#[derive(Clone)]
struct Input {
    outcome: Outcome,
    stats: Option<Stats>,
    samples: Option<Vec<f64>>,
    version: Option<&'static str>,
}

fn value(value: f64) -> Input {
    Input {
        outcome: Outcome::Value(value),
        stats: None,
        samples: None,
        version: None,
    }
}

fn outcome(outcome: Outcome) -> Input {
    Input {
        outcome,
        ..value(0.0)
    }
}

impl Input {
    fn with_stats(mut self, stats: Stats) -> Self {
        self.stats = Some(stats);
        self
    }

    fn with_samples(mut self, samples: Vec<f64>) -> Self {
        self.samples = Some(samples);
        self
    }

    fn with_version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }

    fn into_result(self, name: &str) -> BenchmarkResult {
        BenchmarkResult {
            name: name.to_owned(),
            outcomes: vec![self.outcome],
            stats: vec![self.stats],
            samples: vec![self.samples],
            version: self.version.map(str::to_owned),
            ..BenchmarkResult::default()
        }
    }
}

fn results_file(env_name: &str, benchmarks: Vec<BenchmarkResult>) -> ResultsFile {
    ResultsFile {
        schema_version: 2,
        machine: "cheetah".to_owned(),
        env_name: env_name.to_owned(),
        commit_hash: "0123456789abcdef".to_owned(),
        benchmarks,
        ..ResultsFile::default()
    }
}

fn suite(entries: &[(&str, BenchmarkType, &str)]) -> BenchmarkSuite {
    let benchmarks = entries
        .iter()
        .map(|(name, kind, unit)| {
            let info = BenchmarkInfo {
                name: (*name).to_owned(),
                kind: kind.clone(),
                unit: (*unit).to_owned(),
                params: Vec::new(),
                param_names: Vec::new(),
                version: None,
            };
            ((*name).to_owned(), info)
        })
        .collect();
    BenchmarkSuite { benchmarks }
}

/// Compares one benchmark, `time_x`, given as `before` and `after`.
#[track_caller]
fn compare_pair(before: Option<Input>, after: Option<Input>, options: CompareOptions) -> Row {
    // A second benchmark keeps both result sets non-empty when a case
    // leaves `time_x` out of one of them.
    let filler = || value(1.0).into_result("time_filler");
    let before: Vec<_> = before
        .map(|input| input.into_result("time_x"))
        .into_iter()
        .chain([filler()])
        .collect();
    let after: Vec<_> = after
        .map(|input| input.into_result("time_x"))
        .into_iter()
        .chain([filler()])
        .collect();
    let suite = suite(&[("time_x", BenchmarkType::Time, "seconds")]);

    let comparison = compare(
        &[results_file("py3.12", before)],
        &[results_file("py3.12", after)],
        &suite,
        &options,
    )
    .expect("valid comparison");

    comparison
        .rows
        .into_iter()
        .find(|row| row.name == "time_x")
        .expect("a row for time_x")
}

struct Case {
    what: &'static str,
    before: Option<Input>,
    after: Option<Input>,
    options: CompareOptions,
    mark: Mark,
    ratio: Option<f64>,
    insignificant: bool,
}

fn with_stats() -> CompareOptions {
    CompareOptions::default()
}

fn without_stats() -> CompareOptions {
    CompareOptions {
        use_stats: false,
        ..CompareOptions::default()
    }
}

fn ten_samples(start: f64) -> Vec<f64> {
    (0..10).map(|i| start + f64::from(i) * 0.01).collect()
}

fn cases() -> Vec<Case> {
    let overlapping = |center: f64| stats((center - 2.0, center + 2.0), Some(10.0));
    let narrow = |center: f64| stats((center - 0.1, center + 0.1), Some(10.0));
    vec![
        Case {
            what: "within the factor",
            before: Some(value(1.0)),
            after: Some(value(1.05)),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: Some(1.05),
            insignificant: false,
        },
        Case {
            what: "exactly the factor is not a change",
            before: Some(value(1.0)),
            after: Some(value(1.1)),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: Some(1.1),
            insignificant: false,
        },
        Case {
            what: "increase without stored statistics",
            before: Some(value(1.0)),
            after: Some(value(3.0)),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "decrease without stored statistics",
            before: Some(value(3.0)),
            after: Some(value(1.0)),
            options: with_stats(),
            mark: Mark::Decreased,
            ratio: Some(1.0 / 3.0),
            insignificant: false,
        },
        Case {
            what: "disjoint intervals confirm the increase",
            before: Some(value(1.0).with_stats(narrow(1.0))),
            after: Some(value(3.0).with_stats(narrow(3.0))),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "overlapping intervals veto the increase",
            before: Some(value(1.0).with_stats(overlapping(1.0))),
            after: Some(value(3.0).with_stats(overlapping(3.0))),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: Some(3.0),
            insignificant: true,
        },
        Case {
            what: "--no-stats ignores overlapping intervals",
            before: Some(value(1.0).with_stats(overlapping(1.0))),
            after: Some(value(3.0).with_stats(overlapping(3.0))),
            options: without_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "repeat 1 on one side: the factor decides",
            before: Some(value(1.0).with_stats(stats((-1.0, 3.0), Some(1.0)))),
            after: Some(value(3.0).with_stats(overlapping(3.0))),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "U test on separated samples overrides overlapping intervals",
            before: Some(
                value(1.0)
                    .with_stats(overlapping(1.0))
                    .with_samples(ten_samples(1.0)),
            ),
            after: Some(
                value(3.0)
                    .with_stats(overlapping(3.0))
                    .with_samples(ten_samples(3.0)),
            ),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "all samples tied: U test finds no difference",
            before: Some(
                value(1.0)
                    .with_stats(narrow(1.0))
                    .with_samples(vec![1.0; 10]),
            ),
            after: Some(
                value(1.0)
                    .with_stats(narrow(3.0))
                    .with_samples(vec![1.0; 10]),
            ),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: Some(1.0),
            insignificant: false,
        },
        Case {
            what: "U test vetoes although intervals are disjoint",
            before: Some(
                value(1.0)
                    .with_stats(narrow(1.0))
                    .with_samples(ten_samples(2.0)),
            ),
            after: Some(
                value(3.0)
                    .with_stats(narrow(3.0))
                    .with_samples(ten_samples(2.0)),
            ),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: Some(3.0),
            insignificant: true,
        },
        Case {
            what: "NaN samples are dropped: three left a side is too few for the U test",
            before: Some(value(1.0).with_stats(narrow(1.0)).with_samples(vec![
                1.0,
                1.0,
                1.0,
                f64::NAN,
                f64::NAN,
                f64::NAN,
                f64::NAN,
                f64::NAN,
            ])),
            after: Some(value(3.0).with_stats(narrow(3.0)).with_samples(vec![
                1.0,
                1.0,
                1.0,
                f64::NAN,
                f64::NAN,
                f64::NAN,
                f64::NAN,
                f64::NAN,
            ])),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "a single sample per side: intervals decide",
            before: Some(
                value(1.0)
                    .with_stats(overlapping(1.0))
                    .with_samples(vec![1.0]),
            ),
            after: Some(
                value(3.0)
                    .with_stats(overlapping(3.0))
                    .with_samples(vec![3.0]),
            ),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: Some(3.0),
            insignificant: true,
        },
        Case {
            what: "statistics without interval: the factor decides",
            before: Some(value(1.0).with_stats(Stats {
                repeat: Some(10.0),
                ..Stats::default()
            })),
            after: Some(value(3.0).with_stats(Stats {
                repeat: Some(10.0),
                ..Stats::default()
            })),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "an empty statistics entry counts as none",
            before: Some(value(1.0).with_stats(Stats::default())),
            after: Some(value(3.0).with_stats(overlapping(3.0))),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "base value 0: marked by the factor, no ratio",
            before: Some(value(0.0)),
            after: Some(value(5.0)),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "base value 0 with overlapping intervals: ~n/a",
            before: Some(value(0.0).with_stats(overlapping(0.0))),
            after: Some(value(1.0).with_stats(overlapping(1.0))),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: None,
            insignificant: true,
        },
        Case {
            what: "both 0",
            before: Some(value(0.0)),
            after: Some(value(0.0)),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "negative values falling are a decrease",
            before: Some(value(-1.0)),
            after: Some(value(-2.0)),
            options: with_stats(),
            mark: Mark::Decreased,
            ratio: Some(2.0),
            insignificant: false,
        },
        Case {
            what: "negative values rising are an increase",
            before: Some(value(-2.0)),
            after: Some(value(-1.0)),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(0.5),
            insignificant: false,
        },
        Case {
            what: "NaN value counts as skipped",
            before: Some(value(f64::NAN)),
            after: Some(value(1.0)),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "skipped after",
            before: Some(value(1.0)),
            after: Some(outcome(Outcome::Skipped)),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "new failure",
            before: Some(value(1.0)),
            after: Some(outcome(Outcome::Failed)),
            options: with_stats(),
            mark: Mark::NewFailure,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "missing before and failed after is a new failure",
            before: None,
            after: Some(outcome(Outcome::Failed)),
            options: with_stats(),
            mark: Mark::NewFailure,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "fixed failure",
            before: Some(outcome(Outcome::Failed)),
            after: Some(value(1.0)),
            options: with_stats(),
            mark: Mark::FixedFailure,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "failed before and missing after counts as fixed",
            before: Some(outcome(Outcome::Failed)),
            after: None,
            options: with_stats(),
            mark: Mark::FixedFailure,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "failed on both sides",
            before: Some(outcome(Outcome::Failed)),
            after: Some(outcome(Outcome::Failed)),
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "missing after",
            before: Some(value(1.0)),
            after: None,
            options: with_stats(),
            mark: Mark::Unchanged,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "different versions are not comparable",
            before: Some(value(1.0).with_version("aaaa")),
            after: Some(value(3.0).with_version("bbbb")),
            options: with_stats(),
            mark: Mark::NotComparable,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "a version check comes before the failure check",
            before: Some(value(1.0).with_version("aaaa")),
            after: Some(outcome(Outcome::Failed).with_version("bbbb")),
            options: with_stats(),
            mark: Mark::NotComparable,
            ratio: None,
            insignificant: false,
        },
        Case {
            what: "one version unknown is comparable",
            before: Some(value(1.0)),
            after: Some(value(3.0).with_version("bbbb")),
            options: with_stats(),
            mark: Mark::Increased,
            ratio: Some(3.0),
            insignificant: false,
        },
        Case {
            what: "a larger factor hides a threefold change",
            before: Some(value(1.0)),
            after: Some(value(3.0)),
            options: CompareOptions {
                factor: 4.0,
                use_stats: true,
            },
            mark: Mark::Unchanged,
            ratio: Some(3.0),
            insignificant: false,
        },
    ]
}

#[test]
fn decision_rule_cases() {
    for case in cases() {
        let row = compare_pair(case.before, case.after, case.options);

        assert_eq!(row.mark, case.mark, "mark: {}", case.what);
        assert_eq!(row.ratio, case.ratio, "ratio: {}", case.what);
        assert_eq!(
            row.insignificant, case.insignificant,
            "insignificant: {}",
            case.what
        );
    }
}

#[test]
fn significance_records_the_test() {
    let before = value(1.0)
        .with_stats(stats((0.0, 2.0), Some(10.0)))
        .with_samples(ten_samples(1.0));
    let after = value(3.0)
        .with_stats(stats((2.0, 4.0), Some(10.0)))
        .with_samples(ten_samples(3.0));

    let row = compare_pair(Some(before), Some(after), with_stats());

    assert_eq!(
        row.significance,
        Significance::MannWhitneyU {
            p_value: 1.0825088224361175e-05,
            different: true
        }
    );
}

#[test]
fn side_error_is_half_the_interquartile_range() {
    let before = value(1.0).with_stats(stats((0.5, 1.5), Some(10.0)));

    let row = compare_pair(Some(before), Some(value(1.0)), with_stats());

    assert_eq!(row.before.error(), Some(0.5));
    assert_eq!(row.after.error(), None);
    assert_eq!(row.before.measurement, Measurement::Value(1.0));
}

#[test]
fn compare_unrolls_parameters_in_order() {
    let result = BenchmarkResult {
        name: "time_param".to_owned(),
        params: vec![
            vec!["1".to_owned(), "2".to_owned()],
            vec!["'a'".to_owned(), "'b'".to_owned()],
        ],
        outcomes: vec![
            Outcome::Value(1.0),
            Outcome::Value(2.0),
            Outcome::Failed,
            Outcome::Skipped,
        ],
        ..BenchmarkResult::default()
    };
    let files = [results_file("py3.12", vec![result])];

    let comparison =
        compare(&files, &files, &BenchmarkSuite::default(), &with_stats()).expect("comparable");

    let names: Vec<&str> = comparison
        .rows
        .iter()
        .map(|row| row.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "time_param(1, 'a')",
            "time_param(1, 'b')",
            "time_param(2, 'a')",
            "time_param(2, 'b')"
        ]
    );
    assert_eq!(comparison.rows[2].before.measurement, Measurement::Failed);
    assert_eq!(comparison.rows[3].before.measurement, Measurement::Skipped);
    assert_eq!(comparison.rows[0].params, ["1", "'a'"]);
}

#[test]
fn compare_tracks_environments() {
    let before = [
        results_file("py3.12", vec![value(1.0).into_result("time_a")]),
        results_file("py3.11", vec![value(1.0).into_result("time_a")]),
    ];
    let after = [results_file(
        "py3.12",
        vec![value(1.0).into_result("time_a")],
    )];

    let comparison =
        compare(&before, &after, &BenchmarkSuite::default(), &with_stats()).expect("comparable");

    assert!(comparison.has_multiple_environments());
    assert_eq!(
        comparison.environments,
        ["cheetah/py3.11", "cheetah/py3.12"]
    );
    let rows: Vec<(String, Measurement)> = comparison
        .rows
        .iter()
        .map(|row| (row.environment(), row.after.measurement))
        .collect();
    assert_eq!(
        rows,
        [
            ("cheetah/py3.11".to_owned(), Measurement::Missing),
            ("cheetah/py3.12".to_owned(), Measurement::Value(1.0)),
        ]
    );
}

#[test]
fn compare_keeps_the_last_duplicate() {
    let before = [
        results_file("py3.12", vec![value(1.0).into_result("time_a")]),
        results_file("py3.12", vec![value(2.0).into_result("time_a")]),
    ];

    let comparison =
        compare(&before, &before, &BenchmarkSuite::default(), &with_stats()).expect("comparable");

    assert_eq!(comparison.rows.len(), 1);
    assert_eq!(
        comparison.rows[0].before.measurement,
        Measurement::Value(2.0)
    );
}

#[test]
fn compare_rejects_bad_input() {
    let some = [results_file(
        "py3.12",
        vec![value(1.0).into_result("time_a")],
    )];
    let empty_file = [results_file("py3.12", Vec::new())];
    let suite = BenchmarkSuite::default();
    let factor = |factor| CompareOptions {
        factor,
        use_stats: true,
    };
    type BadInput<'a> = (
        &'a str,
        &'a [ResultsFile],
        &'a [ResultsFile],
        CompareOptions,
        CompareError,
    );
    let cases: [BadInput; 6] = [
        (
            "no before files",
            &[],
            &some,
            with_stats(),
            CompareError::NoResults(ResultSet::Before),
        ),
        (
            "no after files",
            &some,
            &[],
            with_stats(),
            CompareError::NoResults(ResultSet::After),
        ),
        (
            "before without results",
            &empty_file,
            &some,
            with_stats(),
            CompareError::NoResults(ResultSet::Before),
        ),
        (
            "factor 0",
            &some,
            &some,
            factor(0.0),
            CompareError::InvalidFactor(0.0),
        ),
        (
            "negative factor",
            &some,
            &some,
            factor(-2.0),
            CompareError::InvalidFactor(-2.0),
        ),
        (
            "infinite factor",
            &some,
            &some,
            factor(f64::INFINITY),
            CompareError::InvalidFactor(f64::INFINITY),
        ),
    ];
    for (what, before, after, options, expected) in cases {
        let result = compare(before, after, &suite, &options);

        assert_eq!(result, Err(expected), "{what}");
    }
}

#[test]
fn direction_turns_marks_into_verdicts() {
    let before = [results_file(
        "py3.12",
        vec![
            value(1.0).into_result("track_speedup"),
            value(1.0).into_result("time_a"),
        ],
    )];
    let after = [results_file(
        "py3.12",
        vec![
            value(3.0).into_result("track_speedup"),
            value(3.0).into_result("time_a"),
        ],
    )];
    let suite = suite(&[
        ("track_speedup", BenchmarkType::Track, "speedup"),
        ("time_a", BenchmarkType::Time, "seconds"),
    ]);

    let comparison = compare(&before, &after, &suite, &with_stats()).expect("comparable");

    let time = &comparison.rows[0];
    let speedup = &comparison.rows[1];
    assert_eq!(
        (time.mark, time.direction),
        (Mark::Increased, Direction::LowerIsBetter)
    );
    assert!(
        time.got_worse() && !time.got_better(),
        "slower time is worse"
    );
    assert_eq!(
        (speedup.mark, speedup.direction),
        (Mark::Increased, Direction::HigherIsBetter)
    );
    assert!(
        speedup.got_better() && !speedup.got_worse(),
        "larger speedup is better"
    );
    assert!(comparison.asv_worsened());
    assert!(comparison.got_worse());
}
