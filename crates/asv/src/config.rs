//! Reading `asv.conf.json`, a project's asv configuration.

use crate::fields;
use crate::json::{self, Syntax, Value};
use crate::{AsvConfig, ParseError};

/// The results folder asv uses when the config names none (asv 0.6
/// `Config.__init__`). `asv quickstart` writes `.asv/results` into new configs.
pub const DEFAULT_RESULTS_DIR: &str = "results";

/// Parses `asv.conf.json`. Comments (`//` and `/* */`) and trailing commas
/// are accepted, because asv reads this file with the `json5` package.
/// NOTE: other JSON5 syntax (single-quoted strings, unquoted keys, hex
/// numbers) is rejected as invalid JSON here, although asv accepts it.
///
/// Unlike asv, a config without `version` or `repo` is accepted: pitot only
/// needs it to find the results folder and to describe the project.
///
/// # Errors
///
/// [`ParseError::Json`] for invalid JSON, [`ParseError::UnsupportedVersion`]
/// for a `version` other than 1, and [`ParseError::WrongType`] for a field of
/// the wrong kind.
pub fn parse_config(bytes: &[u8]) -> Result<AsvConfig, ParseError> {
    let document = json::parse(bytes, Syntax::Config)?;
    fields::object(&document, || "(top level)".into())?;
    if let Some(version) = document.get("version") {
        if version.as_f64() != Some(1.0) {
            return Err(ParseError::UnsupportedVersion {
                found: version.to_string(),
                supported: "1",
            });
        }
    }
    let optional = |key: &str| document.get(key).unwrap_or(&Value::Null);
    let text = |key: &str| fields::optional_string(optional(key), || key.to_string());

    Ok(AsvConfig {
        project: text("project")?,
        repo: text("repo")?,
        branches: read_branches(optional("branches"))?,
        results_dir: text("results_dir")?.unwrap_or_else(|| DEFAULT_RESULTS_DIR.to_string()),
        show_commit_url: text("show_commit_url")?,
    })
}

/// Reads `branches`. A null entry means the repository's default branch in
/// asv and names nothing, so it is left out.
fn read_branches(value: &Value) -> Result<Vec<String>, ParseError> {
    let mut branches = Vec::new();
    if value.is_null() {
        return Ok(branches);
    }
    for (index, item) in fields::array(value, || "branches".into())?
        .iter()
        .enumerate()
    {
        if let Some(branch) = fields::optional_string(item, || format!("branches[{index}]"))? {
            branches.push(branch);
        }
    }
    Ok(branches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture;

    #[test]
    fn conda_config_with_comments_and_trailing_comma() {
        let config = parse_config(&fixture("conda-benchmarks/asv.conf.json")).expect("valid");

        assert_eq!(config.project.as_deref(), Some("conda"));
        assert_eq!(config.repo.as_deref(), Some("../conda"));
        assert_eq!(
            config.branches,
            ["main"],
            "the comment after the list is skipped"
        );
        assert_eq!(config.results_dir, "results", "asv's default");
        assert_eq!(
            config.show_commit_url.as_deref(),
            Some("https://github.com/conda/conda/commit/")
        );
    }

    #[test]
    fn other_real_configs() {
        let cases = [
            (
                "asv-tests/asv.conf.json",
                "astropy",
                "https://github.com/astropy/astropy.git",
            ),
            (
                "photutils-benchmarks/asv.conf.json",
                "photutils",
                "https://github.com/astropy/photutils.git",
            ),
        ];

        for (path, project, repo) in cases {
            let config =
                parse_config(&fixture(path)).unwrap_or_else(|error| panic!("{path}: {error}"));

            assert_eq!(config.project.as_deref(), Some(project), "{path}");
            assert_eq!(config.repo.as_deref(), Some(repo), "{path}");
        }
    }

    #[test]
    fn results_dir_and_null_branch() {
        let text = r#"{
            "version": 1,
            "results_dir": ".asv/results", /* as asv quickstart writes it */
            "branches": [null, "stable",],
        }"#;

        let config = parse_config(text.as_bytes()).expect("valid");

        assert_eq!(config.results_dir, ".asv/results");
        assert_eq!(config.branches, ["stable"]);
        assert_eq!(config.project, None);
    }

    #[test]
    fn bad_configs_are_rejected() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"version": 2}"#,
                "unsupported format version 2 (supported: 1)",
                "version",
            ),
            (
                r#"{"branches": "main"}"#,
                "`branches` must be an array, found a string",
                "branches",
            ),
            (
                r#"{"results_dir": ["a"]}"#,
                "`results_dir` must be a string, found an array",
                "results_dir",
            ),
            (
                "{\n  \"project\": 'x'\n}",
                "invalid JSON at line 2, column 14: expected a value, found '\\''",
                "single quotes",
            ),
        ];

        for &(text, message, case) in cases {
            let error = parse_config(text.as_bytes()).expect_err(case);

            assert_eq!(error.to_string(), message, "{case}");
        }
    }
}
