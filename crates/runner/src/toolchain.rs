//! Finding asv, or installing it into the agent's own virtual environment,
//! and recording the asv machine the results are filed under.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::joblog::JobLog;
use crate::process::{run_checked, CommandError, StopSignal};

/// The time limit for creating the virtual environment and installing asv.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The time limit for the short commands: `asv --version`, the machine entry.
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// Records a machine under a chosen name with the details asv detects
/// (os, arch, cpu, num_cpu, ram). `asv machine --machine NAME --yes` would
/// record the name alone: in asv 0.6 it keeps only the fields that differ
/// from the detected defaults, and prompts for nothing when one differs.
const RECORD_MACHINE_SCRIPT: &str = "\
import sys
from asv.machine import Machine, MachineCollection
details = Machine.get_defaults()
details['machine'] = sys.argv[1]
MachineCollection.save(sys.argv[1], details)
";

/// An error that kept asv from being ready.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// A setup command failed, timed out or was stopped.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// asv does not report a version.
    #[error("`{} --version` did not print asv's version (it printed {output:?})", program.display())]
    NoVersion { program: PathBuf, output: String },
    /// The agent's virtual environment has another asv than requested,
    /// even after installing.
    #[error("the virtual environment {} has asv {found}, not the requested {requested}", venv.display())]
    WrongVersion {
        venv: PathBuf,
        found: String,
        requested: String,
    },
    /// The folder asv runs with as its home could not be created, or the
    /// user's files could not be linked into it.
    #[error("preparing asv's home folder {} failed: {source}; check that the agent's work folder is writable", path.display())]
    Home {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The lock of the virtual environment could not be taken.
    #[error("locking {} failed: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The source of asv, and the version to install when none is found.
#[derive(Debug, Clone)]
pub struct AsvSetup {
    /// An asv program given in the configuration, used as it is.
    pub program: Option<PathBuf>,
    /// The agent's own virtual environment, used when no `asv` is on `PATH`.
    pub venv: PathBuf,
    /// The interpreter that creates the virtual environment.
    pub python: PathBuf,
    /// The asv version installed into the virtual environment.
    pub version: String,
    /// The folder asv runs with as its home; see [`Asv::home`].
    pub home: PathBuf,
}

/// An asv installation ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asv {
    /// The `asv` program.
    pub program: PathBuf,
    /// The Python interpreter asv runs on, when it is known.
    pub python: Option<PathBuf>,
    /// The version `asv --version` printed, such as `0.6.6`.
    pub version: String,
    /// The folder asv runs with as its `HOME`, one per agent.
    ///
    /// asv keeps its machine details in `~/.asv-machine.json` and rewrites
    /// that file in place at the start of every run. Two agents sharing a
    /// home would read each other's half-written file and fail, so each
    /// agent gives asv a home of its own under its work folder. The
    /// user's caches, configuration and `~/.local` stay in use: see
    /// [`home_environment`].
    pub home: PathBuf,
}

impl AsvSetup {
    /// Finds asv: the configured program, else `asv` on `PATH`, else the
    /// agent's virtual environment, which is created and given asv (and
    /// virtualenv, for asv's environments) when it lacks the requested
    /// version. Writes what it uses to the log.
    pub async fn ensure(&self, log: &JobLog, stop: &StopSignal) -> Result<Asv, ToolchainError> {
        let found = self.program.clone().or_else(|| find_on_path("asv"));
        let asv = match found {
            Some(program) => {
                let version = asv_version(&program).await?;
                let python = shebang_interpreter(&program);
                Asv { program, python, version, home: self.home.clone() }
            }
            None => self.ensure_venv(log, stop).await?,
        };
        log.line(format!("using asv {} from {}", asv.version, asv.program.display()));
        Ok(asv)
    }

    async fn ensure_venv(&self, log: &JobLog, stop: &StopSignal) -> Result<Asv, ToolchainError> {
        // Agents and test processes sharing the folder must not install into
        // it at the same time, so the check and the install hold a lock.
        let _lock = lock_file(self.venv.with_extension("lock")).await?;
        let program = self.venv.join("bin/asv");
        let python = self.venv.join("bin/python");

        if program.exists() {
            if let Ok(version) = asv_version(&program).await {
                if version == self.version {
                    return Ok(Asv { program, python: Some(python), version, home: self.home.clone() });
                }
                log.line(format!("{} has asv {version}; installing {}", self.venv.display(), self.version));
            }
        }

        if !python.exists() {
            let mut command = Command::new(&self.python);
            command.args(["-m", "venv"]).arg(&self.venv);
            let command_line = format!("{} -m venv {}", self.python.display(), self.venv.display());
            run_checked(command, &command_line, log, INSTALL_TIMEOUT, stop).await?;
        }
        let requirement = format!("asv=={}", self.version);
        let mut command = Command::new(&python);
        command
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input"])
            .args([requirement.as_str(), "virtualenv"]);
        let command_line = format!("{} -m pip install {requirement} virtualenv", python.display());
        run_checked(command, &command_line, log, INSTALL_TIMEOUT, stop).await?;

        let version = asv_version(&program).await?;
        if version != self.version {
            return Err(ToolchainError::WrongVersion {
                venv: self.venv.clone(),
                found: version,
                requested: self.version.clone(),
            });
        }
        Ok(Asv { program, python: Some(python), version, home: self.home.clone() })
    }
}

impl Asv {
    /// Returns a command that runs asv with the agent's own home.
    pub fn command(&self) -> Command {
        self.with_home(Command::new(&self.program))
    }

    /// Gives `command` this asv's home, keeping the user's folders that
    /// would otherwise follow `HOME`.
    fn with_home(&self, mut command: Command) -> Command {
        let variables = home_environment(&self.home, real_home().as_deref(), |name| {
            std::env::var_os(name).is_some()
        });
        command.envs(variables);
        command
    }

    /// Creates asv's home and links the user's files into it.
    fn prepare_home(&self) -> Result<(), ToolchainError> {
        let home_error = |source| ToolchainError::Home {
            path: self.home.clone(),
            source,
        };
        std::fs::create_dir_all(&self.home).map_err(home_error)?;
        match real_home() {
            Some(real_home) if real_home != self.home => {
                link_home_files(&self.home, &real_home).map_err(home_error)
            }
            _ => Ok(()),
        }
    }

    /// Records `machine` in asv's machine file (`~/.asv-machine.json`), so
    /// that `asv continuous --machine <machine>` runs without prompting.
    ///
    /// `dir` and `config` are where asv's configuration is, for the
    /// fallback `asv machine`, which reads it.
    pub async fn record_machine(
        &self,
        machine: &str,
        dir: &Path,
        config: Option<&str>,
        log: &JobLog,
        stop: &StopSignal,
    ) -> Result<(), ToolchainError> {
        self.prepare_home()?;
        if let Some(python) = &self.python {
            let mut command = self.with_home(Command::new(python));
            // Not the checkout: Python imports from the working folder
            // first, and the repository under test may contain an `asv`.
            command
                .args(["-c", RECORD_MACHINE_SCRIPT, machine])
                .current_dir(std::env::temp_dir());
            let command_line = format!("{} -c <record machine {machine} with asv's detected details>", python.display());
            match run_checked(command, &command_line, log, QUERY_TIMEOUT, stop).await {
                Ok(()) => return Ok(()),
                Err(error @ (CommandError::Stopped { .. } | CommandError::TimedOut { .. })) => {
                    return Err(error.into());
                }
                // Another asv version may lack these functions; the plain
                // command below still records the name.
                Err(error) => log.line(format!("{error}; falling back to `asv machine`")),
            }
        }

        let mut command = self.command();
        command.current_dir(dir).arg("machine");
        if let Some(config) = config {
            command.args(["--config", config]);
        }
        command.args(["--machine", machine, "--yes"]);
        let command_line = format!("asv machine --machine {machine} --yes");
        run_checked(command, &command_line, log, QUERY_TIMEOUT, stop).await?;
        Ok(())
    }
}

/// Returns the home folder of the user the agent runs as.
fn real_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Returns the variables that give asv `home` as its `HOME`.
///
/// Python's user site (`~/.local`, where `pip install --user` puts asv)
/// and the caches and configuration of pip and virtualenv normally follow
/// `HOME`. Each is pinned to the user's real home, `real_home`, unless the
/// variable that locates it `is_set` already. Files that programs read
/// only from the home folder are linked there instead ([`link_home_files`]).
fn home_environment(
    home: &Path,
    real_home: Option<&Path>,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(&'static str, OsString)> {
    let mut variables = vec![("HOME", home.as_os_str().to_owned())];
    let Some(real_home) = real_home else {
        return variables;
    };
    let pinned_folders = [
        ("PYTHONUSERBASE", ".local"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
    ];
    for (name, folder) in pinned_folders {
        if !is_set(name) {
            variables.push((name, real_home.join(folder).into_os_string()));
        }
    }
    variables
}

/// Files in the real home that asv's builds may need and that their
/// programs read only from `~`: git's configuration, conda's, pip's older
/// configuration folder and the credentials for a package index.
const HOME_FILES: [&str; 4] = [".gitconfig", ".condarc", ".pip", ".netrc"];

/// Links each of [`HOME_FILES`] that exists in `real_home` into `home`,
/// where asv's commands look for it. An entry already in `home` is left
/// as it is, so an operator can put a file of the agent's own there.
fn link_home_files(home: &Path, real_home: &Path) -> std::io::Result<()> {
    for name in HOME_FILES {
        let target = real_home.join(name);
        let link = home.join(name);
        if target.exists() && link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(&target, &link)?;
        }
    }
    Ok(())
}

/// Runs `program --version` and returns the version from its `asv X.Y.Z`
/// line.
async fn asv_version(program: &Path) -> Result<String, ToolchainError> {
    let mut command = Command::new(program);
    command.arg("--version").stdin(std::process::Stdio::null()).kill_on_drop(true);
    let command_line = format!("{} --version", program.display());
    let output = tokio::time::timeout(QUERY_TIMEOUT, command.output())
        .await
        .map_err(|_| CommandError::TimedOut {
            command: command_line.clone(),
            timeout: QUERY_TIMEOUT,
        })?
        .map_err(|source| CommandError::Io { command: command_line, source })?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.trim().strip_prefix("asv "))
        .map(|version| version.trim().to_string())
        .ok_or_else(|| ToolchainError::NoVersion {
            program: program.to_path_buf(),
            output: text.trim().to_string(),
        })
}

/// Finds an executable file named `name` in the folders of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;

    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Reads the interpreter from a script's `#!` line, as pip writes it for
/// console scripts (`#!/path/to/python`, or `#!/usr/bin/env python3`).
fn shebang_interpreter(script: &Path) -> Option<PathBuf> {
    let text = std::fs::read(script).ok()?;
    let first_line = text.split(|&byte| byte == b'\n').next()?;
    let line = std::str::from_utf8(first_line).ok()?.strip_prefix("#!")?;
    let mut words = line.split_whitespace();
    let interpreter = words.next()?;
    let interpreter = if interpreter.ends_with("/env") {
        words.find(|word| !word.starts_with('-'))?
    } else {
        interpreter
    };
    interpreter.contains("python").then(|| PathBuf::from(interpreter))
}

/// Takes an exclusive lock on `path`, creating the file, and keeps it until
/// the returned value is dropped.
async fn lock_file(path: PathBuf) -> Result<nix::fcntl::Flock<std::fs::File>, ToolchainError> {
    let opened = path.clone();
    let locked = tokio::task::spawn_blocking(move || {
        if let Some(parent) = opened.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&opened)?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| std::io::Error::from(errno))
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|result| result);
    locked.map_err(|source| ToolchainError::Lock { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, first_line: &str) -> PathBuf {
        let path = dir.join("asv");
        std::fs::write(&path, format!("{first_line}\nimport sys\n")).expect("writable");
        path
    }

    #[test]
    fn shebang_interpreter_forms() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let cases = [
            ("#!/opt/venv/bin/python3.11", Some("/opt/venv/bin/python3.11")),
            ("#!/usr/bin/env python3", Some("python3")),
            ("#!/usr/bin/env -S python3 -u", Some("python3")),
            ("#!/bin/sh", None),
            ("import sys", None),
        ];

        for (first_line, expected) in cases {
            let path = script(dir.path(), first_line);

            let found = shebang_interpreter(&path);

            assert_eq!(found, expected.map(PathBuf::from), "for {first_line:?}");
        }
    }

    #[test]
    fn asv_home_keeps_the_users_folders() {
        let real_home = tempfile::tempdir().expect("temporary folder");
        let home = Path::new("/srv/agent/asv-home");

        let variables = home_environment(home, Some(real_home.path()), |_| false);

        let value = |name: &str| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| PathBuf::from(value))
        };
        assert_eq!(value("HOME").as_deref(), Some(home));
        assert_eq!(value("PYTHONUSERBASE"), Some(real_home.path().join(".local")));
        assert_eq!(value("XDG_CACHE_HOME"), Some(real_home.path().join(".cache")));
        assert_eq!(value("XDG_CONFIG_HOME"), Some(real_home.path().join(".config")));
        assert_eq!(value("XDG_DATA_HOME"), Some(real_home.path().join(".local/share")));
    }

    #[test]
    fn home_files_are_linked_once() {
        let real_home = tempfile::tempdir().expect("temporary folder");
        let home = tempfile::tempdir().expect("temporary folder");
        std::fs::create_dir(real_home.path().join(".pip")).expect("writable");
        std::fs::write(real_home.path().join(".pip/pip.conf"), "[global]\n").expect("writable");
        std::fs::write(real_home.path().join(".gitconfig"), "[user]\n").expect("writable");
        std::fs::write(home.path().join(".netrc"), "the agent's own\n").expect("writable");
        std::fs::write(real_home.path().join(".netrc"), "the user's\n").expect("writable");

        link_home_files(home.path(), real_home.path()).expect("links");
        link_home_files(home.path(), real_home.path()).expect("links again");

        let link = |name: &str| std::fs::read_link(home.path().join(name)).ok();
        assert_eq!(link(".gitconfig"), Some(real_home.path().join(".gitconfig")));
        assert_eq!(link(".pip"), Some(real_home.path().join(".pip")));
        assert!(home.path().join(".pip/pip.conf").is_file(), "pip finds its file through the link");
        assert_eq!(link(".condarc"), None, "no .condarc in the real home");
        assert_eq!(
            std::fs::read_to_string(home.path().join(".netrc")).expect("readable"),
            "the agent's own\n",
            "a file already in asv's home is kept"
        );
    }

    #[test]
    fn asv_home_leaves_set_variables_alone() {
        let real_home = tempfile::tempdir().expect("temporary folder");
        let home = Path::new("/srv/agent/asv-home");

        let variables =
            home_environment(home, Some(real_home.path()), |name| name == "XDG_CACHE_HOME");

        let names: Vec<&str> = variables.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["HOME", "PYTHONUSERBASE", "XDG_CONFIG_HOME", "XDG_DATA_HOME"]);
        let without_home = home_environment(home, None, |_| false);
        assert_eq!(without_home, [("HOME", OsString::from("/srv/agent/asv-home"))]);
    }

    #[test]
    fn asv_commands_run_with_the_agents_home() {
        let asv = Asv {
            program: PathBuf::from("/opt/asv/bin/asv"),
            python: None,
            version: "0.6.6".to_owned(),
            home: PathBuf::from("/srv/agent-2/asv-home"),
        };

        let command = asv.command();

        let home = command
            .as_std()
            .get_envs()
            .find(|(name, _)| *name == "HOME")
            .and_then(|(_, value)| value);
        assert_eq!(home, Some(std::ffi::OsStr::new("/srv/agent-2/asv-home")));
        assert_eq!(command.as_std().get_program(), "/opt/asv/bin/asv");
    }

    #[test]
    fn find_on_path_finds_sh() {
        let found = find_on_path("sh");

        assert!(found.is_some_and(|path| path.ends_with("sh")));
    }
}
