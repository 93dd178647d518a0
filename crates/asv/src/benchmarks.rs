//! Reading `benchmarks.json`, the description of the newest benchmark suite.

use std::collections::BTreeMap;

use crate::fields;
use crate::json::{self, Syntax, Value};
use crate::{BenchmarkInfo, BenchmarkSuite, BenchmarkType, ParseError};

/// Parses `benchmarks.json`: one object per benchmark, keyed by name, plus a
/// top-level `version`. Keys pitot has no use for (`code`, `timeout`,
/// `number`, ...) are ignored.
///
/// # Errors
///
/// [`ParseError::Json`] for invalid JSON, [`ParseError::UnsupportedVersion`]
/// for a `version` other than 1 or 2, [`ParseError::MissingField`] for an
/// entry without `type`, and [`ParseError::WrongType`] for a field of the
/// wrong kind.
pub fn parse_benchmarks(bytes: &[u8]) -> Result<BenchmarkSuite, ParseError> {
    let document = json::parse(bytes, Syntax::Python)?;
    let members = fields::object(&document, || "(top level)".into())?;
    if let Some(version) = document.get("version") {
        if !matches!(version.as_f64(), Some(number) if number == 1.0 || number == 2.0) {
            return Err(ParseError::UnsupportedVersion {
                found: version.to_string(),
                supported: "1 and 2",
            });
        }
    }

    let mut benchmarks = BTreeMap::new();
    for (name, entry) in members {
        if name == "version" {
            continue;
        }
        benchmarks.insert(name.to_string(), read_entry(name, entry)?);
    }
    Ok(BenchmarkSuite { benchmarks })
}

fn read_entry(name: &str, entry: &Value) -> Result<BenchmarkInfo, ParseError> {
    let field = |key: &str| format!("{name:?}.{key}");
    fields::object(entry, || format!("{name:?}"))?;
    let kind = entry.get("type").ok_or_else(|| ParseError::MissingField {
        field: field("type"),
    })?;
    let kind = match fields::string(kind, || field("type"))? {
        "time" => BenchmarkType::Time,
        "memory" => BenchmarkType::Memory,
        "peakmemory" => BenchmarkType::PeakMemory,
        "track" => BenchmarkType::Track,
        other => BenchmarkType::Other(other.to_string()),
    };
    let optional = |key: &str| entry.get(key).unwrap_or(&Value::Null);

    Ok(BenchmarkInfo {
        name: name.to_string(),
        kind,
        unit: fields::optional_string(optional("unit"), || field("unit"))?.unwrap_or_default(),
        params: fields::string_lists(optional("params"), || field("params"))?,
        param_names: fields::strings(optional("param_names"), || field("param_names"))?,
        version: fields::optional_string(optional("version"), || field("version"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture;

    #[track_caller]
    fn suite(path: &str) -> BenchmarkSuite {
        parse_benchmarks(&fixture(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[track_caller]
    fn info<'s>(suite: &'s BenchmarkSuite, name: &str) -> &'s BenchmarkInfo {
        suite
            .benchmarks
            .get(name)
            .unwrap_or_else(|| panic!("no benchmark {name}"))
    }

    #[test]
    fn example_suite_types_and_units() {
        let suite = suite("example_results/benchmarks.json");

        assert_eq!(suite.benchmarks.len(), 35, "35 entries besides `version`");
        let mem_unit = info(&suite, "time_units.mem_unit");
        assert_eq!(
            mem_unit.kind,
            BenchmarkType::Time,
            "the type, not the name, decides"
        );
        assert_eq!(mem_unit.unit, "seconds");
        assert_eq!(
            info(&suite, "mem_examples.mem_list").kind,
            BenchmarkType::Memory
        );
        assert_eq!(info(&suite, "mem_examples.mem_list").unit, "bytes");
        let track = info(&suite, "params_examples.track_param");
        assert_eq!(track.kind, BenchmarkType::Track);
        assert_eq!(track.unit, "unit");
        assert_eq!(
            track.params[0][0],
            "<class 'benchmark.params_examples.ClassOne'>"
        );
    }

    #[test]
    fn example_suite_params_and_versions() {
        let suite = suite("example_results/benchmarks.json");

        let mem_param = info(&suite, "params_examples.mem_param");
        let versioned: Vec<&str> = suite
            .benchmarks
            .values()
            .filter(|info| info.version.is_some())
            .map(|info| info.name.as_str())
            .collect();

        assert_eq!(mem_param.params, [["10", "20"], ["2", "3"]]);
        assert_eq!(mem_param.param_names, ["number", "depth"]);
        assert_eq!(
            versioned,
            [
                "time_with_version_match",
                "time_with_version_mismatch_bench",
                "time_with_version_mismatch_other"
            ]
        );
    }

    #[test]
    fn conda_suite_peakmemory_and_speedup() {
        let suite = suite("conda-benchmarks/results/benchmarks.json");

        let speedup = info(&suite, "extract.TrackSuite.track_streaming_versus_handling");

        assert_eq!(suite.benchmarks.len(), 26);
        assert_eq!(speedup.kind, BenchmarkType::Track);
        assert_eq!(speedup.unit, "speedup");
        assert_eq!(
            speedup.version.as_deref(),
            Some("d384feaa4082383c1f3872b820824ebbdbecd2d47ed818f8ff9623741d3f9199")
        );
        assert_eq!(
            info(&suite, "peakmem_create_python").kind,
            BenchmarkType::PeakMemory
        );
    }

    #[test]
    fn unknown_type_is_kept() {
        let text = r#"{"custom_a": {"type": "cpu_cycles", "unit": "cycles"}, "version": 2}"#;

        let suite = parse_benchmarks(text.as_bytes()).expect("a valid suite");

        assert_eq!(
            info(&suite, "custom_a").kind,
            BenchmarkType::Other("cpu_cycles".into())
        );
    }

    #[test]
    fn bad_suites_are_rejected() {
        let cases: &[(&str, &str, &str)] = &[
            ("[]", "`(top level)` must be an object, found an array", "top level"),
            (r#"{"version": 3}"#, "unsupported format version 3 (supported: 1 and 2)", "version"),
            (r#"{"time_a": 5}"#, "`\"time_a\"` must be an object, found a number", "entry"),
            (r#"{"time_a": {"unit": "seconds"}}"#, "missing field `\"time_a\".type`", "no type"),
            (
                r#"{"time_a": {"type": "time", "unit": 1}}"#,
                "`\"time_a\".unit` must be a string, found a number",
                "unit",
            ),
            (
                r#"{"time_a": {"type": "time", "params": ["1"]}}"#,
                "`\"time_a\".params[0]` must be an array, found a string",
                "params",
            ),
            ("{\"time_a\": {", "invalid JSON at line 1, column 13: expected a key in double quotes, found the end of the input", "JSON"),
        ];

        for &(text, message, case) in cases {
            let error = parse_benchmarks(text.as_bytes()).expect_err(case);

            assert_eq!(error.to_string(), message, "{case}");
        }
    }
}
