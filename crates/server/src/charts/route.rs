//! `GET /charts/jobs/{job_id}/{file}`: one chart of a job as PNG.

use std::str::FromStr;

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use pitot_stats::Comparison;
use pitot_store::commit_jobs::JobKind;
use pitot_store::job_reports;
use pitot_store::{RepoName, Store};
use pitot_store::jobs::{self, Job, JobState};

use super::inputs::{history_chart, ChartJob, Charted};
use crate::blocking::run_blocking;
use crate::error::AppError;
use crate::job_comparison::parse_report;
use crate::noise_thresholds::{assess_with_history, Sides};
use crate::state::AppState;

/// How long caches may keep a chart: a year, the longest HTTP/1.1 allows.
/// The URL changes whenever the content does, so nothing ever expires.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A chart's file name, parsed from the last path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChartFile {
    /// `summary-{digest}.png`
    Summary { digest: String },
    /// `history-{row}-{digest}.png`
    History { row: usize, digest: String },
}

impl ChartFile {
    fn digest(&self) -> &str {
        match self {
            ChartFile::Summary { digest } | ChartFile::History { digest, .. } => digest,
        }
    }
}

impl FromStr for ChartFile {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let stem = name.strip_suffix(".png").ok_or(())?;
        let is_digest = |text: &str| {
            !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if let Some(digest) = stem.strip_prefix("summary-") {
            return is_digest(digest)
                .then(|| ChartFile::Summary {
                    digest: digest.to_ascii_lowercase(),
                })
                .ok_or(());
        }
        let rest = stem.strip_prefix("history-").ok_or(())?;
        let (row, digest) = rest.split_once('-').ok_or(())?;
        let row = row.parse().map_err(|_| ())?;
        is_digest(digest)
            .then(|| ChartFile::History {
                row,
                digest: digest.to_ascii_lowercase(),
            })
            .ok_or(())
    }
}

/// Serves one chart of a job as PNG with cache headers for an immutable
/// URL. The chart is rebuilt from the stored report and history. A digest
/// that differs from the chart's current one is a stale URL, so it gets 404.
pub(crate) async fn chart_png(
    State(state): State<AppState>,
    Path((job_id, file)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let chart_file: ChartFile = file.parse().map_err(|()| {
        AppError::NotFound(format!(
            "no chart named {file:?}: chart names are summary-<digest>.png \
             or history-<row>-<digest>.png"
        ))
    })?;
    let (job, base_sha, comparison) = load_comparison(&state, job_id).await?;
    let chart_job = ChartJob {
        job_id,
        repository_id: job.repository_id,
        repository: &job.repository,
        base_sha: &base_sha,
        head_sha: &job.head_sha,
    };
    let stale = || {
        AppError::NotFound(format!(
            "chart {file:?} of job {job_id} is out of date or unknown; \
             the job's page links its current charts"
        ))
    };

    let charted = Charted::load(&state, &chart_job, &comparison, None).await?;
    let png = match &chart_file {
        ChartFile::Summary { digest } => {
            let chart = charted.summary()?;
            if chart.digest() != *digest {
                return Err(stale());
            }
            run_blocking(move || chart.render_png()).await?
        }
        ChartFile::History { row, digest } => {
            let chart = history_chart(&state, &chart_job, &charted.comparison, *row)
                .await?
                .ok_or_else(&stale)?;
            if chart.digest() != *digest {
                return Err(stale());
            }
            run_blocking(move || chart.render_png()).await?
        }
    }
    .context("failed to render the chart")?;
    Ok(png_response(png, chart_file.digest()))
}

fn png_response(png: Vec<u8>, digest: &str) -> Response {
    let mut response = png.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{digest}\"")) {
        headers.insert(header::ETAG, etag);
    }
    response
}

/// Loads a job, its merge-base and the comparison of its latest report.
/// A job without a comparison (not reported yet, or failed) is 404, and
/// one whose report data retention deleted is 410.
pub(crate) async fn load_comparison(
    state: &AppState,
    job_id: i64,
) -> Result<(Job, String, Comparison), AppError> {
    let job = jobs::load_job(&state.pool, job_id)
        .await
        .context("failed to load the job")?
        .ok_or_else(|| AppError::NotFound(format!("job {job_id} not found")))?;
    let no_comparison =
        |why: &str| AppError::NotFound(format!("job {job_id} has no charts: {why}"));
    if job.state == JobState::Failed {
        return Err(no_comparison("the run failed"));
    }
    if job.kind == JobKind::Calibration {
        return Err(no_comparison(&format!(
            "a calibration job measures noise and compares no commits; \
             GET /api/v1/repositories/{}/calibrations lists what it measured",
            job.repository
        )));
    }
    let report = job_reports::latest_job_report(&state.pool, job_id)
        .await
        .context("failed to load the job's report")?;
    let Some(report) = report else {
        if let Some(gone) = crate::retention::deleted_report_error(state, job_id).await? {
            return Err(gone);
        }
        return Err(no_comparison("no agent has reported results yet"));
    };
    if report.error.is_some() {
        return Err(no_comparison("the run failed"));
    }
    if let Some((base_sha, comparison)) = state.comparison_cache.get(report.id) {
        return Ok((job, base_sha, comparison));
    }
    // Held until the comparison is built: the report's files and the
    // history they are judged against are the costly part.
    let _permit = state
        .comparison_loads
        .acquire()
        .await
        .context("the comparison loads were closed")?;
    let base_sha = job
        .base_sha
        .clone()
        .or_else(|| report.base_sha.clone())
        .ok_or_else(|| no_comparison("the merge-base is not known"))?;
    let files = job_reports::load_report_files(&state.pool, report.id)
        .await
        .context("failed to load the job's results files")?;

    let head_sha = job.head_sha.clone();
    let compare_base = base_sha.clone();
    let comparison = run_blocking(move || {
        parse_report(&files, report.benchmarks_json.as_deref())?.compare(&compare_base, &head_sha)
    })
    .await?
    .map_err(|error| no_comparison(&format!("{error:#}")))?;
    let mut comparison = comparison;
    let repo: RepoName = job
        .repository
        .parse()
        .map_err(|error| anyhow::anyhow!("stored repository name {:?}: {error}", job.repository))?;
    let store = Store::from_pool(state.pool.clone());
    assess_with_history(&store, &repo, &mut comparison, &base_sha, Sides::OneRun).await?;
    state.comparison_cache.insert(report.id, &base_sha, &comparison);
    Ok((job, base_sha, comparison))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_file_names_parse() {
        assert_eq!(
            "summary-0123abcd.png".parse(),
            Ok(ChartFile::Summary {
                digest: "0123abcd".to_owned()
            })
        );
        assert_eq!(
            "history-12-ABCDEF.png".parse(),
            Ok(ChartFile::History {
                row: 12,
                digest: "abcdef".to_owned()
            })
        );
    }

    #[test]
    fn bad_chart_file_names_are_rejected() {
        let cases = [
            ("summary-0123.svg", "other extension"),
            ("summary-.png", "empty digest"),
            ("summary-xyz.png", "not hex"),
            ("history-0123.png", "no row"),
            ("history--1-0123.png", "negative row"),
            ("history-a-0123.png", "row not a number"),
            ("chart-0123.png", "unknown kind"),
            ("summary-../x.png", "path characters"),
        ];
        for (name, case) in cases {
            assert_eq!(name.parse::<ChartFile>(), Err(()), "{case}");
        }
    }
}
