//! A local stand-in for the part of GitHub's REST API that pitot calls, for
//! tests: issue comments, check runs, GitHub App installation tokens,
//! `GET /app` and `GET /user` for checking credentials, the GitHub
//! Actions endpoints of the Actions backend (workflow dispatch, runs,
//! artifacts), and for release reports commits by ref, tags and annotated
//! tag objects, releases, commit comments and issues.
//!
//! It responds as GitHub does (status codes, JSON shapes, `Link` pagination,
//! rate-limit headers), stores what clients create, records every request for
//! assertions, and can be scripted to fail the next matching requests in the
//! ways GitHub fails (server errors, slow responses, rate limits, expired
//! tokens).
//!
//! It listens on 127.0.0.1 on a port the system picks and stops when the
//! [`GitHubStub`] is dropped. It is a test dependency only: it checks what
//! pitot relies on and no more, so passing against it does not prove a
//! request would pass against GitHub.

mod actions;
// Steps of a handler return axum's `Response` as their error, the usual
// axum shape; its size does not matter in a test stand-in.
#[expect(
    clippy::result_large_err,
    reason = "handler steps return axum's Response as the error"
)]
mod auth;
mod failure;
mod model;
#[expect(
    clippy::result_large_err,
    reason = "handler steps return axum's Response as the error"
)]
mod routes;
#[expect(
    clippy::result_large_err,
    reason = "handler steps return axum's Response as the error"
)]
mod repo_routes;
mod state;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use actions::{ArtifactRecord, WorkflowRunRecord};
pub use auth::IssuedToken;
pub use failure::{Failure, RequestMatch};
pub use repo_routes::{CommitComment, Issue, Release};
pub use model::{CheckRun, CheckRunOutput, Comment, PullRequest, RecordedRequest, User};

use state::StubState;

/// The App id the stand-in trusts; JWTs must carry it as `iss`.
pub const TEST_APP_ID: u64 = 424_242;

/// The test App's slug, as `GET /app` returns it.
pub const TEST_APP_SLUG: &str = "pitot-test";

/// An installation of the test App that exists on the stand-in.
pub const TEST_INSTALLATION_ID: u64 = 31_337;

/// A personal access token the stand-in accepts; it acts as [`TEST_USER_LOGIN`].
pub const TEST_PERSONAL_TOKEN: &str = "ghp_pitotStubPersonalAccessToken0000000";

/// The login of the user behind [`TEST_PERSONAL_TOKEN`].
pub const TEST_USER_LOGIN: &str = "pitot-tester";

/// The login GitHub shows for comments made with an installation token.
pub const TEST_APP_BOT_LOGIN: &str = "pitot-test[bot]";

/// The test App's private key (PKCS#1 PEM). Test-only: it is public in this repository.
pub const TEST_APP_PRIVATE_KEY: &str = include_str!("../testdata/app-private-key.pem");

/// An RSA private key the stand-in does not trust, for tests of rejected JWTs.
pub const UNTRUSTED_PRIVATE_KEY: &str = include_str!("../testdata/other-private-key.pem");

/// A running stand-in for GitHub's REST API; stops when dropped.
pub struct GitHubStub {
    url: String,
    state: Arc<StubState>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl GitHubStub {
    /// Starts the stand-in on 127.0.0.1 on a free port.
    ///
    /// Panics when no port can be bound, which only happens when the test
    /// machine is broken.
    pub async fn start() -> GitHubStub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the GitHub stand-in");
        GitHubStub::start_on(listener)
    }

    /// Starts the stand-in on a listener the caller bound, such as a fixed
    /// port for the `pitot-github-stub` program.
    ///
    /// Panics when the listener has no local address, which only happens
    /// when the socket is broken.
    pub fn start_on(listener: TcpListener) -> GitHubStub {
        let address = listener.local_addr().expect("the bound socket has an address");
        let url = format!("http://{address}");
        let state = Arc::new(StubState::new(url.clone()));

        let (shutdown, stop) = oneshot::channel::<()>();
        let router = routes::router(state.clone());
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stop.await;
            });
            if let Err(error) = serve.await {
                eprintln!("the GitHub stand-in stopped with an error: {error}");
            }
        });

        GitHubStub {
            url,
            state,
            shutdown: Some(shutdown),
            server,
        }
    }

    /// Returns the base URL, `http://127.0.0.1:PORT`, to use as the API base.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns every request received so far, oldest first, including those
    /// that got an injected failure.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Returns the requests received so far that `matcher` matches, oldest first.
    pub fn requests_matching(&self, matcher: &RequestMatch) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|request| matcher.matches(&request.method, &request.path))
            .collect()
    }

    /// Returns the comments on issue or pull request `number` of `repo`
    /// (`owner/name`), oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        self.state.comments(repo, number)
    }

    /// Returns the check runs created in `repo` (`owner/name`), oldest first.
    pub fn check_runs(&self, repo: &str) -> Vec<CheckRun> {
        self.state.check_runs(repo)
    }

    /// Adds a queued check run named `name` with external id `external_id`
    /// on commit `head_sha` of `repo`, as App `app_id` would create it, and
    /// returns its id. With an id other than [`TEST_APP_ID`] it is another
    /// App's run, and the list endpoint's `app_id` filter excludes it.
    pub fn seed_check_run(&self, app_id: u64, repo: &str, head_sha: &str, name: &str, external_id: &str) -> u64 {
        let check_run = CheckRun {
            id: 0,
            repo: repo.to_owned(),
            app_id,
            name: name.to_owned(),
            head_sha: head_sha.to_owned(),
            status: "queued".into(),
            conclusion: None,
            details_url: None,
            external_id: Some(external_id.to_owned()),
            output: CheckRunOutput::default(),
            started_at: chrono::Utc::now(),
            completed_at: None,
        };
        self.state.add_check_run(check_run).id
    }

    /// Fails the next `times` requests that `matcher` matches with `failure`.
    ///
    /// Failures queue up because a request takes the earliest planned failure
    /// that matches it: `fail_next(m, A, 1)` then `fail_next(m, B, 1)` fails
    /// the next two matching requests with A, then B.
    pub fn fail_next(&self, matcher: RequestMatch, failure: Failure, times: usize) {
        self.state.plan_failure(matcher, failure, times);
    }

    /// Drops what is left of the failures planned with `matcher`, so that
    /// the requests it matches succeed again.
    pub fn stop_failing(&self, matcher: &RequestMatch) {
        self.state.drop_failures(matcher);
    }

    /// Adds comments by the user `octocat` to issue or pull request `number`
    /// of `repo`, in order, and returns their ids.
    pub fn seed_comments<I, S>(&self, repo: &str, number: u64, bodies: I) -> Vec<u64>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.seed_comments_by(&User::octocat(), repo, number, bodies)
    }

    /// Adds comments by `author` to issue or pull request `number` of
    /// `repo`, in order, and returns their ids. With
    /// [`User::test_app_bot`] they look as if the test App had written them.
    pub fn seed_comments_by<I, S>(&self, author: &User, repo: &str, number: u64, bodies: I) -> Vec<u64>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        bodies
            .into_iter()
            .map(|body| self.state.add_comment(repo, number, body.into(), author.clone()).id)
            .collect()
    }

    /// Adds a comment by `author` on commit `sha` of `repo` and returns its id.
    pub fn seed_commit_comment(&self, author: &User, repo: &str, sha: &str, body: &str) -> u64 {
        self.state
            .repo_data
            .add_commit_comment(repo, sha, body.to_owned(), author.clone())
            .id
    }

    /// Opens an issue by `author` in `repo` and returns its number.
    pub fn seed_issue(&self, author: &User, repo: &str, title: &str, body: &str) -> u64 {
        self.state
            .repo_data
            .add_issue(repo, title, body, author.clone())
            .number
    }

    /// Deletes a comment as a person would in the web interface; returns
    /// whether it existed.
    pub fn delete_comment(&self, comment_id: u64) -> bool {
        self.state.delete_comment(comment_id)
    }

    /// Sets how long installation tokens minted from now on stay valid
    /// (GitHub's is one hour, the default).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.set_token_lifetime(lifetime);
    }

    /// Makes every installation token minted so far invalid, as when GitHub
    /// revokes tokens; requests with them get 401.
    pub fn revoke_tokens(&self) {
        self.state.revoke_tokens();
    }

    /// Returns the installation tokens minted so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        self.state.issued_tokens()
    }

    /// Sets what `GET /repos/{owner}/{repo}/pulls/{number}` returns for
    /// `pull_request.number` of `repo`.
    pub fn set_pull_request(&self, repo: &str, pull_request: PullRequest) {
        self.state.set_pull_request(repo, pull_request);
    }

    /// Returns the reactions added to issue comment `comment_id`, such as
    /// `rocket` or `+1`, oldest first.
    pub fn reactions(&self, comment_id: u64) -> Vec<String> {
        self.state.reactions(comment_id)
    }

    /// Sets whether a workflow dispatch that asks for the run's details
    /// gets them (200 with `workflow_run_id`, the default) or 204 without a
    /// body, as servers from before that parameter respond.
    pub fn set_return_run_details(&self, enabled: bool) {
        self.state.actions.set_return_run_details(enabled);
    }

    /// Sets the merge-base that `GET /repos/{repo}/compare/{base}...{head}`
    /// returns for any two commits of `repo`. Without one it returns 404.
    pub fn set_merge_base(&self, repo: &str, sha: &str) {
        self.state.actions.set_merge_base(repo, sha);
    }

    /// Sets the commits of `branch` in `repo`, oldest first, so the last is
    /// the branch's head. `GET /repos/{repo}/compare/{branch}...{sha}` then
    /// counts the commits after `sha`, for any `sha` in the list.
    pub fn set_branch_commits(&self, repo: &str, branch: &str, commits: &[&str]) {
        let commits = commits.iter().map(|sha| (*sha).to_owned()).collect();
        self.state.actions.set_branch_commits(repo, branch, commits);
    }

    /// Returns the workflow runs dispatched in `repo`, oldest first.
    pub fn workflow_runs(&self, repo: &str) -> Vec<WorkflowRunRecord> {
        self.state.actions.runs(repo)
    }

    /// Marks run `run_id` completed with `conclusion` (`success`,
    /// `failure`, ...) and returns it; `None` when there is no such run.
    pub fn complete_workflow_run(&self, run_id: u64, conclusion: &str) -> Option<WorkflowRunRecord> {
        self.state.actions.complete_run(run_id, conclusion)
    }

    /// Attaches an artifact to run `run_id`; its download redirects to
    /// `download_url`, or returns 410 when `expired`. Returns the artifact with its id.
    pub fn add_run_artifact(
        &self,
        run_id: u64,
        name: &str,
        size_in_bytes: u64,
        download_url: &str,
        expired: bool,
    ) -> ArtifactRecord {
        self.state.actions.add_artifact(ArtifactRecord {
            id: 0,
            run_id,
            name: name.to_owned(),
            size_in_bytes,
            download_url: download_url.to_owned(),
            expired,
        })
    }

    /// Makes `GET /repos/{repo}/commits/{name}` return commit `sha`; `name`
    /// is a tag, a branch or the hash itself.
    pub fn set_ref(&self, repo: &str, name: &str, sha: &str) {
        self.state.repo_data.set_ref(repo, name, sha);
    }

    /// Makes `GET /repos/{repo}/commits/...` name `parent` as the first
    /// parent of commit `sha`.
    pub fn set_parent(&self, repo: &str, sha: &str, parent: &str) {
        self.state.repo_data.set_parent(repo, sha, parent);
    }

    /// Makes `GET /repos/{repo}/commits/{sha}/pulls` list the pull
    /// requests `numbers`.
    pub fn set_commit_pulls(&self, repo: &str, sha: &str, numbers: Vec<u64>) {
        self.state.repo_data.set_commit_pulls(repo, sha, numbers);
    }

    /// Makes `GET /repos/{repo}` return `branch` as the default branch.
    pub fn set_default_branch(&self, repo: &str, branch: &str) {
        self.state.repo_data.set_default_branch(repo, branch);
    }

    /// Adds lightweight tag `name` at commit `commit` to `repo`: `GET
    /// /repos/{repo}/tags` lists it and `GET /repos/{repo}/commits/{name}`
    /// returns the commit.
    pub fn add_tag(&self, repo: &str, name: &str, commit: &str) {
        self.state.repo_data.add_tag(repo, name, commit, None);
    }

    /// Adds annotated tag `name` to `repo`: tag object `tag_object`, which
    /// `GET /repos/{repo}/git/tags/{tag_object}` returns, pointing at
    /// `commit`. A push of the tag names `tag_object`, not the commit.
    pub fn add_annotated_tag(&self, repo: &str, name: &str, tag_object: &str, commit: &str) {
        self.state
            .repo_data
            .add_tag(repo, name, commit, Some(tag_object));
    }

    /// Adds a release to `repo`; `GET /repos/{repo}/releases` lists the
    /// newest added first, as GitHub lists the newest first.
    pub fn add_release(&self, repo: &str, release: Release) {
        self.state.repo_data.add_release(repo, release);
    }

    /// Returns the commit comments created in `repo`, oldest first.
    pub fn commit_comments(&self, repo: &str) -> Vec<CommitComment> {
        self.state.repo_data.commit_comments(repo)
    }

    /// Returns the issues of `repo`, oldest first.
    pub fn issues(&self, repo: &str) -> Vec<Issue> {
        self.state.repo_data.issues(repo)
    }

    /// Makes `installation_id` an installation of the test App, so tokens
    /// can be minted for it. [`TEST_INSTALLATION_ID`] exists from the start.
    pub fn add_installation(&self, installation_id: u64) {
        self.state.add_installation(installation_id);
    }
}

impl Drop for GitHubStub {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Graceful shutdown waits for open connections, and a client may
        // keep one alive; the test is over, so stop the server outright.
        self.server.abort();
    }
}
