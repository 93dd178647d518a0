//! Running git and asv as child processes: output into the job log, a time
//! limit, stopping on request, and killing every process they started.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::process::ExitStatus;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::joblog::JobLog;

/// The reason a job was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The server reported the job as cancelled in a heartbeat response.
    Cancelled,
    /// The server handed the job to another agent, or the lease expired
    /// while the server could not be reached.
    LeaseLost,
    /// The agent is shutting down.
    Shutdown,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::Cancelled => "the job was cancelled on the server",
            StopReason::LeaseLost => "the agent lost the job's lease",
            StopReason::Shutdown => "the agent is shutting down",
        })
    }
}

/// A request to stop a job, shared between the job and the tasks that may stop it.
/// The first reason given wins.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl StopSignal {
    /// Creates a signal that has not been given.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop, for `reason` unless a reason was already given.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Returns the reason the job was asked to stop, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    /// Waits until the job is asked to stop, and returns why.
    pub async fn stopped(&self) -> StopReason {
        self.token.cancelled().await;
        self.reason().unwrap_or(StopReason::Shutdown)
    }
}

/// The way a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The process exited by itself.
    Exited(ExitStatus),
    /// The time limit passed, and the process and its descendants were killed.
    TimedOut(Duration),
    /// The job was asked to stop, and the process and its descendants were
    /// killed.
    Stopped(StopReason),
}

/// Runs `command` with stdin closed and stdout and stderr appended to `log`,
/// until it exits, `timeout` passes or `stop` is given.
///
/// The child gets its own process group and loses every `PITOT_*`
/// environment variable, so untrusted code cannot read the agent's token.
/// On timeout or stop the child and all its descendants are killed (see
/// [`kill_tree`]) before this returns.
pub async fn run_logged(
    mut command: Command,
    log: &JobLog,
    timeout: Duration,
    stop: &StopSignal,
) -> io::Result<Finish> {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PITOT_") {
            command.env_remove(name);
        }
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(log.stdio()?)
        .stderr(log.stdio()?)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;

    let finish = tokio::select! {
        status = child.wait() => return Ok(Finish::Exited(status?)),
        () = tokio::time::sleep(timeout) => Finish::TimedOut(timeout),
        reason = stop.stopped() => Finish::Stopped(reason),
    };
    terminate(&mut child).await?;
    Ok(finish)
}

/// A command that did not run to a successful end.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The command exited with a failure status; its output is in the job log.
    #[error("`{command}` failed ({status}); its output is in the job log")]
    Failed { command: String, status: ExitStatus },
    /// The command ran longer than its time limit, and it and its
    /// descendants were killed.
    #[error("`{command}` timed out after {} s and was killed", timeout.as_secs())]
    TimedOut { command: String, timeout: Duration },
    /// The job was asked to stop while the command ran.
    #[error("`{command}` was stopped because {reason}")]
    Stopped { command: String, reason: StopReason },
    /// The command could not be started.
    #[error("starting `{command}` failed: {source}")]
    Io {
        command: String,
        #[source]
        source: io::Error,
    },
}

/// Runs `command` like [`run_logged`], after writing `$ {command_line}` to the log,
/// and returns its exit status. A timeout or a stop is an error. `command_line` is
/// the command line for people, without credentials.
pub async fn run_step(
    command: Command,
    command_line: &str,
    log: &JobLog,
    timeout: Duration,
    stop: &StopSignal,
) -> Result<ExitStatus, CommandError> {
    log.line(format!("$ {command_line}"));
    let finish = run_logged(command, log, timeout, stop)
        .await
        .map_err(|source| CommandError::Io {
            command: command_line.to_string(),
            source,
        })?;
    match finish {
        Finish::Exited(status) => Ok(status),
        Finish::TimedOut(timeout) => Err(CommandError::TimedOut {
            command: command_line.to_string(),
            timeout,
        }),
        Finish::Stopped(reason) => Err(CommandError::Stopped {
            command: command_line.to_string(),
            reason,
        }),
    }
}

/// Like [`run_step`], but a failure status is an error too.
pub async fn run_checked(
    command: Command,
    command_line: &str,
    log: &JobLog,
    timeout: Duration,
    stop: &StopSignal,
) -> Result<(), CommandError> {
    let status = run_step(command, command_line, log, timeout, stop).await?;
    if status.success() {
        Ok(())
    } else {
        Err(CommandError::Failed {
            command: command_line.to_string(),
            status,
        })
    }
}

/// Kills `child` with all its descendants and waits for it to exit.
async fn terminate(child: &mut Child) -> io::Result<()> {
    if let Some(pid) = child.id() {
        let root = Pid::from_raw(pid as i32);
        tokio::task::spawn_blocking(move || kill_tree(root))
            .await
            .map_err(io::Error::other)?;
    }
    // The kill above normally suffices; this covers a child that exited
    // between the wait and the kill, and systems without `/proc`.
    let _ = child.start_kill();
    child.wait().await?;
    Ok(())
}

/// Kills `root` and every process descended from it.
///
/// asv puts each command it runs in a new process group, so killing the
/// root's group would leave asv's builds and benchmarks running. Instead,
/// the whole tree is first frozen with `SIGSTOP`, level by level until no
/// new descendant appears, so that no process can start another or be
/// re-parented away once its parent dies, and then killed with `SIGKILL`.
///
/// NOTE: the tree is read from Linux's `/proc`. Elsewhere only the root's
/// process group is killed, and on Linux a process that detached itself
/// before the kill (by a double fork) is not found.
pub fn kill_tree(root: Pid) {
    if !cfg!(target_os = "linux") {
        let _ = nix::sys::signal::killpg(root, Signal::SIGKILL);
        return;
    }

    let mut frozen: HashSet<Pid> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut tree = descendants(root);
        tree.push(root);
        let new: Vec<Pid> = tree.into_iter().filter(|pid| !frozen.contains(pid)).collect();
        if new.is_empty() {
            // A stop signal takes effect asynchronously: wait until every
            // process is really stopped, then look once more for children
            // started just before.
            if all_stopped(&frozen) || Instant::now() > deadline {
                let late = descendants(root).into_iter().any(|pid| !frozen.contains(&pid));
                if !late {
                    break;
                }
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
            continue;
        }
        for pid in new {
            let _ = kill(pid, Signal::SIGSTOP);
            frozen.insert(pid);
        }
    }
    for pid in &frozen {
        let _ = kill(*pid, Signal::SIGKILL);
    }
}

/// Lists the processes descended from `root`, read from `/proc`.
pub fn descendants(root: Pid) -> Vec<Pid> {
    let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
    for (pid, stat) in process_stats() {
        children.entry(stat.parent).or_default().push(pid);
    }

    let mut found = Vec::new();
    let mut pending = vec![root];
    while let Some(parent) = pending.pop() {
        for child in children.get(&parent).into_iter().flatten() {
            found.push(*child);
            pending.push(*child);
        }
    }
    found
}

/// The fields of `/proc/<pid>/stat` the tree walk needs.
struct ProcessStat {
    state: char,
    parent: Pid,
}

fn process_stats() -> Vec<(Pid, ProcessStat)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut stats = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        // A process may exit between the listing and the read.
        if let Some(stat) = read_stat(Pid::from_raw(pid)) {
            stats.push((Pid::from_raw(pid), stat));
        }
    }
    stats
}

fn read_stat(pid: Pid) -> Option<ProcessStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may itself contain spaces and
    // parentheses, so the fields are counted from the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some(ProcessStat {
        state,
        parent: Pid::from_raw(parent),
    })
}

/// Returns true when each process is stopped, a zombie or gone.
fn all_stopped(pids: &HashSet<Pid>) -> bool {
    pids.iter().all(|pid| match read_stat(*pid) {
        Some(stat) => matches!(stat.state, 'T' | 't' | 'Z' | 'X'),
        None => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[tokio::test]
    async fn run_logged_exit_status() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let log = JobLog::create(dir.path().join("job.log")).expect("log");

        let finish = run_logged(shell("echo hello; exit 3"), &log, Duration::from_secs(30), &StopSignal::new())
            .await
            .expect("sh runs");

        let Finish::Exited(status) = finish else {
            panic!("expected an exit, got {finish:?}");
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(log.read_all().expect("readable"), "hello\n");
    }

    #[tokio::test]
    async fn run_logged_hides_pitot_variables() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let log = JobLog::create(dir.path().join("job.log")).expect("log");
        std::env::set_var("PITOT_RUNNER_TEST_TOKEN", "secret");
        let command = shell("echo \"token=${PITOT_RUNNER_TEST_TOKEN:-unset}\"");

        run_logged(command, &log, Duration::from_secs(30), &StopSignal::new())
            .await
            .expect("sh runs");

        assert_eq!(log.read_all().expect("readable"), "token=unset\n");
    }

    #[tokio::test]
    async fn timeout_kills_whole_tree() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let log = JobLog::create(dir.path().join("job.log")).expect("log");
        // The grandchild moves to its own process group, as asv's children
        // do, so killing the child's group alone would miss it.
        let script = "import os, subprocess\n\
                      child = subprocess.Popen(['sleep', '300'], preexec_fn=os.setpgrp)\n\
                      print('grandchild', child.pid, flush=True)\n\
                      child.wait()";
        let mut command = Command::new("python3");
        command.args(["-c", script]);

        let finish = run_logged(command, &log, Duration::from_secs(3), &StopSignal::new())
            .await
            .expect("python3 runs");

        assert_eq!(finish, Finish::TimedOut(Duration::from_secs(3)));
        let output = log.read_all().expect("readable");
        let grandchild: i32 = output
            .lines()
            .find_map(|line| line.strip_prefix("grandchild "))
            .and_then(|pid| pid.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {output:?}"));
        assert!(!is_alive(Pid::from_raw(grandchild)), "sleep {grandchild} still runs");
    }

    #[tokio::test]
    async fn stop_signal_kills_and_names_reason() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let log = JobLog::create(dir.path().join("job.log")).expect("log");
        let stop = StopSignal::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stopper.stop(StopReason::Cancelled);
            stopper.stop(StopReason::Shutdown);
        });

        let finish = run_logged(shell("sleep 300"), &log, Duration::from_secs(60), &stop)
            .await
            .expect("sh runs");

        assert_eq!(finish, Finish::Stopped(StopReason::Cancelled));
    }

    /// Returns whether `pid` still runs after up to five seconds. A zombie
    /// does not count: it only waits for its new parent to reap it.
    fn is_alive(pid: Pid) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match read_stat(pid) {
                None => return false,
                Some(stat) if stat.state == 'Z' || stat.state == 'X' => return false,
                Some(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        true
    }
}
