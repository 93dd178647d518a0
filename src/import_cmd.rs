//! `pitot import`: bulk-import an asv results folder into the store.
//!
//! Files are read and parsed on all cores (rayon) and written through a few
//! database connections at once, several files per transaction
//! (`Store::ingest_batch`). Each file is still written whole or not at all,
//! and ingesting is idempotent, so an import can be stopped and run again.
//!
//! All files of one commit go to the same connection. asv writes one file
//! per environment and commit, and a folder lists them next to each other.
//! Spread over connections, they would insert the same `commits` row at the
//! same time, and each insert would wait for the transaction ahead of it.

use std::hash::{Hash, Hasher};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pitot_asv::ResultsFile;
use pitot_store::{IngestOutcome, RepoName, Store, StoreError};
use rayon::prelude::*;
use tokio::sync::mpsc;

use crate::database::{Database, DatabaseArgs};
use crate::results_dir::{self, ResultPath, ResultsDir, Skip};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// An asv results folder, or a project folder with asv.conf.json.
    pub path: PathBuf,

    /// Repository to store the results under, as OWNER/NAME. Default: taken
    /// from the `repo` URL in asv.conf.json when it points to GitHub, else
    /// `local/<folder name>` (the parent's name when the folder is `results`).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<RepoName>,

    /// Database connections that write at the same time.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub connections: u32,

    /// Results files written per database transaction. Each file is still
    /// stored whole or not at all: when a transaction fails, its files are
    /// written again one per transaction.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub files_per_transaction: u32,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `pitot import`.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let dir = ResultsDir::open(&args.path)?;
    let repo = match args.repo.clone() {
        Some(repo) => repo,
        None => default_repo(&args.path, &dir)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let totals = runtime.block_on(import(&args, &dir, &repo))?;
    println!("{}", totals.summary(&repo, &args.path));
    Ok(ExitCode::SUCCESS)
}

async fn import(args: &ImportArgs, dir: &ResultsDir, repo: &RepoName) -> anyhow::Result<Totals> {
    // A crash during an import loses at most the last few commits, and
    // running the import again restores them; see `with_asynchronous_commit`.
    // The catalog cache lives as long as this import.
    let mut database_args = args.database.clone();
    database_args.max_connections = args.connections + 1;
    let database = Database::open(&database_args).await?;
    let store = database.store.clone().with_asynchronous_commit(true).with_catalog_cache();
    let result = import_into(args, dir, repo, store).await;
    database.close().await;
    result
}

async fn import_into(args: &ImportArgs, dir: &ResultsDir, repo: &RepoName, store: Store) -> anyhow::Result<Totals> {

    if let Some(suite) = dir.benchmarks()? {
        store.upsert_suite(repo, &suite).await.context("failed to store benchmarks.json")?;
    }
    for machine in dir.machines()? {
        store
            .upsert_machine(repo, &machine)
            .await
            .with_context(|| format!("failed to store machine.json of {}", machine.machine))?;
    }

    let paths = dir.result_paths()?;
    let progress = Progress::new(paths.len() as u64);
    // Each writer's queue takes one transaction's worth of parsed files, so
    // memory stays bounded when parsing outruns the database.
    let batch_size = args.files_per_transaction as usize;
    let mut senders = Vec::new();
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        let (sender, receiver) = mpsc::channel(batch_size);
        senders.push(sender);
        let writer = Writer {
            store: store.clone(),
            repo: repo.clone(),
            progress: progress.clone(),
        };
        writers.spawn(writer.run(receiver, batch_size));
    }
    let parser = tokio::task::spawn_blocking(move || parse_all(paths, senders));

    let mut totals = Totals::default();
    while let Some(joined) = writers.join_next().await {
        totals.add(&joined.context("an import task panicked")??);
    }
    parser.await.context("the parser task panicked")?;
    progress.finish();

    if totals.inserted + totals.replaced > 0 {
        store.vacuum_analyze().await.context("failed to vacuum the results tables")?;
    }
    totals.elapsed = progress.started.elapsed();
    Ok(totals)
}

/// One read results file, or why it was skipped.
type Parsed = Result<(PathBuf, ResultsFile, [u8; 32]), Skip>;

/// Reads, parses and hashes every file on rayon's pool, sending each to the
/// writer that takes its commit. Blocks when that writer's queue is full,
/// which holds the parsers back.
fn parse_all(paths: Vec<ResultPath>, senders: Vec<mpsc::Sender<Parsed>>) {
    paths.into_par_iter().for_each_with(senders, |senders, candidate| {
        let parsed = results_dir::load_result(&candidate)
            .map(|(file, bytes)| (candidate.path, file, pitot_store::file_sha256(&bytes)));
        let writer = match &parsed {
            Ok((_, file, _)) => writer_for_commit(&file.commit_hash, senders.len()),
            Err(_) => 0,
        };
        // A send fails only when that writer has stopped on an error, which
        // the caller reports.
        let _ = senders[writer].blocking_send(parsed);
    });
}

/// Returns the index of the writer, out of `writers`, that ingests the files
/// of `commit`.
fn writer_for_commit(commit: &str, writers: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    commit.to_ascii_lowercase().hash(&mut hasher);
    (hasher.finish() % writers as u64) as usize
}

/// One database connection's share of the import.
struct Writer {
    store: Store,
    repo: RepoName,
    progress: Progress,
}

impl Writer {
    /// Ingests parsed files until the queue is empty and closed, taking up to
    /// `batch_size` queued files per transaction.
    async fn run(self, mut receiver: mpsc::Receiver<Parsed>, batch_size: usize) -> anyhow::Result<Totals> {
        let mut totals = Totals::default();
        let mut batch = Vec::with_capacity(batch_size);
        while receiver.recv_many(&mut batch, batch_size).await > 0 {
            self.write_batch(batch.drain(..), &mut totals).await?;
        }
        Ok(totals)
    }

    async fn write_batch(&self, batch: impl Iterator<Item = Parsed>, totals: &mut Totals) -> anyhow::Result<()> {
        let mut paths = Vec::new();
        let mut files = Vec::new();
        for parsed in batch {
            match parsed {
                Ok((path, file, digest)) => {
                    paths.push(path);
                    files.push((file, digest));
                }
                Err(skip) => {
                    self.progress.report(&skip.to_string());
                    totals.skipped += 1;
                    self.progress.advance(0);
                }
            }
        }
        let borrowed: Vec<(&ResultsFile, [u8; 32])> = files.iter().map(|(file, digest)| (file, *digest)).collect();
        let outcomes = self.store.ingest_batch(&self.repo, &borrowed).await;

        for (path, outcome) in paths.iter().zip(outcomes) {
            let values_before = totals.values;
            match outcome {
                Ok(outcome) => totals.count(outcome),
                // A file the store cannot represent is skipped like one asv
                // cannot read; anything else (the database) stops the import.
                Err(error @ (StoreError::InvalidResults { .. } | StoreError::InvalidCommit { .. })) => {
                    self.progress.report(&format!("skipped {}: {error}", path.display()));
                    totals.skipped += 1;
                }
                Err(error) => return Err(error).with_context(|| format!("failed to import {}", path.display())),
            }
            self.progress.advance(totals.values - values_before);
        }
        Ok(())
    }
}

/// Counts of what an import did.
#[derive(Debug, Default, Clone)]
struct Totals {
    inserted: u64,
    replaced: u64,
    unchanged: u64,
    skipped: u64,
    values: u64,
    elapsed: Duration,
}

impl Totals {
    fn count(&mut self, outcome: IngestOutcome) {
        match outcome {
            IngestOutcome::Inserted { values } => {
                self.inserted += 1;
                self.values += values;
            }
            IngestOutcome::Replaced { values } => {
                self.replaced += 1;
                self.values += values;
            }
            // An import replaces stored runs, so no file is kept.
            IngestOutcome::Unchanged | IngestOutcome::Kept => self.unchanged += 1,
        }
    }

    fn add(&mut self, other: &Totals) {
        self.inserted += other.inserted;
        self.replaced += other.replaced;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.values += other.values;
    }

    fn files(&self) -> u64 {
        self.inserted + self.replaced + self.unchanged + self.skipped
    }

    /// Formats the one-line report printed when the import ends.
    fn summary(&self, repo: &RepoName, path: &Path) -> String {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        let head = format!("imported {} into {repo}", path.display());
        if self.inserted + self.replaced == 0 {
            return format!(
                "{head}: added nothing; {} runs already stored, {} files skipped ({:.1} s)",
                self.unchanged, self.skipped, seconds
            );
        }
        format!(
            "{head}: {} new runs, {} replaced, {} unchanged, {} files skipped; {} values in {:.1} s ({:.0} files/s, {:.0} values/s)",
            self.inserted,
            self.replaced,
            self.unchanged,
            self.skipped,
            self.values,
            seconds,
            self.files() as f64 / seconds,
            self.values as f64 / seconds,
        )
    }
}

/// A progress bar on a terminal; plain messages otherwise.
#[derive(Clone)]
struct Progress {
    bar: Option<ProgressBar>,
    values: Arc<AtomicU64>,
    started: Instant,
}

impl Progress {
    fn new(files: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(files);
            let template = "{elapsed_precise} [{bar:30}] {pos}/{len} files, {msg}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            values: Arc::default(),
            started: Instant::now(),
        }
    }

    /// Prints one line (a skipped file) without breaking the bar.
    fn report(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Counts one processed file that wrote `values` result rows.
    fn advance(&self, values: u64) {
        let Some(bar) = &self.bar else { return };
        let values = self.values.fetch_add(values, Ordering::Relaxed) + values;
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        bar.inc(1);
        bar.set_message(format!("{values} values, {:.0} values/s", values as f64 / seconds));
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Returns the repository name used when `--repo` is not given.
fn default_repo(path: &Path, dir: &ResultsDir) -> anyhow::Result<RepoName> {
    if let Some(repo) = dir.config.as_ref().and_then(|config| config.repo.as_deref()).and_then(github_repo) {
        return Ok(repo);
    }
    let folder = local_folder_name(path);
    format!("local/{folder}")
        .parse()
        .with_context(|| format!("cannot derive a repository name from {}: pass --repo OWNER/NAME", path.display()))
}

/// Returns `owner/name` from a GitHub URL in any form git accepts
/// (`https://github.com/o/n.git`, `git@github.com:o/n`, `ssh://git@github.com/o/n`).
fn github_repo(url: &str) -> Option<RepoName> {
    let url = url.trim().trim_end_matches('/');
    let rest = ["https://", "http://", "ssh://", "git://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .unwrap_or(url);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host_and_path)| host_and_path);
    let path = rest
        .strip_prefix("github.com/")
        .or_else(|| rest.strip_prefix("github.com:"))
        .or_else(|| rest.strip_prefix("www.github.com/"))?;
    let path = path.strip_suffix(".git").unwrap_or(path);
    path.parse().ok()
}

/// The folder name for `local/<folder>`, with characters GitHub does not
/// allow in a repository name replaced by `-`.
fn local_folder_name(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut name = absolute.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name == "results" {
        if let Some(parent) = absolute.parent().and_then(Path::file_name) {
            name = parent.to_string_lossy().into_owned();
        }
    }
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .take(100)
        .collect();
    match cleaned.trim_matches('.') {
        "" => "project".to_owned(),
        _ => cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_urls_give_owner_and_name() {
        let cases = [
            ("https://github.com/django/django.git", "django/django"),
            ("https://github.com/django/django", "django/django"),
            ("http://github.com/astropy/photutils/", "astropy/photutils"),
            ("git@github.com:conda/conda.git", "conda/conda"),
            ("ssh://git@github.com/PlasmaPy/PlasmaPy", "PlasmaPy/PlasmaPy"),
        ];

        for (url, expected) in cases {
            let repo = github_repo(url).map(|repo| repo.to_string());

            assert_eq!(repo.as_deref(), Some(expected), "{url}");
        }
    }

    #[test]
    fn other_urls_give_no_repo() {
        let cases = [
            ("..", "relative path, as asv's own tests use"),
            ("https://gitlab.com/o/n.git", "another host"),
            ("https://github.com/django", "no repository part"),
            ("/home/me/project", "local path"),
        ];

        for (url, case) in cases {
            assert!(github_repo(url).is_none(), "{case}: {url}");
        }
    }

    #[test]
    fn local_name_uses_parent_of_results() {
        let cases = [
            ("/data/uxarray-asv/results", "uxarray-asv"),
            ("/data/my project", "my-project"),
            ("/data/django-asv", "django-asv"),
        ];

        for (path, expected) in cases {
            assert_eq!(local_folder_name(Path::new(path)), expected, "{path}");
        }
    }
}
