//! Stand-in routes for releases and what their reports write: getting a
//! commit by ref ("Get a commit"), listing tags ("List repository tags"),
//! getting an annotated tag object ("Get a tag"), listing releases ("List releases"),
//! commit comments ("Create a commit comment", "Update a commit comment")
//! and issues ("List repository issues", "Create an issue", "Update an
//! issue"), in REST API version 2022-11-28.
//!
//! Tests seed refs and releases; the rest is stored as clients create it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

use crate::auth::authenticate;
use crate::failure::{github_error, validation_failed};
use crate::model::{timestamp, User};
use crate::routes::{comment_body, json_fields, link_header, string_field, PageRequest};
use crate::state::StubState;

type Shared = State<Arc<StubState>>;

/// A release as tests seed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub tag_name: String,
    /// A branch name or a commit, as GitHub stores it.
    pub target_commitish: String,
    pub draft: bool,
    pub prerelease: bool,
}

/// A commit comment as a client or a test created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitComment {
    pub id: u64,
    pub repo: String,
    pub commit_id: String,
    pub body: String,
    pub user: User,
}

/// An issue as a client or a test created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub repo: String,
    pub title: String,
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
    pub user: User,
}

/// Refs, releases, commit comments and issues, by repository.
#[derive(Default)]
pub(crate) struct RepoData {
    /// `(repo, ref or sha)` to commit.
    refs: HashMap<(String, String), String>,
    /// `(repo, sha)` to the commit's first parent.
    parents: HashMap<(String, String), String>,
    /// `(repo, sha)` to the pull requests that brought the commit in.
    commit_pulls: HashMap<(String, String), Vec<u64>>,
    /// Repositories' default branches.
    default_branches: HashMap<String, String>,
    /// Tags in the order they were added: repository, name and the
    /// commit the tag ends at.
    tags: Vec<(String, String, String)>,
    /// `(repo, sha)` of an annotated tag object to its tag name and the
    /// commit it points to.
    tag_objects: HashMap<(String, String), (String, String)>,
    releases: Vec<(String, Release)>,
    commit_comments: Vec<CommitComment>,
    issues: Vec<Issue>,
    next_id: u64,
}

impl RepoData {
    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        7_000_000_000 + self.next_id
    }
}

/// The stand-in's store for these routes, shared with [`crate::GitHubStub`].
#[derive(Default)]
pub(crate) struct RepoStore {
    data: Mutex<RepoData>,
}

impl RepoStore {
    pub fn lock(&self) -> MutexGuard<'_, RepoData> {
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_ref(&self, repo: &str, name: &str, sha: &str) {
        self.lock()
            .refs
            .insert((repo.to_lowercase(), name.to_owned()), sha.to_owned());
    }

    pub fn set_parent(&self, repo: &str, sha: &str, parent: &str) {
        self.lock()
            .parents
            .insert((repo.to_lowercase(), sha.to_owned()), parent.to_owned());
    }

    pub fn set_commit_pulls(&self, repo: &str, sha: &str, numbers: Vec<u64>) {
        self.lock()
            .commit_pulls
            .insert((repo.to_lowercase(), sha.to_owned()), numbers);
    }

    pub fn set_default_branch(&self, repo: &str, branch: &str) {
        self.lock()
            .default_branches
            .insert(repo.to_lowercase(), branch.to_owned());
    }

    pub fn add_tag(&self, repo: &str, name: &str, commit: &str, tag_object: Option<&str>) {
        let repo = repo.to_lowercase();
        let mut data = self.lock();
        data.refs
            .insert((repo.clone(), name.to_owned()), commit.to_owned());
        data.tags
            .push((repo.clone(), name.to_owned(), commit.to_owned()));
        if let Some(object) = tag_object {
            data.tag_objects.insert(
                (repo, object.to_owned()),
                (name.to_owned(), commit.to_owned()),
            );
        }
    }

    pub fn add_release(&self, repo: &str, release: Release) {
        self.lock().releases.push((repo.to_lowercase(), release));
    }

    pub fn commit_comments(&self, repo: &str) -> Vec<CommitComment> {
        let data = self.lock();
        data.commit_comments
            .iter()
            .filter(|c| c.repo.eq_ignore_ascii_case(repo))
            .cloned()
            .collect()
    }

    pub fn issues(&self, repo: &str) -> Vec<Issue> {
        self.lock()
            .issues
            .iter()
            .filter(|i| i.repo.eq_ignore_ascii_case(repo))
            .cloned()
            .collect()
    }

    pub fn add_commit_comment(&self, repo: &str, sha: &str, body: String, user: User) -> CommitComment {
        let mut data = self.lock();
        let comment = CommitComment {
            id: data.take_id(),
            repo: repo.to_owned(),
            commit_id: sha.to_owned(),
            body,
            user,
        };
        data.commit_comments.push(comment.clone());
        comment
    }

    pub fn add_issue(&self, repo: &str, title: &str, body: &str, user: User) -> Issue {
        let mut data = self.lock();
        let number = data
            .issues
            .iter()
            .filter(|i| i.repo.eq_ignore_ascii_case(repo))
            .count() as u64
            + 1;
        let issue = Issue {
            number,
            repo: repo.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            state: "open".into(),
            user,
        };
        data.issues.push(issue.clone());
        issue
    }
}

pub(crate) fn routes() -> Router<Arc<StubState>> {
    Router::new()
        .route("/repos/{owner}/{repo}", get(get_repository))
        .route("/repos/{owner}/{repo}/commits/{git_ref}", get(get_commit))
        .route(
            "/repos/{owner}/{repo}/commits/{git_ref}/pulls",
            get(list_commit_pulls),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{git_ref}/comments",
            get(list_commit_comments).post(create_commit_comment),
        )
        .route(
            "/repos/{owner}/{repo}/comments/{comment_id}",
            patch(update_commit_comment),
        )
        .route("/repos/{owner}/{repo}/releases", get(list_releases))
        .route("/repos/{owner}/{repo}/tags", get(list_tags))
        .route("/repos/{owner}/{repo}/git/tags/{tag_sha}", get(get_tag_object))
        .route(
            "/repos/{owner}/{repo}/issues",
            get(list_issues).post(create_issue),
        )
        .route("/repos/{owner}/{repo}/issues/{number}", patch(update_issue))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}`: a seeded ref, or a full
/// commit hash seeded as a ref of itself.
async fn get_commit(
    State(state): Shared,
    Path((owner, repo, git_ref)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let repo = format!("{owner}/{repo}").to_lowercase();
    let data = state.repo_data.lock();
    let sha = data
        .refs
        .get(&(repo.clone(), git_ref.clone()))
        .cloned()
        .or_else(|| data.refs.values().find(|sha| **sha == git_ref).cloned());
    let parents: Vec<Value> = sha
        .as_ref()
        .and_then(|sha| data.parents.get(&(repo.clone(), sha.clone())))
        .map(|parent| vec![json!({ "sha": parent })])
        .unwrap_or_default();
    match sha {
        Some(sha) => Json(json!({
            "sha": sha,
            "parents": parents,
            "url": format!("{}/repos/{repo}/commits/{sha}", state.base_url),
            "commit": { "message": "seeded by the stand-in" },
        }))
        .into_response(),
        None => github_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {git_ref}"),
        ),
    }
}

/// `GET /repos/{owner}/{repo}/commits/{sha}/pulls`: the pull requests a
/// test seeded for the commit, none otherwise.
async fn list_commit_pulls(
    State(state): Shared,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let key = (format!("{owner}/{repo}").to_lowercase(), sha);
    let numbers = state
        .repo_data
        .lock()
        .commit_pulls
        .get(&key)
        .cloned()
        .unwrap_or_default();
    let body: Vec<Value> = numbers
        .iter()
        .map(|number| json!({ "number": number, "state": "closed", "merged_at": timestamp(Utc::now()) }))
        .collect();
    Json(body).into_response()
}

/// `GET /repos/{owner}/{repo}`: a repository whose default branch a test set.
async fn get_repository(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let full_name = format!("{owner}/{repo}");
    let branch = state
        .repo_data
        .lock()
        .default_branches
        .get(&full_name.to_lowercase())
        .cloned();
    match branch {
        Some(branch) => Json(json!({
            "full_name": full_name,
            "default_branch": branch,
            "clone_url": format!("https://github.com/{full_name}.git"),
        }))
        .into_response(),
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn list_releases(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let repo = format!("{owner}/{repo}");
    // GitHub lists the newest release first.
    let releases: Vec<Release> = {
        let data = state.repo_data.lock();
        data.releases
            .iter()
            .rev()
            .filter(|(r, _)| r.eq_ignore_ascii_case(&repo))
            .map(|(_, r)| r.clone())
            .collect()
    };
    let page = PageRequest::from_query(&query);
    let (items, last_page) = page.slice(&releases);
    let body: Vec<Value> = items
        .iter()
        .map(|release| {
            json!({
                "tag_name": release.tag_name,
                "target_commitish": release.target_commitish,
                "draft": release.draft,
                "prerelease": release.prerelease,
                "name": release.tag_name,
            })
        })
        .collect();
    let mut response = Json(body).into_response();
    let path = format!("{}/repos/{repo}/releases", state.base_url);
    if let Some(link) = link_header(&path, raw_query.as_deref(), page.page, last_page) {
        response.headers_mut().insert("link", link);
    }
    response
}

/// `GET /repos/{owner}/{repo}/tags`: the seeded tags, newest added first,
/// each with the commit it ends at, in pages.
async fn list_tags(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let repo = format!("{owner}/{repo}");
    let tags: Vec<(String, String)> = {
        let data = state.repo_data.lock();
        data.tags
            .iter()
            .rev()
            .filter(|(r, _, _)| r.eq_ignore_ascii_case(&repo))
            .map(|(_, name, commit)| (name.clone(), commit.clone()))
            .collect()
    };
    let page = PageRequest::from_query(&query);
    let (items, last_page) = page.slice(&tags);
    let body: Vec<Value> = items
        .iter()
        .map(|(name, commit)| {
            json!({
                "name": name,
                "commit": {
                    "sha": commit,
                    "url": format!("{}/repos/{repo}/commits/{commit}", state.base_url),
                },
                "zipball_url": format!("{}/repos/{repo}/zipball/refs/tags/{name}", state.base_url),
                "tarball_url": format!("{}/repos/{repo}/tarball/refs/tags/{name}", state.base_url),
            })
        })
        .collect();
    let mut response = Json(body).into_response();
    let path = format!("{}/repos/{repo}/tags", state.base_url);
    if let Some(link) = link_header(&path, raw_query.as_deref(), page.page, last_page) {
        response.headers_mut().insert("link", link);
    }
    response
}

/// `GET /repos/{owner}/{repo}/git/tags/{tag_sha}`: a seeded annotated tag
/// object, pointing at its commit, and 404 for any other object id.
async fn get_tag_object(
    State(state): Shared,
    Path((owner, repo, tag_sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let key = (format!("{owner}/{repo}").to_lowercase(), tag_sha.clone());
    let found = state.repo_data.lock().tag_objects.get(&key).cloned();
    match found {
        Some((name, commit)) => Json(json!({
            "sha": tag_sha,
            "tag": name,
            "message": "seeded by the stand-in",
            "object": {
                "type": "commit",
                "sha": commit,
                "url": format!("{}/repos/{owner}/{repo}/git/commits/{commit}", state.base_url),
            },
        }))
        .into_response(),
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `GET /repos/{owner}/{repo}/commits/{sha}/comments`: the comments on one
/// commit, oldest first, in pages.
async fn list_commit_comments(
    State(state): Shared,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let repo = format!("{owner}/{repo}");
    let comments: Vec<CommitComment> = state
        .repo_data
        .commit_comments(&repo)
        .into_iter()
        .filter(|comment| comment.commit_id == sha)
        .collect();
    let page = PageRequest::from_query(&query);
    let (items, last_page) = page.slice(&comments);
    let body: Vec<Value> = items.iter().map(commit_comment_json).collect();
    let mut response = Json(body).into_response();
    let path = format!("{}/repos/{repo}/commits/{sha}/comments", state.base_url);
    if let Some(link) = link_header(&path, raw_query.as_deref(), page.page, last_page) {
        response.headers_mut().insert("link", link);
    }
    response
}

async fn create_commit_comment(
    State(state): Shared,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match authenticate(&state, &headers) {
        Ok(caller) => caller,
        Err(rejection) => return rejection,
    };
    let text = match json_fields(&body).and_then(|fields| comment_body(&fields)) {
        Ok(text) => text,
        Err(rejection) => return rejection,
    };
    let comment = state
        .repo_data
        .add_commit_comment(&format!("{owner}/{repo}"), &sha, text, caller.user());
    (StatusCode::CREATED, Json(commit_comment_json(&comment))).into_response()
}

async fn update_commit_comment(
    State(state): Shared,
    Path((owner, repo, comment_id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let text = match json_fields(&body).and_then(|fields| comment_body(&fields)) {
        Ok(text) => text,
        Err(rejection) => return rejection,
    };
    let repo = format!("{owner}/{repo}");
    let mut data = state.repo_data.lock();
    let Some(comment) = data
        .commit_comments
        .iter_mut()
        .find(|comment| comment.id == comment_id && comment.repo.eq_ignore_ascii_case(&repo))
    else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    comment.body = text;
    Json(commit_comment_json(comment)).into_response()
}

fn commit_comment_json(comment: &CommitComment) -> Value {
    json!({
        "id": comment.id,
        "commit_id": comment.commit_id,
        "body": comment.body,
        "html_url": format!("https://github.com/{}/commit/{}#commitcomment-{}", comment.repo, comment.commit_id, comment.id),
        "user": comment.user.to_json(),
        "created_at": timestamp(Utc::now()),
        "author_association": "CONTRIBUTOR",
    })
}

/// `GET /repos/{owner}/{repo}/issues`: `state` (`open` by default) filters.
async fn list_issues(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let repo = format!("{owner}/{repo}");
    let wanted = query.get("state").map(String::as_str).unwrap_or("open");
    let issues: Vec<Issue> = state
        .repo_data
        .issues(&repo)
        .into_iter()
        .rev()
        .filter(|issue| wanted == "all" || issue.state == wanted)
        .collect();
    let page = PageRequest::from_query(&query);
    let (items, last_page) = page.slice(&issues);
    let body: Vec<Value> = items.iter().map(issue_json).collect();
    let mut response = Json(body).into_response();
    let path = format!("{}/repos/{repo}/issues", state.base_url);
    if let Some(link) = link_header(&path, raw_query.as_deref(), page.page, last_page) {
        response.headers_mut().insert("link", link);
    }
    response
}

async fn create_issue(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match authenticate(&state, &headers) {
        Ok(caller) => caller,
        Err(rejection) => return rejection,
    };
    let fields = match json_fields(&body) {
        Ok(fields) => fields,
        Err(rejection) => return rejection,
    };
    let Some(title) = string_field(&fields, "title").filter(|title| !title.is_empty()) else {
        return validation_failed("title wasn't supplied");
    };
    let text = string_field(&fields, "body").unwrap_or_default();
    let issue = state
        .repo_data
        .add_issue(&format!("{owner}/{repo}"), &title, &text, caller.user());
    (StatusCode::CREATED, Json(issue_json(&issue))).into_response()
}

async fn update_issue(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let fields = match json_fields(&body) {
        Ok(fields) => fields,
        Err(rejection) => return rejection,
    };
    let repo = format!("{owner}/{repo}");
    let mut data = state.repo_data.lock();
    let Some(issue) = data
        .issues
        .iter_mut()
        .find(|issue| issue.number == number && issue.repo.eq_ignore_ascii_case(&repo))
    else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(title) = string_field(&fields, "title") {
        issue.title = title;
    }
    if let Some(text) = string_field(&fields, "body") {
        issue.body = text;
    }
    if let Some(new_state) = string_field(&fields, "state") {
        issue.state = new_state;
    }
    Json(issue_json(issue)).into_response()
}

fn issue_json(issue: &Issue) -> Value {
    json!({
        "number": issue.number,
        "title": issue.title,
        "body": issue.body,
        "state": issue.state,
        "user": issue.user.to_json(),
        "performed_via_github_app": issue.user.performed_via_app_json(),
        "html_url": format!("https://github.com/{}/issues/{}", issue.repo, issue.number),
    })
}
