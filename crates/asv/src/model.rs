//! Typed values read from asv's files. These types are the contract between
//! the parser, the comparison engine and the store.

use std::collections::BTreeMap;

/// The outcome of one benchmark for one parameter combination.
///
/// asv writes `null` for a failed benchmark and `NaN` for a skipped one
/// (for example a `NotImplementedError` raised in `setup`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Value(f64),
    Failed,
    Skipped,
}

impl Outcome {
    /// Returns the measured value, if there is one.
    pub fn value(self) -> Option<f64> {
        match self {
            Outcome::Value(v) => Some(v),
            Outcome::Failed | Outcome::Skipped => None,
        }
    }
}

/// Summary statistics asv stores next to a measured value.
///
/// `ci_99` is asv's 99% confidence interval of the median (`ci_99_a`,
/// `ci_99_b`); `number` is the loop count per sample and `repeat` the
/// number of samples.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub ci_99: Option<(f64, f64)>,
    pub q_25: Option<f64>,
    pub q_75: Option<f64>,
    pub number: Option<f64>,
    pub repeat: Option<f64>,
}

/// The results of one benchmark in one results file.
///
/// For a parametrized benchmark, `outcomes` holds one entry per combination
/// of `params` in cartesian-product order, the last parameter varying
/// fastest; for a plain benchmark `params` is empty and `outcomes` has one
/// entry. `stats` and `samples` are either empty or as long as `outcomes`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BenchmarkResult {
    pub name: String,
    /// Parameter values as the `repr()` strings asv writes, one list per parameter.
    pub params: Vec<Vec<String>>,
    pub outcomes: Vec<Outcome>,
    pub stats: Vec<Option<Stats>>,
    pub samples: Vec<Option<Vec<f64>>>,
    /// The benchmark's version hash, when the file records one.
    pub version: Option<String>,
    /// When the benchmark started, in milliseconds since the Unix epoch.
    pub started_at: Option<i64>,
    /// How long the benchmark ran, in seconds.
    pub duration: Option<f64>,
}

/// The maximum number of parameter combinations of one benchmark in a
/// results file. A file whose grid multiplies out beyond it is rejected
/// rather than expanded into memory. The largest grid in the asv result
/// corpora pitot is tested on has 20 combinations.
pub const MAX_COMBINATIONS: usize = 100_000;

impl BenchmarkResult {
    /// Returns the number of parameter combinations (1 for a plain benchmark).
    /// Parsed results never exceed [`MAX_COMBINATIONS`].
    pub fn combination_count(&self) -> usize {
        self.params.iter().map(Vec::len).product()
    }

    /// Returns the number of parameter combinations, or `None` when it is
    /// above [`MAX_COMBINATIONS`] (or would overflow).
    pub fn checked_combination_count(&self) -> Option<usize> {
        self.params
            .iter()
            .try_fold(1usize, |count, choices| count.checked_mul(choices.len()))
            .filter(|&count| count <= MAX_COMBINATIONS)
    }

    /// Returns the parameter values of combination `index`, in cartesian-product
    /// order with the last parameter varying fastest; empty for a plain benchmark.
    pub fn combination(&self, index: usize) -> Vec<&str> {
        let mut values = vec![""; self.params.len()];
        let mut rest = index;
        for (slot, choices) in values.iter_mut().zip(&self.params).rev() {
            if choices.is_empty() {
                continue;
            }
            *slot = choices[rest % choices.len()].as_str();
            rest /= choices.len();
        }
        values
    }
}

/// One asv results file: one machine, one environment, one commit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultsFile {
    /// The file format: 1 (asv before 0.5) or 2.
    pub schema_version: u32,
    /// `params.machine`.
    pub machine: String,
    /// `env_name`, or, for a schema-1 file without one, the name asv rebuilds
    /// from `python` and `requirements` (a requirement whose version is null
    /// or empty adds its bare name).
    pub env_name: String,
    pub commit_hash: String,
    /// The commit's date in milliseconds since the Unix epoch (not the run time).
    pub date: Option<i64>,
    pub python: Option<String>,
    /// Requirements with a version or an empty string; `null` ones are dropped.
    pub requirements: BTreeMap<String, String>,
    pub env_vars: BTreeMap<String, String>,
    /// The free-form `params` object: machine fields, python, requirements.
    pub machine_params: BTreeMap<String, String>,
    /// Environment setup durations in seconds, such as `<build>`.
    pub durations: BTreeMap<String, f64>,
    pub benchmarks: Vec<BenchmarkResult>,
}

impl ResultsFile {
    /// Returns the results of the benchmark called `name`, if the file has them.
    pub fn benchmark(&self, name: &str) -> Option<&BenchmarkResult> {
        self.benchmarks
            .iter()
            .find(|benchmark| benchmark.name == name)
    }
}

/// The kind of a benchmark, from the `type` field of `benchmarks.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchmarkType {
    Time,
    Memory,
    PeakMemory,
    Track,
    Other(String),
}

/// One entry of `benchmarks.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkInfo {
    pub name: String,
    pub kind: BenchmarkType,
    /// The unit asv reports, such as `seconds`, `bytes` or a track's own unit.
    pub unit: String,
    pub params: Vec<Vec<String>>,
    pub param_names: Vec<String>,
    pub version: Option<String>,
}

/// The contents of `benchmarks.json`: the benchmarks of the newest suite only,
/// so results may name benchmarks it lacks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BenchmarkSuite {
    pub benchmarks: BTreeMap<String, BenchmarkInfo>,
}

/// A `machine.json` file. asv leaves its fields free-form (`ram` may be
/// `16GB`, `8.2G` or an integer), so all values are kept as strings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MachineInfo {
    pub machine: String,
    /// Every other field except `version`, such as `arch`, `cpu`, `os` and `ram`.
    pub fields: BTreeMap<String, String>,
}

/// The parts of `asv.conf.json` that pitot uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AsvConfig {
    pub project: Option<String>,
    pub repo: Option<String>,
    pub branches: Vec<String>,
    /// `results_dir`, relative to the config file. asv's default is `results`;
    /// `asv quickstart` writes `.asv/results`.
    pub results_dir: String,
    pub show_commit_url: Option<String>,
}
