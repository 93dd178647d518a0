//! Detected change points of default-branch history and their triage.
//!
//! The server runs the detector (`pitot_stats::change_points`) over the
//! values this module loads and stores what it finds with
//! [`record_detections`]. A detection is keyed by series and the first
//! commit after the step, so running it again updates the numbers and
//! keeps the triage state. The table is described in its migration.

use chrono::{DateTime, Utc};
use pitot_asv::BenchmarkType;
use sqlx::{PgConnection, PgExecutor};

use crate::suite::parse_kind;
use crate::StoreError;

/// The triage decision people made about a change point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriageState {
    Untriaged,
    Acknowledged,
    Investigating,
    Fixed,
    WontFix,
    FalseAlarm,
}

impl TriageState {
    /// Every state, in the order a person works through them.
    pub const ALL: [TriageState; 6] = [
        TriageState::Untriaged,
        TriageState::Acknowledged,
        TriageState::Investigating,
        TriageState::Fixed,
        TriageState::WontFix,
        TriageState::FalseAlarm,
    ];

    /// Returns the name stored in the `state` column and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TriageState::Untriaged => "untriaged",
            TriageState::Acknowledged => "acknowledged",
            TriageState::Investigating => "investigating",
            TriageState::Fixed => "fixed",
            TriageState::WontFix => "wont_fix",
            TriageState::FalseAlarm => "false_alarm",
        }
    }

    /// Parses a state name, or returns `None` for an unknown one.
    pub fn parse(value: &str) -> Option<TriageState> {
        TriageState::ALL
            .into_iter()
            .find(|state| state.as_str() == value)
    }

    /// Returns the valid names, comma-separated, for error messages.
    pub fn names() -> String {
        let names: Vec<&str> = TriageState::ALL
            .iter()
            .map(|state| state.as_str())
            .collect();
        names.join(", ")
    }
}

/// One usable result of a series, for detection.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionPoint {
    pub series_id: i64,
    pub commit_id: i64,
    pub value: f64,
    /// The benchmark's version in this run; detection never spans a
    /// version change, because results of different versions are not
    /// comparable.
    pub version_id: Option<i32>,
}

/// A series' benchmark type and unit, from which its direction follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesKind {
    pub series_id: i64,
    /// `None` for a benchmark that `benchmarks.json` did not describe.
    pub kind: Option<BenchmarkType>,
    pub unit: Option<String>,
}

/// A change point found by the detector, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRegression {
    pub series_id: i64,
    pub before_commit_id: i64,
    pub after_commit_id: i64,
    pub mean_before: f64,
    pub mean_after: f64,
    pub ratio: Option<f64>,
    pub p_value: f64,
    /// `worse` or `better`.
    pub direction: &'static str,
}

/// A stored change point with its series, commits and triage.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    pub id: i64,
    pub repository: String,
    pub series_id: i64,
    pub benchmark: String,
    pub params: Vec<String>,
    pub machine: String,
    pub environment: String,
    pub unit: Option<String>,
    pub before_commit: String,
    pub after_commit: String,
    pub after_committed_at: Option<DateTime<Utc>>,
    pub mean_before: f64,
    pub mean_after: f64,
    pub ratio: Option<f64>,
    pub p_value: f64,
    pub direction: String,
    pub current: bool,
    pub detected_at: DateTime<Utc>,
    pub state: String,
    pub state_changed_by: Option<String>,
    pub state_changed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// The filters of [`list_regressions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegressionFilter {
    pub state: Option<TriageState>,
    /// An exact benchmark name.
    pub benchmark: Option<String>,
    /// Also list change points that the latest detection no longer finds.
    pub include_stale: bool,
    pub limit: i64,
}

/// Returns the series that have a result at commit `sha` of the repository:
/// those a history job for that commit touched.
pub async fn series_at_commit(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    sha: &str,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar!(
        r#"SELECT DISTINCT r.series_id AS "series_id!"
           FROM results r
           JOIN commits c ON c.id = r.commit_id
           WHERE c.repository_id = $1 AND c.sha = $2
           ORDER BY 1"#,
        repository_id,
        sha
    )
    .fetch_all(executor)
    .await?;
    Ok(ids)
}

/// Returns every series of the repository, for a detection over its whole
/// history.
pub async fn repository_series(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar!(
        "SELECT s.id FROM series s
         JOIN benchmarks b ON b.id = s.benchmark_id
         WHERE b.repository_id = $1
         ORDER BY s.id",
        repository_id
    )
    .fetch_all(executor)
    .await?;
    Ok(ids)
}

/// Returns the measured default-branch results of `series_ids`, grouped by
/// series and oldest first within each.
///
/// Failed and skipped results are left out. "Default branch" means as in
/// `Store::recent_default_branch_values`: commits that are not the head of
/// a pull request job. Results of commits without a date are left out,
/// because they have no place in the order.
pub async fn default_branch_points(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    series_ids: &[i64],
) -> Result<Vec<DetectionPoint>, StoreError> {
    let points = sqlx::query_as!(
        DetectionPoint,
        r#"SELECT r.series_id, r.commit_id, r.value AS "value!", r.version_id
           FROM results r
           JOIN commits c ON c.id = r.commit_id
           WHERE r.series_id = ANY($2::bigint[])
             AND r.outcome = 'value' AND r.committed_at IS NOT NULL
             AND NOT EXISTS (
                 SELECT 1 FROM jobs j
                 WHERE j.repository_id = $1 AND j.pr_number IS NOT NULL AND j.head_sha = c.sha
             )
           ORDER BY r.series_id, r.committed_at, r.commit_id"#,
        repository_id,
        series_ids
    )
    .fetch_all(executor)
    .await?;
    Ok(points)
}

/// Returns the benchmark type and unit of each of `series_ids`.
pub async fn series_kinds(
    executor: impl PgExecutor<'_>,
    series_ids: &[i64],
) -> Result<Vec<SeriesKind>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT s.id AS series_id, b.kind, b.unit
           FROM series s JOIN benchmarks b ON b.id = s.benchmark_id
           WHERE s.id = ANY($1::bigint[])"#,
        series_ids
    )
    .fetch_all(executor)
    .await?;
    let kinds = rows
        .into_iter()
        .map(|row| SeriesKind {
            series_id: row.series_id,
            kind: row.kind.as_deref().map(parse_kind),
            unit: row.unit,
        })
        .collect();
    Ok(kinds)
}

/// Stores the change points that detection found in `series_ids` and marks
/// the series' other stored change points as no longer current. Returns
/// how many change points were new.
///
/// Run it in a transaction so a reader never sees a series without its
/// change points. A change point found again keeps its id, its first
/// detection time and its triage.
pub async fn record_detections(
    conn: &mut PgConnection,
    repository_id: i32,
    series_ids: &[i64],
    found: &[NewRegression],
) -> Result<u64, StoreError> {
    let column = |get: fn(&NewRegression) -> i64| found.iter().map(get).collect::<Vec<i64>>();
    let series = column(|found| found.series_id);
    let before = column(|found| found.before_commit_id);
    let after = column(|found| found.after_commit_id);
    let mean_before: Vec<f64> = found.iter().map(|found| found.mean_before).collect();
    let mean_after: Vec<f64> = found.iter().map(|found| found.mean_after).collect();
    let ratio: Vec<Option<f64>> = found.iter().map(|found| found.ratio).collect();
    let p_value: Vec<f64> = found.iter().map(|found| found.p_value).collect();
    let direction: Vec<String> = found
        .iter()
        .map(|found| found.direction.to_owned())
        .collect();

    // `xmax = 0` is true only for a row this statement inserted, which is
    // how PostgreSQL distinguishes an insert from an update in `ON CONFLICT`.
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO regressions AS old (repository_id, series_id, before_commit_id,
                   after_commit_id, mean_before, mean_after, ratio, p_value, direction)
           SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[],
                                    $5::float8[], $6::float8[], $7::float8[], $8::float8[],
                                    $9::text[])
           ON CONFLICT ON CONSTRAINT regressions_series_after_commit_key DO UPDATE
           SET before_commit_id = EXCLUDED.before_commit_id,
               mean_before = EXCLUDED.mean_before,
               mean_after = EXCLUDED.mean_after,
               ratio = EXCLUDED.ratio,
               p_value = EXCLUDED.p_value,
               direction = EXCLUDED.direction,
               current = true,
               last_detected_at = now()
           RETURNING (xmax = 0) AS "inserted!""#,
        repository_id,
        &series,
        &before,
        &after,
        &mean_before,
        &mean_after,
        &ratio as &[Option<f64>],
        &p_value,
        &direction,
    )
    .fetch_all(&mut *conn)
    .await?;

    sqlx::query!(
        r#"UPDATE regressions SET current = false
           WHERE series_id = ANY($1::bigint[]) AND current
             AND (series_id, after_commit_id) NOT IN (
                 SELECT * FROM UNNEST($2::bigint[], $3::bigint[])
             )"#,
        series_ids,
        &series,
        &after,
    )
    .execute(&mut *conn)
    .await?;
    Ok(inserted.iter().filter(|&&new| new).count() as u64)
}

/// Returns the repository's change points, newest first by the date of
/// the first commit after the step.
pub async fn list_regressions(
    executor: impl PgExecutor<'_>,
    repository: &str,
    filter: &RegressionFilter,
) -> Result<Vec<Regression>, StoreError> {
    let rows = sqlx::query_as!(
        Regression,
        r#"SELECT g.id, repo.name AS repository, g.series_id, b.name AS benchmark, s.params,
                  m.name AS machine, e.name AS environment, b.unit,
                  before_c.sha AS before_commit, after_c.sha AS after_commit,
                  after_c.committed_at AS after_committed_at,
                  g.mean_before, g.mean_after, g.ratio, g.p_value, g.direction, g.current,
                  g.detected_at, g.state, g.state_changed_by, g.state_changed_at, g.note
           FROM regressions g
           JOIN repositories repo ON repo.id = g.repository_id
           JOIN series s ON s.id = g.series_id
           JOIN benchmarks b ON b.id = s.benchmark_id
           JOIN machines m ON m.id = s.machine_id
           JOIN environments e ON e.id = s.environment_id
           JOIN commits before_c ON before_c.id = g.before_commit_id
           JOIN commits after_c ON after_c.id = g.after_commit_id
           WHERE lower(repo.name) = lower($1)
             AND ($2::text IS NULL OR g.state = $2)
             AND ($3::text IS NULL OR b.name = $3)
             AND (g.current OR $4)
           ORDER BY after_c.committed_at DESC NULLS LAST, g.id DESC
           LIMIT $5"#,
        repository,
        filter.state.map(TriageState::as_str),
        filter.benchmark.as_deref(),
        filter.include_stale,
        filter.limit,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// Returns one stored change point, or `None` when no row has that id.
pub async fn find_regression(
    executor: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<Regression>, StoreError> {
    let row = sqlx::query_as!(
        Regression,
        r#"SELECT g.id, repo.name AS repository, g.series_id, b.name AS benchmark, s.params,
                  m.name AS machine, e.name AS environment, b.unit,
                  before_c.sha AS before_commit, after_c.sha AS after_commit,
                  after_c.committed_at AS after_committed_at,
                  g.mean_before, g.mean_after, g.ratio, g.p_value, g.direction, g.current,
                  g.detected_at, g.state, g.state_changed_by, g.state_changed_at, g.note
           FROM regressions g
           JOIN repositories repo ON repo.id = g.repository_id
           JOIN series s ON s.id = g.series_id
           JOIN benchmarks b ON b.id = s.benchmark_id
           JOIN machines m ON m.id = s.machine_id
           JOIN environments e ON e.id = s.environment_id
           JOIN commits before_c ON before_c.id = g.before_commit_id
           JOIN commits after_c ON after_c.id = g.after_commit_id
           WHERE g.id = $1"#,
        id
    )
    .fetch_optional(executor)
    .await?;
    Ok(row)
}

/// Sets a change point's triage state and note, recording who changed it
/// and when. Returns `false` when no row has that id.
pub async fn set_triage(
    executor: impl PgExecutor<'_>,
    id: i64,
    state: TriageState,
    note: Option<&str>,
    changed_by: &str,
) -> Result<bool, StoreError> {
    let updated = sqlx::query!(
        "UPDATE regressions
         SET state = $2, note = $3, state_changed_by = $4, state_changed_at = now()
         WHERE id = $1",
        id,
        state.as_str(),
        note,
        changed_by,
    )
    .execute(executor)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// A current change point of one series, for marking the history chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChangePoint {
    pub id: i64,
    pub before_commit: String,
    pub after_commit: String,
    pub ratio: Option<f64>,
    pub direction: String,
    pub state: String,
}

/// Returns the current change points of a series, oldest first.
pub async fn series_change_points(
    executor: impl PgExecutor<'_>,
    series_id: i64,
) -> Result<Vec<SeriesChangePoint>, StoreError> {
    let rows = sqlx::query_as!(
        SeriesChangePoint,
        r#"SELECT g.id, before_c.sha AS before_commit, after_c.sha AS after_commit,
                  g.ratio, g.direction, g.state
           FROM regressions g
           JOIN commits before_c ON before_c.id = g.before_commit_id
           JOIN commits after_c ON after_c.id = g.after_commit_id
           WHERE g.series_id = $1 AND g.current
           ORDER BY after_c.committed_at, g.id"#,
        series_id
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// Returns the repository's current change points whose first commit after
/// the step is newer than commit `from` and no newer than commit `to`, by
/// commit date, worse ones first and then by size.
///
/// NOTE: commit dates stand in for the branch's order, because pitot
/// stores no commit graph. A commit merged late with an old date falls
/// before `from` and is missed.
pub async fn regressions_between(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    from: &str,
    to: &str,
) -> Result<Vec<Regression>, StoreError> {
    let rows = sqlx::query_as!(
        Regression,
        r#"WITH bounds AS (
               SELECT (SELECT committed_at FROM commits WHERE repository_id = $1 AND sha = $2) AS low,
                      (SELECT committed_at FROM commits WHERE repository_id = $1 AND sha = $3) AS high
           )
           SELECT g.id, repo.name AS repository, g.series_id, b.name AS benchmark, s.params,
                  m.name AS machine, e.name AS environment, b.unit,
                  before_c.sha AS before_commit, after_c.sha AS after_commit,
                  after_c.committed_at AS after_committed_at,
                  g.mean_before, g.mean_after, g.ratio, g.p_value, g.direction, g.current,
                  g.detected_at, g.state, g.state_changed_by, g.state_changed_at, g.note
           FROM regressions g
           CROSS JOIN bounds
           JOIN repositories repo ON repo.id = g.repository_id
           JOIN series s ON s.id = g.series_id
           JOIN benchmarks b ON b.id = s.benchmark_id
           JOIN machines m ON m.id = s.machine_id
           JOIN environments e ON e.id = s.environment_id
           JOIN commits before_c ON before_c.id = g.before_commit_id
           JOIN commits after_c ON after_c.id = g.after_commit_id
           WHERE g.repository_id = $1 AND g.current
             AND after_c.committed_at > bounds.low AND after_c.committed_at <= bounds.high
           ORDER BY g.direction DESC, abs(ln(coalesce(g.ratio, 1))) DESC, g.id"#,
        repository_id,
        from,
        to
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// A published release whose commit has results, for marking charts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseMarker {
    pub tag: String,
    pub sha: String,
}

/// Returns the repository's releases whose commit has stored results, oldest
/// first by commit date.
pub async fn release_markers(
    executor: impl PgExecutor<'_>,
    repository: &str,
) -> Result<Vec<ReleaseMarker>, StoreError> {
    let rows = sqlx::query_as!(
        ReleaseMarker,
        r#"SELECT rel.tag, c.sha
           FROM releases rel
           JOIN repositories repo ON repo.id = rel.repository_id
           JOIN commits c ON c.repository_id = rel.repository_id AND c.sha = rel.sha
           WHERE lower(repo.name) = lower($1)
           ORDER BY c.committed_at, rel.tag"#,
        repository
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// Returns the id of the repository named `repository` (case-insensitive),
/// or `None` when pitot has no such repository.
pub async fn find_repository_id(
    executor: impl PgExecutor<'_>,
    repository: &str,
) -> Result<Option<i32>, StoreError> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM repositories WHERE lower(name) = lower($1)",
        repository
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}
