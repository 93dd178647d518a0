//! Marker searches match only what pitot's own account wrote. Anyone can
//! copy a marker into a comment or an issue. pitot must then write its own
//! instead of editing theirs, with App credentials (the App's bot user) and
//! with a personal token (the token's owner).

use pitot_github::GitHubClient;
use pitot_github_stub::{GitHubStub, RequestMatch, User, TEST_APP_BOT_LOGIN};

use crate::{app_client, comments_path, marker, request_lines, requests, token_client, PR, REPO};

const SHA: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

/// A kind of credentials: a name for messages, the client, the account
/// that the client's comments show, and the path that returns that account.
type Credentials = (&'static str, fn(&GitHubStub) -> GitHubClient, User, &'static str);

fn credentials() -> [Credentials; 2] {
    [
        ("App", app_client, User::test_app_bot(), "/app"),
        ("token", token_client, User::test_token_user(), "/user"),
    ]
}

fn fake_report() -> String {
    format!("No change. Details: https://example.invalid/phish\n\n{}\n", marker())
}

#[tokio::test]
async fn stranger_marker_comment_is_left_alone() {
    for (case, client_for, own, _) in credentials() {
        let stub = GitHubStub::start().await;
        let stranger = stub.seed_comments(REPO, PR, [fake_report()])[0];
        let client = client_for(&stub);

        let written = client
            .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
            .await
            .unwrap();

        assert!(written.created, "{case}");
        assert_ne!(written.id, stranger, "{case}");
        let comments = stub.comments(REPO, PR);
        assert_eq!(comments.len(), 2, "{case}: {:#?}", request_lines(&stub));
        assert_eq!(comments[0].body, fake_report(), "{case}: the stranger's comment is unchanged");
        assert_eq!(comments[1].id, written.id, "{case}");
        assert_eq!(comments[1].user, own, "{case}");
        let edits = RequestMatch::patch(&format!("/repos/{REPO}/issues/comments/{stranger}"));
        assert!(requests(&stub, &edits).is_empty(), "{case}: {:#?}", request_lines(&stub));
    }
}

#[tokio::test]
async fn own_comment_is_found_behind_stranger_marker() {
    for (case, client_for, own, _) in credentials() {
        let stub = GitHubStub::start().await;
        let stranger = stub.seed_comments(REPO, PR, [fake_report()])[0];
        let earlier = stub.seed_comments_by(&own, REPO, PR, [format!("run 1\n\n{}\n", marker())])[0];
        let client = client_for(&stub);

        let written = client
            .upsert_sticky_comment(REPO, PR, None, &marker(), "run 2")
            .await
            .unwrap();

        assert!(!written.created, "{case}");
        assert_eq!(written.id, earlier, "{case}");
        let comments = stub.comments(REPO, PR);
        assert_eq!(comments.len(), 2, "{case}: {:#?}", request_lines(&stub));
        assert_eq!(comments[0].id, stranger, "{case}");
        assert_eq!(comments[0].body, fake_report(), "{case}: the stranger's comment is unchanged");
        assert!(comments[1].body.starts_with("run 2"), "{case}: {}", comments[1].body);
        assert!(requests(&stub, &RequestMatch::post(&comments_path())).is_empty(), "{case}");
    }
}

#[tokio::test]
async fn stranger_reply_marker_is_left_alone() {
    let stub = GitHubStub::start().await;
    let command = stub.seed_comments(REPO, PR, ["/pitot rerun"])[0];
    let reply_marker = pitot_github::reply_marker(REPO, command);
    let fake_reply = format!("@octocat: rerun done, see https://example.invalid\n\n{reply_marker}\n");
    let stranger = stub.seed_comments(REPO, PR, [fake_reply.clone()])[0];
    let client = app_client(&stub);

    let reply = client
        .reply_on_pull_request(REPO, PR, &reply_marker, "@octocat: nothing to rerun")
        .await
        .unwrap();

    assert_ne!(reply, stranger);
    let comments = stub.comments(REPO, PR);
    assert_eq!(comments.len(), 3, "requests: {:#?}", request_lines(&stub));
    assert_eq!(comments[1].body, fake_reply, "the stranger's comment is unchanged");
    assert_eq!(comments[2].id, reply);
    assert_eq!(comments[2].user.login, TEST_APP_BOT_LOGIN);
}

#[tokio::test]
async fn stranger_commit_comment_is_left_alone() {
    let stub = GitHubStub::start().await;
    let marker = "<!-- pitot:release v1.2.0 -->";
    let fake = format!("No regressions.\n\n{marker}\n");
    let stranger = stub.seed_commit_comment(&User::octocat(), REPO, SHA, &fake);
    let client = app_client(&stub);

    let written = client.upsert_commit_comment(REPO, SHA, marker, "report").await.unwrap();

    assert_ne!(written, stranger);
    let comments = stub.commit_comments(REPO);
    assert_eq!(comments.len(), 2, "requests: {:#?}", request_lines(&stub));
    assert_eq!(comments[0].body, fake, "the stranger's comment is unchanged");
    assert_eq!(comments[1].id, written);
    assert_eq!(comments[1].user.login, TEST_APP_BOT_LOGIN);
    assert!(comments[1].body.starts_with("report"), "{}", comments[1].body);
}

#[tokio::test]
async fn stranger_issue_is_left_alone() {
    let stub = GitHubStub::start().await;
    let title = "Performance regressions in v1.2.0";
    let marker = "<!-- pitot:release-regressions v1.2.0 -->";
    let fake = format!("Nothing to see.\n\n{marker}\n");
    let stranger = stub.seed_issue(&User::octocat(), REPO, title, &fake);
    let client = app_client(&stub);

    let first = client.upsert_issue(REPO, None, title, marker, "report 1").await.unwrap();
    let second = client.upsert_issue(REPO, None, title, marker, "report 2").await.unwrap();

    assert_ne!(first, stranger);
    assert_eq!(second, first, "pitot's own issue is found and edited");
    let issues = stub.issues(REPO);
    assert_eq!(issues.len(), 2, "requests: {:#?}", request_lines(&stub));
    assert_eq!(issues[0].body, fake, "the stranger's issue is unchanged");
    assert_eq!(issues[1].number, first);
    assert_eq!(issues[1].user.login, TEST_APP_BOT_LOGIN);
    assert!(issues[1].body.starts_with("report 2"), "{}", issues[1].body);
}

#[tokio::test]
async fn identity_is_fetched_once() {
    for (case, client_for, _, identity_path) in credentials() {
        let stub = GitHubStub::start().await;
        // Each search finds a marker, so each needs to know whose it is.
        stub.seed_comments(REPO, PR, [fake_report()]);
        stub.seed_comments(REPO, PR + 1, [pitot_github::sticky_marker(REPO, PR + 1)]);
        let client = client_for(&stub);
        let clone = client.clone();

        client
            .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
            .await
            .unwrap();
        clone
            .upsert_sticky_comment(REPO, PR + 1, None, &pitot_github::sticky_marker(REPO, PR + 1), "run 1")
            .await
            .unwrap();

        let lookups = requests(&stub, &RequestMatch::get(identity_path));
        assert_eq!(lookups.len(), 1, "{case}: {:#?}", request_lines(&stub));
    }
}
