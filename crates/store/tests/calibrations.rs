//! Calibration jobs and `calibration_noise`: one unfinished calibration
//! per commit and machine, the machine filter of the claim, and the newest
//! noise per series.

mod common;

use common::*;
use pitot_store::calibrations::{self, NewCalibrationJob, NewSeriesNoise};
use pitot_store::jobs::{self, JobState};
use sqlx::PgPool;

async fn repository(pool: &PgPool) -> i32 {
    sqlx::query_scalar("INSERT INTO repositories (name) VALUES ('o/r') RETURNING id")
        .fetch_one(pool)
        .await
        .expect("repository")
}

fn job<'a>(repository_id: i32, sha: &'a str, machine: Option<&'a str>) -> NewCalibrationJob<'a> {
    NewCalibrationJob {
        repository_id,
        sha,
        branch: "main",
        clone_url: "https://example.invalid/o/r.git",
        installation_id: None,
        max_attempts: 3,
        required_machine: machine,
        passes: 2,
    }
}

fn noise(series_name: &str, difference: f64) -> NewSeriesNoise {
    NewSeriesNoise {
        machine: "m1".into(),
        environment: "py3.12".into(),
        benchmark: "bench.time_a".into(),
        series_name: series_name.into(),
        unit: Some("seconds".into()),
        passes: 2,
        relative_difference: Some(difference),
        sample_spread: None,
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn one_pending_calibration_per_machine(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let commit = sha(1);

    let first =
        calibrations::insert_calibration_job(&pool, &job(repository_id, &commit, None)).await;
    let again =
        calibrations::insert_calibration_job(&pool, &job(repository_id, &commit, None)).await;
    let machine =
        calibrations::insert_calibration_job(&pool, &job(repository_id, &commit, Some("m1"))).await;
    let found = calibrations::find_pending_calibration(&pool, repository_id, &commit, None).await;

    let first = first.expect("insert").expect("a new job");
    assert_eq!(again.expect("insert"), None, "the same commit and machine");
    assert!(
        machine.expect("insert").is_some(),
        "another machine is another job"
    );
    assert_eq!(found.expect("lookup"), Some(first));
    let stored = jobs::load_job(&pool, first)
        .await
        .expect("load")
        .expect("job");
    assert_eq!(stored.base_sha.as_deref(), Some(commit.as_str()));
    assert_eq!(stored.state, JobState::Queued);
}

#[sqlx::test(migrations = "../../migrations")]
async fn claim_filters_by_required_machine(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let commit = sha(2);
    calibrations::insert_calibration_job(&pool, &job(repository_id, &commit, Some("m1")))
        .await
        .expect("insert");

    let elsewhere = jobs::claim_next_job(&pool, "agent-2", "m2", 60.0)
        .await
        .expect("claim");
    let claimed = jobs::claim_next_job(&pool, "agent-1", "m1", 60.0)
        .await
        .expect("claim");

    assert_eq!(elsewhere, None);
    let claimed = claimed.expect("the machine's agent gets it");
    assert_eq!(claimed.calibration_passes, Some(2));
    assert_eq!(claimed.base_sha.as_deref(), Some(commit.as_str()));
}

#[sqlx::test(migrations = "../../migrations")]
async fn calibration_constraints(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let cases = [
        ("one pass", "calibration", sha(3), sha(3), Some(1_i16)),
        ("base differs", "calibration", sha(3), sha(4), Some(2)),
        ("no passes", "calibration", sha(3), sha(3), None),
        (
            "passes on a history job",
            "history",
            sha(3),
            sha(4),
            Some(2),
        ),
    ];

    for (case, kind, head, base, passes) in cases {
        let inserted = sqlx::query(
            "INSERT INTO jobs (repository_id, kind, head_sha, base_sha, base_ref, clone_url,
                               attempt_limit, calibration_passes)
             VALUES ($1, $2, $3, $4, 'main', 'https://example.invalid/o/r.git', 3, $5)",
        )
        .bind(repository_id)
        .bind(kind)
        .bind(&head)
        .bind(&base)
        .bind(passes)
        .execute(&pool)
        .await;

        assert!(inserted.is_err(), "{case}: accepted");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn newest_noise_per_series(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let commit = sha(5);
    let older = calibrations::insert_calibration_job(&pool, &job(repository_id, &commit, None))
        .await
        .expect("insert")
        .expect("job");
    sqlx::query("UPDATE jobs SET state = 'reported', finished_at = now() WHERE id = $1")
        .bind(older)
        .execute(&pool)
        .await
        .expect("finish the first job");
    let newer = calibrations::insert_calibration_job(&pool, &job(repository_id, &commit, None))
        .await
        .expect("insert")
        .expect("a new job once the first finished");

    let first = vec![
        noise("bench.time_a(1)", 0.10),
        noise("bench.time_a(2)", 0.20),
    ];
    let inserted = calibrations::insert_noise(&pool, older, repository_id, &commit, &first).await;
    let repeated = calibrations::insert_noise(&pool, older, repository_id, &commit, &first).await;
    sqlx::query("UPDATE calibration_noise SET measured_at = now() - interval '1 day'")
        .execute(&pool)
        .await
        .expect("age the first rows");
    calibrations::insert_noise(
        &pool,
        newer,
        repository_id,
        &commit,
        &[noise("bench.time_a(1)", 0.01)],
    )
    .await
    .expect("insert");
    let names = vec![
        "bench.time_a(1)".to_owned(),
        "bench.time_a(2)".to_owned(),
        "bench.other".to_owned(),
    ];
    let latest = calibrations::latest_series_noise(&pool, repository_id, "m1", "py3.12", &names)
        .await
        .expect("lookup");
    let other_machine =
        calibrations::latest_series_noise(&pool, repository_id, "m2", "py3.12", &names)
            .await
            .expect("lookup");

    assert_eq!(inserted.expect("insert"), 2);
    assert_eq!(
        repeated.expect("insert"),
        0,
        "a retried ingest adds nothing"
    );
    let by_name: Vec<(&str, i64, Option<f64>)> = latest
        .iter()
        .map(|row| {
            (
                row.series_name.as_str(),
                row.job_id,
                row.relative_difference,
            )
        })
        .collect();
    assert_eq!(
        by_name,
        [
            ("bench.time_a(1)", newer, Some(0.01)),
            ("bench.time_a(2)", older, Some(0.20))
        ]
    );
    assert!(other_machine.is_empty());
}
