//! Parsing real GitHub webhook payloads (fixtures copied from octokit/webhooks).

use std::path::PathBuf;

use pitot_github::{Event, PullRequestAction};

#[track_caller]
fn fixture(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/webhooks").join(relative);
    std::fs::read(&path).unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()))
}

#[track_caller]
fn parse_pull_request(relative: &str) -> pitot_github::PullRequestEvent {
    match Event::parse("pull_request", &fixture(relative)).expect("payload parses") {
        Event::PullRequest(event) => event,
        other => panic!("expected a pull_request event, got {other:?}"),
    }
}

#[test]
fn labeled_pull_request_reads_label_and_shas() {
    let event = parse_pull_request("pull_request/labeled.payload.json");

    assert_eq!(event.action, PullRequestAction::Labeled { label: "bug".into() });
    assert_eq!(event.number, 2);
    assert_eq!(event.repository.full_name, "Codertocat/Hello-World");
    assert_eq!(event.head_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    assert_eq!(event.head_ref, "changes");
    assert_eq!(event.base_ref, "master");
    assert_eq!(event.base_sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
    assert_eq!(event.head_clone_url.as_deref(), Some("https://github.com/Codertocat/Hello-World.git"));
    assert!(!event.from_fork);
    assert_eq!(event.installation_id, Some(1));
}

#[test]
fn pull_request_actions_are_recognised() {
    let cases = [
        ("pull_request/unlabeled.payload.json", PullRequestAction::Unlabeled { label: "bug".into() }),
        ("pull_request/synchronize.payload.json", PullRequestAction::Synchronize),
        ("pull_request/closed.payload.json", PullRequestAction::Closed),
        ("pull_request/opened.payload.json", PullRequestAction::Other("opened".into())),
    ];

    for (file, expected) in cases {
        assert_eq!(parse_pull_request(file).action, expected, "file: {file}");
    }
}

#[test]
fn deleted_fork_has_no_clone_url() {
    let mut payload: serde_json::Value = serde_json::from_slice(&fixture("pull_request/labeled.payload.json")).unwrap();
    payload["pull_request"]["head"]["repo"] = serde_json::Value::Null;

    let event = match Event::parse("pull_request", &serde_json::to_vec(&payload).unwrap()).unwrap() {
        Event::PullRequest(event) => event,
        other => panic!("expected a pull_request event, got {other:?}"),
    };

    assert_eq!(event.head_clone_url, None);
    assert!(event.from_fork);
}

#[test]
fn fork_pull_request_is_marked() {
    let mut payload: serde_json::Value = serde_json::from_slice(&fixture("pull_request/labeled.payload.json")).unwrap();
    payload["pull_request"]["head"]["repo"]["id"] = 42.into();
    payload["pull_request"]["head"]["repo"]["clone_url"] = "https://github.com/someone/Hello-World.git".into();

    let event = match Event::parse("pull_request", &serde_json::to_vec(&payload).unwrap()).unwrap() {
        Event::PullRequest(event) => event,
        other => panic!("expected a pull_request event, got {other:?}"),
    };

    assert!(event.from_fork);
    assert_eq!(event.head_clone_url.as_deref(), Some("https://github.com/someone/Hello-World.git"));
}

#[test]
fn ping_reads_hook_id() {
    let event = Event::parse("ping", &fixture("ping/payload.json")).unwrap();

    assert_eq!(event, Event::Ping { hook_id: Some(109948940) });
}

#[test]
fn installation_created_adds_its_repositories() {
    let Event::Installation(event) = Event::parse("installation", &fixture("installation/created.payload.json")).unwrap() else {
        panic!("expected an installation event");
    };

    assert_eq!(event.action, "created");
    assert_eq!(event.account.as_deref(), Some("Codertocat"));
    assert!(event.added.contains(&"Codertocat/Hello-World".to_string()));
    assert!(event.removed.is_empty());
}

#[test]
fn installation_deleted_removes_its_repositories() {
    let Event::Installation(event) = Event::parse("installation", &fixture("installation/deleted.payload.json")).unwrap() else {
        panic!("expected an installation event");
    };

    assert_eq!(event.action, "deleted");
    assert!(event.added.is_empty());
    assert!(!event.removed.is_empty());
}

#[test]
fn other_events_are_ignored_with_their_action() {
    let deployment = Event::parse("deployment", br#"{"action": "created"}"#).unwrap();

    assert_eq!(deployment, Event::Ignored { event: "deployment".into(), action: Some("created".into()) });
}

#[test]
fn workflow_run_completed_carries_run_and_conclusion() {
    let Event::WorkflowRun(event) = Event::parse("workflow_run", &fixture("workflow_run/completed.payload.json")).unwrap() else {
        panic!("expected a workflow_run event");
    };

    assert_eq!(event.action, "completed");
    assert_eq!(event.repository.full_name, "octo-org/octo-repo");
    assert_eq!(event.run.id, 289782451);
    assert_eq!(event.run.status.as_deref(), Some("completed"));
    assert_eq!(event.run.conclusion.as_deref(), Some("success"));
    assert_eq!(event.run.title(), Some("ci(action): update actions/setup-node digest to 8c91899"));
    assert_eq!(event.installation_id, None);
}

#[test]
fn push_reads_the_ref_change() {
    let Event::Push(tag_deleted) = Event::parse("push", &fixture("push/payload.json")).unwrap() else {
        panic!("expected a push event");
    };
    let Event::Push(created) = Event::parse("push", &fixture("push/with-new-branch.payload.json")).unwrap() else {
        panic!("expected a push event");
    };

    assert_eq!(tag_deleted.git_ref, "refs/tags/simple-tag");
    assert_eq!(tag_deleted.branch(), None);
    assert!(tag_deleted.deletes_ref());
    assert_eq!(created.branch(), Some("master"));
    assert!(created.creates_ref());
    assert!(!created.deletes_ref());
    assert_eq!(created.after, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert_eq!(created.repository.default_branch.as_deref(), Some("master"));
    assert_eq!(created.installation_id, Some(1));
}

#[test]
fn release_reads_tag_and_flags() {
    let Event::Release(release) = Event::parse("release", &fixture("release/published.payload.json")).unwrap() else {
        panic!("expected a release event");
    };

    assert_eq!(release.action, "published");
    assert_eq!(release.tag, "0.0.1");
    assert_eq!(release.target_commitish, "master");
    assert!(!release.draft);
    assert!(!release.prerelease);
}

#[test]
fn malformed_payloads_are_errors() {
    let cases: [(&str, &[u8]); 4] = [
        ("truncated", br#"{"action": "labeled", "pull_request": {"#),
        ("not utf-8", b"\xff\xfe{}"),
        ("missing pull_request", br#"{"action": "labeled", "repository": {"id": 1, "full_name": "a/b"}}"#),
        ("number as string", br#"{"action": "closed", "pull_request": {"number": "2"}}"#),
    ];

    for (case, body) in cases {
        let error = Event::parse("pull_request", body).expect_err(case);
        assert!(error.to_string().contains("pull_request payload"), "case {case}: {error}");
    }
}

#[track_caller]
fn parse_issue_comment(payload: &serde_json::Value) -> pitot_github::IssueCommentEvent {
    match Event::parse("issue_comment", &serde_json::to_vec(payload).expect("encodes")).expect("payload parses") {
        Event::IssueComment(event) => event,
        other => panic!("expected an issue_comment event, got {other:?}"),
    }
}

#[test]
fn issue_comment_reads_author_and_body() {
    let payload: serde_json::Value =
        serde_json::from_slice(&fixture("issue_comment/created.with-installation.payload.json")).expect("fixture is JSON");

    let event = parse_issue_comment(&payload);

    assert_eq!(event.action, "created");
    assert_eq!(event.repository.full_name, "Codertocat/Hello-World");
    assert_eq!(event.number, 1);
    assert!(!event.on_pull_request, "the fixture comments on an issue");
    assert_eq!(event.comment_id, 492700400);
    assert_eq!(event.body, "You are totally right! I'll get this fixed right away.");
    assert_eq!(event.author, "Codertocat");
    assert_eq!(event.author_association, "OWNER");
    assert!(!event.author_is_bot);
    assert_eq!(event.installation_id, Some(1));
}

#[test]
fn issue_comment_on_pull_request_by_bot() {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&fixture("issue_comment/created.with-installation.payload.json")).expect("fixture is JSON");
    payload["issue"]["pull_request"] = serde_json::json!({"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"});
    payload["comment"]["user"]["type"] = "Bot".into();
    payload["comment"]["body"] = "/pitot run".into();

    let event = parse_issue_comment(&payload);

    assert!(event.on_pull_request);
    assert!(event.author_is_bot);
    assert_eq!(event.body, "/pitot run");
}

/// Returns the `pull_request` payload that the trial in `docs/install.md`
/// sends by hand, with the shell's `$HEAD_SHA` and `$BASE_SHA` replaced.
#[track_caller]
fn install_doc_payload(head_sha: &str, base_sha: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/install.md");
    let page = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    let start_marker = "cat > ~/pitot/labeled.json <<EOF\n";
    let start = page.find(start_marker).expect("docs/install.md writes ~/pitot/labeled.json with a heredoc") + start_marker.len();
    let length = page[start..].find("\nEOF\n").expect("the labeled.json heredoc ends with EOF");
    page[start..start + length].replace("$HEAD_SHA", head_sha).replace("$BASE_SHA", base_sha)
}

#[test]
fn install_doc_payload_parses() {
    let head_sha = "6927218d4cb1ccd7b40e46a7e1ade5e6d96bfc63";
    let base_sha = "604b95330416e15eb4314d8d8a3686b7df5cdd88";
    let payload = install_doc_payload(head_sha, base_sha);

    let event = match Event::parse("pull_request", payload.as_bytes()) {
        Ok(Event::PullRequest(event)) => event,
        other => panic!("docs/install.md's payload must parse as a pull_request event, got {other:?}"),
    };

    assert_eq!(event.action, PullRequestAction::Labeled { label: "run-benchmarks".into() });
    assert_eq!(event.number, 1);
    assert_eq!(event.head_sha, head_sha);
    assert_eq!(event.base_sha, base_sha);
    assert_eq!(event.base_ref, "main");
    assert_eq!(event.repository.full_name, "example-org/demo-project");
    assert_eq!(event.repository.clone_url.as_deref(), Some("https://github.com/example-org/demo-project.git"));
    assert_eq!(event.installation_id, Some(31337));
}
