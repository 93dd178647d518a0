//! asv's machine file with the real asv from PyPI: agents that share a host
//! keep their machine details apart.

mod common;

use common::{require_asv, work_dir};
use pitot_runner::joblog::JobLog;
use pitot_runner::process::StopSignal;
use pitot_runner::toolchain::Asv;
use serde_json::Value;

/// Each agent records its machine several times, as it does before every
/// job, while the other agent does the same.
const RECORDS_PER_AGENT: usize = 4;

async fn record_repeatedly(asv: Asv, machine: &'static str, log: JobLog) {
    let stop = StopSignal::new();
    for _ in 0..RECORDS_PER_AGENT {
        asv.record_machine(machine, &asv.home, None, &log, &stop)
            .await
            .unwrap_or_else(|error| panic!("recording {machine}: {error}\n{}", log.read_all().unwrap_or_default()));
    }
}

fn machine_names(asv: &Asv) -> Vec<String> {
    let path = asv.home.join(".asv-machine.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let file: Value = serde_json::from_str(&text).expect("the machine file is whole JSON");
    let mut names: Vec<String> = file
        .as_object()
        .expect("an object")
        .keys()
        .filter(|key| *key != "version")
        .cloned()
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn machine_files_stay_per_agent() {
    let Some(asv) = require_asv().await else {
        return;
    };
    let dir = work_dir();
    let first = Asv { home: dir.path().join("agent-1/asv-home"), ..asv.clone() };
    let second = Asv { home: dir.path().join("agent-2/asv-home"), ..asv };
    let first_log = JobLog::create(dir.path().join("agent-1.log")).expect("log");
    let second_log = JobLog::create(dir.path().join("agent-2.log")).expect("log");

    tokio::join!(
        record_repeatedly(first.clone(), "bench-host-a", first_log),
        record_repeatedly(second.clone(), "bench-host-b", second_log),
    );

    assert_eq!(machine_names(&first), ["bench-host-a"]);
    assert_eq!(machine_names(&second), ["bench-host-b"]);
}
