//! Running the `git` binary in a repository folder, with its output in the
//! job log.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::Command;

use crate::joblog::JobLog;
use crate::process::{run_checked, run_step, CommandError, StopSignal};

/// Runs git commands in one folder for one job.
pub(crate) struct Git<'a> {
    pub dir: PathBuf,
    pub log: &'a JobLog,
    pub timeout: Duration,
    pub stop: &'a StopSignal,
}

impl Git<'_> {
    /// Runs git with `args`, its output going to the job log, and fails
    /// unless it exits with status 0. `logged_args` is the argument list as
    /// written to the log and errors, with any credentials left out.
    pub async fn run(&self, args: &[&str], logged_args: &str) -> Result<(), CommandError> {
        run_checked(self.command(args), &format!("git {logged_args}"), self.log, self.timeout, self.stop).await
    }

    /// Runs git with `args` like [`Git::run`] and returns its exit status.
    pub async fn status(&self, args: &[&str], logged_args: &str) -> Result<ExitStatus, CommandError> {
        run_step(self.command(args), &format!("git {logged_args}"), self.log, self.timeout, self.stop).await
    }

    /// Runs a short query (such as `rev-parse`) and returns its trimmed
    /// stdout when it exits with status 0, or `None` for another status.
    /// Its stderr is discarded: a failing query is a result, not an error.
    pub async fn query(&self, args: &[&str]) -> Result<Option<String>, CommandError> {
        let logged_args = format!("git {}", args.join(" "));
        let mut command = self.command(args);
        command
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(self.timeout, command.output())
            .await
            .map_err(|_| CommandError::TimedOut {
                command: logged_args.clone(),
                timeout: self.timeout,
            })?
            .map_err(|source| CommandError::Io {
                command: logged_args,
                source,
            })?;
        if !output.status.success() {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&output.stdout).trim().to_string()))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(&self.dir)
            // A fetch that needs credentials must fail, not wait for input.
            .env("GIT_TERMINAL_PROMPT", "0")
            // Keep git from searching parent folders for another repository
            // when this one is damaged.
            .env("GIT_CEILING_DIRECTORIES", self.dir.parent().unwrap_or(Path::new("/")));
        command
    }
}

/// Returns `url` with any user name and password replaced by `***`, for
/// logs and messages: clone URLs of private repositories carry a token.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_credentials() {
        let cases = [
            ("https://x-access-token:ghs_abc@github.com/o/r.git", "https://***@github.com/o/r.git"),
            ("https://user@host/o/r.git", "https://***@host/o/r.git"),
            ("https://github.com/o/r.git", "https://github.com/o/r.git"),
            ("https://github.com/o/r@v1.git", "https://github.com/o/r@v1.git"),
            ("/srv/mirrors/o/r.git", "/srv/mirrors/o/r.git"),
        ];

        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "for {url}");
        }
    }
}
