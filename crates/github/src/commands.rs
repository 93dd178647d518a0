//! Commands that maintainers write in pull request comments, such as
//! `/pitot run --bench time_sort`.
//!
//! A command is a line of its own that starts with `/pitot`. Lines quoted
//! with `>` and lines inside fenced code blocks are not commands, so quoting
//! someone else's command or showing one in an example does not run it.

use chrono::NaiveDate;

/// The usage text of pitot's reply to a malformed command.
pub const USAGE: &str = "\
pitot understands these commands, each on a line of its own:

- `/pitot run`: benchmark the pull request's head against its merge-base
- `/pitot run --bench REGEX`: only the benchmarks whose names match REGEX
- `/pitot rerun`: benchmark the same two commits as the last run again
- `/pitot cancel`: cancel the queued or running benchmark job
- `/pitot quarantine BENCHMARK noisy|ignored [until YYYY-MM-DD] REASON`: \
stop BENCHMARK (its full asv name) from failing the check; `noisy` keeps \
it in the comment, `ignored` only counts it
- `/pitot unquarantine BENCHMARK`: lift the benchmark's quarantine

Only the repository's owners, members and collaborators can run them.";

/// A command pitot accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Benchmark the head, as the trigger label does. `bench` narrows the
    /// run to benchmarks matching a regular expression.
    Run { bench: Option<String> },
    /// Benchmark the last job's two commits again.
    Rerun,
    /// Cancel the pull request's queued or running job.
    Cancel,
    /// Quarantine a benchmark of the repository, with every parameter
    /// combination and machine.
    Quarantine {
        /// The full asv name, without parameters.
        benchmark: String,
        /// `noisy` or `ignored`.
        kind: String,
        /// The last day the quarantine holds, in UTC; `None` for no expiry.
        until: Option<NaiveDate>,
        reason: String,
    },
    /// Lift a benchmark's active quarantine.
    Unquarantine { benchmark: String },
}

impl Command {
    /// Returns the command's name as it is stored and logged.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run { .. } => "run",
            Command::Rerun => "rerun",
            Command::Cancel => "cancel",
            Command::Quarantine { .. } => "quarantine",
            Command::Unquarantine { .. } => "unquarantine",
        }
    }
}

/// The reason a `/pitot` line is not a valid command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} in {line:?}")]
pub struct CommandError {
    /// The line as written, trimmed.
    pub line: String,
    pub reason: String,
}

/// Finds the first command in a comment. Returns `None` when the comment
/// has no `/pitot` line, and an error when its first `/pitot` line is
/// malformed.
pub fn parse_command(body: &str) -> Option<Result<Command, CommandError>> {
    let mut in_fence = false;
    for line in body.lines() {
        let line = line.trim();
        if line.starts_with("```") || line.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut words = line.split_whitespace();
        if words.next() != Some("/pitot") {
            continue;
        }
        let words: Vec<&str> = words.collect();
        return Some(parse_words(&words).map_err(|reason| CommandError {
            line: line.to_string(),
            reason,
        }));
    }
    None
}

fn parse_words(words: &[&str]) -> Result<Command, String> {
    match words {
        [] => Err("a command is missing after /pitot".to_string()),
        ["run"] => Ok(Command::Run { bench: None }),
        ["run", "--bench", pattern] => bench(pattern),
        ["run", option] if option.starts_with("--bench=") => bench(&option["--bench=".len()..]),
        ["run", "--bench"] => Err("--bench needs a regular expression".to_string()),
        ["rerun"] => Ok(Command::Rerun),
        ["cancel"] => Ok(Command::Cancel),
        ["quarantine", arguments @ ..] => quarantine(arguments),
        ["unquarantine", benchmark] => Ok(Command::Unquarantine {
            benchmark: benchmark_name(benchmark)?,
        }),
        ["unquarantine"] => Err("unquarantine needs a benchmark name".to_string()),
        ["unquarantine", _, extra @ ..] => Err(format!("unexpected {:?}", extra.join(" "))),
        ["run" | "rerun" | "cancel", extra @ ..] => {
            Err(format!("unexpected {:?}", extra.join(" ")))
        }
        [unknown, ..] => Err(format!("unknown command {unknown:?}")),
    }
}

fn bench(pattern: &str) -> Result<Command, String> {
    if pattern.is_empty() {
        return Err("--bench needs a regular expression".to_string());
    }
    Ok(Command::Run {
        bench: Some(pattern.to_string()),
    })
}

/// Parses `BENCHMARK noisy|ignored [until YYYY-MM-DD] REASON...`.
fn quarantine(arguments: &[&str]) -> Result<Command, String> {
    let [benchmark, kind, rest @ ..] = arguments else {
        return Err(
            "quarantine needs a benchmark, noisy or ignored, and a reason".to_string(),
        );
    };
    if !matches!(*kind, "noisy" | "ignored") {
        return Err(format!(
            "unknown quarantine kind {kind:?}: use noisy or ignored"
        ));
    }
    let (until, reason) = match rest {
        ["until", date, reason @ ..] => {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                format!("invalid date {date:?} after until: use YYYY-MM-DD")
            })?;
            (Some(date), reason)
        }
        ["until"] => return Err("until needs a date as YYYY-MM-DD".to_string()),
        reason => (None, reason),
    };
    if reason.is_empty() {
        return Err("quarantine needs a reason after the kind".to_string());
    }
    Ok(Command::Quarantine {
        benchmark: benchmark_name(benchmark)?,
        kind: (*kind).to_string(),
        until,
        reason: reason.join(" "),
    })
}

/// Checks a benchmark name for a quarantine command, without the backticks
/// of a Markdown code span around it. A quarantine covers every parameter
/// combination, so a name with parameters is rejected.
fn benchmark_name(name: &str) -> Result<String, String> {
    let name = name.trim_matches('`');
    if name.is_empty() {
        return Err("the benchmark name is empty".to_string());
    }
    if name.contains('(') {
        return Err(format!(
            "invalid benchmark {name:?}: give the name without parameters, such as `bench.time_sort`"
        ));
    }
    Ok(name.to_string())
}

/// Returns whether a comment author's `author_association` lets them run
/// commands: the repository's owner, members of its organization and
/// collaborators, the people who could add the trigger label.
pub fn may_run_commands(author_association: &str) -> bool {
    matches!(author_association, "OWNER" | "MEMBER" | "COLLABORATOR")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> Option<Result<Command, String>> {
        parse_command(body).map(|result| result.map_err(|error| error.to_string()))
    }

    #[test]
    fn commands_parse() {
        let cases = [
            ("/pitot run", Command::Run { bench: None }),
            ("  /pitot   run  ", Command::Run { bench: None }),
            (
                "/pitot run --bench time_sort",
                Command::Run {
                    bench: Some("time_sort".into()),
                },
            ),
            (
                "/pitot run --bench=^bench_io\\.",
                Command::Run {
                    bench: Some("^bench_io\\.".into()),
                },
            ),
            ("/pitot rerun", Command::Rerun),
            ("/pitot cancel", Command::Cancel),
            ("Thanks!\r\n\r\n/pitot cancel\r\n", Command::Cancel),
            (
                "/pitot quarantine bench.Suite.time_sort noisy flaky on shared runners",
                Command::Quarantine {
                    benchmark: "bench.Suite.time_sort".into(),
                    kind: "noisy".into(),
                    until: None,
                    reason: "flaky on shared runners".into(),
                },
            ),
            (
                "/pitot quarantine bench.time_io ignored until 2027-01-31 disk cache",
                Command::Quarantine {
                    benchmark: "bench.time_io".into(),
                    kind: "ignored".into(),
                    until: NaiveDate::from_ymd_opt(2027, 1, 31),
                    reason: "disk cache".into(),
                },
            ),
            (
                "/pitot unquarantine bench.time_io",
                Command::Unquarantine {
                    benchmark: "bench.time_io".into(),
                },
            ),
            (
                "/pitot unquarantine `bench.time_io`",
                Command::Unquarantine {
                    benchmark: "bench.time_io".into(),
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(parsed(body), Some(Ok(expected)), "{body:?}");
        }
    }

    #[test]
    fn malformed_commands_name_the_problem() {
        let cases = [
            ("/pitot", "a command is missing after /pitot in \"/pitot\""),
            ("/pitot start", "unknown command \"start\""),
            ("/pitot run --bench", "--bench needs a regular expression"),
            ("/pitot run --bench=", "--bench needs a regular expression"),
            ("/pitot cancel now please", "unexpected \"now please\""),
            ("/pitot run --fast", "unexpected \"--fast\""),
            ("/pitot quarantine bench.time_x", "needs a benchmark, noisy or ignored"),
            ("/pitot quarantine bench.time_x slow why", "unknown quarantine kind \"slow\""),
            ("/pitot quarantine bench.time_x noisy", "needs a reason"),
            ("/pitot quarantine bench.time_x noisy until 2027-01-31", "needs a reason"),
            ("/pitot quarantine bench.time_x noisy until", "until needs a date"),
            ("/pitot quarantine bench.time_x noisy until 31/01/2027 x", "invalid date \"31/01/2027\""),
            ("/pitot quarantine bench.time_x(10) noisy why", "without parameters"),
            ("/pitot unquarantine", "unquarantine needs a benchmark name"),
            ("/pitot unquarantine ``", "the benchmark name is empty"),
            ("/pitot unquarantine a b", "unexpected \"b\""),
        ];
        for (body, expected) in cases {
            let error = parsed(body).expect("a command line").expect_err(body);
            assert!(error.contains(expected), "{body:?}: {error}");
        }
    }

    #[test]
    fn quotes_code_and_prose_are_not_commands() {
        let bodies = [
            "I think we should /pitot run this",
            "> /pitot run",
            "```\n/pitot run\n```",
            "~~~text\n/pitot cancel\n~~~",
            "/pitotrun",
            "",
        ];
        for body in bodies {
            assert_eq!(parsed(body), None, "{body:?}");
        }
    }

    #[test]
    fn first_command_wins() {
        assert_eq!(
            parsed("/pitot cancel\n/pitot run"),
            Some(Ok(Command::Cancel))
        );
    }

    #[test]
    fn only_maintainers_run_commands() {
        for association in ["OWNER", "MEMBER", "COLLABORATOR"] {
            assert!(may_run_commands(association), "{association}");
        }
        for association in [
            "CONTRIBUTOR",
            "FIRST_TIME_CONTRIBUTOR",
            "FIRST_TIMER",
            "MANNEQUIN",
            "NONE",
            "owner",
        ] {
            assert!(!may_run_commands(association), "{association}");
        }
    }
}
