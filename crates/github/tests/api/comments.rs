//! Upserting the sticky pull request comment.

use pitot_github::GitHubError;
use pitot_github_stub::{Failure, GitHubStub, RequestMatch, User, TEST_APP_BOT_LOGIN};

use crate::{app_client, comments_path, marker, request_lines, requests, PR, REPO};

#[tokio::test]
async fn first_upsert_creates_then_second_edits() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);

    let first = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
        .await
        .unwrap();
    let second = client
        .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 2")
        .await
        .unwrap();

    assert!(first.created);
    assert!(!second.created);
    assert_eq!(second.id, first.id);
    assert_eq!(second.html_url, first.html_url);
    let comments = stub.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert_eq!(comments[0].body, format!("run 2\n\n{}\n", marker()));
    assert_eq!(comments[0].user.login, TEST_APP_BOT_LOGIN);
    assert_eq!(requests(&stub, &RequestMatch::post(&comments_path())).len(), 1);
    assert_eq!(
        requests(
            &stub,
            &RequestMatch::patch(&format!("/repos/{REPO}/issues/comments/{}", first.id))
        )
        .len(),
        1
    );
}

#[tokio::test]
async fn lost_id_finds_marker_on_page_three() {
    let stub = GitHubStub::start().await;
    stub.seed_comments(REPO, PR, (0..230).map(|n| format!("comment {n}")));
    let own = stub.seed_comments_by(&User::test_app_bot(), REPO, PR, [format!("old results\n\n{}\n", marker())]);
    stub.seed_comments(REPO, PR, (231..250).map(|n| format!("comment {n}")));
    let client = app_client(&stub);

    let written = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "new results")
        .await
        .unwrap();

    assert_eq!(written.id, own[0]);
    assert!(!written.created);
    assert_eq!(stub.comments(REPO, PR).len(), 250);
    assert!(
        requests(&stub, &RequestMatch::post(&comments_path())).is_empty(),
        "no comment may be created"
    );
    let pages: Vec<_> = stub
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/comments"))
        .collect();
    assert_eq!(pages.len(), 3, "requests: {:#?}", request_lines(&stub));
    assert!(pages.iter().all(|page| page.query_param("per_page") == Some("100")));
    assert_eq!(pages[2].query_param("page"), Some("3"));
}

#[tokio::test]
async fn marker_missing_from_every_page_creates_comment() {
    let stub = GitHubStub::start().await;
    stub.seed_comments(REPO, PR, (0..150).map(|n| format!("comment {n}")));
    let client = app_client(&stub);

    let written = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
        .await
        .unwrap();

    assert!(written.created);
    assert_eq!(stub.comments(REPO, PR).len(), 151);
    let pages = requests(&stub, &RequestMatch::get(&comments_path())).len()
        + stub
            .requests()
            .iter()
            .filter(|request| request.path.starts_with("/repositories/"))
            .count();
    assert_eq!(
        pages,
        2,
        "both pages are read before creating: {:#?}",
        request_lines(&stub)
    );
}

#[tokio::test]
async fn deleted_comment_is_recreated() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);
    let first = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
        .await
        .unwrap();
    stub.delete_comment(first.id);

    let second = client
        .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 2")
        .await
        .unwrap();

    assert!(second.created);
    assert_ne!(second.id, first.id);
    let comments = stub.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.starts_with("run 2"));
}

#[tokio::test]
async fn stale_id_falls_back_to_marker() {
    let stub = GitHubStub::start().await;
    let ids = stub.seed_comments_by(&User::test_app_bot(), REPO, PR, [format!("old\n{}", marker())]);
    let client = app_client(&stub);
    let stale_id = ids[0] + 1_000;

    let written = client
        .upsert_sticky_comment(REPO, PR, Some(stale_id), &marker(), "new")
        .await
        .unwrap();

    assert_eq!(written.id, ids[0]);
    assert!(!written.created);
    assert_eq!(stub.comments(REPO, PR).len(), 1);
}

#[tokio::test]
async fn validation_error_is_not_retried() {
    let too_long = "x".repeat(70_000);
    let cases = [
        ("body over GitHub's limit on create", false, too_long.as_str(), None),
        ("body over GitHub's limit on edit", true, too_long.as_str(), None),
        ("injected 422 on edit", true, "short", Some(Failure::ValidationFailed)),
    ];

    for (case, comment_exists, body, failure) in cases {
        let stub = GitHubStub::start().await;
        let client = app_client(&stub);
        let known_id = match comment_exists {
            true => Some(
                client
                    .upsert_sticky_comment(REPO, PR, None, &marker(), "first")
                    .await
                    .unwrap()
                    .id,
            ),
            false => None,
        };
        if let Some(failure) = failure {
            stub.fail_next(
                RequestMatch::patch(&format!("/repos/{REPO}/issues/comments/*")),
                failure,
                1,
            );
        }
        let before = stub.requests().len();

        let result = client.upsert_sticky_comment(REPO, PR, known_id, &marker(), body).await;

        assert!(
            matches!(result, Err(GitHubError::Validation { .. })),
            "{case}: {result:?}"
        );
        let writes = stub.requests()[before..]
            .iter()
            .filter(|request| request.method != "GET" && !request.path.starts_with("/app/"))
            .count();
        assert_eq!(writes, 1, "{case}: one write, no retry: {:#?}", request_lines(&stub));
    }
}

#[tokio::test]
async fn invalid_inputs_send_nothing() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);
    let cases = [
        ("not-a-repo", marker(), "repository without owner"),
        (REPO, "pitot".to_owned(), "visible marker"),
    ];

    for (repo, marker, case) in cases {
        let result = client.upsert_sticky_comment(repo, PR, None, &marker, "body").await;

        assert!(
            matches!(result, Err(GitHubError::InvalidInput(_))),
            "{case}: {result:?}"
        );
    }
    assert!(stub.requests().is_empty(), "requests: {:#?}", request_lines(&stub));
}
