//! `RepoName`: the validated `owner/name` of a repository.

use std::fmt;
use std::str::FromStr;

/// A repository's full name, `owner/name`, as GitHub spells it.
///
/// The owner follows GitHub's rules for user and organization names (ASCII
/// letters, digits and single hyphens inside, at most 39 characters); the name
/// follows its rules for repository names (ASCII letters, digits, `-`, `_`
/// and `.`, at most 100 characters, not `.` or `..`). Parsing keeps the
/// spelling; the store compares names without regard to case, as GitHub does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName(String);

/// The error for a string that is not a valid `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repository name {value:?}: {reason}; expected OWNER/NAME, such as django/django")]
pub struct InvalidRepoName {
    value: String,
    reason: &'static str,
}

const MAX_OWNER_LEN: usize = 39;
const MAX_NAME_LEN: usize = 100;

impl RepoName {
    /// Returns the full name, `owner/name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the owner part.
    pub fn owner(&self) -> &str {
        self.split().0
    }

    /// Returns the name part.
    pub fn name(&self) -> &str {
        self.split().1
    }

    fn split(&self) -> (&str, &str) {
        // Parsing guarantees exactly one slash.
        self.0.split_once('/').unwrap_or((&self.0, ""))
    }
}

impl FromStr for RepoName {
    type Err = InvalidRepoName;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidRepoName {
            value: value.to_owned(),
            reason,
        };
        let Some((owner, name)) = value.split_once('/') else {
            return Err(invalid("there is no slash"));
        };
        if let Some(reason) = owner_problem(owner) {
            return Err(invalid(reason));
        }
        if let Some(reason) = name_problem(name) {
            return Err(invalid(reason));
        }
        Ok(RepoName(value.to_owned()))
    }
}

fn owner_problem(owner: &str) -> Option<&'static str> {
    if owner.is_empty() {
        return Some("the owner is empty");
    }
    if owner.len() > MAX_OWNER_LEN {
        return Some("the owner is longer than 39 characters");
    }
    if !owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Some("the owner may contain only ASCII letters, digits and hyphens");
    }
    if owner.starts_with('-') || owner.ends_with('-') || owner.contains("--") {
        return Some("the owner may not start or end with a hyphen or contain two in a row");
    }
    None
}

fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Some("the name is longer than 100 characters");
    }
    if name == "." || name == ".." {
        return Some("the name may not be . or ..");
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if !name.bytes().all(allowed) {
        return Some("the name may contain only ASCII letters, digits, '-', '_' and '.'");
    }
    None
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_owner_and_name() {
        let repo: RepoName = "django/django-asv".parse().expect("valid name");

        assert_eq!(repo.owner(), "django");
        assert_eq!(repo.name(), "django-asv");
        assert_eq!(repo.to_string(), "django/django-asv");
    }

    #[test]
    fn accepts_dots_and_underscores_in_name() {
        let parsed = "PlasmaPy/plasmapy_benchmarks.v2".parse::<RepoName>();

        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn rejects_invalid_names() {
        let cases = [
            ("django", "no slash"),
            ("/django", "empty owner"),
            ("django/", "empty name"),
            ("a/b/c", "two slashes"),
            ("-django/django", "owner starts with a hyphen"),
            ("dj--ango/django", "double hyphen in owner"),
            ("dj_ango/django", "underscore in owner"),
            ("django/..", "name is .."),
            ("django/dj ango", "space in name"),
            ("django/djangö", "non-ASCII name"),
        ];
        let long_owner = format!("{}/x", "a".repeat(40));
        let long_name = format!("x/{}", "a".repeat(101));

        for (value, case) in cases.iter().copied().chain([
            (long_owner.as_str(), "owner of 40 characters"),
            (long_name.as_str(), "name of 101 characters"),
        ]) {
            let error = value.parse::<RepoName>().expect_err(case);
            let message = error.to_string();
            assert!(message.contains(&format!("{value:?}")), "{case}: {message}");
            assert!(message.contains("expected OWNER/NAME"), "{case}: {message}");
        }
    }
}
