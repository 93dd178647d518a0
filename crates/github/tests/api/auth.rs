//! Authentication: App JWTs, installation tokens, personal tokens, headers.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pitot_github::{ClientSettings, Credentials, GitHubClient, GitHubError, SecretString};
use pitot_github_stub::{
    Failure, GitHubStub, RecordedRequest, RequestMatch, TEST_APP_ID, TEST_INSTALLATION_ID, TEST_PERSONAL_TOKEN,
    TEST_USER_LOGIN, UNTRUSTED_PRIVATE_KEY,
};
use tracing::instrument::WithSubscriber;

use crate::{app_client, app_client_with, comments_path, fast_settings, marker, request_lines, token_client, PR, REPO};

fn token_mints(stub: &GitHubStub) -> Vec<RecordedRequest> {
    stub.requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/access_tokens"))
        .collect()
}

fn bearer_tokens_sent(stub: &GitHubStub) -> Vec<String> {
    stub.requests()
        .iter()
        .filter(|request| request.path.starts_with("/repos/"))
        .filter_map(|request| request.header("authorization").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn installation_token_is_reused() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);

    let first = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
        .await
        .unwrap();
    client
        .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 2")
        .await
        .unwrap();

    let issued = stub.issued_tokens();
    assert_eq!(issued.len(), 1, "requests: {:#?}", request_lines(&stub));
    assert_eq!(issued[0].installation_id, TEST_INSTALLATION_ID);
    let expected = format!("Bearer {}", issued[0].token);
    assert!(bearer_tokens_sent(&stub).iter().all(|sent| *sent == expected));
}

#[tokio::test]
async fn token_inside_refresh_margin_is_not_reused() {
    let stub = GitHubStub::start().await;
    // Four minutes is inside the default five-minute refresh margin, so no
    // token is fresh enough for a second request.
    stub.set_token_lifetime(Duration::from_secs(4 * 60));
    let client = app_client(&stub);

    let first = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
        .await
        .unwrap();
    client
        .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 2")
        .await
        .unwrap();

    let sent = bearer_tokens_sent(&stub);
    assert_eq!(sent.len(), 3, "list, create, edit: {:#?}", request_lines(&stub));
    assert_eq!(stub.issued_tokens().len(), 3);
    assert_ne!(sent[0], sent[1], "the create got a new token");
    assert_ne!(sent[1], sent[2], "the edit got a new token");
}

#[tokio::test]
async fn token_is_replaced_after_it_expires() {
    let stub = GitHubStub::start().await;
    stub.set_token_lifetime(Duration::from_secs(3));
    let mut settings = fast_settings(&stub);
    settings.token_refresh_margin = Duration::ZERO;
    let client = app_client_with(settings);
    let first = client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
        .await
        .unwrap();
    client
        .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 2")
        .await
        .unwrap();
    let minted_while_valid = stub.issued_tokens().len();

    tokio::time::sleep(Duration::from_millis(3100)).await;
    client
        .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 3")
        .await
        .unwrap();

    assert_eq!(minted_while_valid, 1);
    assert_eq!(stub.issued_tokens().len(), 2, "requests: {:#?}", request_lines(&stub));
    assert_eq!(
        stub.requests()
            .iter()
            .filter(|request| request.method == "PATCH")
            .count(),
        2,
        "no 401 round trip"
    );
}

#[tokio::test]
async fn rejected_token_is_refreshed_once() {
    let cases = [("injected 401", true), ("tokens revoked", false)];

    for (case, inject) in cases {
        let stub = GitHubStub::start().await;
        let client = app_client(&stub);
        let first = client
            .upsert_sticky_comment(REPO, PR, None, &marker(), "run 1")
            .await
            .unwrap();
        let edit = RequestMatch::patch(&format!("/repos/{REPO}/issues/comments/{}", first.id));
        if inject {
            stub.fail_next(edit.clone(), Failure::Unauthorized, 1);
        } else {
            stub.revoke_tokens();
        }

        let second = client
            .upsert_sticky_comment(REPO, PR, Some(first.id), &marker(), "run 2")
            .await;

        assert_eq!(
            second.map(|comment| comment.id).ok(),
            Some(first.id),
            "{case}: {:#?}",
            request_lines(&stub)
        );
        assert_eq!(stub.issued_tokens().len(), 2, "{case}: one new token");
        assert_eq!(stub.requests_matching(&edit).len(), 2, "{case}: 401, then success");
    }
}

#[tokio::test]
async fn repeated_401_is_unauthorized() {
    let stub = GitHubStub::start().await;
    let list = RequestMatch::get(&comments_path());
    stub.fail_next(list.clone(), Failure::Unauthorized, 10);
    let client = app_client(&stub);

    let result = client.upsert_sticky_comment(REPO, PR, None, &marker(), "results").await;

    assert!(matches!(result, Err(GitHubError::Unauthorized { .. })), "{result:?}");
    assert_eq!(stub.issued_tokens().len(), 2, "refreshed exactly once");
    assert_eq!(stub.requests_matching(&list).len(), 2);
}

#[tokio::test]
async fn untrusted_app_key_is_unauthorized() {
    let stub = GitHubStub::start().await;
    let credentials = Credentials::App {
        app_id: TEST_APP_ID,
        private_key_pem: SecretString::from(UNTRUSTED_PRIVATE_KEY),
    };
    let client = GitHubClient::new(fast_settings(&stub), credentials)
        .unwrap()
        .for_installation(TEST_INSTALLATION_ID);

    let result = client.upsert_sticky_comment(REPO, PR, None, &marker(), "results").await;

    assert!(matches!(result, Err(GitHubError::Unauthorized { .. })), "{result:?}");
    assert!(stub.issued_tokens().is_empty());
    assert_eq!(token_mints(&stub).len(), 1, "the JWT is not retried");
}

#[tokio::test]
async fn app_jwt_names_the_app() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);

    client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
        .await
        .unwrap();

    let mints = token_mints(&stub);
    assert_eq!(mints.len(), 1);
    assert_eq!(
        mints[0].path,
        format!("/app/installations/{TEST_INSTALLATION_ID}/access_tokens")
    );
    let jwt = mints[0]
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap();
    assert_eq!(jwt.split('.').count(), 3, "a JWT has three parts");
}

#[tokio::test]
async fn each_installation_gets_its_own_token() {
    let stub = GitHubStub::start().await;
    stub.add_installation(TEST_INSTALLATION_ID + 1);
    let client = app_client(&stub);
    let other = client.for_installation(TEST_INSTALLATION_ID + 1);

    client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "one")
        .await
        .unwrap();
    other
        .upsert_sticky_comment(
            "octo-org/gadgets",
            3,
            None,
            &pitot_github::sticky_marker("octo-org/gadgets", 3),
            "two",
        )
        .await
        .unwrap();
    client
        .upsert_sticky_comment(REPO, PR + 1, None, &pitot_github::sticky_marker(REPO, PR + 1), "three")
        .await
        .unwrap();

    let installations: Vec<u64> = stub.issued_tokens().iter().map(|token| token.installation_id).collect();
    assert_eq!(installations, [TEST_INSTALLATION_ID, TEST_INSTALLATION_ID + 1]);
}

#[tokio::test]
async fn unknown_installation_is_not_found() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub).for_installation(999);

    let result = client.upsert_sticky_comment(REPO, PR, None, &marker(), "results").await;

    assert!(matches!(result, Err(GitHubError::NotFound { .. })), "{result:?}");
}

#[tokio::test]
async fn app_client_needs_an_installation() {
    let stub = GitHubStub::start().await;
    let credentials = Credentials::App {
        app_id: TEST_APP_ID,
        private_key_pem: SecretString::from(pitot_github_stub::TEST_APP_PRIVATE_KEY),
    };
    let client = GitHubClient::new(fast_settings(&stub), credentials).unwrap();

    let result = client.upsert_sticky_comment(REPO, PR, None, &marker(), "results").await;

    assert!(matches!(result, Err(GitHubError::NoInstallation)), "{result:?}");
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn personal_token_is_sent_as_is() {
    let stub = GitHubStub::start().await;
    let client = token_client(&stub);

    client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
        .await
        .unwrap();

    assert!(token_mints(&stub).is_empty());
    let expected = format!("Bearer {TEST_PERSONAL_TOKEN}");
    assert!(bearer_tokens_sent(&stub).iter().all(|sent| *sent == expected));
    assert_eq!(stub.comments(REPO, PR)[0].user.login, TEST_USER_LOGIN);
}

#[tokio::test]
async fn every_request_carries_github_headers() {
    let stub = GitHubStub::start().await;
    let client = app_client(&stub);

    client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
        .await
        .unwrap();

    let requests = stub.requests();
    assert!(requests.len() >= 3, "mint, list, create: {:#?}", request_lines(&stub));
    let expected_agent = concat!("pitot/", env!("CARGO_PKG_VERSION"));
    for request in &requests {
        let line = request.line();
        assert_eq!(request.header("accept"), Some("application/vnd.github+json"), "{line}");
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"), "{line}");
        assert_eq!(request.header("user-agent"), Some(expected_agent), "{line}");
        for name in ["accept", "x-github-api-version", "user-agent", "authorization"] {
            assert_eq!(request.header_count(name), 1, "{line}: {name} sent once");
        }
    }
}

#[tokio::test]
async fn invalid_settings_are_rejected() {
    let key = || Credentials::Token(SecretString::from("token"));
    let cases = [
        (
            "relative URL",
            ClientSettings {
                base_url: "api.github.com".into(),
                ..ClientSettings::default()
            },
        ),
        (
            "ftp URL",
            ClientSettings {
                base_url: "ftp://api.github.com".into(),
                ..ClientSettings::default()
            },
        ),
        (
            "newline in agent",
            ClientSettings {
                user_agent: "pitot\n".into(),
                ..ClientSettings::default()
            },
        ),
    ];

    for (case, settings) in cases {
        assert!(GitHubClient::new(settings, key()).is_err(), "{case}");
    }
    let bad_key = Credentials::App {
        app_id: 1,
        private_key_pem: SecretString::from("not a key"),
    };
    assert!(
        GitHubClient::new(ClientSettings::default(), bad_key).is_err(),
        "invalid PEM"
    );
}

/// A `MakeWriter` that collects log output in memory.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("no test panicked while logging").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_name_ids_but_never_tokens() {
    let stub = GitHubStub::start().await;
    stub.fail_next(RequestMatch::post(&comments_path()), Failure::Unauthorized, 1);
    stub.fail_next(RequestMatch::post(&comments_path()), Failure::BadGateway, 1);
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let client = app_client(&stub);

    client
        .upsert_sticky_comment(REPO, PR, None, &marker(), "results")
        .with_subscriber(subscriber)
        .await
        .unwrap();

    let output = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        output.contains("retrying") || output.contains("checking for it by marker"),
        "{output}"
    );
    assert!(output.contains(&format!("repo={REPO}")), "{output}");
    assert!(output.contains(&format!("pr={PR}")), "{output}");
    for token in stub.issued_tokens() {
        assert!(
            !output.contains(&token.token),
            "an installation token was logged:\n{output}"
        );
    }
    let jwt = token_mints(&stub)[0]
        .header("authorization")
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned();
    assert!(!output.contains(&jwt), "the App JWT was logged:\n{output}");
    assert!(!output.contains("BEGIN RSA"), "the private key was logged:\n{output}");
}

#[tokio::test]
async fn identity_of_app_comes_from_get_app() {
    let stub = GitHubStub::start().await;

    let identity = app_client(&stub).identity().await.unwrap();

    assert_eq!(
        identity,
        pitot_github::Identity::App {
            id: TEST_APP_ID,
            slug: pitot_github_stub::TEST_APP_SLUG.to_owned()
        }
    );
    let calls = request_lines(&stub);
    assert_eq!(calls, vec!["GET /app".to_owned()]);
}

#[tokio::test]
async fn identity_of_token_comes_from_get_user() {
    let stub = GitHubStub::start().await;

    let identity = token_client(&stub).identity().await.unwrap();

    assert_eq!(
        identity,
        pitot_github::Identity::User {
            login: TEST_USER_LOGIN.to_owned()
        }
    );
}

#[tokio::test]
async fn identity_with_untrusted_key_is_unauthorized() {
    let stub = GitHubStub::start().await;
    let credentials = Credentials::App {
        app_id: TEST_APP_ID,
        private_key_pem: SecretString::from(UNTRUSTED_PRIVATE_KEY),
    };
    let client = GitHubClient::new(fast_settings(&stub), credentials).unwrap();

    let error = client.identity().await.unwrap_err();

    assert!(matches!(error, GitHubError::Unauthorized { .. }), "{error:?}");
}

#[tokio::test]
async fn call_stats_count_attempts_and_rate_limit() {
    let stub = GitHubStub::start().await;
    stub.fail_next(RequestMatch::get("/app"), Failure::BadGateway, 1);
    let client = app_client(&stub);

    client.identity().await.unwrap();

    let stats = client.call_stats();
    assert_eq!(stats.attempts.get("502"), Some(&1), "{stats:?}");
    assert_eq!(stats.attempts.get("200"), Some(&1), "{stats:?}");
    // The stand-in sends 5000 minus the requests it has received.
    assert_eq!(stats.rate_limit_remaining.get("core"), Some(&4998), "{stats:?}");
}
