//! Check runs on the pull request's head commit.

use std::time::Duration;

use pitot_github::{CheckConclusion, CheckRunOutput, CheckRunStatus, GitHubError, NewCheckRun};
use pitot_github_stub::{Failure, GitHubStub, RequestMatch, TEST_APP_ID};

use crate::{app_client, request_lines, token_client, REPO};

const HEAD_SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

fn new_run<'a>(output: &'a CheckRunOutput) -> NewCheckRun<'a> {
    NewCheckRun {
        head_sha: HEAD_SHA,
        name: "pitot / asv benchmarks",
        status: CheckRunStatus::InProgress,
        details_url: Some("https://pitot.example/jobs/42"),
        external_id: "job-42",
        output: Some(output),
        earlier_external_id: None,
    }
}

fn running() -> CheckRunOutput {
    CheckRunOutput {
        title: "Benchmarks running".into(),
        summary: "asv continuous is running".into(),
        text: None,
    }
}

#[tokio::test]
async fn check_run_created_then_completed() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);
    let running = running();
    let finished = CheckRunOutput {
        title: "No significant changes".into(),
        summary: "312 benchmarks compared".into(),
        text: Some("| benchmark | ratio |".into()),
    };

    let created = client
        .create_check_run(REPO, &new_run(&running))
        .await
        .unwrap()
        .unwrap();
    let updated = client
        .update_check_run(
            REPO,
            created.id,
            CheckRunStatus::Completed(CheckConclusion::Success),
            Some(&finished),
        )
        .await
        .unwrap()
        .unwrap();

    assert_eq!(updated.id, created.id);
    assert!(created.html_url.is_some());
    let runs = stub.check_runs(REPO);
    assert_eq!(runs.len(), 1, "requests: {:#?}", request_lines(&stub));
    let run = &runs[0];
    assert_eq!(run.name, "pitot / asv benchmarks");
    assert_eq!(run.head_sha, HEAD_SHA);
    assert_eq!(run.external_id.as_deref(), Some("job-42"));
    assert_eq!(run.details_url.as_deref(), Some("https://pitot.example/jobs/42"));
    assert_eq!(run.status, "completed");
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(run.output.title.as_deref(), Some("No significant changes"));
    assert_eq!(run.output.text.as_deref(), Some("| benchmark | ratio |"));
    assert!(run.completed_at.is_some());
}

#[tokio::test]
async fn first_status_is_sent_as_given() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);
    let output = running();
    let cases = [
        (CheckRunStatus::Queued, "queued", None),
        (CheckRunStatus::InProgress, "in_progress", None),
        (
            CheckRunStatus::Completed(CheckConclusion::TimedOut),
            "completed",
            Some("timed_out"),
        ),
    ];

    for (index, (status, expected_status, expected_conclusion)) in cases.into_iter().enumerate() {
        let external_id = format!("job-{index}");
        let run = NewCheckRun {
            status,
            external_id: &external_id,
            ..new_run(&output)
        };

        let created = client.create_check_run(REPO, &run).await.unwrap().unwrap();

        let stored = stub
            .check_runs(REPO)
            .into_iter()
            .find(|run| run.id == created.id)
            .unwrap();
        assert_eq!(stored.status, expected_status, "{expected_status}");
        assert_eq!(stored.conclusion.as_deref(), expected_conclusion, "{expected_status}");
    }
}

#[tokio::test]
async fn token_client_skips_check_runs() {
    let stub = GitHubStub::start().await;
    let client = token_client(&stub);
    let output = running();

    let created = client.create_check_run(REPO, &new_run(&output)).await.unwrap();
    let updated = client
        .update_check_run(REPO, 1, CheckRunStatus::InProgress, None)
        .await
        .unwrap();

    assert_eq!(created, None);
    assert_eq!(updated, None);
    assert!(!client.supports_check_runs());
    assert!(stub.requests().is_empty(), "requests: {:#?}", request_lines(&stub));
}

#[tokio::test]
async fn check_run_timeout_after_store_creates_no_duplicate() {
    let stub = GitHubStub::start().await;
    let post = RequestMatch::post(&format!("/repos/{REPO}/check-runs"));
    stub.fail_next(post.clone(), Failure::DelayAfterHandling(Duration::from_secs(3)), 1);
    let client = app_client(&stub);
    let output = running();

    let created = client.create_check_run(REPO, &new_run(&output)).await.unwrap().unwrap();

    let runs = stub.check_runs(REPO);
    assert_eq!(runs.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert_eq!(created.id, runs[0].id);
    assert_eq!(stub.requests_matching(&post).len(), 1);
}

/// Checks that a creation whose POST may have taken effect and whose search
/// for the run then failed is not repeated blindly: the next call searches
/// first and returns the stored run.
#[tokio::test]
async fn failed_search_is_retried_before_creating() {
    let stub = GitHubStub::start().await;
    let post = RequestMatch::post(&format!("/repos/{REPO}/check-runs"));
    let list = RequestMatch::get(&format!("/repos/{REPO}/commits/{HEAD_SHA}/check-runs"));
    stub.fail_next(post.clone(), Failure::BadGatewayAfterHandling, 1);
    stub.fail_next(list.clone(), Failure::NotFound, 1);
    let client = app_client(&stub);
    let output = running();
    let first = client.create_check_run(REPO, &new_run(&output)).await;
    assert!(first.is_err(), "the search failed: {first:?}");

    let created = client.create_check_run(REPO, &new_run(&output)).await.unwrap().unwrap();

    let runs = stub.check_runs(REPO);
    assert_eq!(runs.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert_eq!(created.id, runs[0].id);
    assert_eq!(stub.requests_matching(&post).len(), 1, "no second POST");
    assert_eq!(stub.requests_matching(&list).len(), 2);
}

/// Checks that a run found by the search before a create, which an earlier
/// call stored in progress, gets the status and output of the call that
/// found it.
#[tokio::test]
async fn found_run_gets_the_later_status() {
    let stub = GitHubStub::start().await;
    let post = RequestMatch::post(&format!("/repos/{REPO}/check-runs"));
    let list = RequestMatch::get(&format!("/repos/{REPO}/commits/{HEAD_SHA}/check-runs"));
    stub.fail_next(post.clone(), Failure::BadGatewayAfterHandling, 1);
    stub.fail_next(list, Failure::NotFound, 1);
    let client = app_client(&stub);
    let output = running();
    let first = client.create_check_run(REPO, &new_run(&output)).await;
    assert!(first.is_err(), "the search failed: {first:?}");
    let finished = CheckRunOutput {
        title: "No significant changes".into(),
        summary: "312 benchmarks compared".into(),
        text: None,
    };
    let completed = NewCheckRun {
        status: CheckRunStatus::Completed(CheckConclusion::Success),
        output: Some(&finished),
        ..new_run(&output)
    };

    let found = client.create_check_run(REPO, &completed).await.unwrap().unwrap();

    let runs = stub.check_runs(REPO);
    assert_eq!(runs.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert_eq!(found.id, runs[0].id);
    assert_eq!(runs[0].status, "completed");
    assert_eq!(runs[0].conclusion.as_deref(), Some("success"));
    assert_eq!(runs[0].output.title.as_deref(), Some("No significant changes"));
    assert_eq!(stub.requests_matching(&post).len(), 1, "no second POST");
}

/// Checks that a run an earlier process may have created under another
/// external id is found, and completed, instead of created again.
#[tokio::test]
async fn earlier_request_is_found_first() {
    let stub = GitHubStub::start().await;
    let output = running();
    let stored = stub.seed_check_run(TEST_APP_ID, REPO, HEAD_SHA, "pitot / asv benchmarks", "job-41");
    let client = app_client(&stub);
    let finished = CheckRunOutput {
        title: "No significant changes".into(),
        summary: "312 benchmarks compared".into(),
        text: None,
    };
    let run = NewCheckRun {
        status: CheckRunStatus::Completed(CheckConclusion::Success),
        output: Some(&finished),
        earlier_external_id: Some("job-41"),
        ..new_run(&output)
    };

    let found = client.create_check_run(REPO, &run).await.unwrap().unwrap();

    assert_eq!(found.id, stored);
    let runs = stub.check_runs(REPO);
    assert_eq!(runs.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert_eq!(runs[0].status, "completed");
    let post = RequestMatch::post(&format!("/repos/{REPO}/check-runs"));
    assert!(stub.requests_matching(&post).is_empty());
}

#[tokio::test]
async fn other_apps_run_is_not_reused() {
    let stub = GitHubStub::start().await;
    let output = running();
    let run = new_run(&output);
    let other_app = TEST_APP_ID + 1;
    let foreign_id = stub.seed_check_run(other_app, REPO, HEAD_SHA, run.name, run.external_id);
    let post = RequestMatch::post(&format!("/repos/{REPO}/check-runs"));
    stub.fail_next(post.clone(), Failure::BadGateway, 1);
    let client = app_client(&stub);

    let created = client.create_check_run(REPO, &run).await.unwrap().unwrap();

    assert_ne!(created.id, foreign_id, "requests: {:#?}", request_lines(&stub));
    assert_eq!(stub.requests_matching(&post).len(), 2, "the POST was not retried");
    let own: Vec<u64> = stub
        .check_runs(REPO)
        .into_iter()
        .filter(|stored| stored.app_id == TEST_APP_ID)
        .map(|stored| stored.id)
        .collect();
    assert_eq!(own, [created.id]);
    let list = RequestMatch::get(&format!("/repos/{REPO}/commits/{HEAD_SHA}/check-runs"));
    let searches = stub.requests_matching(&list);
    assert_eq!(searches.len(), 1);
    let query = searches[0].query.as_deref().unwrap_or("");
    assert!(query.contains(&format!("app_id={TEST_APP_ID}")), "{query}");
}

#[tokio::test]
async fn updating_a_missing_run_is_not_found() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);

    let result = client
        .update_check_run(REPO, 123, CheckRunStatus::InProgress, None)
        .await;

    assert!(matches!(result, Err(GitHubError::NotFound { .. })), "{result:?}");
}

#[tokio::test]
async fn invalid_check_run_inputs_send_nothing() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);
    let output = running();
    let cases = [
        (
            "short sha",
            NewCheckRun {
                head_sha: "ec26c3e",
                ..new_run(&output)
            },
        ),
        (
            "empty external id",
            NewCheckRun {
                external_id: "",
                ..new_run(&output)
            },
        ),
    ];

    for (case, run) in cases {
        let result = client.create_check_run(REPO, &run).await;

        assert!(
            matches!(result, Err(GitHubError::InvalidInput(_))),
            "{case}: {result:?}"
        );
    }
    assert!(stub.requests().is_empty());
}
