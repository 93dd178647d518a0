//! `pitot import` on the real asv corpora: every run and value that asv's own
//! loader reads ends up in PostgreSQL, and a second import adds nothing.
//!
//! The expected counts come from `tests/fixtures/asv/corpus_counts.tsv`,
//! which asv 0.6.6 itself produced from the same files, so they are
//! independent of pitot's parser. The corpora live in `../shared/data` next
//! to the repository; a test whose corpus is absent prints why and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::PgPool;

/// One corpus: the folder passed to `pitot import`, relative to the
/// `asv-results` data folder, and the prefix of its files' paths in
/// `corpus_counts.tsv`.
struct Corpus {
    folder: &'static str,
    counts_prefix: &'static str,
}

const SMALL_CORPORA: [Corpus; 5] = [
    Corpus { folder: "conda-benchmarks", counts_prefix: "asv-results/conda-benchmarks/results/" },
    Corpus { folder: "conda-benchmarks/dot_asv/results", counts_prefix: "asv-results/conda-benchmarks/dot_asv/results/" },
    Corpus { folder: "photutils-benchmarks", counts_prefix: "asv-results/photutils-benchmarks/results/" },
    Corpus { folder: "plasmapy-benchmarks/results", counts_prefix: "asv-results/plasmapy-benchmarks/results/" },
    Corpus { folder: "uxarray-asv/results", counts_prefix: "asv-results/uxarray-asv/results/" },
];

const DJANGO: Corpus = Corpus { folder: "django-asv", counts_prefix: "asv-results/django-asv/results/" };

#[sqlx::test]
async fn small_corpora_import_fully(pool: PgPool) {
    for (index, corpus) in SMALL_CORPORA.iter().enumerate() {
        let repo = format!("corpus/c{index}");
        check_corpus(&pool, corpus, &repo).await;
    }
}

/// The largest corpus: 4,675 files and 256,000 values.
#[sqlx::test]
async fn django_corpus_imports_fully(pool: PgPool) {
    check_corpus(&pool, &DJANGO, "django/django").await;
}

#[sqlx::test]
async fn import_rejects_invalid_repo(pool: PgPool) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asv/example_results");

    let output = pitot_import(&pool, &folder, "not-a-repo").await;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid repository name \"not-a-repo\""), "{stderr}");
}

#[sqlx::test]
async fn import_reports_skipped_files(pool: PgPool) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asv/example_results");

    let output = pitot_import(&pool, &folder, "asv/example").await;

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let skipped: Vec<&str> = stderr.lines().filter(|line| line.starts_with("skipped ")).collect();
    let mut unique = skipped.clone();
    unique.sort_unstable();
    unique.dedup();
    assert!(!skipped.is_empty(), "{stderr}");
    assert_eq!(skipped.len(), unique.len(), "each skip once: {stderr}");
}

/// Imports `corpus` twice and checks the stored counts against asv's.
async fn check_corpus(pool: &PgPool, corpus: &Corpus, repo: &str) {
    let Some(folder) = corpus_folder(corpus.folder) else {
        eprintln!("skipping {}: the shared asv corpora are not next to the repository", corpus.folder);
        return;
    };
    let (expected_runs, expected_values) = asv_counts(corpus.counts_prefix);

    let first = pitot_import(pool, &folder, repo).await;
    let second = pitot_import(pool, &folder, repo).await;

    assert!(first.status.success(), "{}: {}", corpus.folder, String::from_utf8_lossy(&first.stderr));
    let (runs, values) = stored_counts(pool, repo).await;
    assert_eq!(runs, expected_runs, "{}: runs", corpus.folder);
    assert_eq!(values, expected_values, "{}: values", corpus.folder);
    assert!(second.status.success(), "{}: {}", corpus.folder, String::from_utf8_lossy(&second.stderr));
    let summary = String::from_utf8_lossy(&second.stdout);
    assert!(summary.contains("added nothing"), "{}: {summary}", corpus.folder);
    assert_eq!(stored_counts(pool, repo).await, (runs, values), "{}: after second import", corpus.folder);
}

fn corpus_folder(folder: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/asv-results").join(folder);
    path.is_dir().then_some(path)
}

/// Returns the files asv reads and the values they hold, from the counts
/// asv 0.6.6 wrote for every file under `prefix`.
fn asv_counts(prefix: &str) -> (i64, i64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asv/corpus_counts.tsv");
    let text = std::fs::read_to_string(&path).expect("read corpus_counts.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect("column in header");
    let (path_column, verdict_column, values_column) = (column("path"), column("verdict"), column("values"));

    let mut runs = 0;
    let mut values = 0;
    for line in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        if !fields[path_column].starts_with(prefix) || fields[verdict_column] != "ok" {
            continue;
        }
        runs += 1;
        values += fields[values_column].parse::<i64>().expect("values is a number");
    }
    assert!(runs > 0, "no files under {prefix} in corpus_counts.tsv");
    (runs, values)
}

async fn stored_counts(pool: &PgPool, repo: &str) -> (i64, i64) {
    let runs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM runs JOIN repositories r ON r.id = runs.repository_id WHERE r.name = $1",
    )
    .bind(repo)
    .fetch_one(pool)
    .await
    .expect("count runs");
    let values: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM results JOIN runs ON runs.id = results.run_id
         JOIN repositories r ON r.id = runs.repository_id WHERE r.name = $1",
    )
    .bind(repo)
    .fetch_one(pool)
    .await
    .expect("count values");
    (runs, values)
}

/// Runs the `pitot` binary's import against the test's own database.
async fn pitot_import(pool: &PgPool, folder: &Path, repo: &str) -> std::process::Output {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .expect("database name");
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL for sqlx::test");
    let server = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    let url = format!("{server}/{database}");
    tokio::task::spawn_blocking({
        let folder = folder.to_path_buf();
        let repo = repo.to_owned();
        move || {
            Command::new(env!("CARGO_BIN_EXE_pitot"))
                .args(["import", "--repo", &repo])
                .arg(&folder)
                .env("DATABASE_URL", url)
                .output()
                .expect("run pitot")
        }
    })
    .await
    .expect("join")
}
