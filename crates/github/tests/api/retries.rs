//! Retries: server errors, timeouts and rate limits, without duplicates.

use std::time::{Duration, Instant};

use pitot_github::GitHubError;
use pitot_github_stub::{Failure, GitHubStub, RequestMatch, User};

use crate::{app_client, app_client_with, comments_path, fast_settings, marker, request_lines, requests, PR, REPO};

#[tokio::test]
async fn bad_gateway_then_rate_limit_posts_once() {
    let stub = GitHubStub::start().await;
    let post = RequestMatch::post(&comments_path());
    stub.fail_next(post.clone(), Failure::BadGateway, 1);
    stub.fail_next(post.clone(), Failure::SecondaryRateLimit { retry_after_secs: 1 }, 1);
    let client = app_client(&stub);

    let written = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
        .await
        .unwrap();

    assert!(written.created);
    assert_eq!(
        stub.comments(REPO, PR).len(),
        1,
        "requests: {:#?}",
        request_lines(&stub)
    );
    let posts = requests(&stub, &post);
    assert_eq!(posts.len(), 3, "502, 403, then 201");
    let waited = posts[2].received_at - posts[1].received_at;
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured; waited {waited:?}"
    );
}

#[tokio::test]
async fn timeout_after_store_creates_no_duplicate() {
    // The search after the timeout must find the stored copy, and never a
    // stranger's comment that carries the marker.
    let stranger_copy = format!("No change.\n\n{}\n", marker());
    let cases = [("no other comment", None), ("a stranger's copy of the marker", Some(&stranger_copy))];

    for (case, stranger_body) in cases {
        let stub = GitHubStub::start().await;
        if let Some(body) = stranger_body {
            stub.seed_comments(REPO, PR, [body]);
        }
        let earlier = usize::from(stranger_body.is_some());
        let post = RequestMatch::post(&comments_path());
        stub.fail_next(post.clone(), Failure::DelayAfterHandling(Duration::from_secs(3)), 1);
        let client = app_client(&stub);

        let written = client
            .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
            .await
            .unwrap();

        let comments = stub.comments(REPO, PR);
        assert_eq!(comments.len(), earlier + 1, "{case}: {:#?}", request_lines(&stub));
        assert_eq!(written.id, comments[earlier].id, "{case}");
        assert!(written.created, "{case}");
        if let Some(body) = stranger_body {
            assert_eq!(&comments[0].body, body, "{case}: the stranger's comment is unchanged");
        }
        assert_eq!(
            requests(&stub, &post).len(),
            1,
            "{case}: the stored comment was found, so nothing was posted again"
        );
    }
}

#[tokio::test]
async fn timeout_before_store_posts_again() {
    let stub = GitHubStub::start().await;
    let post = RequestMatch::post(&comments_path());
    stub.fail_next(post.clone(), Failure::DelayWithoutHandling(Duration::from_secs(3)), 1);
    let client = app_client(&stub);

    let written = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
        .await
        .unwrap();

    assert!(written.created);
    assert_eq!(stub.comments(REPO, PR).len(), 1);
    assert_eq!(requests(&stub, &post).len(), 2);
}

#[tokio::test]
async fn server_errors_on_reads_and_edits_are_retried() {
    let cases = [
        (
            "500 on edit",
            RequestMatch::patch(&format!("/repos/{REPO}/issues/comments/*")),
            Failure::InternalServerError,
        ),
        ("502 on list", RequestMatch::get(&comments_path()), Failure::BadGateway),
        (
            "timeout on list",
            RequestMatch::get(&comments_path()),
            Failure::DelayWithoutHandling(Duration::from_secs(3)),
        ),
    ];

    for (case, matcher, failure) in cases {
        let stub = GitHubStub::start().await;
        let ids = stub.seed_comments_by(&User::test_app_bot(), REPO, PR, [format!("old\n{}", marker())]);
        stub.fail_next(matcher.clone(), failure, 2);
        let client = app_client(&stub);

        let written = client.upsert_sticky_comment(REPO, PR, None, &marker(), "new").await;

        assert_eq!(
            written.map(|comment| comment.id).ok(),
            Some(ids[0]),
            "{case}: {:#?}",
            request_lines(&stub)
        );
        assert_eq!(requests(&stub, &matcher).len(), 3, "{case}: two failures, then success");
    }
}

#[tokio::test]
async fn persistent_server_errors_give_up() {
    let stub = GitHubStub::start().await;
    let list = RequestMatch::get(&comments_path());
    stub.fail_next(list.clone(), Failure::BadGateway, 100);
    let client = app_client(&stub);

    let result = client.upsert_sticky_comment(REPO, PR, None, &marker(), "results").await;

    assert!(
        matches!(result, Err(GitHubError::Server { status: 502, .. })),
        "{result:?}"
    );
    assert_eq!(requests(&stub, &list).len(), 4, "max_attempts is 4");
    assert!(stub.comments(REPO, PR).is_empty());
}

#[tokio::test]
async fn primary_rate_limit_waits_for_reset() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);
    let first = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
        .await
        .unwrap();
    let edit = RequestMatch::patch(&format!("/repos/{REPO}/issues/comments/{}", first.id));
    stub.fail_next(edit.clone(), Failure::PrimaryRateLimit { reset_after_secs: 1 }, 1);

    let second = client
        .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 2")
        .await
        .unwrap();

    assert_eq!(second.id, first.id);
    assert_eq!(requests(&stub, &edit).len(), 2);
    assert!(stub.comments(REPO, PR)[0].body.starts_with("run 2"));
}

#[tokio::test]
async fn rate_limit_past_the_cap_fails_at_once() {
    let cases = [
        (
            "429 with Retry-After",
            Failure::TooManyRequests { retry_after_secs: 120 },
            120,
        ),
        (
            "403 with Retry-After",
            Failure::SecondaryRateLimit { retry_after_secs: 90 },
            90,
        ),
        (
            "primary limit with a distant reset",
            Failure::PrimaryRateLimit { reset_after_secs: 1800 },
            1800,
        ),
    ];

    for (case, failure, asked_secs) in cases {
        let stub = GitHubStub::start().await;
        let list = RequestMatch::get(&comments_path());
        stub.fail_next(list.clone(), failure, 1);
        let client = app_client(&stub);
        let started = Instant::now();

        let result = client.upsert_sticky_comment(REPO, PR, None, &marker(), "results").await;

        let Err(GitHubError::RateLimited {
            retry_after: Some(wait),
            ..
        }) = result
        else {
            panic!("{case}: expected RateLimited, got {result:?}");
        };
        assert!(
            wait.as_secs().abs_diff(asked_secs) <= 1,
            "{case}: reported wait {wait:?}"
        );
        assert_eq!(requests(&stub, &list).len(), 1, "{case}: not retried");
        assert!(started.elapsed() < Duration::from_secs(2), "{case}: the client waited");
    }
}

#[tokio::test]
async fn rate_limits_count_towards_attempts() {
    let stub = GitHubStub::start().await;
    let list = RequestMatch::get(&comments_path());
    stub.fail_next(list.clone(), Failure::TooManyRequests { retry_after_secs: 0 }, 100);
    let mut settings = fast_settings(&stub);
    settings.retry.max_attempts = 3;
    let client = app_client_with(settings);

    let result = client.upsert_sticky_comment(REPO, PR, None, &marker(), "results").await;

    assert!(matches!(result, Err(GitHubError::RateLimited { .. })), "{result:?}");
    assert_eq!(requests(&stub, &list).len(), 3);
}
