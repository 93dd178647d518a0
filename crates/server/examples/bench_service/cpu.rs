//! The CPU time of a run by consumer: this process's threads by runtime,
//! PostgreSQL's processes by role, and the whole machine's idle time, read
//! from Linux's `/proc`.
//!
//! Threads and processes that exit during a run are missed, so the groups
//! are lower bounds. On other systems every figure is zero.

use std::collections::HashMap;
use std::fs;
use std::time::Instant;

/// The thread name of the server's runtime.
pub const SERVER_THREAD: &str = "pitot-server";
/// The thread name of the load generator's runtime.
pub const LOAD_THREAD: &str = "bench-load";

/// The groups the CPU time is split into, in the order they are printed.
const GROUPS: [&str; 6] = [
    "pitot server threads",
    "load generator threads",
    "other threads of this process",
    "PostgreSQL backends of the scratch database",
    "PostgreSQL auxiliary processes (WAL writer, checkpointer, ...)",
    "other PostgreSQL backends (other databases)",
];

/// CPU time per thread or process, and the machine's counters, at one moment.
pub struct CpuSnapshot {
    taken_at: Instant,
    /// Nanoseconds on CPU by (process id, thread id), with the group index.
    tasks: HashMap<(u32, u32), (usize, u64)>,
    /// Busy and total jiffies of all cores, from `/proc/stat`.
    machine: (u64, u64),
}

/// The CPU time each group used between two snapshots.
pub struct CpuUsage {
    pub seconds: f64,
    /// Cores used on average by each group in [`GROUPS`] order.
    pub cores_by_group: Vec<(&'static str, f64)>,
    /// The share of all cores' time that was not idle.
    pub machine_busy: f64,
    pub cores: usize,
}

impl CpuSnapshot {
    /// Reads the counters of this process's threads and of every
    /// PostgreSQL process; backends whose title names `database` are the
    /// scratch database's.
    pub fn take(database: &str) -> CpuSnapshot {
        let mut tasks = HashMap::new();
        let own = std::process::id();
        for tid in numeric_entries("/proc/self/task") {
            let base = format!("/proc/self/task/{tid}");
            let name = fs::read_to_string(format!("{base}/comm")).unwrap_or_default();
            let group = if name.starts_with(SERVER_THREAD) {
                0
            } else if name.starts_with(LOAD_THREAD) {
                1
            } else {
                2
            };
            if let Some(nanos) = on_cpu_nanos(&base) {
                tasks.insert((own, tid), (group, nanos));
            }
        }
        for pid in numeric_entries("/proc") {
            let base = format!("/proc/{pid}");
            let comm = fs::read_to_string(format!("{base}/comm")).unwrap_or_default();
            if comm.trim() != "postgres" {
                continue;
            }
            let title = fs::read_to_string(format!("{base}/cmdline")).unwrap_or_default();
            let group = postgres_group(&title.replace('\0', " "), database);
            if let Some(nanos) = on_cpu_nanos(&base) {
                tasks.insert((pid, pid), (group, nanos));
            }
        }
        CpuSnapshot {
            taken_at: Instant::now(),
            tasks,
            machine: machine_jiffies(),
        }
    }

    /// Returns what each group used since `earlier`.
    pub fn since(&self, earlier: &CpuSnapshot) -> CpuUsage {
        let seconds = self.taken_at.duration_since(earlier.taken_at).as_secs_f64();
        let mut nanos = [0u64; GROUPS.len()];
        for (key, (group, now)) in &self.tasks {
            let before = earlier.tasks.get(key).map_or(0, |(_, nanos)| *nanos);
            nanos[*group] += now.saturating_sub(before);
        }
        let cores_by_group = GROUPS
            .iter()
            .zip(nanos)
            .map(|(name, nanos)| (*name, nanos as f64 / 1e9 / seconds.max(1e-9)))
            .collect();
        let busy = self.machine.0.saturating_sub(earlier.machine.0) as f64;
        let total = self.machine.1.saturating_sub(earlier.machine.1) as f64;
        CpuUsage {
            seconds,
            cores_by_group,
            machine_busy: if total > 0.0 { busy / total } else { 0.0 },
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl CpuUsage {
    /// Prints one line per group with the cores it used on average.
    pub fn print(&self) {
        println!(
            "  CPU over {:.1} s: machine busy {:.0}% of {} cores",
            self.seconds,
            100.0 * self.machine_busy,
            self.cores
        );
        for (name, cores) in &self.cores_by_group {
            println!("    {cores:>5.2} cores  {name}");
        }
    }
}

/// Sorts a PostgreSQL process into a group by its process title, such as
/// `postgres: 15/main: postgres DBNAME 127.0.0.1(5678) idle`.
fn postgres_group(title: &str, database: &str) -> usize {
    const AUXILIARY: [&str; 7] = [
        "checkpointer",
        "background writer",
        "walwriter",
        "autovacuum",
        "logical replication",
        "archiver",
        "stats",
    ];
    if title.contains(&format!(" {database} ")) {
        3
    } else if AUXILIARY.iter().any(|role| title.contains(role)) || !title.contains(": ") {
        4
    } else {
        5
    }
}

/// Returns the first field of `schedstat`: nanoseconds spent on a CPU.
fn on_cpu_nanos(base: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("{base}/schedstat")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Returns the busy and total jiffies of the `cpu` line of `/proc/stat`.
fn machine_jiffies() -> (u64, u64) {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|line| line.starts_with("cpu ")) else {
        return (0, 0);
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // Fields 4 and 5 are idle and iowait.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

fn numeric_entries(folder: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}
