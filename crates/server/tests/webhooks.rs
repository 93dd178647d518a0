//! `POST /webhooks/github` against the real router and a real database,
//! with payloads copied from octokit/webhooks.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::*;
use pitot_store::pull_requests;
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn labelled_pull_request_queues_one_job(pool: PgPool) {
    let app = TestApp::new(pool);

    let response = app
        .deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;

    assert_eq!(response["outcome"], "job_queued");
    let job_id = response["job_id"].as_i64().expect("a job id");
    let job = pitot_store::jobs::load_job(&app.pool, job_id)
        .await
        .unwrap()
        .expect("the job exists");
    assert_eq!(app.count("jobs").await, 1);
    assert_eq!(job.state, pitot_store::jobs::JobState::Queued);
    assert_eq!(job.head_sha, FIXTURE_HEAD);
    assert_eq!(job.repository, "Codertocat/Hello-World");
    assert_eq!(job.pr_number, Some(2));
    assert_eq!(job.base_ref, "master");
    assert_eq!(
        job.base_sha, None,
        "the merge-base is recorded by the runner"
    );
    assert_eq!(
        job.clone_url,
        "https://github.com/Codertocat/Hello-World.git"
    );
    assert_eq!(job.head_fetch_ref.as_deref(), Some("refs/pull/2/head"));
    assert_eq!(job.installation_id, Some(1));
    assert_eq!(job.attempt, 0);
    assert_eq!(
        app.delivery("d-1").await,
        ("job_queued".to_string(), Some(job_id))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn other_label_queues_nothing(pool: PgPool) {
    let app = TestApp::new(pool);
    let payload = fixture("pull_request/labeled.payload.json"); // labelled "bug"

    let response = app.deliver("pull_request", "d-1", &payload).await;

    assert_eq!(response["outcome"], "ignored");
    assert_eq!(app.count("jobs").await, 0);
    assert_eq!(app.delivery("d-1").await, ("ignored".to_string(), None));
}

#[sqlx::test(migrations = "../../migrations")]
async fn trigger_label_matches_without_case(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut payload = pull_request("labeled");
    payload["label"]["name"] = "Run-Benchmarks".into();

    let response = app.deliver("pull_request", "d-1", &payload).await;

    assert_eq!(response["outcome"], "job_queued");
}

#[sqlx::test(migrations = "../../migrations")]
async fn redelivery_is_one_delivery_and_one_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let payload = pull_request("labeled");

    app.deliver("pull_request", "d-1", &payload).await;
    let second = app.deliver("pull_request", "d-1", &payload).await;

    assert_eq!(second["outcome"], "redelivery");
    assert_eq!(app.count("deliveries").await, 1);
    assert_eq!(app.count("jobs").await, 1);
}

/// Sends each (delivery id, body) as a signed `pull_request` delivery, all
/// at once, and returns the response statuses.
async fn deliver_at_once(app: &TestApp, deliveries: Vec<(String, Vec<u8>)>) -> Vec<StatusCode> {
    let mut tasks = tokio::task::JoinSet::new();
    for (delivery_id, body) in deliveries {
        let request = webhook_request("pull_request", &delivery_id, &body)
            .header(
                "x-hub-signature-256",
                pitot_github::sign(SECRET.as_bytes(), &body),
            )
            .body(Body::from(body))
            .expect("valid request");
        let router = app.router.clone();
        tasks.spawn(async move {
            tower::ServiceExt::oneshot(router, request)
                .await
                .expect("the router never fails")
                .status()
        });
    }
    tasks.join_all().await
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_redeliveries_are_one_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let body = serde_json::to_vec(&pull_request("labeled")).unwrap();
    let deliveries = (0..10).map(|_| ("d-storm".to_owned(), body.clone())).collect();

    let statuses = deliver_at_once(&app, deliveries).await;

    assert!(
        statuses
            .iter()
            .all(|status| *status == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    assert_eq!(app.count("deliveries").await, 1);
    assert_eq!(app.count("jobs").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn racing_labels_leave_one_active_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let heads = [FIXTURE_HEAD, NEW_HEAD];
    let deliveries = (0..20)
        .map(|index| {
            let payload = with_head(pull_request("labeled"), heads[index % 2]);
            (format!("d-{index}"), serde_json::to_vec(&payload).unwrap())
        })
        .collect();

    let statuses = deliver_at_once(&app, deliveries).await;

    assert!(
        statuses.iter().all(|status| *status == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    // Each label supersedes the other head's job. One that waited for the
    // pull request while another delivery queued a job must see that job.
    let states: Vec<String> = app.jobs().await.into_iter().map(|(_, state)| state).collect();
    let active = states.iter().filter(|state| *state == "queued").count();
    assert!(active <= 1, "one run per pull request at a time: {states:?}");
    assert_eq!(states.len(), 2, "one job per head: {states:?}");
    assert_eq!(app.count("deliveries").await, 20);
}

#[sqlx::test(migrations = "../../migrations")]
async fn queued_job_is_announced_after_commit(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut listener = sqlx::postgres::PgListener::connect_with(&app.pool)
        .await
        .expect("listener connects");
    listener
        .listen(pitot_store::jobs::JOB_QUEUED_CHANNEL)
        .await
        .expect("listens");

    let response = app
        .deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;

    let job_id = response["job_id"].as_i64().expect("a job id");
    let notification = tokio::time::timeout(std::time::Duration::from_secs(30), listener.recv())
        .await
        .expect("a notification within 30 seconds")
        .expect("the listener stays connected");
    assert_eq!(notification.payload(), job_id.to_string());
}

#[sqlx::test(migrations = "../../migrations")]
async fn announcements_end_with_the_latest_job(pool: PgPool) {
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .expect("listener connects");
    listener
        .listen(pitot_store::jobs::JOB_QUEUED_CHANNEL)
        .await
        .expect("listens");
    let announcer = pitot_server::JobAnnouncer::default();

    // Announcements made while a notification is on its way share the next
    // one; the last announcement must still be sent.
    for job_id in 1..=200 {
        announcer.announce(&pool, job_id);
        if job_id % 10 == 0 {
            tokio::task::yield_now().await;
        }
    }

    let mut payloads = Vec::new();
    while payloads.last().map(String::as_str) != Some("200") {
        let notification = tokio::time::timeout(std::time::Duration::from_secs(30), listener.recv())
            .await
            .unwrap_or_else(|_| panic!("no notification for job 200 after {payloads:?}"))
            .expect("the listener stays connected");
        payloads.push(notification.payload().to_owned());
    }
    assert!(payloads.len() <= 200, "{payloads:?}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn same_event_under_two_ids_is_one_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let payload = pull_request("labeled");

    let first = app.deliver("pull_request", "hook-a", &payload).await;
    let second = app.deliver("pull_request", "hook-b", &payload).await;

    assert_eq!(second["outcome"], "job_unchanged");
    assert_eq!(second["job_id"], first["job_id"]);
    assert_eq!(app.count("deliveries").await, 2);
    assert_eq!(app.count("jobs").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn removed_label_cancels_job(pool: PgPool) {
    let app = TestApp::new(pool);
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;

    let response = app
        .deliver("pull_request", "d-2", &pull_request("unlabeled"))
        .await;

    assert_eq!(response["outcome"], "jobs_cancelled");
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1, "cancelled");
    let job = pitot_store::jobs::load_job(&app.pool, jobs[0].0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.error.as_deref(),
        Some("the run-benchmarks label was removed")
    );
    assert!(job.finished_at.is_some());
}

#[sqlx::test(migrations = "../../migrations")]
async fn removing_another_label_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool);
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;

    let response = app
        .deliver(
            "pull_request",
            "d-2",
            &fixture("pull_request/unlabeled.payload.json"),
        )
        .await;

    assert_eq!(response["outcome"], "ignored");
    assert_eq!(app.jobs().await[0].1, "queued");
}

#[sqlx::test(migrations = "../../migrations")]
async fn label_added_again_requeues_same_row(pool: PgPool) {
    let app = TestApp::new(pool);
    let first = app
        .deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;
    app.deliver("pull_request", "d-2", &pull_request("unlabeled"))
        .await;

    let again = app
        .deliver("pull_request", "d-3", &pull_request("labeled"))
        .await;

    assert_eq!(again["outcome"], "job_requeued");
    assert_eq!(again["job_id"], first["job_id"]);
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1, "queued");
    let job = pitot_store::jobs::load_job(&app.pool, jobs[0].0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.error, None);
    assert_eq!(job.finished_at, None);
}

#[sqlx::test(migrations = "../../migrations")]
async fn closed_cancels_jobs(pool: PgPool) {
    let app = TestApp::new(pool);
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;

    let response = app
        .deliver("pull_request", "d-2", &pull_request("closed"))
        .await;

    assert_eq!(response["outcome"], "jobs_cancelled");
    assert_eq!(app.jobs().await[0].1, "cancelled");
    let repository_id = repository_id(&app).await;
    let stored = pull_requests::find_pull_request(&app.pool, repository_id, 2)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.closed);
}

#[sqlx::test(migrations = "../../migrations")]
async fn push_marks_stale_and_queues_nothing(pool: PgPool) {
    let app = TestApp::new(pool);
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;

    let response = app
        .deliver(
            "pull_request",
            "d-2",
            &with_head(pull_request("synchronize"), NEW_HEAD),
        )
        .await;

    assert_eq!(response["outcome"], "marked_stale");
    let jobs = app.jobs().await;
    assert_eq!(jobs.len(), 1, "no job for the new head");
    assert_eq!(jobs[0].1, "superseded", "the old head's queued job");
    let stored = pull_requests::find_pull_request(&app.pool, repository_id(&app).await, 2)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.stale);
    assert!(stored.labelled);
    assert_eq!(stored.head_sha, NEW_HEAD);
}

#[sqlx::test(migrations = "../../migrations")]
async fn push_queues_new_head_with_run_on_push(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.github.run_on_push = true);
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;

    let response = app
        .deliver(
            "pull_request",
            "d-2",
            &with_head(pull_request("synchronize"), NEW_HEAD),
        )
        .await;

    assert_eq!(response["outcome"], "job_queued");
    let job_id = response["job_id"].as_i64().unwrap();
    let job = pitot_store::jobs::load_job(&app.pool, job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.head_sha, NEW_HEAD);
    let states: Vec<String> = app
        .jobs()
        .await
        .into_iter()
        .map(|(_, state)| state)
        .collect();
    assert_eq!(states, ["superseded", "queued"]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn push_to_unlabelled_pull_request_queues_nothing(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.github.run_on_push = true);

    let response = app
        .deliver(
            "pull_request",
            "d-1",
            &with_head(pull_request("synchronize"), NEW_HEAD),
        )
        .await;

    assert_eq!(response["outcome"], "marked_stale");
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_signatures_are_rejected(pool: PgPool) {
    let app = TestApp::new(pool);
    let body = serde_json::to_vec(&pull_request("labeled")).unwrap();
    let other_secret = pitot_github::sign(b"another secret", &body);
    let other_body = pitot_github::sign(SECRET.as_bytes(), b"{}");
    let sha1_only = "sha1=0a4d55a8d778e5022fab701977c5d840bbc486d0";
    let cases: [(&str, &str, Option<&str>, &str); 5] = [
        ("missing", "x-hub-signature-256", None, "missing"),
        (
            "signed with another secret",
            "x-hub-signature-256",
            Some(&other_secret),
            "does not match",
        ),
        (
            "signature of another body",
            "x-hub-signature-256",
            Some(&other_body),
            "does not match",
        ),
        ("SHA-1 only", "x-hub-signature", Some(sha1_only), "missing"),
        (
            "SHA-1 in the SHA-256 header",
            "x-hub-signature-256",
            Some(sha1_only),
            "malformed",
        ),
    ];

    for (case, header, value, expected) in cases {
        let mut request = webhook_request("pull_request", "d-1", &body);
        if let Some(value) = value {
            request = request.header(header, value);
        }
        let response = app
            .send(request.body(Body::from(body.clone())).unwrap())
            .await;

        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "case: {case}");
        assert!(
            response.error().contains(expected),
            "case {case}: {}",
            response.error()
        );
    }
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn missing_secret_rejects_every_delivery(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.github.webhook_secret = None);

    let response = app
        .webhook(
            "ping",
            "d-1",
            &serde_json::to_vec(&fixture("ping/payload.json")).unwrap(),
        )
        .await;

    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.error().contains("PITOT_WEBHOOK_SECRET"),
        "{}",
        response.error()
    );
    assert_eq!(app.count("deliveries").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn form_encoded_delivery_queues_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let json = serde_json::to_string(&pull_request("labeled")).unwrap();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &json)
        .finish();
    let mut request = webhook_request("pull_request", "d-form", body.as_bytes())
        .header(
            "x-hub-signature-256",
            pitot_github::sign(SECRET.as_bytes(), body.as_bytes()),
        )
        .body(Body::from(body))
        .unwrap();
    request.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );

    let response = app.send(request).await;

    assert_eq!(
        response.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.json()["outcome"], "job_queued");
    assert_eq!(app.count("jobs").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn oversized_body_is_413(pool: PgPool) {
    let app = TestApp::new(pool);
    let limit = app.state.config.server.max_body_bytes;
    let body = vec![b' '; limit + 1];

    let response = app.webhook("pull_request", "d-big", &body).await;

    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response.error().contains(&limit.to_string()),
        "{}",
        response.error()
    );
    assert_eq!(app.count("deliveries").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn body_at_the_limit_is_read(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.server.max_body_bytes = 64 * 1024);
    // Valid JSON padded with spaces to exactly the limit.
    let mut body = serde_json::to_vec(&fixture("ping/payload.json")).unwrap();
    body.resize(64 * 1024, b' ');

    let response = app.webhook("ping", "d-1", &body).await;

    assert_eq!(
        response.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn malformed_deliveries_are_400(pool: PgPool) {
    let app = TestApp::new(pool);
    let labelled = serde_json::to_vec(&pull_request("labeled")).unwrap();
    let cases: [(&str, &str, &[u8], &str); 5] = [
        (
            "truncated JSON",
            "pull_request",
            b"{\"action\": \"labeled\"",
            "not valid JSON",
        ),
        (
            "truncated JSON of an event pitot does not handle",
            "star",
            b"{\"action\": \"created\"",
            "not valid JSON",
        ),
        (
            "JSON of the wrong shape",
            "pull_request",
            b"{\"action\": \"labeled\"}",
            "expected shape",
        ),
        (
            "truncated JSON of an ignored event",
            "workflow_run",
            b"{\"ref\":",
            "not valid JSON",
        ),
        (
            "repository name with a space",
            "pull_request",
            &[],
            "repository.full_name",
        ),
    ];

    for (index, (case, event, body, expected)) in cases.into_iter().enumerate() {
        let body = if body.is_empty() {
            String::from_utf8(labelled.clone())
                .unwrap()
                .replace("\"Codertocat/Hello-World\"", "\"Codertocat/Hello World\"")
                .into_bytes()
        } else {
            body.to_vec()
        };

        let response = app.webhook(event, &format!("d-{index}"), &body).await;

        assert_eq!(response.status, StatusCode::BAD_REQUEST, "case: {case}");
        assert!(
            response.error().contains(expected),
            "case {case}: {}",
            response.error()
        );
    }
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn missing_headers_are_400_naming_them(pool: PgPool) {
    let app = TestApp::new(pool);
    let body = serde_json::to_vec(&fixture("ping/payload.json")).unwrap();
    let signature = pitot_github::sign(SECRET.as_bytes(), &body);
    let cases = [
        ("x-github-delivery", "X-GitHub-Delivery"),
        ("x-github-event", "X-GitHub-Event"),
    ];

    for (header, name) in cases {
        let mut request = webhook_request("ping", "d-1", &body)
            .header("x-hub-signature-256", &signature)
            .body(Body::from(body.clone()))
            .unwrap();
        request.headers_mut().remove(header);

        let response = app.send(request).await;

        assert_eq!(response.status, StatusCode::BAD_REQUEST, "without {name}");
        assert!(
            response.error().contains(name),
            "without {name}: {}",
            response.error()
        );
    }
    assert_eq!(app.count("deliveries").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn unknown_content_type_is_415(pool: PgPool) {
    let app = TestApp::new(pool);
    let body = serde_json::to_vec(&fixture("ping/payload.json")).unwrap();
    let mut request = webhook_request("ping", "d-1", &body)
        .header(
            "x-hub-signature-256",
            pitot_github::sign(SECRET.as_bytes(), &body),
        )
        .body(Body::from(body))
        .unwrap();
    request
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());

    let response = app.send(request).await;

    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        response.error().contains("text/plain"),
        "{}",
        response.error()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn ping_and_other_events_are_accepted(pool: PgPool) {
    let app = TestApp::new(pool);

    let ping = app
        .deliver("ping", "d-ping", &fixture("ping/payload.json"))
        .await;
    let push = app
        .deliver("push", "d-push", &fixture("push/payload.json"))
        .await;

    assert_eq!(ping["outcome"], "ignored");
    assert_eq!(push["outcome"], "ignored");
    assert_eq!(app.count("deliveries").await, 2);
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn installation_events_keep_repositories(pool: PgPool) {
    let app = TestApp::new(pool);
    let created = fixture("installation/created.payload.json");
    let installation_id = created["installation"]["id"].as_i64().unwrap();
    let mut deleted = fixture("installation/deleted.payload.json");
    deleted["installation"]["id"] = installation_id.into();

    app.deliver("installation", "d-1", &created).await;
    let after_create =
        pitot_store::installations::list_installation_repositories(&app.pool, installation_id)
            .await
            .unwrap();
    app.deliver("installation", "d-2", &deleted).await;
    let after_delete =
        pitot_store::installations::list_installation_repositories(&app.pool, installation_id)
            .await
            .unwrap();

    assert_eq!(after_create, ["Codertocat/Hello-World"]);
    assert!(after_delete.is_empty(), "{after_delete:?}");
    let deleted_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT deleted_at FROM installations WHERE id = $1")
            .bind(installation_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(deleted_at.is_some());
}

/// Checks that a failure halfway through a delivery leaves no rows and
/// reveals nothing internal, so GitHub's redelivery of the same id succeeds.
#[sqlx::test(migrations = "../../migrations")]
async fn failed_delivery_is_rolled_back(pool: PgPool) {
    let app = TestApp::new(pool);
    sqlx::raw_sql(
        "CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'sabotaged jobs insert'; END $$;
         CREATE TRIGGER sabotage BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION sabotage();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let body = serde_json::to_vec(&pull_request("labeled")).unwrap();

    let failed = app.webhook("pull_request", "d-1", &body).await;

    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !failed.error().contains("sabotage"),
        "5xx leaks the cause: {}",
        failed.error()
    );
    assert_eq!(
        app.count("deliveries").await,
        0,
        "the delivery row was rolled back"
    );
    assert_eq!(
        app.count("pull_requests").await,
        0,
        "the pull request row was rolled back"
    );

    sqlx::raw_sql("DROP TRIGGER sabotage ON jobs")
        .execute(&app.pool)
        .await
        .unwrap();
    let redelivered = app.webhook("pull_request", "d-1", &body).await;

    assert_eq!(redelivered.status, StatusCode::ACCEPTED);
    assert_eq!(app.count("jobs").await, 1);
}

/// Checks that a delivery blocked by a row lock, as a worker takes one
/// during a GitHub call, gets a 202 response before GitHub's 10-second limit,
/// stored as deferred with its payload, and applied once the lock is gone.
/// GitHub does not redeliver on its own, so a 503 would lose the event.
#[sqlx::test(migrations = "../../migrations")]
async fn locked_pull_request_is_deferred_then_applied(pool: PgPool) {
    let app = TestApp::new(pool);
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;
    let push = serde_json::to_vec(&with_head(pull_request("synchronize"), NEW_HEAD)).unwrap();
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM pull_requests FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let github_limit = std::time::Duration::from_secs(10);
    let blocked = tokio::time::timeout(github_limit, app.webhook("pull_request", "d-2", &push))
        .await
        .expect("the delivery gets a response within GitHub's 10-second limit");
    let waited = started.elapsed();

    assert_eq!(blocked.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&blocked.body));
    assert_eq!(blocked.json()["outcome"], "deferred");
    assert!(
        waited >= pitot_server::DELIVERY_LOCK_TIMEOUT,
        "answered after {waited:?}, before the lock timeout"
    );
    assert_eq!(app.delivery("d-2").await, ("deferred".to_string(), None));
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT payload FROM deliveries WHERE delivery_id = 'd-2'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, push, "the payload is kept as received");
    assert_eq!(
        pitot_server::apply_deferred(&app.state).await.unwrap(),
        0,
        "nothing applies within GitHub's 10 seconds"
    );
    settle(&app).await;
    assert_eq!(
        pitot_server::apply_deferred(&app.state).await.unwrap(),
        0,
        "nothing applies while the lock is held"
    );
    assert_eq!(app.jobs().await[0].1, "queued", "the push changed nothing yet");

    holder.rollback().await.unwrap();
    let applied = pitot_server::apply_deferred(&app.state).await.unwrap();

    assert_eq!(applied, 1);
    assert_eq!(app.delivery("d-2").await.0, "marked_stale");
    assert_eq!(app.jobs().await[0].1, "superseded");
    let (payload, attempts): (Option<Vec<u8>>, i32) = sqlx::query_as(
        "SELECT payload, attempts FROM deliveries WHERE delivery_id = 'd-2'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(payload, None, "the payload is dropped once applied");
    assert_eq!(attempts, 1, "the try that found the row locked does not count");
    let stored = pull_requests::find_pull_request(&app.pool, repository_id(&app).await, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.head_sha, NEW_HEAD);
    let redelivered = app.webhook("pull_request", "d-2", &push).await;
    assert_eq!(redelivered.json()["outcome"], "redelivery");
}

/// Checks that deliveries of one pull request are applied in the order they
/// arrived: one that arrives while an earlier one is deferred is deferred
/// too, even though nothing blocks it, and the worker applies the earlier
/// one first. Applied the other way round, the label of the old head would
/// queue a job for a head the pull request no longer has.
#[sqlx::test(migrations = "../../migrations")]
async fn deferred_delivery_keeps_pull_request_order(pool: PgPool) {
    let app = TestApp::new(pool);
    app.deliver("pull_request", "d-1", &pull_request("synchronize"))
        .await;
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM pull_requests FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let label = app.deliver("pull_request", "d-2", &pull_request("labeled")).await;
    holder.rollback().await.unwrap();

    let push = app
        .deliver("pull_request", "d-3", &with_head(pull_request("synchronize"), NEW_HEAD))
        .await;
    let other_pull_request = app
        .deliver("pull_request", "d-4", &with_number(pull_request("labeled"), 3))
        .await;

    assert_eq!(label["outcome"], "deferred");
    assert_eq!(push["outcome"], "deferred", "it waits for the label's delivery");
    assert_eq!(other_pull_request["outcome"], "job_queued", "another pull request does not wait");
    assert_eq!(app.count("jobs").await, 1);
    settle(&app).await;

    let applied = pitot_server::apply_deferred(&app.state).await.unwrap();

    assert_eq!(applied, 2, "both apply in one round, oldest first");
    assert_eq!(app.delivery("d-2").await.0, "job_queued");
    assert_eq!(app.delivery("d-3").await.0, "marked_stale");
    let heads: Vec<(String, String)> = sqlx::query_as(
        "SELECT head_sha, state FROM jobs WHERE pr_number = 2 ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        heads,
        [(FIXTURE_HEAD.to_string(), "superseded".to_string())],
        "the label queued the old head, then the push superseded it"
    );
    let stored = pull_requests::find_pull_request(&app.pool, repository_id(&app).await, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.head_sha, NEW_HEAD);
}

/// Checks that a deferred delivery whose payload can no longer be applied
/// fails for good at once, keeps its payload and error, and no longer
/// holds back the newer deliveries of its pull request. A redelivery of it
/// from GitHub is then applied.
#[sqlx::test(migrations = "../../migrations")]
async fn unreadable_deferred_delivery_fails_for_good(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE pull_requests IN EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let label = app.deliver("pull_request", "d-1", &pull_request("labeled")).await;
    holder.rollback().await.unwrap();
    assert_eq!(label["outcome"], "deferred");
    // Replaces the payload with one that an older pitot might have accepted
    // and this one cannot read.
    sqlx::query("UPDATE deliveries SET payload = '{}' WHERE delivery_id = 'd-1'")
        .execute(&app.pool)
        .await
        .unwrap();
    let push = app
        .deliver("pull_request", "d-2", &with_head(pull_request("synchronize"), NEW_HEAD))
        .await;
    assert_eq!(push["outcome"], "deferred");
    settle(&app).await;

    let applied = pitot_server::apply_deferred(&app.state).await.unwrap();

    assert_eq!(applied, 1, "the push applies after the label failed");
    let (outcome, payload, error): (String, Option<Vec<u8>>, Option<String>) = sqlx::query_as(
        "SELECT outcome, payload, error FROM deliveries WHERE delivery_id = 'd-1'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(outcome, "failed");
    assert_eq!(payload.as_deref(), Some(&b"{}"[..]), "the payload is kept for the operator");
    assert!(error.as_deref().is_some_and(|error| error.contains("pull_request")), "{error:?}");
    assert_eq!(app.delivery("d-2").await.0, "marked_stale");

    // The operator fixed the cause and redelivered it from GitHub.
    let redelivered = app.deliver("pull_request", "d-1", &pull_request("labeled")).await;

    assert_eq!(redelivered["outcome"], "job_queued");
    let (outcome, payload): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT outcome, payload FROM deliveries WHERE delivery_id = 'd-1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(outcome, "job_queued");
    assert_eq!(payload, None);
}

/// Makes every deferred delivery older than GitHub's 10-second limit, as if
/// the worker's next round came later.
async fn settle(app: &TestApp) {
    sqlx::query(
        "UPDATE deliveries SET received_at = received_at - interval '1 minute'
         WHERE outcome = 'deferred'",
    )
    .execute(&app.pool)
    .await
    .expect("deferred deliveries aged");
}

async fn repository_id(app: &TestApp) -> i32 {
    sqlx::query_scalar("SELECT id FROM repositories WHERE name = 'Codertocat/Hello-World'")
        .fetch_one(&app.pool)
        .await
        .expect("the repository has a row")
}

#[sqlx::test(migrations = "../../migrations")]
async fn new_head_run_supersedes_running_job(pool: PgPool) {
    let app = TestApp::new(pool);
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;
    let claimed = pitot_store::jobs::claim_next_job(&app.pool, "agent-1", "machine-1", 60.0)
        .await
        .expect("claim")
        .expect("the labelled head's job");
    // A push alone leaves the running job alone: its result is still useful.
    app.deliver(
        "pull_request",
        "d-2",
        &with_head(pull_request("synchronize"), NEW_HEAD),
    )
    .await;
    assert_eq!(app.jobs().await[0].1, "running");

    let response = app
        .deliver(
            "pull_request",
            "d-3",
            &with_head(pull_request("labeled"), NEW_HEAD),
        )
        .await;

    assert_eq!(response["outcome"], "job_queued");
    let states: Vec<String> = app.jobs().await.into_iter().map(|(_, state)| state).collect();
    assert_eq!(states, ["superseded", "queued"]);
    let old = pitot_store::jobs::load_job(&app.pool, claimed.id)
        .await
        .expect("load")
        .expect("old job");
    assert_eq!(old.lease_expires_at, None, "the lease ends with the run");
    assert!(
        old.error.as_deref().is_some_and(|error| error.contains(&NEW_HEAD[..10])),
        "the reason names the new head: {:?}",
        old.error
    );
}

fn with_number(mut payload: serde_json::Value, number: i64) -> serde_json::Value {
    payload["number"] = number.into();
    payload["pull_request"]["number"] = number.into();
    payload
}
