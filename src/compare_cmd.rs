//! `pitot compare`: compares two asv result sets and prints the verdict, as
//! `asv compare` does (asv 0.6.6).
//!
//! `--format asv` prints asv's marks and nothing else. The Markdown and JSON
//! formats add pitot's verdict (`pitot_stats::assess`): asv's test, the
//! false discovery rate control across rows and a noise threshold. The
//! command reads no history, so the threshold is always the factor.
//!
//! BEFORE and AFTER are either two results files, or two commits (hash
//! prefixes) looked up in an asv results folder given with `--results`.
//! Exit status: 0 when nothing got worse, 1 when a benchmark got worse,
//! and an error (which `main` turns into status 2) when the comparison could
//! not be made, so a broken setup never reads as a regression.

mod load;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use pitot_asv::{BenchmarkSuite, ResultsFile};
use pitot_report::{CommitLabel, RenderOptions, SortOrder};
use pitot_stats::{CompareOptions, DetectionOptions, NoiseThreshold, DEFAULT_FACTOR};

use crate::results_dir::ResultsDir;

/// Arguments of `pitot compare`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 when no benchmark got worse, 1 when one got worse \
(a new failure, or a significant change in the wrong direction: with --format asv, for \
time and memory benchmarks a `+` row; with markdown and json, a row pitot's verdict calls \
a regression), 2 when the comparison could not be made."
)]
pub struct CompareArgs {
    #[command(flatten)]
    database: crate::database::DatabaseArgs,

    /// The baseline: an asv results file, or a commit hash or prefix (with --results).
    #[arg(value_name = "BEFORE")]
    before: String,

    /// The results to judge against the baseline, given like BEFORE.
    #[arg(value_name = "AFTER")]
    after: String,

    /// The asv results folder, or a project folder with asv.conf.json, in which to look up
    /// BEFORE and AFTER as commits.
    #[arg(long, value_name = "DIR")]
    results: Option<PathBuf>,

    /// The machine whose results to compare; required when the results folder has several.
    #[arg(long, short = 'm', value_name = "NAME")]
    machine: Option<String>,

    /// Compare only this environment, by its exact asv name such as `py3.12` or
    /// `conda-py3.10`; repeat for several. Default: all environments.
    #[arg(
        long = "env",
        short = 'E',
        visible_alias = "environment",
        value_name = "ENV"
    )]
    envs: Vec<String>,

    /// The suite's benchmarks.json, for units and kinds. Default: benchmarks.json in the
    /// results folder (for a results file, the folder above its machine folder).
    #[arg(long, value_name = "FILE")]
    benchmarks: Option<PathBuf>,

    /// Compare commits stored in pitot's database for this repository (owner/name).
    /// Not available yet.
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,

    /// The factor by which a value must change to be reported: with 1.1, a change of more
    /// than 10% either way.
    #[arg(long, default_value_t = DEFAULT_FACTOR, value_name = "FACTOR")]
    factor: f64,

    /// Judge by the factor alone, without asv's statistical test.
    #[arg(long)]
    no_stats: bool,

    /// Show only benchmarks that got worse or better. With --format asv, fixed failures are
    /// left out too, as asv does.
    #[arg(long)]
    only_changed: bool,

    /// Print one table per outcome: improved, unchanged, worse, not comparable.
    #[arg(long)]
    split: bool,

    /// Row order. With --format asv, `ratio` and `name` keep asv's quirks: `ratio` sorts
    /// the printed ratio as text and `name` sorts by the printed "after" value.
    #[arg(long, value_enum, default_value_t = SortArg::Default)]
    sort: SortArg,

    /// Output format: `asv` prints exactly what `asv compare` prints, `markdown` a verdict
    /// and a table for a pull request, `json` pitot's JSON report.
    #[arg(long, value_enum, default_value_t = FormatArg::Markdown)]
    format: FormatArg,

    /// A branch or tag name to show after BEFORE's hash, as asv shows `<name>`.
    #[arg(long, value_name = "NAME")]
    before_name: Option<String>,

    /// A branch or tag name to show after AFTER's hash.
    #[arg(long, value_name = "NAME")]
    after_name: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SortArg {
    Default,
    Ratio,
    Name,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum FormatArg {
    Asv,
    Markdown,
    Json,
}

/// The two result sets to compare and what to call them.
struct Inputs {
    before: Vec<ResultsFile>,
    after: Vec<ResultsFile>,
    suite: BenchmarkSuite,
    before_hash: String,
    after_hash: String,
}

/// Runs `pitot compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let options = CompareOptions {
        factor: args.factor,
        use_stats: !args.no_stats,
    };
    if let Err(error) = options.validate() {
        bail!("--factor: {error}");
    }
    let inputs = read_inputs(&args)?;

    let mut comparison =
        pitot_stats::compare(&inputs.before, &inputs.after, &inputs.suite, &options)
            .context("cannot compare the results")?;
    if args.format != FormatArg::Asv {
        let threshold = NoiseThreshold::without_history(0, options.factor);
        pitot_stats::assess(&mut comparison, |_| threshold, &DetectionOptions::default())
            .context("failed to apply pitot's verdict to the comparison")?;
    }
    let render_options = RenderOptions {
        before: CommitLabel {
            hash: inputs.before_hash,
            name: args.before_name.clone(),
        },
        after: CommitLabel {
            hash: inputs.after_hash,
            name: args.after_name.clone(),
        },
        split: args.split,
        only_changed: args.only_changed,
        sort: match args.sort {
            SortArg::Default => SortOrder::Default,
            SortArg::Ratio => SortOrder::Ratio,
            SortArg::Name => SortOrder::Name,
        },
    };
    let text = match args.format {
        FormatArg::Asv => pitot_report::render_asv(&comparison, &render_options),
        FormatArg::Markdown => pitot_report::render_markdown(&comparison, &render_options),
        FormatArg::Json => pitot_report::render_json(&comparison, &render_options)
            .context("failed to encode the comparison as JSON")?,
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("failed to write the report to standard output")?;

    // Without assessment (`--format asv`) this is asv's verdict with the
    // benchmark's direction taken into account.
    Ok(if comparison.judged_worse() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_inputs(args: &CompareArgs) -> anyhow::Result<Inputs> {
    if let Some(repo) = &args.repo {
        return read_store_inputs(args, repo);
    }
    let before_is_file = Path::new(&args.before).is_file();
    let after_is_file = Path::new(&args.after).is_file();
    match (before_is_file, after_is_file, &args.results) {
        (true, true, _) => read_file_inputs(args),
        (false, false, Some(results)) => read_commit_inputs(args, results),
        (true, false, _) | (false, true, _) => {
            let (file, other) = if before_is_file {
                (&args.before, &args.after)
            } else {
                (&args.after, &args.before)
            };
            bail!(
                "{file:?} is a file but {other:?} is not; give two results files, \
                 or two commits with --results DIR"
            )
        }
        (false, false, None) => bail!(
            "{:?} is not a results file; to compare commits, add --results DIR \
             (an asv results folder or a project folder with asv.conf.json)",
            args.before
        ),
    }
}

/// Loads both commits from pitot's store: `--repo R --machine M [--env E]`.
fn read_store_inputs(args: &CompareArgs, repo: &str) -> anyhow::Result<Inputs> {
    let repo: pitot_store::RepoName = repo.parse().with_context(|| format!("--repo {repo:?}"))?;
    let machine = args
        .machine
        .clone()
        .context("--machine is required with --repo: name the machine whose results to compare")?;
    let env = match args.envs.as_slice() {
        [] => None,
        [env] => Some(env.clone()),
        _ => bail!("--repo takes at most one --env"),
    };
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let database = crate::database::Database::open(&args.database).await?;
        let loaded = async {
            let suite = database.store.load_suite(&repo).await?;
            let before = database.store.load_commit(&repo, &machine, env.as_deref(), &args.before).await?;
            let after = database.store.load_commit(&repo, &machine, env.as_deref(), &args.after).await?;
            anyhow::Ok((suite, before, after))
        }
        .await;
        database.close().await;
        let (suite, before, after) = loaded?;
        Ok(Inputs {
            before_hash: before.first().map(|file| file.commit_hash.clone()).unwrap_or_default(),
            after_hash: after.first().map(|file| file.commit_hash.clone()).unwrap_or_default(),
            before,
            after,
            suite,
        })
    })
}

fn read_file_inputs(args: &CompareArgs) -> anyhow::Result<Inputs> {
    let before_path = Path::new(&args.before);
    let after_path = Path::new(&args.after);
    let before = load::read_results_file(before_path)?;
    let after = load::read_results_file(after_path)?;
    let benchmarks_path = match &args.benchmarks {
        Some(path) => path.clone(),
        None => load::benchmarks_beside(before_path)?,
    };
    let suite = load::read_benchmarks(&benchmarks_path)?;
    Ok(Inputs {
        before_hash: before.commit_hash.clone(),
        after_hash: after.commit_hash.clone(),
        before: vec![before],
        after: vec![after],
        suite,
    })
}

fn read_commit_inputs(args: &CompareArgs, results: &Path) -> anyhow::Result<Inputs> {
    let dir = ResultsDir::open(results).context("--results")?;
    let machine = load::choose_machine(&dir, args.machine.as_deref())?;
    let suite = load::suite_of(&dir, args.benchmarks.as_deref())?;
    let before = load::load_commit(&dir, &machine, &args.before, &args.envs)?;
    let after = load::load_commit(&dir, &machine, &args.after, &args.envs)?;
    Ok(Inputs {
        before_hash: before.commit_hash,
        after_hash: after.commit_hash,
        before: before.files,
        after: after.files,
        suite,
    })
}
