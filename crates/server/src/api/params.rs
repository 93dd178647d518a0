//! Parsing the API's path and query parameters, and small helpers the
//! handlers share.

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use pitot_store::RepoName;

use crate::error::AppError;

/// Parses the `{owner}/{name}` path segments into a repository name.
pub(super) fn repository(owner: &str, name: &str) -> Result<RepoName, AppError> {
    format!("{owner}/{name}").parse().map_err(|error| {
        AppError::BadRequest(format!(
            "invalid repository {owner:?}/{name:?}: {error}; use the owner/name of a GitHub repository"
        ))
    })
}

/// Unwraps a query string, turning axum's rejection into a JSON error that
/// names the bad parameter.
pub(super) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, AppError> {
    match query {
        Ok(Query(value)) => Ok(value),
        Err(rejection) => Err(AppError::BadRequest(rejection.body_text())),
    }
}

/// Checks that a numeric query parameter lies in `min..=max`.
pub(super) fn in_range(name: &str, value: i64, min: i64, max: i64) -> Result<i64, AppError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::BadRequest(format!(
            "invalid {name} {value}: expected a number from {min} to {max}"
        )))
    }
}

/// Returns the module a benchmark belongs to: its dotted name without the
/// last part, and without a class name (a part that starts with an upper
/// case letter) that precedes the method. `a.b.Class.time_x` and
/// `a.b.time_x` both belong to `a.b`; a name without a dot is its own group.
pub(crate) fn module_group(benchmark: &str) -> &str {
    let Some((parent, _)) = benchmark.rsplit_once('.') else {
        return benchmark;
    };
    match parent.rsplit_once('.') {
        Some((module, class)) if class.starts_with(|c: char| c.is_ascii_uppercase()) => module,
        _ => parent,
    }
}

/// Returns a series' name as asv shows it: the benchmark with its
/// parameter values in brackets, or the benchmark alone.
pub(super) fn series_name(benchmark: &str, params: &[String]) -> String {
    if params.is_empty() {
        benchmark.to_owned()
    } else {
        format!("{benchmark}({})", params.join(", "))
    }
}

/// Returns the URL of a commit on GitHub with `{sha}` to fill in, or
/// `None` for a repository imported from disk (`local/...`).
pub(super) fn commit_url_template(repository: &str) -> Option<String> {
    (!repository.starts_with("local/"))
        .then(|| format!("https://github.com/{repository}/commit/{{sha}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_group_of_names() {
        let cases = [
            (
                "form_benchmarks.form_clean.benchmark.FormClean.time_form_clean",
                "form_benchmarks.form_clean.benchmark",
            ),
            (
                "benchmarks.time_units.time_unit_parse",
                "benchmarks.time_units",
            ),
            ("time_units.TimeSuite.time_x", "time_units"),
            ("TimeSuite.time_x", "TimeSuite"),
            ("time_x", "time_x"),
        ];
        for (name, group) in cases {
            assert_eq!(module_group(name), group, "{name}");
        }
    }

    #[test]
    fn series_name_shows_params() {
        assert_eq!(series_name("a.time_x", &[]), "a.time_x");
        assert_eq!(
            series_name("a.time_x", &["10".to_owned(), "'int'".to_owned()]),
            "a.time_x(10, 'int')"
        );
    }

    #[test]
    fn local_repositories_have_no_commit_url() {
        assert_eq!(commit_url_template("local/project"), None);
        assert_eq!(
            commit_url_template("django/django").as_deref(),
            Some("https://github.com/django/django/commit/{sha}")
        );
    }
}
