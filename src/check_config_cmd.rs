//! `pitot check-config`: loads the configuration as `pitot serve` does,
//! connects to the database, checks its migrations and reaches GitHub,
//! printing one line per check. It changes nothing: no migration is applied.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use pitot_github::{ClientSettings, GitHubClient, GitHubError, Identity, RetryPolicy};
use pitot_server::config::{BackendKind, Config};
use pitot_server::service::github_client_with;
use pitot_store::schema_status;

use crate::database::{Database, DatabaseArgs};
use crate::serve_cmd::database_args;

/// How long each network check waits: a server that needs longer to
/// accept a connection is as good as unreachable for this check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug)]
pub struct CheckConfigArgs {
    /// The TOML configuration file to check, as `pitot serve --config` reads it.
    #[arg(long, env = "PITOT_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    /// Works, but probably not as intended.
    Warning,
    Failed,
    /// Not run, because an earlier check failed or nothing is configured.
    Skipped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        };
        // Padded so that the check names line up.
        write!(f, "{word:<8}")
    }
}

/// The printed checks and whether any failed.
#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, status: Status, check: &str, detail: impl fmt::Display) {
        if status == Status::Failed {
            self.failed = true;
        }
        println!("{status} {check}: {detail}");
    }
}

/// Runs `pitot check-config`; exits with 1 when a check failed.
pub fn run(args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(check_all(&args, &mut report));
    Ok(if report.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn check_all(args: &CheckConfigArgs, report: &mut Report) {
    let source = match &args.config {
        Some(path) => path.display().to_string(),
        None => "no file, defaults and environment variables".to_owned(),
    };
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => {
            report.line(Status::Ok, "configuration", format!("loaded ({source})"));
            config
        }
        Err(error) => {
            // TOML errors span several lines (the line of the file and a
            // caret); the report keeps one line per check.
            let message = format!("{error:#}");
            let message: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|part| !part.is_empty() && *part != "|")
                .collect();
            report.line(Status::Failed, "configuration", message.join(" "));
            report.line(
                Status::Skipped,
                "database",
                "the configuration did not load",
            );
            report.line(Status::Skipped, "github", "the configuration did not load");
            return;
        }
    };
    check_settings(&config, report);
    check_database(&database_args(&args.database, &config), report).await;
    check_github(&config, report).await;
}

/// Checks values that load but would not work.
fn check_settings(config: &Config, report: &mut Report) {
    let public_url = &config.server.public_url;
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        report.line(
            Status::Failed,
            "server.public_url",
            format!("{public_url:?} is not an http or https URL: set server.public_url (PITOT_PUBLIC_URL) to the address people open pitot at, such as https://pitot.example.org"),
        );
    }
    if config.github.webhook_secret.is_none() {
        report.line(
            Status::Warning,
            "github.webhook_secret",
            "not set, so every webhook delivery will be rejected with 401: set PITOT_WEBHOOK_SECRET to the App's webhook secret",
        );
    }
    check_actions_credentials(config, report);
}

/// Warns when a repository uses the Actions backend but no GitHub
/// credentials are set: pitot cannot dispatch a workflow without them,
/// and its jobs would fail.
fn check_actions_credentials(config: &Config, report: &mut Report) {
    let github = &config.github;
    let has_credentials = github.app_id.is_some() || github.token.is_some();
    if has_credentials {
        return;
    }
    let actions: Vec<&str> = config
        .repositories
        .iter()
        .filter(|repository| repository.backend == BackendKind::Actions)
        .map(|repository| repository.name.as_str())
        .collect();
    if actions.is_empty() {
        return;
    }
    report.line(
        Status::Warning,
        "repositories",
        format!(
            "{} use backend = \"actions\", but no GitHub credentials are set, so their workflows cannot be dispatched and every job fails: configure a GitHub App (github.app_id with a private key) or github.token (PITOT_GITHUB_TOKEN)",
            actions.join(", ")
        ),
    );
}

async fn check_database(args: &DatabaseArgs, report: &mut Report) {
    let target = match &args.database_url {
        Some(url) => redact_password(url),
        None => "the embedded PostgreSQL server".to_owned(),
    };
    let database = match Database::connect(args, CHECK_TIMEOUT).await {
        Ok(database) => database,
        Err(error) => {
            report.line(
                Status::Failed,
                "database",
                format!("cannot connect to {target}: {error:#}; check database.url (DATABASE_URL), that the server runs and that it accepts this user"),
            );
            report.line(Status::Skipped, "migrations", "no database connection");
            return;
        }
    };
    report.line(Status::Ok, "database", format!("connected to {target}"));
    check_migrations(database.pool(), report).await;
    database.close().await;
}

async fn check_migrations(pool: &sqlx::PgPool, report: &mut Report) {
    let statuses = async {
        let unknown = schema_status::unknown_migrations(pool).await?;
        let missing = schema_status::missing_migrations(pool).await?;
        Ok::<_, pitot_store::StoreError>((unknown, missing))
    };
    match statuses.await {
        Err(error) => report.line(
            Status::Failed,
            "migrations",
            format!("cannot read the applied migrations: {error}"),
        ),
        Ok((unknown, _)) if !unknown.is_empty() => report.line(
            Status::Failed,
            "migrations",
            format!(
                "the database has {} migration(s) this pitot does not know, starting with {}: a newer pitot migrated it; run that version or newer",
                unknown.len(),
                unknown[0]
            ),
        ),
        Ok((_, missing)) if missing.is_empty() => {
            report.line(Status::Ok, "migrations", "every migration of this pitot is applied")
        }
        Ok((_, missing)) => report.line(
            Status::Warning,
            "migrations",
            format!(
                "{} pending, starting with {} ({}): `pitot serve` applies them at start, or run `pitot migrate`",
                missing.len(),
                missing[0].version,
                missing[0].description
            ),
        ),
    }
}

async fn check_github(config: &Config, report: &mut Report) {
    let settings = ClientSettings {
        request_timeout: CHECK_TIMEOUT,
        connect_timeout: CHECK_TIMEOUT,
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..ClientSettings::default()
    };
    let client = match github_client_with(config, settings) {
        Ok(Some(client)) => client,
        Ok(None) => {
            report.line(
                Status::Skipped,
                "github",
                "no credentials (github.app_id with a private key, or github.token), so results are only stored, never posted",
            );
            return;
        }
        Err(error) => {
            report.line(Status::Failed, "github", format!("{error:#}"));
            return;
        }
    };
    let api_url = &config.github.api_url;
    match client.identity().await {
        Ok(Identity::App { id, slug }) => report.line(
            Status::Ok,
            "github",
            format!("{api_url} accepted the JWT of App {slug} (id {id})"),
        ),
        Ok(Identity::User { login }) => report.line(
            Status::Ok,
            "github",
            format!("{api_url} accepted the token of user {login}; check runs need an App"),
        ),
        Err(error) => report.line(
            Status::Failed,
            "github",
            github_failure(config, &client, &error),
        ),
    }
}

/// Explains a failed identity call with the setting to change.
fn github_failure(config: &Config, client: &GitHubClient, error: &GitHubError) -> String {
    let github = &config.github;
    let api_url = &github.api_url;
    let fix = match error {
        GitHubError::Unauthorized { .. } if client.supports_check_runs() => {
            let key = match &github.private_key_path {
                Some(path) => format!("github.private_key_path={}", path.display()),
                None => "the key in PITOT_GITHUB_PRIVATE_KEY".to_owned(),
            };
            let app_id = github.app_id.map_or_else(String::new, |id| id.to_string());
            format!("GitHub does not accept {key} for github.app_id={app_id}: generate a private key on the settings page of App {app_id} and point github.private_key_path at it, or correct github.app_id")
        }
        GitHubError::Unauthorized { .. } => {
            "GitHub does not accept github.token (PITOT_GITHUB_TOKEN): it is wrong, expired or revoked; create a new token".to_owned()
        }
        GitHubError::Transport { .. } => {
            format!("cannot reach github.api_url={api_url}: check the URL, DNS, proxies and firewalls")
        }
        GitHubError::NotFound { .. } => format!(
            "github.api_url={api_url} does not look like GitHub's REST API: use https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server"
        ),
        _ => format!("github.api_url={api_url} responded with an error"),
    };
    format!("{fix} ({error})")
}

/// Replaces the password of a PostgreSQL URL with `***`, for printing.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_password_hides_only_the_password() {
        let cases = [
            (
                "postgres://pitot:s3cret@db:5432/pitot",
                "postgres://pitot:***@db:5432/pitot",
            ),
            ("postgres://pitot@db/pitot", "postgres://pitot@db/pitot"),
            ("postgres://db/pitot", "postgres://db/pitot"),
        ];

        for (url, expected) in cases {
            assert_eq!(redact_password(url), expected, "{url}");
        }
    }
}
