//! The warning a pull request's comment shows when the target branch has
//! moved on since the run's merge-base.

use crate::markdown::{code_span_outside_table, truncate_chars};

/// The maximum length of the branch name shown, in characters.
const MAX_BRANCH_CHARS: usize = 200;

/// The movement of the pull request's target branch after the run's
/// merge-base, as the caller read it from GitHub when writing the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseDrift {
    /// The target branch, such as `main`.
    pub branch: String,
    /// The number of the branch's commits that the merge-base does not contain.
    pub new_commits: u64,
    /// Whether the branch still contains the merge-base. A force push can
    /// rewrite the branch without it.
    pub contains_base: bool,
}

/// Returns the warning as a quoted paragraph ending with a line break, or
/// `None` when the branch still ends at the merge-base. `base_link` is the
/// Markdown link to the merge-base.
///
/// The advice names a push, because the merge-base depends only on the
/// head and the branch's history: a new run of the same head finds the
/// same merge-base and compares the same two commits.
pub(super) fn warning(drift: &BaseDrift, base_link: &str) -> Option<String> {
    let branch = code_span_outside_table(&truncate_chars(&drift.branch, MAX_BRANCH_CHARS));
    let situation = if !drift.contains_base {
        format!(
            "{branch} no longer contains this run's base {base_link}, so its history was rewritten, \
             for example by a force push"
        )
    } else if drift.new_commits > 0 {
        let plural = if drift.new_commits == 1 { "" } else { "s" };
        format!(
            "{branch} has {} new commit{plural} since this run's base {base_link}, and the comparison \
             does not include them",
            drift.new_commits
        )
    } else {
        return None;
    };
    Some(format!(
        "\n> **Warning**: {situation}. Running this head again would compare the same two commits. \
         To compare with {branch} as it is now, merge it into the pull request's branch or rebase \
         the branch onto it, push, and comment `/pitot run`.\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(new_commits: u64, contains_base: bool) -> BaseDrift {
        BaseDrift {
            branch: "main".to_owned(),
            new_commits,
            contains_base,
        }
    }

    #[test]
    fn warning_counts_new_commits() {
        let one = warning(&drift(1, true), "[base](x)").expect("a warning");
        let many = warning(&drift(12, true), "[base](x)").expect("a warning");

        assert!(
            one.contains("`main` has 1 new commit since this run's base [base](x)"),
            "{one}"
        );
        assert!(many.contains("has 12 new commits since"), "{many}");
        assert!(many.contains("comment `/pitot run`"), "{many}");
    }

    #[test]
    fn warning_names_a_rewritten_branch() {
        let text = warning(&drift(3, false), "[base](x)").expect("a warning");

        assert!(
            text.contains("`main` no longer contains this run's base [base](x)"),
            "{text}"
        );
        assert!(!text.contains("new commit"), "{text}");
    }

    #[test]
    fn branch_at_the_base_gets_no_warning() {
        assert_eq!(warning(&drift(0, true), "[base](x)"), None);
    }

    #[test]
    fn branch_name_stays_in_a_code_span() {
        let mut hostile = drift(2, true);
        hostile.branch = "x`@team <b>".to_owned();

        let text = warning(&hostile, "[base](x)").expect("a warning");

        assert!(text.contains("``x`@team <b>``"), "{text}");
    }
}
