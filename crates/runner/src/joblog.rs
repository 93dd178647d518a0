//! A job's log: one file that the agent's own lines and the output of git
//! and asv are appended to, in the order they happen.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The log file of one job attempt.
///
/// Child processes write to duplicates of the same file descriptor, which
/// share one file offset, so their stdout and stderr interleave with the
/// agent's lines exactly as they were written.
#[derive(Debug)]
pub struct JobLog {
    path: PathBuf,
    file: File,
}

impl JobLog {
    /// Creates (or truncates) the log file at `path`, creating its folder.
    pub fn create(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        Ok(Self { path, file })
    }

    /// Returns the log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line written by the agent, prefixed with `[pitot]` to tell
    /// it apart from the output of git and asv.
    pub fn line(&self, text: impl AsRef<str>) {
        let line = format!("[pitot] {}\n", text.as_ref());
        // A log that cannot be written must not fail the job: the results
        // matter more, and the error shows up when the log is read back.
        if let Err(error) = (&self.file).write_all(line.as_bytes()) {
            tracing::warn!(%error, path = %self.path.display(), "writing the job log failed");
        }
    }

    /// Returns a handle for a child process's stdout or stderr.
    pub fn stdio(&self) -> io::Result<Stdio> {
        Ok(Stdio::from(self.file.try_clone()?))
    }

    /// Reads the whole log, replacing invalid UTF-8.
    pub fn read_all(&self) -> io::Result<String> {
        Ok(String::from_utf8_lossy(&fs::read(&self.path)?).into_owned())
    }

    /// Reads the last `count` lines of the log.
    pub fn last_lines(&self, count: usize) -> io::Result<String> {
        let text = self.excerpt(64 * 1024)?;
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(count);
        Ok(lines[start..].join("\n"))
    }

    /// Reads the log for upload, at most about `limit` bytes: the whole log
    /// when it fits, else its first quarter and its end, cut at line breaks,
    /// with a line in between that gives the number of bytes left out.
    pub fn excerpt(&self, limit: usize) -> io::Result<String> {
        let mut file = File::open(&self.path)?;
        let size = file.metadata()?.len();
        if size <= limit as u64 {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }

        let head_budget = limit / 4;
        let tail_budget = limit - head_budget;
        let mut head = vec![0; head_budget];
        file.read_exact(&mut head)?;
        let mut tail = vec![0; tail_budget];
        file.seek(SeekFrom::Start(size - tail_budget as u64))?;
        file.read_exact(&mut tail)?;

        let head = cut_after_last_newline(&head);
        let tail = cut_before_first_newline(&tail);
        let omitted = size - head.len() as u64 - tail.len() as u64;
        Ok(format!(
            "{}[pitot] ... {omitted} bytes of the log left out here ...\n{}",
            String::from_utf8_lossy(head),
            String::from_utf8_lossy(tail)
        ))
    }
}

/// Keeps the bytes up to and including the last newline, or all of them
/// when there is none.
fn cut_after_last_newline(bytes: &[u8]) -> &[u8] {
    match bytes.iter().rposition(|&byte| byte == b'\n') {
        Some(index) => &bytes[..=index],
        None => bytes,
    }
}

/// Keeps the bytes after the first newline, or all of them when there is
/// none.
fn cut_before_first_newline(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&byte| byte == b'\n') {
        Some(index) => &bytes[index + 1..],
        None => bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with_lines(count: usize) -> (tempfile::TempDir, JobLog) {
        let dir = tempfile::tempdir().expect("temporary folder");
        let log = JobLog::create(dir.path().join("logs/job.log")).expect("log file");
        for number in 0..count {
            log.line(format!("line {number:04}"));
        }
        (dir, log)
    }

    #[test]
    fn excerpt_short_log_is_whole() {
        let (_dir, log) = log_with_lines(3);

        let text = log.excerpt(1000).expect("readable");

        assert_eq!(text, "[pitot] line 0000\n[pitot] line 0001\n[pitot] line 0002\n");
    }

    #[test]
    fn excerpt_long_log_keeps_head_and_tail() {
        let (_dir, log) = log_with_lines(1000);

        let text = log.excerpt(2000).expect("readable");

        assert!(text.len() <= 2100, "{} bytes", text.len());
        assert!(text.starts_with("[pitot] line 0000\n"));
        assert!(text.ends_with("[pitot] line 0999\n"));
        assert!(text.contains("bytes of the log left out here"));
        let complete_lines = text.lines().all(|line| line.starts_with("[pitot] "));
        assert!(complete_lines, "a line was cut in the middle:\n{text}");
    }

    #[test]
    fn child_output_interleaves_with_lines() {
        let (_dir, log) = log_with_lines(1);

        let status = std::process::Command::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .stdout(log.stdio().expect("stdout"))
            .stderr(log.stdio().expect("stderr"))
            .status()
            .expect("sh runs");
        log.line("after");

        assert!(status.success());
        assert_eq!(
            log.read_all().expect("readable"),
            "[pitot] line 0000\nout\nerr\n[pitot] after\n"
        );
    }

    #[test]
    fn last_lines_of_log() {
        let (_dir, log) = log_with_lines(10);

        let text = log.last_lines(2).expect("readable");

        assert_eq!(text, "[pitot] line 0008\n[pitot] line 0009");
    }
}
