//! The stand-in's router: the endpoints pitot calls, handled as GitHub does.
//!
//! Every request first passes [`record_and_inject`], which records it and
//! applies any planned failure. Handlers parse the JSON body themselves so
//! that a malformed body gets GitHub's 400 rather than axum's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::auth::{authenticate, verify_app_jwt, Caller};
use crate::failure::{bad_gateway, gateway_timeout, github_error, validation_failed, Failure};
use crate::model::{timestamp, CheckRun, CheckRunOutput, RecordedRequest};
use crate::state::StubState;

type Shared = State<Arc<StubState>>;
type Fields = Map<String, Value>;

/// GitHub's limit on comment bodies, in characters.
// NOTE: GitHub's error message names characters; whether GitHub counts
// characters or bytes was not checked, so multi-byte bodies near the limit
// may be treated differently.
const MAX_COMMENT_CHARS: usize = 65_536;

/// The largest request body the stand-in reads.
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

const CHECK_RUN_STATUSES: [&str; 6] = ["queued", "in_progress", "completed", "waiting", "requested", "pending"];
const CHECK_RUN_CONCLUSIONS: [&str; 8] = [
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];

pub(crate) fn router(state: Arc<StubState>) -> Router {
    Router::new()
        .route("/app", get(authenticated_app))
        .route("/user", get(authenticated_user))
        .route("/app/installations/{installation_id}/access_tokens", post(mint_token))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/repositories/{repository_id}/issues/{number}/comments",
            get(list_comments_by_repository_id),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            patch(update_comment).delete(delete_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            post(create_reaction),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}", get(get_pull_request))
        .route("/repos/{owner}/{repo}/check-runs", post(create_check_run))
        .route(
            "/repos/{owner}/{repo}/check-runs/{check_run_id}",
            patch(update_check_run),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{git_ref}/check-runs",
            get(list_check_runs_for_ref),
        )
        .merge(crate::actions::routes())
        .merge(crate::repo_routes::routes())
        .fallback(|| async { github_error(StatusCode::NOT_FOUND, "Not Found") })
        .layer(middleware::from_fn_with_state(state.clone(), record_and_inject))
        .with_state(state)
}

/// Records the request, then handles it normally or with a planned failure.
async fn record_and_inject(State(state): Shared, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.unwrap_or_default();
    state.record(RecordedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: serde_json::from_slice(&bytes).ok(),
        received_at: std::time::Instant::now(),
    });

    let failure = state.take_failure(&parts.method, parts.uri.path());
    let request = Request::from_parts(parts, Body::from(bytes));
    let mut response = match failure {
        None => next.run(request).await,
        Some(Failure::DelayAfterHandling(delay)) => {
            let response = next.run(request).await;
            tokio::time::sleep(delay).await;
            response
        }
        Some(Failure::BadGatewayAfterHandling) => {
            drop(next.run(request).await);
            bad_gateway()
        }
        Some(Failure::DelayWithoutHandling(delay)) => {
            tokio::time::sleep(delay).await;
            gateway_timeout()
        }
        Some(failure) => failure.response().unwrap_or_else(gateway_timeout),
    };
    add_github_headers(&state, response.headers_mut());
    response
}

/// Adds the headers GitHub sends on every response, keeping any a failure set.
fn add_github_headers(state: &StubState, headers: &mut HeaderMap) {
    let used = state.requests().len() as u64;
    let reset = Utc::now().timestamp().unsigned_abs() + 3600;
    let defaults = [
        ("x-ratelimit-limit", HeaderValue::from(5000)),
        (
            "x-ratelimit-remaining",
            HeaderValue::from(5000_u64.saturating_sub(used)),
        ),
        ("x-ratelimit-used", HeaderValue::from(used)),
        ("x-ratelimit-reset", HeaderValue::from(reset)),
        ("x-ratelimit-resource", HeaderValue::from_static("core")),
        ("x-github-api-version-selected", HeaderValue::from_static("2022-11-28")),
        (
            "x-github-media-type",
            HeaderValue::from_static("github.v3; format=json"),
        ),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(name) {
            headers.insert(name, value);
        }
    }
}

/// `GET /app`: the App that signed the JWT, as GitHub returns it (abridged).
async fn authenticated_app(headers: HeaderMap) -> Response {
    if let Err(rejection) = verify_app_jwt(&headers) {
        return rejection;
    }
    Json(json!({
        "id": crate::TEST_APP_ID,
        "slug": crate::TEST_APP_SLUG,
        "name": "pitot test",
        "owner": crate::model::User::octocat().to_json(),
        "permissions": { "checks": "write", "issues": "write", "metadata": "read", "pull_requests": "write" },
        "events": ["pull_request"],
    }))
    .into_response()
}

/// `GET /user`: the user behind the personal token. An installation token
/// gets 403, as on GitHub.
async fn authenticated_user(State(state): Shared, headers: HeaderMap) -> Response {
    match authenticate(&state, &headers) {
        Ok(Caller::User) => Json(Caller::User.user().to_json()).into_response(),
        Ok(Caller::Installation) => github_error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ),
        Err(rejection) => rejection,
    }
}

async fn mint_token(State(state): Shared, Path(installation_id): Path<u64>, headers: HeaderMap) -> Response {
    if let Err(rejection) = verify_app_jwt(&headers) {
        return rejection;
    }
    if !state.has_installation(installation_id) {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    }

    let token = state.mint_token(installation_id);
    let body = json!({
        "token": token.token,
        "expires_at": timestamp(token.expires_at),
        "permissions": { "checks": "write", "issues": "write", "metadata": "read", "pull_requests": "write" },
        "repository_selection": "all",
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn list_comments(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    request_query: RawQuery,
) -> Response {
    let repo = format!("{owner}/{repo}");
    comments_page(&state, &repo, number, &query, request_query.0.as_deref(), &headers)
}

/// Lists comments under the path that GitHub's `Link` headers use.
async fn list_comments_by_repository_id(
    State(state): Shared,
    Path((repository_id, number)): Path<(u64, u64)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    request_query: RawQuery,
) -> Response {
    let Some(repo) = state.repository_name(repository_id) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    comments_page(&state, &repo, number, &query, request_query.0.as_deref(), &headers)
}

fn comments_page(
    state: &StubState,
    repo: &str,
    number: u64,
    query: &HashMap<String, String>,
    raw_query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(state, headers) {
        return rejection;
    }

    let comments = state.comments(repo, number);
    let page = PageRequest::from_query(query);
    let (items, last_page) = page.slice(&comments);
    let body: Vec<Value> = items.iter().map(|comment| comment.to_json(&state.base_url)).collect();

    let mut response = Json(body).into_response();
    let path = format!(
        "{}/repositories/{}/issues/{number}/comments",
        state.base_url,
        state.repository_id(repo)
    );
    if let Some(link) = link_header(&path, raw_query, page.page, last_page) {
        response.headers_mut().insert("link", link);
    }
    response
}

async fn create_comment(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, u64)>,
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

    let comment = state.add_comment(&format!("{owner}/{repo}"), number, text, caller.user());
    let mut response = (StatusCode::CREATED, Json(comment.to_json(&state.base_url))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!(
        "{}/repos/{owner}/{repo}/issues/comments/{}",
        state.base_url, comment.id
    )) {
        response.headers_mut().insert("location", location);
    }
    response
}

/// GitHub's reaction names.
const REACTIONS: [&str; 8] = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"];

async fn create_reaction(
    State(state): Shared,
    Path((owner, repo, comment_id)): Path<(String, String, u64)>,
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
    let Some(content) = fields.get("content").and_then(Value::as_str).filter(|c| REACTIONS.contains(c)) else {
        return validation_failed("content must be one of +1, -1, laugh, confused, heart, hooray, rocket, eyes");
    };
    if state.comment_repo(comment_id).as_deref() != Some(format!("{owner}/{repo}").as_str()) {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    }
    // GitHub returns 201 for a new reaction and 200 with the existing one.
    let status = if state.add_reaction(comment_id, content) { StatusCode::CREATED } else { StatusCode::OK };
    let reaction = json!({
        "id": comment_id,
        "content": content,
        "user": caller.user().to_json(),
        "created_at": timestamp(Utc::now()),
    });
    (status, Json(reaction)).into_response()
}

async fn get_pull_request(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let Some(pull) = state.pull_request(&format!("{owner}/{repo}"), number) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let body = json!({
        "number": pull.number,
        "state": pull.state,
        "head": {"ref": pull.head_ref, "sha": pull.head_sha},
        "base": {"ref": pull.base_ref},
    });
    Json(body).into_response()
}

async fn update_comment(
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

    match state.edit_comment(&format!("{owner}/{repo}"), comment_id, text) {
        Some(comment) => Json(comment.to_json(&state.base_url)).into_response(),
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn delete_comment(
    State(state): Shared,
    Path((owner, repo, comment_id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let repo = format!("{owner}/{repo}");
    let in_repo = state
        .comment_repo(comment_id)
        .is_some_and(|found| found.eq_ignore_ascii_case(&repo));
    if in_repo && state.delete_comment(comment_id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        github_error(StatusCode::NOT_FOUND, "Not Found")
    }
}

async fn create_check_run(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(rejection) = require_app(&state, &headers) {
        return rejection;
    }
    let fields = match json_fields(&body) {
        Ok(fields) => fields,
        Err(rejection) => return rejection,
    };
    let (Some(name), Some(head_sha)) = (string_field(&fields, "name"), string_field(&fields, "head_sha")) else {
        return invalid_request("\"name\" and \"head_sha\" are required");
    };

    let mut check_run = CheckRun {
        id: 0,
        repo: format!("{owner}/{repo}"),
        app_id: crate::TEST_APP_ID,
        name,
        head_sha,
        status: "queued".into(),
        conclusion: None,
        details_url: None,
        external_id: None,
        output: CheckRunOutput::default(),
        started_at: Utc::now(),
        completed_at: None,
    };
    if let Err(rejection) = apply_check_run_fields(&mut check_run, &fields) {
        return rejection;
    }
    let check_run = state.add_check_run(check_run);
    (StatusCode::CREATED, Json(check_run.to_json(&state.base_url))).into_response()
}

async fn update_check_run(
    State(state): Shared,
    Path((owner, repo, check_run_id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(rejection) = require_app(&state, &headers) {
        return rejection;
    }
    let fields = match json_fields(&body) {
        Ok(fields) => fields,
        Err(rejection) => return rejection,
    };

    let base_url = state.base_url.clone();
    let updated = state.update_check_run(&format!("{owner}/{repo}"), check_run_id, |check_run| {
        // Validate on a copy so a rejected update changes nothing.
        let mut changed = check_run.clone();
        apply_check_run_fields(&mut changed, &fields)?;
        *check_run = changed;
        Ok::<Value, Response>(check_run.to_json(&base_url))
    });
    match updated {
        Some(Ok(json)) => Json(json).into_response(),
        Some(Err(rejection)) => rejection,
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn list_check_runs_for_ref(
    State(state): Shared,
    Path((owner, repo, git_ref)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }

    let check_name = query.get("check_name");
    // NOTE: GitHub's response to an `app_id` that is not a number was not
    // checked. The stand-in rejects it, so a wrong value cannot list every
    // App's runs.
    let app_id = match query.get("app_id").map(|value| value.parse::<u64>()) {
        None => None,
        Some(Ok(app_id)) => Some(app_id),
        Some(Err(_)) => return invalid_request("\"app_id\" must be an integer"),
    };
    let runs: Vec<CheckRun> = state
        .check_runs(&format!("{owner}/{repo}"))
        .into_iter()
        .filter(|run| run.head_sha == git_ref)
        .filter(|run| check_name.is_none_or(|name| &run.name == name))
        .filter(|run| app_id.is_none_or(|app_id| run.app_id == app_id))
        .rev() // GitHub lists the newest first.
        .collect();
    let page = PageRequest::from_query(&query);
    let (items, _) = page.slice(&runs);
    let check_runs: Vec<Value> = items.iter().map(|run| run.to_json(&state.base_url)).collect();
    Json(json!({ "total_count": runs.len(), "check_runs": check_runs })).into_response()
}

/// Checks for an installation token, because GitHub rejects a personal token on check runs with 403.
fn require_app(state: &StubState, headers: &HeaderMap) -> Result<(), Response> {
    match authenticate(state, headers)? {
        Caller::Installation => Ok(()),
        Caller::User => Err(github_error(
            StatusCode::FORBIDDEN,
            "You must authenticate via a GitHub App.",
        )),
    }
}

/// Applies the optional check run fields of a create or update request.
fn apply_check_run_fields(check_run: &mut CheckRun, fields: &Fields) -> Result<(), Response> {
    if let Some(name) = string_field(fields, "name") {
        check_run.name = name;
    }
    if let Some(url) = string_field(fields, "details_url") {
        check_run.details_url = Some(url);
    }
    if let Some(id) = string_field(fields, "external_id") {
        check_run.external_id = Some(id);
    }
    if let Some(status) = string_field(fields, "status") {
        if !CHECK_RUN_STATUSES.contains(&status.as_str()) {
            return Err(invalid_request(&format!("{status:?} is not a valid status")));
        }
        check_run.status = status;
    }
    if let Some(conclusion) = string_field(fields, "conclusion") {
        if !CHECK_RUN_CONCLUSIONS.contains(&conclusion.as_str()) {
            return Err(invalid_request(&format!("{conclusion:?} is not a valid conclusion")));
        }
        // GitHub: providing a conclusion sets the status to `completed`.
        check_run.status = "completed".into();
        check_run.conclusion = Some(conclusion);
    }
    if check_run.status == "completed" {
        if check_run.conclusion.is_none() {
            return Err(invalid_request(
                "\"conclusion\" is required when \"status\" is \"completed\"",
            ));
        }
        check_run.completed_at.get_or_insert_with(Utc::now);
    }
    if let Some(output) = fields.get("output") {
        let text = |key: &str| output.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(title), Some(summary)) = (text("title"), text("summary")) else {
            return Err(invalid_request("\"output\" needs \"title\" and \"summary\""));
        };
        check_run.output = CheckRunOutput {
            title: Some(title),
            summary: Some(summary),
            text: text("text"),
        };
    }
    Ok(())
}

pub(crate) fn json_fields(body: &Bytes) -> Result<Fields, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(github_error(StatusCode::BAD_REQUEST, "Problems parsing JSON")),
    }
}

pub(crate) fn string_field(fields: &Fields, key: &str) -> Option<String> {
    fields.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn comment_body(fields: &Fields) -> Result<String, Response> {
    match fields.get("body") {
        Some(Value::String(text)) if text.chars().count() > MAX_COMMENT_CHARS => {
            Err(validation_failed("Body is too long (maximum is 65536 characters)"))
        }
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(invalid_request("\"body\" is not a string")),
        None => Err(invalid_request("\"body\" wasn't supplied.")),
    }
}

/// Returns GitHub's 422 for a request whose JSON does not fit the endpoint's schema.
fn invalid_request(detail: &str) -> Response {
    github_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("Invalid request.\n\n{detail}"),
    )
}

/// `per_page` and `page` as GitHub reads them: 30 and 1 by default, at most 100 a page.
pub(crate) struct PageRequest {
    per_page: usize,
    pub(crate) page: usize,
}

impl PageRequest {
    pub(crate) fn from_query(query: &HashMap<String, String>) -> PageRequest {
        let number = |key: &str| query.get(key).and_then(|value| value.parse::<usize>().ok());
        PageRequest {
            per_page: number("per_page").unwrap_or(30).clamp(1, 100),
            page: number("page").unwrap_or(1).max(1),
        }
    }

    /// Returns this page's items and the number of the last page.
    pub(crate) fn slice<'a, T>(&self, items: &'a [T]) -> (&'a [T], usize) {
        let last_page = items.len().div_ceil(self.per_page).max(1);
        let start = (self.page - 1).saturating_mul(self.per_page).min(items.len());
        let end = start.saturating_add(self.per_page).min(items.len());
        (&items[start..end], last_page)
    }
}

/// Builds a `Link` header with `prev`, `next`, `last` and `first` as GitHub
/// does, keeping the request's other query parameters; `None` for a single page.
pub(crate) fn link_header(path: &str, raw_query: Option<&str>, page: usize, last_page: usize) -> Option<HeaderValue> {
    if last_page <= 1 {
        return None;
    }
    let other_params: Vec<&str> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
        .collect();
    let url = |target: usize| {
        let mut query = other_params.clone();
        let page_pair = format!("page={target}");
        query.push(&page_pair);
        format!("<{path}?{}>", query.join("&"))
    };

    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last_page {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last_page)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    HeaderValue::from_str(&links.join(", ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GitHubStub, TEST_APP_ID, TEST_PERSONAL_TOKEN};

    /// Calls the handler of `GET /repos/o/r/commits/{sha}/check-runs` with
    /// `query` and the personal token.
    async fn list_runs(stub: &GitHubStub, sha: &str, query: HashMap<String, String>) -> Response {
        let mut headers = HeaderMap::new();
        let token = format!("token {TEST_PERSONAL_TOKEN}");
        headers.insert("authorization", HeaderValue::from_str(&token).expect("a valid header"));
        let path = Path(("o".to_owned(), "r".to_owned(), sha.to_owned()));
        list_check_runs_for_ref(State(stub.state.clone()), path, Query(query), headers).await
    }

    #[tokio::test]
    async fn check_run_list_filters_by_app() {
        let stub = GitHubStub::start().await;
        let sha = "c".repeat(40);
        let other_app = TEST_APP_ID + 1;
        let own = stub.seed_check_run(TEST_APP_ID, "o/r", &sha, "bench", "job-1");
        let other = stub.seed_check_run(other_app, "o/r", &sha, "bench", "job-1");
        let cases = [
            ("no app_id", None, vec![other, own]),
            ("pitot's App", Some(TEST_APP_ID.to_string()), vec![own]),
            ("the other App", Some(other_app.to_string()), vec![other]),
            ("an App with no runs", Some("7".to_owned()), vec![]),
        ];

        for (case, app_id, expected) in cases {
            let query = app_id.into_iter().map(|id| ("app_id".to_owned(), id)).collect();

            let response = list_runs(&stub, &sha, query).await;

            assert_eq!(response.status(), StatusCode::OK, "{case}");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            let list: Value = serde_json::from_slice(&body).expect("a JSON body");
            let ids: Vec<u64> = list["check_runs"]
                .as_array()
                .expect("a check_runs array")
                .iter()
                .filter_map(|run| run["id"].as_u64())
                .collect();
            assert_eq!(ids, expected, "{case}");
        }
    }

    #[tokio::test]
    async fn non_numeric_app_id_is_422() {
        let stub = GitHubStub::start().await;
        let query = HashMap::from([("app_id".to_owned(), "pitot".to_owned())]);

        let response = list_runs(&stub, &"c".repeat(40), query).await;

        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
