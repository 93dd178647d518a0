//! Tests on real results files copied into `tests/fixtures/asv`. The expected
//! values were read from the files with Python's `json` module, and the
//! schema-1 conversions and environment names from asv 0.6.6 itself.

use super::{direct, parse_results, parse_tree};
use crate::testing::{fixture, parse_fixture};
use crate::{BenchmarkResult, Outcome, ParseError, ResultsFile, Stats};

#[track_caller]
fn benchmark<'f>(file: &'f ResultsFile, name: &str) -> &'f BenchmarkResult {
    file.benchmark(name)
        .unwrap_or_else(|| panic!("no benchmark {name} in the file"))
}

const DJANGO_TWELVE_COLUMNS: &str = "django-asv/results/ubuntu-latest/b049bec7-conda-py3.10.json";

#[test]
fn schema2_header_fields() {
    let file = parse_fixture(DJANGO_TWELVE_COLUMNS);

    assert_eq!(file.schema_version, 2);
    assert_eq!(file.machine, "ubuntu-latest");
    assert_eq!(file.env_name, "conda-py3.10");
    assert_eq!(file.commit_hash, "b049bec7cfe9b5854584d240addb44fa1e9375a5");
    assert_eq!(file.date, Some(1_716_578_630_000));
    assert_eq!(file.python.as_deref(), Some("3.10"));
    assert!(file.requirements.is_empty());
    assert_eq!(
        file.machine_params.get("python").map(String::as_str),
        Some("3.10")
    );
    assert_eq!(file.durations.get("<build>"), Some(&14.132677793502808));
    assert_eq!(file.benchmarks.len(), 53);
}

#[test]
fn schema2_full_row_has_stats_and_samples() {
    let file = parse_fixture(DJANGO_TWELVE_COLUMNS);

    let result = benchmark(
        &file,
        "data_struct_benchmarks.multi_value_dict.benchmark.MultiValueDictBench.time_multi_value_dict",
    );

    assert!(result.params.is_empty());
    assert_eq!(result.outcomes, [Outcome::Value(0.2747284319999892)]);
    assert_eq!(
        result.stats,
        [Some(Stats {
            ci_99: Some((0.26762, 0.28129)),
            q_25: Some(0.27005),
            q_75: Some(0.27762),
            number: Some(1.0),
            repeat: Some(10.0),
        })]
    );
    let samples = result.samples[0].as_ref().expect("samples are stored");
    assert_eq!(samples.len(), 10);
    assert_eq!(samples[0], 0.2676209530000051);
    assert_eq!(
        result.version.as_deref(),
        Some("87acd4d238cf055be76b8987a6748b697c7515e52712dfee8ee0efebc4de5f86")
    );
    assert_eq!(result.started_at, Some(1_716_855_561_127));
    assert_eq!(result.duration, Some(1.7073));
}

#[test]
fn schema2_row_of_five_is_a_failure() {
    let file = parse_fixture(DJANGO_TWELVE_COLUMNS);

    let result = benchmark(
        &file,
        "model_benchmarks.model_create.benchmark.ModelCreate.time_model_creation",
    );

    assert_eq!(result.outcomes, [Outcome::Failed]);
    assert!(result.stats.is_empty());
    assert!(result.samples.is_empty());
    assert_eq!(result.started_at, Some(1_716_855_564_413));
    assert_eq!(result.duration, Some(0.75591));
}

#[test]
fn schema2_row_of_eleven_has_no_samples() {
    let file = parse_fixture("django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json");

    let result = benchmark(
        &file,
        "form_benchmarks.form_clean.benchmark.FormClean.time_form_clean",
    );

    assert_eq!(file.benchmarks.len(), 40);
    assert_eq!(result.outcomes, [Outcome::Value(5.798165745837143e-05)]);
    assert_eq!(result.stats[0].and_then(|stats| stats.number), Some(181.0));
    assert!(result.samples.is_empty());
}

#[test]
fn schema2_failed_build_fails_every_benchmark() {
    let file = parse_fixture("django-asv/results/ubuntu-latest/66e47ac6-conda-py3.8.json");

    assert_eq!(file.benchmarks.len(), 52);
    for result in &file.benchmarks {
        assert_eq!(result.outcomes, [Outcome::Failed], "{}", result.name);
        assert_eq!(
            result.duration, None,
            "{} has a row of 4 cells",
            result.name
        );
    }
    assert_eq!(file.benchmarks[0].started_at, Some(1_708_129_262_559));
}

const CONDA_SCHEMA2: &str = "conda-benchmarks/results/Daniels-MBP.monotreme.club/044cf5df-conda-py3.10-conda-libmamba-solver-conda-package-handling2.0.2.json";

#[test]
fn schema2_parametrized_mixes_values_failures_and_skips() {
    let file = parse_fixture(CONDA_SCHEMA2);

    let result = benchmark(&file, "extract.TimeExtract.time_extract");

    assert_eq!(result.params.len(), 3);
    assert_eq!(result.combination_count(), 20);
    assert_eq!(result.outcomes.len(), 20);
    assert_eq!(result.outcomes[0], Outcome::Value(1.6798634161241353));
    assert_eq!(result.outcomes[1], Outcome::Failed);
    assert_eq!(result.outcomes[3], Outcome::Skipped);
    assert_eq!(result.combination(3), ["1", "'.tar.bz2'", "'rust'"]);
    assert_eq!(result.stats.len(), 20);
    assert_eq!(
        result.stats[0].and_then(|stats| stats.ci_99),
        Some((1.6366, 1.7606))
    );
    assert_eq!(result.stats[1], None);
}

#[test]
fn schema2_peakmemory_and_requirements() {
    let file = parse_fixture(CONDA_SCHEMA2);

    let result = benchmark(&file, "peakmem_create_python");

    assert_eq!(result.params, [["'classic'", "'libmamba'"]]);
    assert_eq!(
        result.outcomes,
        [Outcome::Value(300_826_624.0), Outcome::Value(103_235_584.0)]
    );
    assert_eq!(
        file.requirements
            .get("conda-libmamba-solver")
            .map(String::as_str),
        Some("")
    );
    assert_eq!(
        file.machine_params.get("ram").map(String::as_str),
        Some("17179869184")
    );
    assert_eq!(
        file.durations.get("<setup_cache download_asyncio:125>"),
        Some(&0.327837)
    );
}

#[test]
fn schema2_infinity_in_confidence_interval() {
    let file = parse_fixture(
        "uxarray-asv/results/philipc2-desktop/5410c4f0-virtualenv-py3.11-netcdf4-pip+pyfma-setuptools_scm-xarray.json",
    );

    let result = benchmark(&file, "quad_hexagon.QuadHexagon.time_open_dataset");

    assert_eq!(
        file.env_name,
        "virtualenv-py3.11-netcdf4-pip+pyfma-setuptools_scm-xarray"
    );
    assert_eq!(result.outcomes, [Outcome::Value(0.02977290004491806)]);
    let stats = result.stats[0].expect("stats are stored");
    assert_eq!(stats.ci_99, Some((f64::NEG_INFINITY, f64::INFINITY)));
    assert_eq!(stats.q_25, Some(0.029773));
    assert_eq!(stats.repeat, Some(1.0));
}

#[test]
fn schema2_posix_path_params() {
    let file = parse_fixture("uxarray-asv/results/GH-Actions/00202654-conda-py3.11-python.json");

    let result = benchmark(&file, "face_bounds.FaceBounds.time_face_bounds");

    assert_eq!(file.env_name, "conda-py3.11-python");
    assert_eq!(result.params[0].len(), 4);
    assert_eq!(
        result.params[0][0],
        "PosixPath('/home/runner/work/uxarray/uxarray/test/meshfiles/ugrid/quad-hexagon/grid.nc')"
    );
    assert_eq!(result.outcomes[0], Outcome::Value(0.06242909449997569));
    assert_eq!(result.stats[3].and_then(|stats| stats.repeat), Some(2.0));
}

#[test]
fn schema2_param_named_infinity_stays_text() {
    let text = r#"{"commit_hash": "abc", "env_name": "e", "date": null, "python": "3.12",
        "params": {"machine": "m"}, "requirements": {}, "version": 2,
        "result_columns": ["result", "params"],
        "results": {"time_limit": [[1.5, Infinity], [["'Infinity'", "\"NaN\""]]]}}"#;

    let file = parse_results(text.as_bytes()).expect("a valid file");

    let result = benchmark(&file, "time_limit");
    assert_eq!(result.params, [["'Infinity'", "\"NaN\""]]);
    assert_eq!(
        result.outcomes,
        [Outcome::Value(1.5), Outcome::Value(f64::INFINITY)]
    );
}

#[test]
fn schema2_null_env_name_reads_as_none() {
    let text = r#"{"commit_hash": "abc", "env_name": null, "date": null, "python": "3.12",
        "params": {"machine": "m"}, "requirements": {}, "version": 2,
        "result_columns": ["result"], "results": {"time_x": [[1.5]]}}"#;

    let file = parse_results(text.as_bytes()).expect("a valid file");

    assert_eq!(file.env_name, "None");
    assert_eq!(benchmark(&file, "time_x").outcomes, [Outcome::Value(1.5)]);
}

const EXAMPLE_BEFORE: &str = "example_results/cheetah/22b920c6-py2.7-Cython-numpy1.8.json";
const EXAMPLE_AFTER: &str = "example_results/cheetah/fcf8c079-py2.7-Cython-numpy1.8.json";

#[test]
fn schema1_value_shapes() {
    let file = parse_fixture(EXAMPLE_AFTER);

    let outcomes = |name: &str| benchmark(&file, name).outcomes.clone();

    assert_eq!(file.schema_version, 1);
    assert_eq!(outcomes("time_AAA_failure"), [Outcome::Failed]);
    assert_eq!(outcomes("time_AAA_skip"), [Outcome::Skipped]);
    assert_eq!(outcomes("time_units.mem_unit"), [Outcome::Value(344.0)]);
    assert_eq!(
        outcomes("time_quantity.time_quantity_array_conversion"),
        [Outcome::Value(0.15283851623535155)]
    );
    let parametrized = benchmark(&file, "time_other.time_parameterized");
    assert_eq!(parametrized.params, [["1", "2", "3"]]);
    assert_eq!(
        parametrized.outcomes,
        [Outcome::Value(1.0), Outcome::Value(4.0), Outcome::Failed]
    );
}

#[test]
fn schema1_result_with_stats() {
    let file = parse_fixture(EXAMPLE_AFTER);

    let result = benchmark(&file, "time_ci_big");

    assert_eq!(result.outcomes, [Outcome::Value(3.0)]);
    assert_eq!(
        result.stats,
        [Some(Stats {
            ci_99: Some((1.5, 3.5)),
            q_25: Some(1.5),
            q_75: Some(3.5),
            number: None,
            repeat: None,
        })]
    );
}

#[test]
fn schema1_benchmark_versions() {
    let before = parse_fixture(EXAMPLE_BEFORE);
    let after = parse_fixture(EXAMPLE_AFTER);

    let version = |file: &ResultsFile, name: &str| benchmark(file, name).version.clone();

    assert_eq!(
        version(&before, "time_with_version_mismatch_other").as_deref(),
        Some("1")
    );
    assert_eq!(
        version(&after, "time_with_version_mismatch_other").as_deref(),
        Some("2")
    );
    assert_eq!(version(&after, "time_AAA_skip"), None);
}

#[test]
fn schema1_benchmarks_sorted_by_name() {
    let file = parse_fixture(EXAMPLE_AFTER);

    let names: Vec<&str> = file.benchmarks.iter().map(|b| b.name.as_str()).collect();

    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 22);
}

#[test]
fn schema1_env_name_rebuilt_like_asv() {
    // Expected names from asv 0.6.6 (`Results.update`, then `Results.load`).
    let cases = [
        (EXAMPLE_BEFORE, "py2.7-numpy1.8", "no Cython requirement at all"),
        (
            "example_results/cheetah/fcf8c079-py2.7-Cython-numpy1.8-foo.json",
            "py2.7-foo-numpy1.8",
            "an empty version adds the bare name",
        ),
        (
            "example_results/cheetah/8a997b01-py2.7-Cython-numpy1.8.json",
            "py2.7-Cython-numpy1.8",
            "a null version adds the bare name too",
        ),
        (
            "photutils-benchmarks/results/tom-mac-mini/00e8d435-py2.7-Cython-astropy0.4.1-numpy1.8.json",
            "py2.7-Cython-astropy0.4.1-numpy1.8",
            "requirements sorted by name",
        ),
        (
            "conda-benchmarks/dot_asv/results/benchmarkers-MacBook-Pro.local/01352cfa-conda-py3.6-chardet-conda-env-mock-pycosat-pytest-requests-ruamel_yaml.json",
            "conda-py3.6-chardet-conda-env-mock-pycosat-pytest-requests-ruamel_yaml",
            "a stored env_name is kept",
        ),
    ];

    for (path, expected, case) in cases {
        let file = parse_fixture(path);

        assert_eq!(file.env_name, expected, "{case}: {path}");
    }
}

#[test]
fn schema1_env_name_replaces_unsafe_characters() {
    let text = r#"{"commit_hash": "abc", "date": 1, "python": "3.12", "params": {"machine": "m"},
        "requirements": {"pip+git": "https://x/y:z", "a<b": null}, "results": {}, "version": 1}"#;

    let file = parse_results(text.as_bytes()).expect("a valid file");

    assert_eq!(file.env_name, "py3.12-a_b-pip+githttps___x_y_z");
}

#[test]
fn schema1_stats_rounded_like_asv_update() {
    let file = parse_fixture(
        "conda-benchmarks/dot_asv/results/benchmarkers-MacBook-Pro.local/01352cfa-conda-py3.6-chardet-conda-env-mock-pycosat-pytest-requests-ruamel_yaml.json",
    );

    let result = benchmark(&file, "time_create_python");

    // The result keeps all digits; the statistics keep 5 significant
    // digits, as asv 0.6.6 stores them after `asv update`.
    assert_eq!(result.outcomes, [Outcome::Value(4.2904684999999985)]);
    assert_eq!(
        result.stats,
        [Some(Stats {
            ci_99: Some((4.2377, 4.3485)),
            q_25: Some(4.2754),
            q_75: Some(4.3081),
            number: Some(1.0),
            repeat: Some(4.0),
        })]
    );
    assert_eq!(
        result.version.as_deref(),
        Some("30097b0542e813f4782ac59e59078f9e2e11848dba350dc43d69717d09179546")
    );
    assert_eq!(result.started_at, Some(1_539_205_453_759));
}

#[test]
fn schema1_durations_split_from_benchmarks() {
    let file = parse_fixture("example_results/cheetah/13dd6571-py2.7-Cython-numpy1.8.json");

    let result = benchmark(&file, "time_quantity.time_quantity_array_conversion");

    assert_eq!(result.started_at, Some(1));
    assert_eq!(result.duration, Some(1.0));
    assert_eq!(file.durations.len(), 2);
    assert_eq!(file.durations.get("<build>"), Some(&2.0));
    assert_eq!(file.durations.get("<setup_cache example:21>"), Some(&3.0));
}

#[test]
fn schema1_early_file_with_plain_numbers() {
    let file = parse_fixture(
        "photutils-benchmarks/results/tom-mac-mini/00e8d435-py2.7-Cython-astropy0.4.1-numpy1.8.json",
    );

    let result = benchmark(
        &file,
        "aperture.CircularAnnulusPhotometry.time_mult_bg_ap_err_exact",
    );

    assert_eq!(file.benchmarks.len(), 108);
    assert_eq!(result.outcomes, [Outcome::Value(0.01819763)]);
    assert_eq!(
        file.machine_params.get("ram").map(String::as_str),
        Some("8589934592")
    );
    assert_eq!(
        file.machine_params.get("Cython"),
        None,
        "null parameters are dropped"
    );
    assert_eq!(
        file.requirements.len(),
        2,
        "the null Cython requirement is dropped"
    );
}

#[test]
fn schema1_numeric_start_and_duration_ignored() {
    let text = r#"{"commit_hash": "abc", "date": 1, "python": "2.7", "params": {"machine": "m"},
        "requirements": {}, "results": {"time_a": 1.5}, "started_at": 1366505860000,
        "duration": 3.25, "version": 1}"#;

    let file = parse_results(text.as_bytes()).expect("a valid file");

    let result = benchmark(&file, "time_a");
    assert_eq!(result.outcomes, [Outcome::Value(1.5)]);
    assert_eq!(result.started_at, None);
    assert_eq!(result.duration, None);
    assert!(file.durations.is_empty());
}

#[test]
fn schema1_list_value_read_as_schema2_row() {
    // asv's own test for a fixed failure writes this value into the "after"
    // file; asv shows it as 1.00s.
    let text = String::from_utf8(fixture(EXAMPLE_AFTER)).expect("UTF-8");
    let text = text.replace(
        "\"time_AAA_failure\": null",
        "\"time_AAA_failure\": [[1.0], []]",
    );

    let file = parse_results(text.as_bytes()).expect("a valid file");

    assert_eq!(
        benchmark(&file, "time_AAA_failure").outcomes,
        [Outcome::Value(1.0)]
    );
}

#[test]
fn duplicate_benchmark_keeps_last_value() {
    let text = r#"{"commit_hash": "abc", "env_name": "e", "date": 1, "python": "3.12",
        "params": {"machine": "m"}, "requirements": {}, "version": 2, "result_columns": ["result"],
        "results": {"time_a": [[1.0]], "time_b": [[2.0]], "time_a": [[3.0]]}}"#;

    let file = parse_results(text.as_bytes()).expect("a valid file");

    let names: Vec<&str> = file.benchmarks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["time_a", "time_b"]);
    assert_eq!(benchmark(&file, "time_a").outcomes, [Outcome::Value(3.0)]);
}

/// Builds a valid schema-2 file with `extra` added to the top level and `results` as its results.
fn schema2(extra: &str, results: &str) -> String {
    format!(
        r#"{{"commit_hash": "abc", "env_name": "e", "date": 1, "python": "3.12",
        "params": {{"machine": "m"}}, "requirements": {{}}, "version": 2,
        "result_columns": ["result", "params", "version", "started_at", "duration",
        "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75", "stats_number",
        "stats_repeat", "samples", "profile"] {extra}, "results": {results}}}"#
    )
}

fn missing(field: &str) -> ParseError {
    ParseError::MissingField {
        field: field.to_string(),
    }
}

fn not_results(reason: &str) -> ParseError {
    ParseError::NotResults {
        reason: reason.to_string(),
    }
}

fn wrong(field: &str, expected: &'static str, found: &'static str) -> ParseError {
    ParseError::WrongType {
        field: field.to_string(),
        expected,
        found,
    }
}

#[test]
fn schema2_template_is_valid() {
    let text = schema2("", r#"{"time_a": [[1.0]]}"#);

    let file = parse_results(text.as_bytes()).expect("the template parses");

    assert_eq!(file.benchmarks.len(), 1);
}

#[test]
fn bad_files_are_rejected() {
    let cases: Vec<(String, ParseError, &str)> = vec![
        (
            r#"{"params": {"machine": "m"}, "results": {}, "version": 1}"#.into(),
            not_results("no `commit_hash` field"),
            "no commit_hash",
        ),
        (
            r#"{"commit_hash": "a", "params": {"machine": "m"}, "version": 2}"#.into(),
            not_results("no `results` field"),
            "no results",
        ),
        (
            r#"{"commit_hash": "a", "results": {}, "version": 2}"#.into(),
            not_results("no `params` field"),
            "no params",
        ),
        (
            r#"{"commit_hash": "a", "results": {}, "params": {"cpu": "x"}, "version": 2}"#.into(),
            not_results("no `params.machine` field"),
            "no params.machine",
        ),
        (
            "[1, 2]".into(),
            not_results("the top level is an array, not an object"),
            "top level not an object",
        ),
        (
            schema2("", "{}").replace("\"version\": 2,", ""),
            not_results("no `version` field"),
            "no version",
        ),
        (
            schema2("", "{}").replace("\"version\": 2", "\"version\": 3"),
            ParseError::UnsupportedVersion {
                found: "3".into(),
                supported: "1 and 2",
            },
            "newer format",
        ),
        (
            schema2("", "{}").replace("\"commit_hash\": \"abc\"", "\"commit_hash\": 5"),
            wrong("commit_hash", "a string", "a number"),
            "commit_hash not a string",
        ),
        (
            schema2("", "{}").replace("\"machine\": \"m\"", "\"machine\": null"),
            wrong("params.machine", "a string", "null"),
            "machine not a string",
        ),
        (
            schema2("", "{}").replace("\"date\": 1,", ""),
            missing("date"),
            "no date",
        ),
        (
            schema2("", "{}").replace("\"env_name\": \"e\",", ""),
            missing("env_name"),
            "schema 2 without env_name",
        ),
        (
            schema2("", "{}").replace("\"profile\"", "\"flamegraph\""),
            ParseError::UnknownColumn {
                column: "flamegraph".into(),
            },
            "unknown column",
        ),
        (
            schema2("", r#"{"time_a": 5}"#),
            wrong(r#"results["time_a"]"#, "an array", "a number"),
            "row not a list",
        ),
        (
            schema2("", r#"{"time_a": [["fast"]]}"#),
            wrong(
                r#"results["time_a"].result[0]"#,
                "a number, NaN or null",
                "a string",
            ),
            "result not a number",
        ),
        (
            schema2("", r#"{"time_a": [[1.0], [[1, 2]]]}"#),
            wrong(r#"results["time_a"].params[0][..]"#, "a string", "a number"),
            "param value not a string",
        ),
        (
            schema2(
                "",
                r#"{"time_a": [[1.0], [], null, null, null, [0.5], ["x"]]}"#,
            ),
            wrong(
                r#"results["time_a"].stats_ci_99_b[0]"#,
                "a number or null",
                "a string",
            ),
            "statistic not a number",
        ),
        (
            schema2(r#", "durations": {"<build>": "slow"}"#, "{}"),
            wrong(r#"durations["<build>"]"#, "a number or null", "a string"),
            "duration not a number",
        ),
        (
            r#"{"commit_hash": "a", "date": 1, "python": "2.7", "params": {"machine": "m"},
               "requirements": {}, "results": {"time_a": {"stats": null}}, "version": 1}"#
                .into(),
            missing(r#"results["time_a"].result"#),
            "schema-1 object without result",
        ),
        (
            r#"{"commit_hash": "a", "date": 1, "python": "2.7", "params": {"machine": "m"},
               "requirements": {}, "results": {"time_a": {"result": 1, "stats": [{"q_25": 1}]}},
               "version": 1}"#
                .into(),
            missing(r#"results["time_a"].stats[0].ci_99"#),
            "schema-1 stats without ci_99",
        ),
        (
            r#"{"commit_hash": "a", "date": 1, "python": "2.7", "params": {"machine": "m"},
               "requirements": {"numpy": 1.8}, "results": {}, "version": 1}"#
                .into(),
            wrong(r#"requirements["numpy"]"#, "a string", "a number"),
            "schema-1 requirement version not a string",
        ),
        (
            r#"{"commit_hash": "a", "date": 1, "params": {"machine": "m"},
               "requirements": {}, "results": {}, "version": 1}"#
                .into(),
            missing("python"),
            "schema 1 without python",
        ),
    ];

    for (text, expected, case) in cases {
        let error = parse_results(text.as_bytes()).expect_err(case);

        assert_eq!(error, expected, "{case}");
    }
}

#[test]
fn malformed_fixture_reports_position() {
    let bytes = fixture("example_results/cheetah/aaaaaaaa-py2.7-Cython-numpy1.8.json");

    let error = parse_results(&bytes).expect_err("not JSON");

    let ParseError::Json(json) = error else {
        panic!("expected a JSON error, got {error}")
    };
    assert_eq!((json.line, json.column), (2, 5));
}

#[test]
fn valid_json_without_results_fixture() {
    let bytes = fixture("example_results/cheetah/bbbbbbbb-py2.7-Cython-numpy1.8.json");

    let error = parse_results(&bytes).expect_err("not a results file");

    assert_eq!(error, not_results("no `commit_hash` field"));
    assert_eq!(
        error.to_string(),
        "not an asv results file: no `commit_hash` field"
    );
}

/// Returns the model as text, so that NaN compares equal to NaN.
fn model_text(file: &ResultsFile) -> String {
    format!("{file:?}")
}

/// Asserts that the direct path reads `text` and agrees with the tree path.
#[track_caller]
fn assert_direct_matches_tree(text: &str, case: &str) {
    let tree = parse_tree(text.as_bytes()).unwrap_or_else(|error| panic!("{case}: tree path: {error}"));

    let direct = direct::parse_v2(text.as_bytes());

    let direct = direct.unwrap_or_else(|| panic!("{case}: the direct path gave up"));
    assert_eq!(model_text(&direct), model_text(&tree), "{case}");
}

#[test]
fn direct_path_matches_tree_on_unusual_rows() {
    let cases = [
        (schema2("", r#"{"a": [[1.5, NaN, null, -Infinity], [["1", "'Infinity'"], ["2"]]]}"#), "tokens and text"),
        (schema2("", r#"{"a": [null, [["1", "2"]], "v", 5, 1.5]}"#), "null result, row of five"),
        (schema2("", r#"{"a": [[1.0], [], null, null, null, [0.5], [0.7], null, null, [3], [10], [[1, 2, NaN]], "profile", "extra"]}"#), "cells past the columns"),
        (schema2("", r#"{"a": [[1.0]], "b": [[2.0]], "a": [[3.0]]}"#), "duplicate name"),
        (schema2("", r#"{"a\"b\u00e9": [[1.0]]}"#), "escaped name"),
        (schema2("", r#"{"a": [[1.0, 2.0, 3.0], [["1", "2"]], null, null, null, [1, null], [2], null, null, null, null, [[1], null, [2]]]}"#), "result and samples longer than combinations"),
        (schema2("", r#"{"a": [[], [["1", "2"]], null, null, null, null, null, null, null, null, null, [null, null]]}"#), "all samples null"),
        (schema2(r#", "durations": {"<build>": 12.5, "<setup>": null}"#, r#"{"a": [[1.0]]}"#), "durations"),
        (schema2("", r#"{}"#), "no benchmarks"),
        (
            r#"{"results": {"a": [[1.0], [["1"]]]}, "commit_hash": "abc", "env_name": "e", "date": 1,
                "python": "3.12", "params": {"machine": "m"}, "requirements": {}, "version": 2,
                "result_columns": ["result", "params"]}"#
                .to_string(),
            "results before result_columns",
        ),
        (
            r#"{"commit_hash": "abc", "env_name": "e", "date": 1, "python": "3.12",
                "params": {"machine": "m", "results": "not skipped"}, "requirements": {}, "version": 2,
                "result_columns": ["result"], "results": {"a": [[1.0]]}, "results": {"b": [[2.0]]}}"#
                .to_string(),
            "results listed twice, and a nested key named results",
        ),
    ];

    for (text, case) in &cases {
        assert_direct_matches_tree(text, case);
    }
}

#[test]
fn direct_path_leaves_unusual_files_to_tree() {
    let schema1 = r#"{"commit_hash": "a", "date": 1, "python": "2.7", "params": {"machine": "m"},
        "requirements": {}, "results": {"time_a": 1.0}, "version": 1}"#;
    let cases = [
        (schema1.to_string(), "schema 1"),
        (schema2("", r#"{"time_a": [["fast"]]}"#), "result not a number"),
        (schema2("", r#"{"time_a": [[1.0],]}"#), "trailing comma"),
        (schema2("", r#"{"time_a": [[1.0]}"#), "mismatched brackets"),
        (schema2("", r#"[]"#), "results not an object"),
        (schema2("", r#"{"time_a": [[1.0], [], null, null, null, null, null, null, null, null, null, [[null]]]}"#), "null sample"),
    ];

    for (text, case) in &cases {
        assert!(direct::parse_v2(text.as_bytes()).is_none(), "{case}");
    }
}

/// The direct path must read every schema-2 file of the real corpora and
/// give the same model as the tree path.
#[test]
fn direct_path_matches_tree_on_corpora() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/asv-results");
    if !data.is_dir() {
        println!("skipped: no asv corpus at {}", data.display());
        return;
    }
    let mut folders = vec![data];
    let mut compared = 0;
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("readable folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            if !name.ends_with(".json") || name == "machine.json" || name == "benchmarks.json" {
                continue;
            }
            let bytes = std::fs::read(&path).expect("readable file");
            let Ok(tree) = parse_tree(&bytes) else { continue };
            if tree.schema_version != 2 {
                continue;
            }

            let direct = direct::parse_v2(&bytes);

            let direct = direct.unwrap_or_else(|| panic!("{}: the direct path gave up", path.display()));
            assert_eq!(model_text(&direct), model_text(&tree), "{}", path.display());
            compared += 1;
        }
    }
    // django-asv alone has 4,675 schema-2 files.
    assert!(compared > 4_675, "only {compared} schema-2 files compared");
}

/// Builds a `params` cell of `lists` parameters with `values` values each.
fn params_grid(lists: usize, values: usize) -> String {
    let list = format!("[{}]", vec!["\"1\""; values].join(", "));
    format!("[{}]", vec![list; lists].join(", "))
}

#[test]
fn huge_parameter_grids_are_rejected_without_expanding() {
    let too_many = ParseError::TooManyCombinations {
        field: r#"results["time_a"].params"#.to_string(),
        limit: crate::MAX_COMBINATIONS,
    };
    // 10^6 combinations, and 100^40, which overflows a 64-bit count.
    for (lists, values) in [(6, 10), (40, 100)] {
        let schema2_text = schema2("", &format!(r#"{{"time_a": [[1.0], {}]}}"#, params_grid(lists, values)));
        let schema1_text = format!(
            r#"{{"commit_hash": "abc", "date": 1, "python": "3.12", "params": {{"machine": "m"}},
            "requirements": {{}}, "version": 1, "results": {{"time_a": {{"result": [1.0], "params": {}}}}}}}"#,
            params_grid(lists, values)
        );

        for (schema, text) in [(2, &schema2_text), (1, &schema1_text)] {
            assert_eq!(
                parse_results(text.as_bytes()),
                Err(too_many.clone()),
                "schema {schema}, {lists} lists of {values}"
            );
        }
    }

    // The largest grid allowed still parses: 10^5 combinations.
    let text = schema2("", &format!(r#"{{"time_a": [[1.0], {}]}}"#, params_grid(5, 10)));
    let file = parse_results(text.as_bytes()).expect("10^5 combinations are read");
    assert_eq!(benchmark(&file, "time_a").outcomes.len(), crate::MAX_COMBINATIONS);
}
