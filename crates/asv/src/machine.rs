//! Reading `machine.json`, the description of the machine in a results folder.

use crate::fields;
use crate::json::{self, Syntax};
use crate::{MachineInfo, ParseError};

/// Parses a results folder's `machine.json`.
///
/// asv rejects a `machine.json` whose `version` is not 1 or whose `machine`
/// is not a string, and then skips every results file in that folder. This
/// function rejects the same files. The other fields are free-form, so they
/// are kept as text (`ram` may be `8589934592`, `"16GB"` or `"8.2G"`).
///
/// # Errors
///
/// [`ParseError::Json`] for invalid JSON, [`ParseError::MissingField`] without
/// `version` or `machine`, [`ParseError::UnsupportedVersion`] for a version
/// other than 1, and [`ParseError::WrongType`] when `machine` is not a string.
pub fn parse_machine(bytes: &[u8]) -> Result<MachineInfo, ParseError> {
    let document = json::parse(bytes, Syntax::Python)?;
    let members = fields::object(&document, || "(top level)".into())?;
    let version = document
        .get("version")
        .ok_or_else(|| ParseError::MissingField {
            field: "version".into(),
        })?;
    if version.as_f64() != Some(1.0) {
        return Err(ParseError::UnsupportedVersion {
            found: version.to_string(),
            supported: "1",
        });
    }
    let machine = document
        .get("machine")
        .ok_or_else(|| ParseError::MissingField {
            field: "machine".into(),
        })?;

    Ok(MachineInfo {
        machine: fields::string(machine, || "machine".into())?.to_string(),
        fields: members
            .iter()
            .filter(|(key, _)| key != "machine" && key != "version")
            .filter_map(|(key, value)| Some((key.to_string(), value.to_text()?)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture;

    #[test]
    fn free_form_fields_become_text() {
        let cases = [
            ("example_results/cheetah/machine.json", "cheetah", "8.2G"),
            (
                "photutils-benchmarks/results/tom-mac-mini/machine.json",
                "tom-mac-mini",
                "8589934592",
            ),
            (
                "conda-benchmarks/dot_asv/results/benchmarkers-MacBook-Pro.local/machine.json",
                "benchmarkers-MacBook-Pro.local",
                "16GB",
            ),
        ];

        for (path, machine, ram) in cases {
            let info =
                parse_machine(&fixture(path)).unwrap_or_else(|error| panic!("{path}: {error}"));

            assert_eq!(info.machine, machine, "{path}");
            assert_eq!(
                info.fields.get("ram").map(String::as_str),
                Some(ram),
                "{path}"
            );
            assert!(!info.fields.contains_key("version"), "{path}");
            assert!(!info.fields.contains_key("machine"), "{path}");
        }
    }

    #[test]
    fn example_machine_fields() {
        let info = parse_machine(&fixture("example_results/cheetah/machine.json")).expect("valid");

        let keys: Vec<&str> = info.fields.keys().map(String::as_str).collect();

        assert_eq!(keys, ["arch", "cpu", "os", "ram"]);
        assert_eq!(
            info.fields.get("cpu").map(String::as_str),
            Some("Intel(R) Core(TM) i5-2520M CPU @ 2.50GHz (4 cores)")
        );
    }

    #[test]
    fn bad_machine_files_are_rejected() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{"machine": "m"}"#, "missing field `version`", "no version"),
            (
                r#"{"machine": "m", "version": 2}"#,
                "unsupported format version 2 (supported: 1)",
                "newer version",
            ),
            (r#"{"cpu": "x", "version": 1}"#, "missing field `machine`", "no machine"),
            (
                r#"{"machine": 5, "version": 1}"#,
                "`machine` must be a string, found a number",
                "machine not text",
            ),
            ("\"m\"", "`(top level)` must be an object, found a string", "not an object"),
            ("{", "invalid JSON at line 1, column 2: expected a key in double quotes, found the end of the input", "JSON"),
        ];

        for &(text, message, case) in cases {
            let error = parse_machine(text.as_bytes()).expect_err(case);

            assert_eq!(error.to_string(), message, "{case}");
        }
    }
}
