//! The embedded default database: a private PostgreSQL server started from
//! the PostgreSQL binaries already installed on the machine.
//!
//! The server keeps its data in `$PITOT_HOME/postgres/data`, listens only
//! on a Unix socket in `$PITOT_HOME/postgres/run` (no TCP port), trusts
//! local connections (the socket folder is readable by its owner only) and
//! is stopped when the [`EmbeddedPostgres`] value that started it is
//! dropped. PostgreSQL refuses to run as root, so when pitot runs as root
//! the server runs as an unprivileged system user (`postgres`, else
//! `nobody`). No PostgreSQL is ever downloaded.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context};

/// The database and superuser name inside the private server.
pub const DATABASE_NAME: &str = "pitot";

/// Unix socket paths are limited to 107 bytes on Linux; PostgreSQL appends
/// `/.s.PGSQL.5432` to the socket folder.
const MAX_SOCKET_DIR_LEN: usize = 107 - "/.s.PGSQL.5432".len();

/// A running private PostgreSQL server.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<SystemUser>,
    /// Whether this process started the server (and so must stop it).
    started_here: bool,
}

/// An unprivileged account to run the server as when pitot runs as root.
#[derive(Debug, Clone)]
struct SystemUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl EmbeddedPostgres {
    /// Starts the private server under `pitot_home`, creating its data
    /// folder on first use, or attaches to one that is already running there.
    pub fn start(pitot_home: &Path) -> anyhow::Result<EmbeddedPostgres> {
        let bin_dir = find_bin_dir()?;
        let run_as = if is_root() { Some(unprivileged_user()?) } else { None };

        let base = pitot_home.join("postgres");
        let data_dir = base.join("data");
        let socket_dir = base.join("run");
        check_socket_dir_len(&socket_dir)?;
        create_dir_with_mode(pitot_home, None, if run_as.is_some() { 0o711 } else { 0o700 })?;
        create_dir_with_mode(&base, run_as.as_ref(), 0o700)?;
        create_dir_with_mode(&socket_dir, run_as.as_ref(), 0o700)?;
        if let Some(user) = &run_as {
            check_traversable(&base, user)?;
        }

        // Two pitot processes may start at once; the lock makes one of
        // them initialise and start the server and the other attach to it.
        let lock = File::create(base.join("start.lock"))
            .with_context(|| format!("failed to create {}", base.join("start.lock").display()))?;
        lock.lock().context("failed to lock the embedded PostgreSQL folder")?;

        let mut server = EmbeddedPostgres {
            bin_dir,
            data_dir,
            socket_dir,
            run_as,
            started_here: false,
        };
        if !server.data_dir.join("PG_VERSION").exists() {
            server.init_data_dir()?;
        }
        if !server.is_running()? {
            server.start_server()?;
            server.started_here = true;
        }
        Ok(server)
    }

    /// Returns the folder that holds the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    fn init_data_dir(&self) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "creating the embedded PostgreSQL data folder");
        let output = self.run_pg_tool(
            "initdb",
            [
                OsStr::new("--pgdata"),
                self.data_dir.as_os_str(),
                OsStr::new("--username"),
                OsStr::new(DATABASE_NAME),
                OsStr::new("--auth"),
                OsStr::new("trust"),
                OsStr::new("--encoding"),
                OsStr::new("UTF8"),
                OsStr::new("--no-instructions"),
            ],
        )?;
        check_success("initdb", &output)
    }

    fn is_running(&self) -> anyhow::Result<bool> {
        let output = self.run_pg_tool(
            "pg_ctl",
            [OsStr::new("status"), OsStr::new("--pgdata"), self.data_dir.as_os_str()],
        )?;
        // pg_ctl status exits 0 when a server runs, 3 when none does.
        Ok(output.status.success())
    }

    fn start_server(&self) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "starting the embedded PostgreSQL server");
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700",
            self.socket_dir.display()
        );
        let log_file = self.data_dir.join("server.log");
        let output = self.run_pg_tool(
            "pg_ctl",
            [
                OsStr::new("start"),
                OsStr::new("--wait"),
                OsStr::new("--pgdata"),
                self.data_dir.as_os_str(),
                OsStr::new("--log"),
                log_file.as_os_str(),
                OsStr::new("-o"),
                OsStr::new(&options),
            ],
        )?;
        if !output.status.success() {
            let log_tail = fs::read_to_string(&log_file)
                .map(|text| last_lines(&text, 10))
                .unwrap_or_default();
            bail!(
                "the embedded PostgreSQL server did not start (data folder {}): {}{}",
                self.data_dir.display(),
                String::from_utf8_lossy(&output.stderr).trim(),
                if log_tail.is_empty() { String::new() } else { format!("\nserver log:\n{log_tail}") }
            );
        }
        Ok(())
    }

    fn stop_server(&self) -> anyhow::Result<()> {
        let output = self.run_pg_tool(
            "pg_ctl",
            [
                OsStr::new("stop"),
                OsStr::new("--wait"),
                OsStr::new("--mode"),
                OsStr::new("fast"),
                OsStr::new("--pgdata"),
                self.data_dir.as_os_str(),
            ],
        )?;
        check_success("pg_ctl stop", &output)
    }

    /// Runs one PostgreSQL program from the found binary folder, as the
    /// unprivileged user when pitot runs as root.
    fn run_pg_tool<I, S>(&self, program: &str, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let path = self.bin_dir.join(program);
        let mut command = Command::new(&path);
        command.args(args).current_dir(self.data_dir.parent().unwrap_or(Path::new("/")));
        if let Some(user) = &self.run_as {
            command.uid(user.uid).gid(user.gid).env("HOME", self.data_dir.parent().unwrap_or(Path::new("/")));
        }
        command
            .output()
            .with_context(|| format!("failed to run {}", path.display()))
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if !self.started_here {
            return;
        }
        tracing::info!("stopping the embedded PostgreSQL server");
        if let Err(error) = self.stop_server() {
            tracing::warn!(error = %format!("{error:#}"), "failed to stop the embedded PostgreSQL server");
        }
    }
}

/// Finds the folder holding `initdb` and `pg_ctl`: on PATH, then
/// `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();

    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_tools(&dir) {
                // Resolve symbolic links such as /usr/local/bin/pg_ctl so the
                // tools run from their real folder, next to `postgres`.
                let real = fs::canonicalize(dir.join("pg_ctl")).ok();
                return Ok(real.and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or(dir));
            }
        }
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_tools(&dir) {
            return Ok(dir);
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versioned.sort();
    if let Some((_, dir)) = versioned.pop() {
        return Ok(dir);
    }
    bail!(
        "no PostgreSQL server programs (initdb, pg_ctl) were found on PATH, by `pg_config --bindir` \
         or in /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: `apt-get install postgresql`, \
         Fedora: `dnf install postgresql-server`, macOS: `brew install postgresql`) \
         or set DATABASE_URL to use an existing server"
    )
}

/// Returns whether this process runs with effective user id 0.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            // The line reads "Uid: real effective saved filesystem".
            line.split_whitespace().nth(2).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

fn unprivileged_user() -> anyhow::Result<SystemUser> {
    let passwd = fs::read_to_string("/etc/passwd").context("failed to read /etc/passwd")?;
    for wanted in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 4 || fields[0] != wanted {
                continue;
            }
            if let (Ok(uid), Ok(gid)) = (fields[2].parse(), fields[3].parse()) {
                return Ok(SystemUser { name: wanted.to_string(), uid, gid });
            }
        }
    }
    bail!(
        "pitot runs as root and PostgreSQL refuses to run as root, but neither a `postgres` nor a \
         `nobody` user exists to run it as: create one (`useradd --system postgres`), run pitot as \
         another user, or set DATABASE_URL"
    )
}

/// Creates `dir` if missing, sets its mode and, for a folder the server
/// writes to, hands it to the unprivileged user. `$PITOT_HOME` itself gets
/// mode 0711 when the server runs as another user, so that user can pass
/// through it without listing it.
fn create_dir_with_mode(dir: &Path, owner: Option<&SystemUser>, mode: u32) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    if let Some(user) = owner {
        std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))
            .with_context(|| format!("failed to give {} to user {}", dir.display(), user.name))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("failed to set the permissions of {}", dir.display()))
}

/// Checks that the unprivileged user can reach `dir`: every folder above
/// it must let others search it (mode o+x).
fn check_traversable(dir: &Path, user: &SystemUser) -> anyhow::Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else { continue };
        let searchable = meta.mode() & 0o001 != 0
            || (meta.uid() == user.uid && meta.mode() & 0o100 != 0)
            || (meta.gid() == user.gid && meta.mode() & 0o010 != 0);
        if !searchable {
            bail!(
                "the embedded PostgreSQL server runs as user {} (pitot runs as root), but that user \
                 cannot enter {}: set PITOT_HOME to a folder it can reach, such as /var/lib/pitot, \
                 or set DATABASE_URL",
                user.name,
                ancestor.display()
            );
        }
    }
    Ok(())
}

fn check_socket_dir_len(socket_dir: &Path) -> anyhow::Result<()> {
    let len = socket_dir.as_os_str().len();
    if len > MAX_SOCKET_DIR_LEN {
        bail!(
            "the embedded PostgreSQL socket folder {} is {len} bytes long, over the {MAX_SOCKET_DIR_LEN} \
             bytes a Unix socket path allows: set PITOT_HOME to a shorter path",
            socket_dir.display()
        );
    }
    Ok(())
}

fn check_success(what: &str, output: &Output) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
