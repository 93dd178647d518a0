//! Writes a large, realistic asv results history for benchmarks: COMMITS
//! results files (schema 2) of SERIES benchmarks each, one machine, drawn
//! from the value distributions of a real results folder.
//!
//!     cargo run --release -p pitot-asv --example generate_history -- \
//!         SOURCE_FOLDER OUT_FOLDER COMMITS SERIES [SEED]
//!
//! Each generated benchmark copies one real series (a benchmark and
//! parameter combination of SOURCE_FOLDER with at least ten values). Its
//! value at a commit is the real series' median times a level and times a
//! noise factor. The level changes in rare steps: a change point about
//! every 2,000 commits, of 2% to 30% either way. The noise factor is the
//! ratio of a real value to that median, drawn at random. So the
//! run-to-run noise is the real one, and the history has steps for
//! change-point detection to find. Each value has
//! a 99% interval and quartiles in the same proportions, and every 500th
//! result is a failure (`null`), as real histories have some.
//!
//! The output is a results folder that `pitot import` and asv both read:
//! `OUT_FOLDER/bench-machine/machine.json`, one file per commit, and
//! `OUT_FOLDER/benchmarks.json`. The same SEED gives the same files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pitot_asv::folder::is_results_file_name;
use pitot_asv::{parse_results, Outcome};

const MACHINE: &str = "bench-machine";
const ENV_NAME: &str = "virtualenv-py3.11";
/// 2024-01-01T00:00:00Z in milliseconds; commits follow an hour apart.
const FIRST_DATE_MS: i64 = 1_704_067_200_000;
const HOUR_MS: i64 = 3_600_000;
/// Real series with fewer values give too rough a distribution.
const MIN_REAL_VALUES: usize = 10;
/// The chance per commit and series of a change point.
const STEP_CHANCE: f64 = 1.0 / 2000.0;
const FAILURE_EVERY: u64 = 500;

/// A real series reduced to what the generator draws from.
struct RealSeries {
    name: String,
    median: f64,
    /// Each real value divided by the median, sorted.
    ratios: Vec<f64>,
}

/// splitmix64: a small, fast generator, good enough for test data and
/// reproducible from a seed without a dependency.
struct Random(u64);

impl Random {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.len() < 4 || arguments.len() > 5 {
        eprintln!("usage: generate_history SOURCE_FOLDER OUT_FOLDER COMMITS SERIES [SEED]");
        std::process::exit(2);
    }
    let source = PathBuf::from(&arguments[0]);
    let out = PathBuf::from(&arguments[1]);
    let commits: u64 = parse_count(&arguments[2], "COMMITS");
    let series_count: usize = parse_count(&arguments[3], "SERIES") as usize;
    let seed: u64 = arguments.get(4).map_or(1, |text| parse_count(text, "SEED"));

    let real = real_series(&source);
    if real.is_empty() {
        eprintln!(
            "error: no series with {MIN_REAL_VALUES} or more values in {}: pass an asv results folder",
            source.display()
        );
        std::process::exit(1);
    }
    eprintln!(
        "drawing from {} real series of {}",
        real.len(),
        source.display()
    );

    let names = generated_names(&real, series_count);
    let machine_dir = out.join(MACHINE);
    std::fs::create_dir_all(&machine_dir)
        .unwrap_or_else(|error| panic!("creating {}: {error}", machine_dir.display()));
    write(
        &machine_dir.join("machine.json"),
        &format!(
            "{{\"machine\": {}, \"version\": 1}}\n",
            json_string(MACHINE)
        ),
    );
    write(&out.join("benchmarks.json"), &benchmarks_json(&names));

    let mut random = Random(seed);
    let mut levels = vec![1.0f64; series_count];
    let mut values = 0u64;
    for commit in 0..commits {
        for level in &mut levels {
            if random.unit() < STEP_CHANCE {
                let size = 0.02 + 0.28 * random.unit();
                *level *= if random.unit() < 0.5 {
                    1.0 + size
                } else {
                    1.0 / (1.0 + size)
                };
            }
        }
        let hash = format!(
            "{:016x}{:016x}{:08x}",
            random.next_u64(),
            random.next_u64(),
            commit
        );
        let file = results_file(&hash, commit, &names, &real, &levels, &mut random);
        write(
            &machine_dir.join(format!("{}-{ENV_NAME}.json", &hash[..8])),
            &file,
        );
        values += series_count as u64;
    }
    eprintln!(
        "wrote {commits} results files with {values} values to {}",
        machine_dir.display()
    );
}

fn parse_count(text: &str, argument: &str) -> u64 {
    text.parse().unwrap_or_else(|_| {
        eprintln!("error: {argument} must be a whole number, not {text:?}");
        std::process::exit(2);
    })
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text)
        .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}

/// Reads every results file under `folder` and returns its series with
/// enough values, each benchmark and parameter combination on its own.
fn real_series(folder: &Path) -> Vec<RealSeries> {
    let mut files = Vec::new();
    collect_files(folder, &mut files);
    let mut by_series: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(results) = parse_results(&bytes) else {
            continue;
        };
        for benchmark in &results.benchmarks {
            for (index, outcome) in benchmark.outcomes.iter().enumerate() {
                if let Outcome::Value(value) = outcome {
                    if value.is_finite() && *value > 0.0 {
                        let name = format!("{}#{index}", benchmark.name);
                        by_series.entry(name).or_default().push(*value);
                    }
                }
            }
        }
    }
    by_series
        .into_iter()
        .filter(|(_, values)| values.len() >= MIN_REAL_VALUES)
        .map(|(name, mut values)| {
            values.sort_by(f64::total_cmp);
            let median = values[values.len() / 2];
            let ratios = values.iter().map(|value| value / median).collect();
            let name = name.replace('#', "_c");
            RealSeries {
                name,
                median,
                ratios,
            }
        })
        .collect()
}

fn collect_files(folder: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files);
        } else if path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(is_results_file_name)
        {
            files.push(path);
        }
    }
}

/// Returns a distinct benchmark name per generated series: the real
/// series' name, with `_copyN` when there are more series than real ones.
fn generated_names(real: &[RealSeries], count: usize) -> Vec<String> {
    (0..count)
        .map(|index| {
            let series = &real[index % real.len()];
            match index / real.len() {
                0 => format!("generated.{}", series.name),
                copy => format!("generated.{}_copy{copy}", series.name),
            }
        })
        .collect()
}

fn benchmarks_json(names: &[String]) -> String {
    let mut text = String::from("{\n");
    for name in names {
        let quoted = json_string(name);
        let _ = writeln!(
            text,
            "  {quoted}: {{\"name\": {quoted}, \"type\": \"time\", \"unit\": \"seconds\", \"params\": [], \"param_names\": [], \"version\": \"1\"}},"
        );
    }
    text.push_str("  \"version\": 2\n}\n");
    text
}

fn results_file(
    hash: &str,
    commit: u64,
    names: &[String],
    real: &[RealSeries],
    levels: &[f64],
    random: &mut Random,
) -> String {
    let date = FIRST_DATE_MS + commit as i64 * HOUR_MS;
    let mut text = format!(
        "{{\"commit_hash\": \"{hash}\", \"env_name\": \"{ENV_NAME}\", \"date\": {date}, \
         \"params\": {{\"machine\": \"{MACHINE}\", \"python\": \"3.11\"}}, \"python\": \"3.11\", \
         \"requirements\": {{}}, \"env_vars\": {{}}, \"result_columns\": [\"result\", \"params\", \
         \"version\", \"started_at\", \"duration\", \"stats_ci_99_a\", \"stats_ci_99_b\", \
         \"stats_q_25\", \"stats_q_75\", \"stats_number\", \"stats_repeat\", \"samples\", \"profile\"], \
         \"results\": {{"
    );
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        let series = &real[index % real.len()];
        let quoted = json_string(name);
        if (commit + index as u64).is_multiple_of(FAILURE_EVERY) {
            let _ = write!(text, "{quoted}: [[null], [], \"1\", {date}, 0.1]");
            continue;
        }
        let ratio = series.ratios[random.below(series.ratios.len())];
        let value = series.median * levels[index] * ratio;
        // asv's interval and quartiles, in the proportions a ten-sample
        // run of a few percent spread shows.
        let _ = write!(
            text,
            "{quoted}: [[{value:e}], [], \"1\", {date}, 0.5, [{:e}], [{:e}], [{:e}], [{:e}], [1], [10]]",
            value * 0.97,
            value * 1.03,
            value * 0.99,
            value * 1.01
        );
    }
    text.push_str("}, \"durations\": {}, \"version\": 2}\n");
    text
}

/// Returns `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            control if control < ' ' => {
                let _ = write!(quoted, "\\u{:04x}", control as u32);
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}
