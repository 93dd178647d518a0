//! Ordering release tags by version, leniently: `v1.2.3`, `1.2`, `1.2.3rc1`,
//! `1.2.3-beta.2`, `1.2.3.dev0` all parse. Tags without a leading number
//! (after an optional `v`) do not, and are left out of the ordering.

use std::cmp::Ordering;

use crate::releases::ReleaseInfo;

/// A parsed release version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The numeric parts, without trailing zeros, so `1.2` equals `1.2.0`.
    numbers: Vec<u64>,
    /// The pre-release stage and its number; `None` for a final release.
    pre: Option<(Stage, u64)>,
}

/// Pre-release stages, in the order they come before a final release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// A suffix the parser does not know, such as `-foo`.
    Other,
    Dev,
    Alpha,
    Beta,
    Candidate,
}

impl Version {
    /// Parses `tag`, or returns `None` when it does not start with a number
    /// (after an optional `v` or `V`).
    pub fn parse(tag: &str) -> Option<Version> {
        let text = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
        let mut numbers = Vec::new();
        let mut rest = text;
        loop {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                break;
            }
            numbers.push(rest[..digits].parse().ok()?);
            rest = &rest[digits..];
            match rest.strip_prefix('.') {
                Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => rest = after,
                _ => break,
            }
        }
        if numbers.is_empty() {
            return None;
        }
        while numbers.len() > 1 && numbers.last() == Some(&0) {
            numbers.pop();
        }
        Some(Version {
            numbers,
            pre: pre_release(rest),
        })
    }

    /// Returns whether the version names a pre-release (`rc1`, `b2`, `.dev0`).
    pub fn is_pre_release(&self) -> bool {
        self.pre.is_some()
    }
}

/// Reads a suffix such as `rc1`, `-beta.2` or `.dev0`; `None` when empty.
fn pre_release(suffix: &str) -> Option<(Stage, u64)> {
    let word = suffix
        .trim_start_matches(['-', '.', '_', '+'])
        .to_ascii_lowercase();
    if word.is_empty() {
        return None;
    }
    let letters: String = word.chars().take_while(char::is_ascii_alphabetic).collect();
    let number = word[letters.len()..]
        .trim_start_matches(['.', '-', '_'])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    let stage = match letters.as_str() {
        "dev" => Stage::Dev,
        "a" | "alpha" => Stage::Alpha,
        "b" | "beta" => Stage::Beta,
        "rc" | "c" | "pre" | "preview" => Stage::Candidate,
        _ => Stage::Other,
    };
    Some((stage, number))
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                // A final release comes after its pre-releases.
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Returns the release that comes right before `tag` by version order,
/// among published releases. When the new release is not a pre-release,
/// pre-releases (by GitHub's flag or by their version) are skipped, so a
/// final release is compared with the previous final release. Returns
/// `None` when `tag` is not a version or no earlier release exists.
pub fn previous_release<'a>(
    releases: &'a [ReleaseInfo],
    tag: &str,
    prerelease: bool,
) -> Option<&'a ReleaseInfo> {
    let version = Version::parse(tag)?;
    let new_is_pre = prerelease || version.is_pre_release();
    releases
        .iter()
        .filter(|release| !release.draft && release.tag_name != tag)
        .filter_map(|release| Version::parse(&release.tag_name).map(|parsed| (parsed, release)))
        .filter(|(parsed, release)| new_is_pre || !(release.prerelease || parsed.is_pre_release()))
        .filter(|(parsed, _)| *parsed < version)
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, release)| release)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(tag: &str, draft: bool, prerelease: bool) -> ReleaseInfo {
        ReleaseInfo {
            tag_name: tag.to_owned(),
            draft,
            prerelease,
        }
    }

    #[test]
    fn versions_order_as_people_expect() {
        let ordered = [
            "0.9",
            "v1.0.0.dev0",
            "1.0a1",
            "1.0b2",
            "1.0rc1",
            "1.0-rc.2",
            "v1.0",
            "1.0.1",
            "1.2",
            "1.10.0",
        ];

        for pair in ordered.windows(2) {
            let (lower, higher) = (
                Version::parse(pair[0]).unwrap(),
                Version::parse(pair[1]).unwrap(),
            );
            assert!(lower < higher, "{} should sort before {}", pair[0], pair[1]);
        }
        assert_eq!(Version::parse("v1.2.0"), Version::parse("1.2"));
    }

    #[test]
    fn tags_without_a_version_are_not_parsed() {
        for tag in ["", "latest", "v", "release-1.0", "nightly"] {
            assert_eq!(Version::parse(tag), None, "{tag:?}");
        }
    }

    #[test]
    fn previous_release_skips_drafts_and_pre_releases() {
        let releases = [
            release("v1.3.0", false, false),
            release("v1.2.0rc1", false, true),
            release("v1.2.0", true, false),
            release("v1.1.0", false, false),
            release("v1.2.0b1", false, false),
            release("nightly", false, false),
            release("v1.0.0", false, false),
        ];

        let cases = [
            ("final after final", "v1.2.0", false, Some("v1.1.0")),
            (
                "pre-release sees pre-releases",
                "v1.2.0rc2",
                true,
                Some("v1.2.0rc1"),
            ),
            ("tag not in the list", "v1.4.0", false, Some("v1.3.0")),
            ("first release", "v0.9.0", false, None),
            ("not a version", "latest", false, None),
        ];

        for (case, tag, prerelease, expected) in cases {
            let found = previous_release(&releases, tag, prerelease).map(|r| r.tag_name.as_str());
            assert_eq!(found, expected, "{case}");
        }
    }
}
