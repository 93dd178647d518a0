//! The GitHub client against the local GitHub stand-in: sticky comments,
//! check runs, App authentication, marker searches that skip other
//! authors' comments, and retries through injected failures.
//!
//! Retry waits are shortened through `ClientSettings`, except where a test
//! checks that the client honours a wait GitHub asked for (one second).

mod auth;
mod authorship;
mod check_runs;
mod comments;
mod later_calls;
mod retries;

use std::time::Duration;

use pitot_github::{ClientSettings, Credentials, GitHubClient, RetryPolicy, SecretString};
use pitot_github_stub::{
    GitHubStub, RecordedRequest, RequestMatch, TEST_APP_ID, TEST_APP_PRIVATE_KEY, TEST_INSTALLATION_ID,
    TEST_PERSONAL_TOKEN,
};

pub const REPO: &str = "octo-org/widgets";
pub const PR: u64 = 17;

/// Returns settings for the stand-in with short backoffs and a one-second
/// timeout, which the stand-in's injected delays (three seconds) exceed.
pub fn fast_settings(stub: &GitHubStub) -> ClientSettings {
    ClientSettings {
        base_url: stub.url().to_owned(),
        request_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            max_rate_limit_wait: Duration::from_secs(3),
        },
        ..ClientSettings::default()
    }
}

/// Builds a client with the test App's credentials, acting as the test installation.
#[track_caller]
pub fn app_client(stub: &GitHubStub) -> GitHubClient {
    app_client_with(fast_settings(stub))
}

#[track_caller]
pub fn app_client_with(settings: ClientSettings) -> GitHubClient {
    let credentials = Credentials::App {
        app_id: TEST_APP_ID,
        private_key_pem: SecretString::from(TEST_APP_PRIVATE_KEY),
    };
    GitHubClient::new(settings, credentials)
        .expect("the test App credentials build a client")
        .for_installation(TEST_INSTALLATION_ID)
}

/// Builds a client with the stand-in's personal access token.
#[track_caller]
pub fn token_client(stub: &GitHubStub) -> GitHubClient {
    let credentials = Credentials::Token(SecretString::from(TEST_PERSONAL_TOKEN));
    GitHubClient::new(fast_settings(stub), credentials).expect("a token builds a client")
}

pub fn comments_path() -> String {
    format!("/repos/{REPO}/issues/{PR}/comments")
}

pub fn marker() -> String {
    pitot_github::sticky_marker(REPO, PR)
}

/// Returns the recorded requests `matcher` matches.
pub fn requests(stub: &GitHubStub, matcher: &RequestMatch) -> Vec<RecordedRequest> {
    stub.requests_matching(matcher)
}

/// Returns every recorded request as `METHOD /path?query`, for failure messages.
pub fn request_lines(stub: &GitHubStub) -> Vec<String> {
    stub.requests().iter().map(RecordedRequest::line).collect()
}
