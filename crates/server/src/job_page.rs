//! `GET /jobs/{job_id}`: a plain page for one job, the link target of
//! comments and check runs until the dashboard has its own run view.
//! A compared job's page shows its summary chart and links its history
//! charts.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::response::Html;
use pitot_store::jobs;
use pitot_store::reporting;

use crate::charts::{chart_links, load_comparison, ChartJob};
use crate::error::AppError;
use crate::state::AppState;

/// Shows the job's repository, pull request, commits, state, its charts
/// and the comment rendered for it (as text, not as HTML).
pub async fn job_page(
    State(state): State<AppState>,
    Path(job_id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let job = jobs::load_job(&state.pool, job_id)
        .await
        .context("failed to load the job")?
        .ok_or_else(|| AppError::NotFound(format!("job {job_id} not found")))?;
    let outcome = reporting::job_outcome(&state.pool, job_id)
        .await
        .context("failed to load the job's report")?;
    let comment = outcome
        .as_ref()
        .and_then(|outcome| outcome.comment_body.as_deref())
        .unwrap_or("No report yet.");
    let pull_request = job
        .pr_number
        .map(|number| format!(" #{number}"))
        .unwrap_or_default();
    let rows = [
        ("Repository", format!("{}{pull_request}", job.repository)),
        // A `confirm` job re-runs another job's flagged regressions, and
        // that job's comment reports both runs.
        ("Kind", job.kind.as_str().to_owned()),
        ("State", job.state.to_string()),
        ("Head", job.head_sha.clone()),
        (
            "Base (merge-base)",
            job.base_sha
                .clone()
                .unwrap_or_else(|| "not known yet".to_owned()),
        ),
        ("Machine", job.machine.clone().unwrap_or_default()),
        ("Attempt", job.attempt.to_string()),
        ("Error", job.error.clone().unwrap_or_default()),
    ];
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pitot job {job_id}</title></head>\n<body>\n<h1>pitot job {job_id}</h1>\n<table>\n"
    );
    for (name, value) in rows {
        page.push_str(&format!(
            "<tr><th>{name}</th><td>{}</td></tr>\n",
            escape_html(&value)
        ));
    }
    page.push_str("</table>\n");
    page.push_str(&charts_section(&state, job_id).await?);
    page.push_str("<h2>Pull request comment</h2>\n<pre>");
    page.push_str(&escape_html(comment));
    page.push_str("</pre>\n</body></html>\n");
    Ok(Html(page))
}

/// Returns the charts of a compared job as HTML with paths relative to
/// the server, the reason when data retention deleted its report, or
/// nothing when the job has no comparison.
async fn charts_section(state: &AppState, job_id: i64) -> Result<String, AppError> {
    let (job, base_sha, comparison) = match load_comparison(state, job_id).await {
        Ok(loaded) => loaded,
        Err(AppError::NotFound(_)) => return Ok(String::new()),
        Err(AppError::Gone(why)) => {
            return Ok(format!("<h2>Charts</h2>\n<p>{}</p>\n", escape_html(&why)))
        }
        Err(error) => return Err(error),
    };
    let chart_job = ChartJob {
        job_id,
        repository_id: job.repository_id,
        repository: &job.repository,
        base_sha: &base_sha,
        head_sha: &job.head_sha,
    };
    let charts = chart_links(state, &chart_job, &comparison, None, "").await?;
    let mut html = format!(
        "<h2>Charts</h2>\n<p><img src=\"{}\" alt=\"Head/base ratio of each benchmark, log scale\"></p>\n",
        escape_html(&charts.summary_url)
    );
    if !charts.histories.is_empty() {
        html.push_str("<p>History of the changed benchmarks:</p>\n<ul>\n");
        for link in &charts.histories {
            html.push_str(&format!(
                "<li><a href=\"{}\"><code>{}</code></a></li>\n",
                escape_html(&link.url),
                escape_html(&link.name)
            ));
        }
        html.push_str("</ul>\n");
    }
    Ok(html)
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;"
        );
    }
}
