//! The calls behind commands and releases meet the same failures as
//! comments and check runs. A reply or a release comment whose create timed
//! out after GitHub stored it is edited on the next try, not posted twice.
//! The idempotent calls retry server errors.

use std::time::Duration;

use pitot_github::{GitHubError, Reaction};
use pitot_github_stub::{Failure, GitHubStub, Release, RequestMatch};

use crate::{app_client, comments_path, request_lines, requests, PR, REPO};

const SHA: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

#[tokio::test]
async fn reply_after_stored_timeout_is_one_comment() {
    let stub = GitHubStub::start().await;
    let command = stub.seed_comments(REPO, PR, ["/pitot rerun"])[0];
    let post = RequestMatch::post(&comments_path());
    stub.fail_next(
        post.clone(),
        Failure::DelayAfterHandling(Duration::from_secs(3)),
        1,
    );
    let client = app_client(&stub);
    let marker = pitot_github::reply_marker(REPO, command);

    let first = client
        .reply_on_pull_request(REPO, PR, &marker, "@octocat: nothing to rerun")
        .await;
    // The command worker tries the whole command again after a failure.
    let second = client
        .reply_on_pull_request(REPO, PR, &marker, "@octocat: nothing to rerun")
        .await;

    let replies: Vec<String> = stub
        .comments(REPO, PR)
        .into_iter()
        .map(|comment| comment.body)
        .filter(|body| body.starts_with('@'))
        .collect();
    assert_eq!(replies.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert!(replies[0].contains(&marker), "{}", replies[0]);
    assert_eq!(first.unwrap(), second.unwrap());
    assert_eq!(
        requests(&stub, &post).len(),
        1,
        "the stored reply was found, not posted again"
    );
}

#[tokio::test]
async fn release_comment_after_stored_timeout_is_one_comment() {
    let stub = GitHubStub::start().await;
    let post = RequestMatch::post(&format!("/repos/{REPO}/commits/{SHA}/comments"));
    stub.fail_next(
        post.clone(),
        Failure::DelayAfterHandling(Duration::from_secs(3)),
        1,
    );
    let client = app_client(&stub);
    let marker = "<!-- pitot:release v1.2.0 -->";

    let first = client
        .upsert_commit_comment(REPO, SHA, marker, "report")
        .await;
    let second = client
        .upsert_commit_comment(REPO, SHA, marker, "report, again")
        .await;

    assert!(
        matches!(first, Err(GitHubError::Transport { .. })),
        "a create is not retried blindly: {first:?}"
    );
    let comments = stub.commit_comments(REPO);
    assert_eq!(comments.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert_eq!(second.unwrap(), comments[0].id);
    assert!(
        comments[0].body.starts_with("report, again"),
        "{}",
        comments[0].body
    );
    assert!(comments[0].body.contains(marker), "{}", comments[0].body);
    assert_eq!(requests(&stub, &post).len(), 1);
}

#[tokio::test]
async fn idempotent_later_calls_retry_server_errors() {
    // Each case names a call made below and the request it sends.
    let cases = [
        (
            "reaction",
            RequestMatch::post(&format!("/repos/{REPO}/issues/comments/*/reactions")),
        ),
        (
            "releases",
            RequestMatch::get(&format!("/repos/{REPO}/releases")),
        ),
        (
            "pulls of a commit",
            RequestMatch::get(&format!("/repos/{REPO}/commits/{SHA}/pulls")),
        ),
        (
            "commit of a ref",
            RequestMatch::get(&format!("/repos/{REPO}/commits/v1.2.0")),
        ),
        (
            "merge-base",
            RequestMatch::get(&format!("/repos/{REPO}/compare/*")),
        ),
        ("repository", RequestMatch::get(&format!("/repos/{REPO}"))),
    ];

    for (case, matcher) in cases {
        let stub = GitHubStub::start().await;
        let comment = stub.seed_comments(REPO, PR, ["/pitot run"])[0];
        stub.add_release(
            REPO,
            Release {
                tag_name: "v1.2.0".into(),
                target_commitish: SHA.into(),
                draft: false,
                prerelease: false,
            },
        );
        stub.set_ref(REPO, "v1.2.0", SHA);
        stub.set_commit_pulls(REPO, SHA, vec![PR]);
        stub.set_merge_base(REPO, SHA);
        stub.set_default_branch(REPO, "main");
        stub.fail_next(matcher.clone(), Failure::BadGateway, 2);
        let client = app_client(&stub);

        let outcome = match case {
            "reaction" => client
                .react_to_comment(REPO, comment, Reaction::Rocket)
                .await
                .map(|()| String::new()),
            "releases" => client
                .list_releases(REPO)
                .await
                .map(|releases| releases[0].tag_name.clone()),
            "pulls of a commit" => client
                .pull_requests_of_commit(REPO, SHA)
                .await
                .map(|pulls| format!("{pulls:?}")),
            "commit of a ref" => client.commit_of_ref(REPO, "v1.2.0").await,
            "merge-base" => client.merge_base(REPO, "main", SHA).await,
            "repository" => client
                .repository(REPO)
                .await
                .map(|repository| repository.default_branch),
            other => unreachable!("no call for case {other}"),
        };

        assert!(
            outcome.is_ok(),
            "{case}: {outcome:?}; requests: {:#?}",
            request_lines(&stub)
        );
        assert_eq!(
            requests(&stub, &matcher).len(),
            3,
            "{case}: two 502s, then success"
        );
    }
}

#[tokio::test]
async fn actions_calls_retry_reads_but_not_dispatches() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);
    let dispatch = RequestMatch::post(&format!("/repos/{REPO}/actions/workflows/*/dispatches"));
    let inputs = serde_json::Map::new();

    // A dispatch may have started a run even when the response is a 502.
    // So the client does not send it again, and the dispatcher's next round does.
    stub.fail_next(dispatch.clone(), Failure::BadGateway, 1);
    let failed = client
        .dispatch_workflow(REPO, "benchmarks.yml", "main", &inputs)
        .await;
    assert!(
        matches!(failed, Err(GitHubError::Server { status: 502, .. })),
        "{failed:?}"
    );
    assert_eq!(requests(&stub, &dispatch).len(), 1);

    let run_id = client
        .dispatch_workflow(REPO, "benchmarks.yml", "main", &inputs)
        .await
        .expect("the second dispatch")
        .expect("the stand-in returns the run's id");
    stub.add_run_artifact(
        run_id as u64,
        "asv-results",
        1024,
        "http://127.0.0.1:9/artifact.zip",
        false,
    );

    let run = RequestMatch::get(&format!("/repos/{REPO}/actions/runs/{run_id}"));
    stub.fail_next(run.clone(), Failure::BadGateway, 2);
    let read = client.workflow_run(REPO, run_id).await;
    assert!(read.is_ok(), "{read:?}");
    assert_eq!(requests(&stub, &run).len(), 3, "two 502s, then the run");

    let artifacts = RequestMatch::get(&format!("/repos/{REPO}/actions/runs/{run_id}/artifacts"));
    stub.fail_next(artifacts.clone(), Failure::InternalServerError, 2);
    let listed = client.run_artifacts(REPO, run_id, "asv-results").await;
    assert_eq!(
        listed.map(|found| found.len()).ok(),
        Some(1),
        "requests: {:#?}",
        request_lines(&stub)
    );
    assert_eq!(
        requests(&stub, &artifacts).len(),
        3,
        "two 500s, then the list"
    );

    let missing = client.workflow_run(REPO, run_id + 1000).await;
    assert!(
        matches!(missing, Err(GitHubError::NotFound { .. })),
        "{missing:?}"
    );
}
