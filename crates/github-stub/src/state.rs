//! The stand-in's memory: recorded requests, planned failures, comments,
//! check runs, installations and minted tokens.
//!
//! One `std::sync::Mutex` guards it all; no lock is held across an `.await`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use chrono::Utc;

use crate::auth::IssuedToken;
use crate::failure::{Failure, PlannedFailure, RequestMatch};
use crate::model::{CheckRun, Comment, PullRequest, RecordedRequest, User};

/// GitHub's installation token lifetime.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

pub(crate) struct StubState {
    pub base_url: String,
    /// Workflow runs and artifacts, kept apart from the rest.
    pub actions: crate::actions::ActionsState,
    /// Refs, releases, commit comments and issues.
    pub repo_data: crate::repo_routes::RepoStore,
    inner: Mutex<Inner>,
}

struct Inner {
    requests: Vec<RecordedRequest>,
    failures: Vec<PlannedFailure>,
    comments: BTreeMap<u64, Comment>,
    check_runs: BTreeMap<u64, CheckRun>,
    /// Pull requests by repository and number, as tests set them.
    pull_requests: BTreeMap<(String, u64), PullRequest>,
    /// Reactions on issue comments: comment id and reaction name.
    reactions: Vec<(u64, String)>,
    /// Repository ids, in the order repositories were first seen; GitHub's
    /// pagination links name repositories by id.
    repositories: Vec<String>,
    next_id: u64,
    installations: BTreeSet<u64>,
    tokens: Vec<IssuedToken>,
    token_lifetime: Duration,
}

impl StubState {
    pub fn new(base_url: String) -> StubState {
        let inner = Inner {
            requests: Vec::new(),
            failures: Vec::new(),
            comments: BTreeMap::new(),
            check_runs: BTreeMap::new(),
            pull_requests: BTreeMap::new(),
            reactions: Vec::new(),
            repositories: Vec::new(),
            // Real ids are large; starting high catches clients that store them in 32 bits.
            next_id: 5_000_000_000,
            installations: BTreeSet::from([crate::TEST_INSTALLATION_ID]),
            tokens: Vec::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
        };
        StubState {
            base_url,
            actions: crate::actions::ActionsState::default(),
            repo_data: crate::repo_routes::RepoStore::default(),
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock has failed already;
        // the data is still usable for the rest of its report.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record(&self, request: RecordedRequest) {
        self.lock().requests.push(request);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub fn plan_failure(&self, matcher: RequestMatch, failure: Failure, times: usize) {
        if times > 0 {
            self.lock().failures.push(PlannedFailure {
                matcher,
                failure,
                remaining: times,
            });
        }
    }

    /// Drops the planned failures that `matcher` was given, used or not.
    pub fn drop_failures(&self, matcher: &RequestMatch) {
        self.lock().failures.retain(|planned| planned.matcher != *matcher);
    }

    /// Takes one use of the earliest planned failure matching the request.
    pub fn take_failure(&self, method: &Method, path: &str) -> Option<Failure> {
        let mut inner = self.lock();
        let index = inner
            .failures
            .iter()
            .position(|planned| planned.matcher.matches(method, path))?;
        let planned = &mut inner.failures[index];
        let failure = planned.failure;
        planned.remaining -= 1;
        if planned.remaining == 0 {
            inner.failures.remove(index);
        }
        Some(failure)
    }

    /// Returns the numeric id of `repo`, assigning one the first time.
    pub fn repository_id(&self, repo: &str) -> u64 {
        let mut inner = self.lock();
        let position = match inner
            .repositories
            .iter()
            .position(|known| known.eq_ignore_ascii_case(repo))
        {
            Some(position) => position,
            None => {
                inner.repositories.push(repo.to_owned());
                inner.repositories.len() - 1
            }
        };
        1_296_269 + position as u64
    }

    /// Returns the `owner/name` of the repository with numeric id `id`.
    pub fn repository_name(&self, id: u64) -> Option<String> {
        let position = usize::try_from(id.checked_sub(1_296_269)?).ok()?;
        self.lock().repositories.get(position).cloned()
    }

    pub fn add_comment(&self, repo: &str, number: u64, body: String, user: User) -> Comment {
        self.repository_id(repo);
        let mut inner = self.lock();
        let id = inner.take_id();
        let now = Utc::now();
        let comment = Comment {
            id,
            repo: repo.to_owned(),
            number,
            body,
            user,
            created_at: now,
            updated_at: now,
        };
        inner.comments.insert(id, comment.clone());
        comment
    }

    pub fn comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        let inner = self.lock();
        inner
            .comments
            .values()
            .filter(|comment| comment.number == number && comment.repo.eq_ignore_ascii_case(repo))
            .cloned()
            .collect()
    }

    /// Replaces the body of comment `id` in `repo`; `None` when there is no such comment.
    pub fn edit_comment(&self, repo: &str, id: u64, body: String) -> Option<Comment> {
        let mut inner = self.lock();
        let comment = inner
            .comments
            .get_mut(&id)
            .filter(|comment| comment.repo.eq_ignore_ascii_case(repo))?;
        comment.body = body;
        comment.updated_at = Utc::now();
        Some(comment.clone())
    }

    pub fn delete_comment(&self, id: u64) -> bool {
        self.lock().comments.remove(&id).is_some()
    }

    pub fn comment_repo(&self, id: u64) -> Option<String> {
        self.lock().comments.get(&id).map(|comment| comment.repo.clone())
    }

    /// Stores a new check run, giving it an id.
    pub fn set_pull_request(&self, repo: &str, pull_request: PullRequest) {
        self.lock().pull_requests.insert((repo.to_owned(), pull_request.number), pull_request);
    }

    pub fn pull_request(&self, repo: &str, number: u64) -> Option<PullRequest> {
        self.lock().pull_requests.get(&(repo.to_owned(), number)).cloned()
    }

    /// Adds a reaction to a comment; returns `false` when it was there already.
    pub fn add_reaction(&self, comment_id: u64, content: &str) -> bool {
        let mut inner = self.lock();
        let reaction = (comment_id, content.to_owned());
        if inner.reactions.contains(&reaction) {
            return false;
        }
        inner.reactions.push(reaction);
        true
    }

    pub fn reactions(&self, comment_id: u64) -> Vec<String> {
        let inner = self.lock();
        inner.reactions.iter().filter(|(id, _)| *id == comment_id).map(|(_, content)| content.clone()).collect()
    }

    pub fn add_check_run(&self, mut check_run: CheckRun) -> CheckRun {
        let mut inner = self.lock();
        check_run.id = inner.take_id();
        inner.check_runs.insert(check_run.id, check_run.clone());
        check_run
    }

    /// Applies `change` to check run `id` in `repo`; `None` when there is no such run.
    pub fn update_check_run<F, T>(&self, repo: &str, id: u64, change: F) -> Option<T>
    where
        F: FnOnce(&mut CheckRun) -> T,
    {
        let mut inner = self.lock();
        let check_run = inner
            .check_runs
            .get_mut(&id)
            .filter(|run| run.repo.eq_ignore_ascii_case(repo))?;
        Some(change(check_run))
    }

    pub fn check_runs(&self, repo: &str) -> Vec<CheckRun> {
        let inner = self.lock();
        inner
            .check_runs
            .values()
            .filter(|run| run.repo.eq_ignore_ascii_case(repo))
            .cloned()
            .collect()
    }

    pub fn add_installation(&self, installation_id: u64) {
        self.lock().installations.insert(installation_id);
    }

    pub fn has_installation(&self, installation_id: u64) -> bool {
        self.lock().installations.contains(&installation_id)
    }

    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = lifetime;
    }

    /// Mints a new installation token valid for the configured lifetime.
    pub fn mint_token(&self, installation_id: u64) -> IssuedToken {
        let mut inner = self.lock();
        let serial = inner.tokens.len() + 1;
        let lifetime = chrono::Duration::from_std(inner.token_lifetime).unwrap_or(chrono::Duration::hours(1));
        // GitHub reports expiry in whole seconds; truncate so the stored time
        // equals the one the client receives.
        let expires_at = chrono::DateTime::from_timestamp((Utc::now() + lifetime).timestamp(), 0).unwrap_or_default();
        let token = IssuedToken {
            token: format!("ghs_stub{installation_id}x{serial:06}"),
            installation_id,
            expires_at,
            revoked: false,
        };
        inner.tokens.push(token.clone());
        token
    }

    pub fn find_token(&self, token: &str) -> Option<IssuedToken> {
        self.lock().tokens.iter().find(|issued| issued.token == token).cloned()
    }

    pub fn revoke_tokens(&self) {
        for token in &mut self.lock().tokens {
            token.revoked = true;
        }
    }

    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        self.lock().tokens.clone()
    }
}

impl Inner {
    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}
