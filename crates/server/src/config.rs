//! pitot's configuration: one TOML file plus environment variables, loaded
//! once at start-up into typed values.
//!
//! Every key, its environment variable and its default are listed in
//! `docs/configuration.md`; keep the two in step. An environment variable
//! wins over the file, and the file wins over the default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub github: GitHubConfig,
    pub jobs: JobsConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    /// `[[repositories]]`: settings of single repositories; a repository
    /// without a table uses the defaults.
    pub repositories: Vec<RepositoryConfig>,
    /// `[actions]`: how pitot drives GitHub Actions runs.
    pub actions: ActionsConfig,
    /// `[retention]`: how long raw reports, deliveries and samples are kept.
    pub retention: RetentionConfig,
    /// `[change_points]`: change-point detection after history jobs.
    pub change_points: ChangePointsConfig,
    /// `[confirm]`: re-running flagged regressions before the comment.
    pub confirm: ConfirmConfig,
}

/// `[confirm]`: when a pull request run flags regressions, pitot runs only
/// those benchmarks again with more rounds on the same machine before it
/// writes the comment, and counts only the regressions that the second
/// run flags again. Described in `docs/detection.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfirmConfig {
    /// Whether flagged regressions are confirmed before the comment.
    pub enabled: bool,
    /// asv's `rounds` for every benchmark of the confirmation.
    pub rounds: u32,
    /// The maximum number of benchmarks one confirmation runs. When a run
    /// flags more, pitot reports them unconfirmed and notes it in the comment.
    pub max_benchmarks: usize,
}

impl Default for ConfirmConfig {
    fn default() -> Self {
        ConfirmConfig {
            enabled: true,
            rounds: 6,
            max_benchmarks: 20,
        }
    }
}

/// The minimum of `confirm.rounds`. asv's default `rounds` is 2, and a
/// confirmation must measure more than the first run did.
pub const MIN_CONFIRM_ROUNDS: u32 = 3;

/// The maximum of `confirm.rounds`. A larger number is a typing mistake,
/// because every round runs each benchmark's full `repeat` on both commits.
pub const MAX_CONFIRM_ROUNDS: u32 = 1_000;

impl ConfirmConfig {
    /// Checks the ranges serde cannot.
    fn check(&self) -> anyhow::Result<()> {
        if !(MIN_CONFIRM_ROUNDS..=MAX_CONFIRM_ROUNDS).contains(&self.rounds) {
            anyhow::bail!(
                "invalid confirm.rounds {}: expected {MIN_CONFIRM_ROUNDS} to {MAX_CONFIRM_ROUNDS}, more than asv's default of 2 rounds, such as 6",
                self.rounds
            );
        }
        if self.max_benchmarks == 0 {
            anyhow::bail!(
                "invalid confirm.max_benchmarks 0: expected 1 or more; set confirm.enabled = false to turn confirmation off"
            );
        }
        Ok(())
    }
}

/// `[retention]`: how many days pitot keeps raw data before `pitot serve`
/// (or `pitot prune`) deletes it. 0 keeps the data forever. Results'
/// values, intervals and quartiles are never deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days after a job finished that its agent reports (asv's results
    /// files and the run log) are kept.
    pub reports_days: i64,
    /// Days that webhook delivery rows are kept.
    pub deliveries_days: i64,
    /// Days after a run was stored that its raw samples are kept.
    pub samples_days: i64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            reports_days: 90,
            deliveries_days: 90,
            samples_days: 0,
        }
    }
}

/// The maximum retention period, in days (100 years): a larger number is
/// a typing mistake, and 0 already means "keep forever".
pub const MAX_RETENTION_DAYS: i64 = 36_500;

/// The shortest non-zero `deliveries_days`. GitHub.com offers redelivery
/// of the past 3 days' deliveries and GitHub Enterprise Server of the past
/// 7 days, and a redelivery whose row is gone would be acted on twice.
pub const MIN_DELIVERIES_DAYS: i64 = 7;

impl RetentionConfig {
    /// Returns the reports' retention period, or `None` to keep them forever.
    pub fn reports(&self) -> Option<chrono::Duration> {
        period(self.reports_days)
    }

    /// Returns the deliveries' retention period, or `None` to keep them forever.
    pub fn deliveries(&self) -> Option<chrono::Duration> {
        period(self.deliveries_days)
    }

    /// Returns the samples' retention period, or `None` to keep them forever.
    pub fn samples(&self) -> Option<chrono::Duration> {
        period(self.samples_days)
    }

    /// Returns whether any kind of data is ever deleted.
    pub fn prunes_anything(&self) -> bool {
        self.reports().is_some() || self.deliveries().is_some() || self.samples().is_some()
    }

    /// Rejects negative and absurdly large periods, and deliveries kept for
    /// less than GitHub's redelivery window.
    fn check(&self) -> anyhow::Result<()> {
        let keys = [
            ("reports_days", self.reports_days),
            ("deliveries_days", self.deliveries_days),
            ("samples_days", self.samples_days),
        ];
        for (key, days) in keys {
            if days < 0 {
                anyhow::bail!(
                    "retention.{key} = {days} is negative: give a number of days, or 0 to keep the data forever"
                );
            }
            if days > MAX_RETENTION_DAYS {
                anyhow::bail!(
                    "retention.{key} = {days} is more than {MAX_RETENTION_DAYS} days: give a smaller number of days, or 0 to keep the data forever"
                );
            }
        }
        if (1..MIN_DELIVERIES_DAYS).contains(&self.deliveries_days) {
            anyhow::bail!(
                "retention.deliveries_days = {} is shorter than GitHub's redelivery window: use at least {MIN_DELIVERIES_DAYS} days, or 0 to keep deliveries forever",
                self.deliveries_days
            );
        }
        Ok(())
    }
}

fn period(days: i64) -> Option<chrono::Duration> {
    (days > 0).then(|| chrono::Duration::days(days))
}

/// The settings of change-point detection, described in
/// `docs/detection.md`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangePointsConfig {
    /// The minimum number of results on each side of a change point.
    pub min_segment: usize,
    /// The largest Bonferroni-adjusted p-value of a change point.
    pub max_p_value: f64,
    /// The smallest change of the mean, as a fraction of the mean before.
    pub min_relative_change: f64,
}

impl Default for ChangePointsConfig {
    fn default() -> Self {
        let options = pitot_stats::change_points::ChangePointOptions::default();
        ChangePointsConfig {
            min_segment: options.min_segment,
            max_p_value: options.max_p_value,
            min_relative_change: options.min_relative_change,
        }
    }
}

impl ChangePointsConfig {
    /// Returns the detector's options.
    pub fn options(&self) -> pitot_stats::change_points::ChangePointOptions {
        pitot_stats::change_points::ChangePointOptions {
            min_segment: self.min_segment,
            max_p_value: self.max_p_value,
            min_relative_change: self.min_relative_change,
        }
    }

    /// Checks the ranges serde cannot.
    fn check(&self) -> anyhow::Result<()> {
        if self.min_segment < 2 {
            anyhow::bail!(
                "invalid change_points.min_segment {}: a segment needs at least 2 results for a variance",
                self.min_segment
            );
        }
        if self.max_p_value.is_nan() || self.max_p_value <= 0.0 || self.max_p_value > 1.0 {
            anyhow::bail!(
                "invalid change_points.max_p_value {}: expected a probability above 0 and at most 1, such as 0.001",
                self.max_p_value
            );
        }
        if self.min_relative_change.is_nan() || self.min_relative_change < 0.0 {
            anyhow::bail!(
                "invalid change_points.min_relative_change {}: expected a fraction of 0 or more, such as 0.05",
                self.min_relative_change
            );
        }
        Ok(())
    }
}

/// One `[[repositories]]` table: the settings of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepositoryConfig {
    /// The repository, `owner/name`, as GitHub spells it (compared without case).
    pub name: String,
    /// The runner of the repository's pull request jobs.
    pub backend: BackendKind,
    /// The file name of the workflow the Actions backend dispatches, in the
    /// repository's `.github/workflows/`.
    pub workflow: String,
    /// The branch or tag to dispatch the workflow on. Default: the
    /// repository's default branch, as the webhook payload names it.
    #[serde(rename = "ref")]
    pub dispatch_ref: Option<String>,
    /// When to benchmark the default branch.
    pub history: HistoryMode,
    /// The events that start a release's regression report.
    pub release_reports: ReleaseReports,
}

impl Default for RepositoryConfig {
    fn default() -> Self {
        RepositoryConfig {
            name: String::new(),
            backend: BackendKind::Agent,
            workflow: "pitot-benchmarks.yml".to_string(),
            dispatch_ref: None,
            history: HistoryMode::Push,
            release_reports: ReleaseReports::Published,
        }
    }
}

/// When pitot benchmarks commits of a repository's default branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryMode {
    /// Every push to the default branch, its new head against the commit
    /// before the push. The default: the noise thresholds and the dashboard
    /// need history, and the default branch holds reviewed code only.
    #[default]
    Push,
    /// Once a day, the default branch's newest commit when it has no
    /// results yet.
    Nightly,
    /// Never.
    Off,
}

/// The events that start a release report for a repository, set by
/// `release_reports`: `"published"` (or `true`), `"tags"`, `"both"`, or
/// `"off"` (or `false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReleaseReports {
    /// A `release` delivery with action `published`. The default, because a
    /// published release is the clearest sign that the maintainers made one.
    #[default]
    Published,
    /// A push that creates a tag, for projects that release by tagging
    /// without GitHub releases. The previous release is then the previous
    /// tag by version order.
    Tags,
    /// Either event; a tag pushed and then published gets one report.
    Both,
    /// No release reports.
    Off,
}

impl ReleaseReports {
    /// Returns whether a published release starts a report.
    pub fn on_published(self) -> bool {
        matches!(self, ReleaseReports::Published | ReleaseReports::Both)
    }

    /// Returns whether a push that creates a tag starts a report.
    pub fn on_tag_push(self) -> bool {
        matches!(self, ReleaseReports::Tags | ReleaseReports::Both)
    }
}

impl<'de> Deserialize<'de> for ReleaseReports {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = ReleaseReports;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str(r#""published", "tags", "both", "off", true or false"#)
            }

            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<ReleaseReports, E> {
                Ok(if value {
                    ReleaseReports::Published
                } else {
                    ReleaseReports::Off
                })
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<ReleaseReports, E> {
                match value {
                    "published" => Ok(ReleaseReports::Published),
                    "tags" => Ok(ReleaseReports::Tags),
                    "both" => Ok(ReleaseReports::Both),
                    "off" => Ok(ReleaseReports::Off),
                    other => Err(E::custom(format!(
                        r#"invalid release_reports {other:?}: use "published", "tags", "both" or "off" (or true or false)"#
                    ))),
                }
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// The runner of a repository's jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// `pitot agent` machines claim the jobs.
    #[default]
    Agent,
    /// pitot dispatches the repository's GitHub Actions workflow.
    Actions,
}

/// `[actions]`: the GitHub Actions backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionsConfig {
    /// How long a dispatched run may go without a `workflow_run` delivery
    /// before pitot polls GitHub for its state, and the interval between polls.
    #[serde(with = "humantime_serde")]
    pub poll_after: Duration,
    /// The largest artifact zip pitot downloads, in bytes.
    pub max_artifact_bytes: u64,
    /// The largest total uncompressed size of an artifact's entries, in bytes.
    pub max_unpacked_bytes: u64,
    /// The largest number of entries in an artifact.
    pub max_entries: usize,
    /// The largest uncompressed/compressed ratio of an entry, or of the
    /// whole artifact, once it unpacks to more than 1 MiB.
    pub max_ratio: u64,
    /// How many times pitot tries to list and download a completed run's
    /// artifact before the job fails.
    pub max_download_attempts: u32,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        let limits = pitot_runner::artifact::ArtifactLimits::default();
        ActionsConfig {
            poll_after: Duration::from_secs(5 * 60),
            max_artifact_bytes: limits.max_archive_bytes,
            max_unpacked_bytes: limits.max_total_bytes,
            max_entries: limits.max_entries,
            max_ratio: limits.max_ratio,
            max_download_attempts: 8,
        }
    }
}

impl ActionsConfig {
    /// Returns the limits an artifact is read under.
    pub fn artifact_limits(&self) -> pitot_runner::artifact::ArtifactLimits {
        pitot_runner::artifact::ArtifactLimits {
            max_archive_bytes: self.max_artifact_bytes,
            max_total_bytes: self.max_unpacked_bytes,
            max_entries: self.max_entries,
            max_ratio: self.max_ratio,
        }
    }
}

/// The `/metrics` endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether the router serves `/metrics`.
    pub enabled: bool,
    /// A bearer token that scrapes must send; without one `/metrics` is public.
    pub token: Option<SecretString>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { enabled: true, token: None }
    }
}

/// The format of the log lines written to standard error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// The form of each log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event, coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = anyhow::Error;

    fn from_str(value: &str) -> anyhow::Result<LogFormat> {
        match value {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => anyhow::bail!("PITOT_LOG_FORMAT={value:?} is not a log format: use text or json"),
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// The URL people reach pitot at, used for links in comments and check runs.
    pub public_url: String,
    /// Largest request body accepted, in bytes (GitHub caps webhook payloads at 25 MB).
    pub max_body_bytes: usize,
    /// Largest agent API request body accepted, in bytes: a report carries
    /// asv's results files for both commits and the run's log.
    pub max_report_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".to_string(),
            max_body_bytes: 25 * 1024 * 1024,
            // NOTE: an estimate: a results file with samples for a suite of a
            // few thousand benchmarks is several megabytes, and a report contains
            // two of them plus a log that the agent truncates.
            max_report_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The PostgreSQL database.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connection URL; without one pitot starts its embedded PostgreSQL server.
    pub url: Option<SecretString>,
    /// Folder for pitot's own data, such as the embedded server's files.
    pub pitot_home: Option<PathBuf>,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { url: None, pitot_home: None, max_connections: 16 }
    }
}

/// GitHub access and webhook handling.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitHubConfig {
    /// REST API base URL: `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    /// The secret GitHub signs webhook deliveries with.
    pub webhook_secret: Option<SecretString>,
    /// GitHub App id; with `private_key_path` (or `private_key`) pitot acts as the App.
    pub app_id: Option<u64>,
    pub private_key_path: Option<PathBuf>,
    pub private_key: Option<SecretString>,
    /// A personal access token, used when no App is configured (check runs need an App).
    pub token: Option<SecretString>,
    /// The pull request label that asks for a benchmark run.
    pub label: String,
    /// Whether a push to a labelled pull request starts a new run by itself.
    /// Off by default: new, unreviewed code runs only when someone labels it again.
    pub run_on_push: bool,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        GitHubConfig {
            api_url: "https://api.github.com".to_string(),
            webhook_secret: None,
            app_id: None,
            private_key_path: None,
            private_key: None,
            token: None,
            label: "run-benchmarks".to_string(),
            run_on_push: false,
        }
    }
}

/// Returns whether a configured secret is empty or only whitespace.
fn is_blank(secret: Option<&SecretString>) -> bool {
    secret.is_some_and(|secret| secret.expose_secret().trim().is_empty())
}

/// The most `jobs.max_attempts` may be. A job fails the same way on
/// every try long before this, and a bound keeps the attempt counter far
/// from overflowing as a job is queued again and again.
const MAX_JOB_ATTEMPTS: i32 = 100;

/// The job queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// How long a claimed job stays with its runner without a heartbeat.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How many times a job is handed out before it fails for good.
    pub max_attempts: i32,
    /// Longest an asv run may take before the runner stops it.
    #[serde(with = "humantime_serde")]
    pub run_timeout: Duration,
    /// Whether `pitot serve` runs a benchmark agent in its own process.
    /// Default: on, so the embedded default works alone; turn it off when
    /// dedicated `pitot agent` machines do the runs.
    pub in_process_agent: bool,
    /// The asv machine name of the in-process agent.
    pub machine: String,
    /// The in-process agent's work folder (checkouts, logs, asv's
    /// environments). Default: `agent` under pitot's home folder.
    pub agent_work_dir: Option<PathBuf>,
    /// Clone URL rewrites for the in-process agent, such as a local mirror:
    /// `[[jobs.url_rewrites]]` tables with `prefix` and `replacement`.
    pub url_rewrites: Vec<pitot_runner::config::UrlRewrite>,
    /// The asv program the in-process agent runs. Default: `asv` on `PATH`,
    /// else a virtual environment with asv 0.6.6 from PyPI that the agent
    /// creates in its work folder.
    pub asv_program: Option<PathBuf>,
    /// How long an agent's claim request waits for a job before the server
    /// responds 204; a job queued meanwhile is returned at once.
    #[serde(with = "humantime_serde")]
    pub claim_wait: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            lease: Duration::from_secs(120),
            max_attempts: 3,
            run_timeout: Duration::from_secs(60 * 60),
            in_process_agent: true,
            machine: "pitot-local".to_string(),
            agent_work_dir: None,
            url_rewrites: Vec::new(),
            asv_program: None,
            // Below the 30 to 60 seconds after which common proxies and load
            // balancers drop an idle request.
            claim_wait: Duration::from_secs(25),
        }
    }
}

impl Config {
    /// Loads the file at `path` (if any), then applies environment variables.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("failed to read the configuration file {}", path.display()))?;
                Config::from_toml(&text).with_context(|| format!("invalid configuration file {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Parses a configuration from TOML text; missing keys take their defaults.
    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.check_repositories()?;
        config.retention.check()?;
        config.change_points.check()?;
        config.confirm.check()?;
        if config.actions.max_download_attempts == 0 {
            anyhow::bail!(
                "actions.max_download_attempts = 0 would fail every job before its first download: use 1 or more"
            );
        }
        let max_attempts = config.jobs.max_attempts;
        if !(1..=MAX_JOB_ATTEMPTS).contains(&max_attempts) {
            anyhow::bail!(
                "jobs.max_attempts = {max_attempts} is out of range: use 1 to {MAX_JOB_ATTEMPTS}; each job is handed out at most that many times"
            );
        }
        if is_blank(config.github.webhook_secret.as_ref()) {
            anyhow::bail!(
                "github.webhook_secret is empty, which would let anyone sign a delivery: set the secret of the App's webhook, or leave the key out to refuse deliveries"
            );
        }
        if is_blank(config.metrics.token.as_ref()) {
            anyhow::bail!(
                "metrics.token is empty, which a scrape without a token would match: set a token, or leave the key out to serve /metrics to anyone"
            );
        }
        Ok(config)
    }

    /// Returns the settings of `repository` (`owner/name`): its
    /// `[[repositories]]` table, or the defaults when it has none.
    pub fn repository(&self, repository: &str) -> RepositoryConfig {
        self.repositories
            .iter()
            .find(|table| table.name.eq_ignore_ascii_case(repository))
            .cloned()
            .unwrap_or_else(|| RepositoryConfig {
                name: repository.to_string(),
                ..RepositoryConfig::default()
            })
    }

    /// Checks what serde cannot: every `[[repositories]]` table names one
    /// repository as `owner/name`, at most once, and a workflow file.
    fn check_repositories(&self) -> anyhow::Result<()> {
        let mut seen = std::collections::HashSet::new();
        for table in &self.repositories {
            let name = &table.name;
            let valid = matches!(name.split_once('/'), Some((owner, repo))
                if !owner.is_empty() && !repo.is_empty() && !repo.contains('/'));
            if !valid {
                anyhow::bail!(
                    "[[repositories]] name = {name:?} is not a repository: write it as \"owner/name\", such as \"django/django\""
                );
            }
            if !seen.insert(name.to_lowercase()) {
                anyhow::bail!("[[repositories]] name = {name:?} appears twice: merge the two tables");
            }
            let workflow = &table.workflow;
            if workflow.is_empty() || workflow.contains('/') || workflow.contains("..") {
                anyhow::bail!(
                    "[[repositories]] {name}: workflow = {workflow:?} is not a workflow file name: give the file name in .github/workflows/, such as \"pitot-benchmarks.yml\""
                );
            }
            if table.dispatch_ref.as_deref() == Some("") {
                anyhow::bail!("[[repositories]] {name}: ref is empty: name a branch or tag, or leave it out to use the default branch");
            }
        }
        Ok(())
    }

    /// Applies the environment variables listed in `docs/configuration.md`,
    /// read through `lookup` so tests need not change the process environment.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let secret = |name: &str| lookup(name).filter(|v| !v.is_empty()).map(SecretString::from);

        if let Some(value) = lookup("PITOT_LISTEN") {
            self.server.listen = value
                .parse()
                .with_context(|| format!("PITOT_LISTEN={value:?} is not an address: expected HOST:PORT, such as 0.0.0.0:8080"))?;
        }
        if let Some(value) = lookup("PITOT_PUBLIC_URL") {
            self.server.public_url = value;
        }
        if let Some(url) = secret("DATABASE_URL") {
            self.database.url = Some(url);
        }
        if let Some(value) = lookup("PITOT_HOME") {
            self.database.pitot_home = Some(PathBuf::from(value));
        }
        if let Some(value) = lookup("PITOT_GITHUB_API_URL") {
            self.github.api_url = value;
        }
        if let Some(value) = secret("PITOT_WEBHOOK_SECRET") {
            self.github.webhook_secret = Some(value);
        }
        if let Some(value) = lookup("PITOT_GITHUB_APP_ID") {
            let app_id = value
                .parse()
                .with_context(|| format!("PITOT_GITHUB_APP_ID={value:?} is not a number: use the App's numeric id"))?;
            self.github.app_id = Some(app_id);
        }
        if let Some(value) = lookup("PITOT_GITHUB_PRIVATE_KEY_PATH") {
            self.github.private_key_path = Some(PathBuf::from(value));
        }
        if let Some(value) = secret("PITOT_GITHUB_PRIVATE_KEY") {
            self.github.private_key = Some(value);
        }
        if let Some(value) = secret("PITOT_GITHUB_TOKEN") {
            self.github.token = Some(value);
        }
        if let Some(value) = lookup("PITOT_LABEL") {
            self.github.label = value;
        }
        if let Some(value) = lookup("PITOT_METRICS_ENABLED") {
            self.metrics.enabled = parse_bool("PITOT_METRICS_ENABLED", &value)?;
        }
        if let Some(value) = secret("PITOT_METRICS_TOKEN") {
            self.metrics.token = Some(value);
        }
        if let Some(value) = lookup("PITOT_LOG_FORMAT") {
            self.log.format = value.parse()?;
        }
        if let Some(value) = lookup("PITOT_IN_PROCESS_AGENT") {
            self.jobs.in_process_agent = parse_bool("PITOT_IN_PROCESS_AGENT", &value)?;
        }
        let retention = [
            ("PITOT_RETENTION_REPORTS_DAYS", &mut self.retention.reports_days),
            ("PITOT_RETENTION_DELIVERIES_DAYS", &mut self.retention.deliveries_days),
            ("PITOT_RETENTION_SAMPLES_DAYS", &mut self.retention.samples_days),
        ];
        for (name, days) in retention {
            if let Some(value) = lookup(name) {
                *days = value.parse().with_context(|| {
                    format!("{name}={value:?} is not a number of days: use a whole number, or 0 to keep the data forever")
                })?;
            }
        }
        self.retention.check().context("invalid retention setting from the environment")?;
        Ok(())
    }
}

fn parse_bool(name: &str, value: &str) -> anyhow::Result<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => anyhow::bail!("{name}={value:?} is not a boolean: use true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::from_toml("").unwrap();

        assert_eq!(config.github.label, "run-benchmarks");
        assert_eq!(config.jobs.lease, Duration::from_secs(120));
        assert_eq!(config.server.max_body_bytes, 25 * 1024 * 1024);
        assert!(!config.github.run_on_push);
    }

    #[test]
    fn file_values_are_read() {
        let text = r#"
            [server]
            listen = "0.0.0.0:9000"
            [github]
            label = "benchmark"
            run_on_push = true
            [jobs]
            lease = "30s"
            max_attempts = 5
        "#;

        let config = Config::from_toml(text).unwrap();

        assert_eq!(config.server.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.github.label, "benchmark");
        assert!(config.github.run_on_push);
        assert_eq!(config.jobs.lease, Duration::from_secs(30));
        assert_eq!(config.jobs.max_attempts, 5);
    }

    #[test]
    fn environment_wins_over_file() {
        let mut config = Config::from_toml("[github]\nlabel = \"from-file\"").unwrap();

        config
            .apply_env(|name| match name {
                "PITOT_LABEL" => Some("from-env".into()),
                "PITOT_WEBHOOK_SECRET" => Some("s3cret".into()),
                _ => None,
            })
            .unwrap();

        assert_eq!(config.github.label, "from-env");
        assert_eq!(config.github.webhook_secret.unwrap().expose_secret(), "s3cret");
    }

    #[test]
    fn in_process_agent_from_environment() {
        let mut config = Config::from_toml("[jobs]\nin_process_agent = true").unwrap();
        config.apply_env(|name| (name == "PITOT_IN_PROCESS_AGENT").then(|| "false".into())).unwrap();
        assert!(!config.jobs.in_process_agent);

        let error = config
            .apply_env(|name| (name == "PITOT_IN_PROCESS_AGENT").then(|| "no".into()))
            .unwrap_err();
        assert!(error.to_string().contains("PITOT_IN_PROCESS_AGENT=\"no\""), "{error}");
    }

    #[test]
    fn log_and_metrics_settings() {
        let mut config = Config::from_toml("[log]\nformat = \"json\"\n[metrics]\nenabled = false").unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(!config.metrics.enabled);

        config
            .apply_env(|name| match name {
                "PITOT_LOG_FORMAT" => Some("text".into()),
                "PITOT_METRICS_ENABLED" => Some("true".into()),
                "PITOT_METRICS_TOKEN" => Some("scrape-secret".into()),
                _ => None,
            })
            .unwrap();

        assert_eq!(config.log.format, LogFormat::Text);
        assert!(config.metrics.enabled);
        assert_eq!(config.metrics.token.unwrap().expose_secret(), "scrape-secret");
    }

    #[test]
    fn bad_log_format_names_the_choices() {
        let mut config = Config::default();

        let error = config.apply_env(|name| (name == "PITOT_LOG_FORMAT").then(|| "xml".into())).unwrap_err();

        assert!(error.to_string().contains("PITOT_LOG_FORMAT=\"xml\""), "{error}");
        assert!(error.to_string().contains("text or json"), "{error}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("unknown key", "[server]\nlisen = \"x\"", "lisen"),
            ("bad duration", "[jobs]\nlease = \"soon\"", "lease"),
            ("bad address", "[server]\nlisten = \"here\"", "listen"),
            ("bad log format", "[log]\nformat = \"xml\"", "format"),
        ];

        for (case, text, expected) in cases {
            let error = format!("{:#}", Config::from_toml(text).unwrap_err());
            assert!(error.contains(expected), "case {case}: {error}");
        }
    }

    #[test]
    fn repository_settings_are_looked_up_by_name() {
        let text = r#"
            [[repositories]]
            name = "Octo/Widgets"
            history = "nightly"
            release_reports = false
        "#;

        let config = Config::from_toml(text).unwrap();

        let widgets = config.repository("octo/widgets");
        assert_eq!(widgets.history, HistoryMode::Nightly);
        assert_eq!(widgets.release_reports, ReleaseReports::Off);
        let other = config.repository("octo/other");
        assert_eq!(other.history, HistoryMode::Push);
        assert_eq!(other.release_reports, ReleaseReports::Published);
    }

    #[test]
    fn release_reports_take_events_or_booleans() {
        let cases = [
            ("true", ReleaseReports::Published),
            ("false", ReleaseReports::Off),
            ("\"published\"", ReleaseReports::Published),
            ("\"tags\"", ReleaseReports::Tags),
            ("\"both\"", ReleaseReports::Both),
            ("\"off\"", ReleaseReports::Off),
        ];

        for (value, expected) in cases {
            let text = format!("[[repositories]]\nname = \"o/r\"\nrelease_reports = {value}");
            let config = Config::from_toml(&text).unwrap();
            assert_eq!(config.repository("o/r").release_reports, expected, "value {value}");
        }
        assert!(ReleaseReports::Both.on_published());
        assert!(ReleaseReports::Both.on_tag_push());
        assert!(!ReleaseReports::Tags.on_published());
        assert!(!ReleaseReports::Published.on_tag_push());
    }

    #[test]
    fn bad_environment_value_names_the_variable() {
        let mut config = Config::default();

        let error = config.apply_env(|name| (name == "PITOT_LISTEN").then(|| "nowhere".into())).unwrap_err();

        assert!(error.to_string().contains("PITOT_LISTEN"), "{error}");
    }

    #[test]
    fn repositories_choose_backend_and_workflow() {
        let text = r#"
            [[repositories]]
            name = "scipy/scipy"
            backend = "actions"
            [[repositories]]
            name = "numpy/numpy"
            backend = "actions"
            workflow = "bench.yml"
            ref = "ci-bench"
        "#;

        let config = Config::from_toml(text).unwrap();

        let scipy = config.repository("SciPy/scipy");
        assert_eq!(scipy.backend, BackendKind::Actions);
        assert_eq!(scipy.workflow, "pitot-benchmarks.yml");
        assert_eq!(scipy.dispatch_ref, None);
        let numpy = config.repository("numpy/numpy");
        assert_eq!(numpy.workflow, "bench.yml");
        assert_eq!(numpy.dispatch_ref.as_deref(), Some("ci-bench"));
        let other = config.repository("django/django");
        assert_eq!(other.backend, BackendKind::Agent);
        assert_eq!(other.name, "django/django");
    }

    #[test]
    fn bad_repository_tables_name_the_problem() {
        let cases = [
            ("no name", "[[repositories]]\nbackend = \"actions\"", "owner/name"),
            ("bad name", "[[repositories]]\nname = \"scipy\"", "\"scipy\""),
            ("unknown backend", "[[repositories]]\nname = \"a/b\"\nbackend = \"jenkins\"", "jenkins"),
            ("unknown key", "[[repositories]]\nname = \"a/b\"\nworkflw = \"x.yml\"", "workflw"),
            ("workflow path", "[[repositories]]\nname = \"a/b\"\nworkflow = \"../x.yml\"", "workflow file name"),
            ("empty ref", "[[repositories]]\nname = \"a/b\"\nref = \"\"", "ref is empty"),
            ("twice", "[[repositories]]\nname = \"a/b\"\n[[repositories]]\nname = \"A/b\"", "appears twice"),
            ("unknown history mode", "[[repositories]]\nname = \"o/r\"\nhistory = \"weekly\"", "weekly"),
            ("misspelt history key", "[[repositories]]\nname = \"o/r\"\nhistroy = \"off\"", "histroy"),
            ("unknown release trigger", "[[repositories]]\nname = \"o/r\"\nrelease_reports = \"tag\"", "\"tags\", \"both\""),
            ("numeric release trigger", "[[repositories]]\nname = \"o/r\"\nrelease_reports = 1", "\"published\", \"tags\""),
            ("no download attempts", "[actions]\nmax_download_attempts = 0", "use 1 or more"),
        ];

        for (case, text, expected) in cases {
            let error = format!("{:#}", Config::from_toml(text).unwrap_err());
            assert!(error.contains(expected), "case {case}: {error}");
        }
    }

    #[test]
    fn actions_limits_default_to_the_readers() {
        let config = Config::from_toml("[actions]\npoll_after = \"2m\"\nmax_artifact_bytes = 1000").unwrap();

        let limits = config.actions.artifact_limits();

        assert_eq!(config.actions.poll_after, Duration::from_secs(120));
        assert_eq!(limits.max_archive_bytes, 1000);
        assert_eq!(limits.max_ratio, pitot_runner::artifact::ArtifactLimits::default().max_ratio);
    }

    #[test]
    fn max_attempts_out_of_range_is_rejected() {
        for value in ["0", "-1", "101"] {
            let error = Config::from_toml(&format!("[jobs]\nmax_attempts = {value}")).unwrap_err();

            let message = format!("{error:#}");
            assert!(message.contains(&format!("jobs.max_attempts = {value}")), "{message}");
            assert!(message.contains("use 1 to 100"), "{message}");
        }
        assert_eq!(Config::from_toml("[jobs]\nmax_attempts = 1").unwrap().jobs.max_attempts, 1);
    }

    #[test]
    fn empty_secrets_are_rejected() {
        for value in ["\"\"", "\"  \""] {
            let webhook = Config::from_toml(&format!("[github]\nwebhook_secret = {value}")).unwrap_err();
            let metrics = Config::from_toml(&format!("[metrics]\ntoken = {value}")).unwrap_err();

            assert!(format!("{webhook:#}").contains("github.webhook_secret is empty"), "{webhook:#}");
            assert!(format!("{metrics:#}").contains("metrics.token is empty"), "{metrics:#}");
        }
    }

    #[test]
    fn retention_defaults_and_values() {
        let defaults = Config::from_toml("").unwrap().retention;
        let set = Config::from_toml("[retention]\nreports_days = 30\nsamples_days = 365").unwrap().retention;

        assert_eq!(defaults.reports(), Some(chrono::Duration::days(90)));
        assert_eq!(defaults.deliveries(), Some(chrono::Duration::days(90)));
        assert_eq!(defaults.samples(), None);
        assert_eq!(set.reports(), Some(chrono::Duration::days(30)));
        assert_eq!(set.samples(), Some(chrono::Duration::days(365)));
    }

    #[test]
    fn retention_zero_keeps_forever() {
        let text = "[retention]\nreports_days = 0\ndeliveries_days = 0\nsamples_days = 0";

        let retention = Config::from_toml(text).unwrap().retention;

        assert_eq!(retention.reports(), None);
        assert_eq!(retention.deliveries(), None);
        assert!(!retention.prunes_anything());
    }

    #[test]
    fn bad_retention_values_name_key_and_fix() {
        let cases = [
            ("negative", "[retention]\nreports_days = -1", "retention.reports_days = -1 is negative"),
            ("absurd", "[retention]\nsamples_days = 100000", "retention.samples_days = 100000 is more than 36500"),
            ("inside redelivery window", "[retention]\ndeliveries_days = 2", "at least 7 days"),
            ("not a number", "[retention]\nreports_days = \"soon\"", "reports_days"),
            ("unknown key", "[retention]\nlogs_days = 3", "logs_days"),
        ];

        for (case, text, expected) in cases {
            let error = format!("{:#}", Config::from_toml(text).unwrap_err());
            assert!(error.contains(expected), "case {case}: {error}");
        }
    }

    #[test]
    fn retention_from_environment() {
        let mut config = Config::default();

        config.apply_env(|name| (name == "PITOT_RETENTION_SAMPLES_DAYS").then(|| "30".into())).unwrap();
        let error = Config::default()
            .apply_env(|name| (name == "PITOT_RETENTION_REPORTS_DAYS").then(|| "-5".into()))
            .unwrap_err();
        let not_number = Config::default()
            .apply_env(|name| (name == "PITOT_RETENTION_DELIVERIES_DAYS").then(|| "ninety".into()))
            .unwrap_err();

        assert_eq!(config.retention.samples_days, 30);
        assert!(format!("{error:#}").contains("retention.reports_days = -5"), "{error:#}");
        assert!(not_number.to_string().contains("PITOT_RETENTION_DELIVERIES_DAYS=\"ninety\""), "{not_number}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut config = Config::default();
        config.apply_env(|name| (name == "PITOT_GITHUB_TOKEN").then(|| "ghp_topsecret".into())).unwrap();

        let printed = format!("{config:?}");

        assert!(!printed.contains("ghp_topsecret"), "{printed}");
    }

    #[test]
    fn confirm_defaults_and_values() {
        let defaults = Config::from_toml("").unwrap().confirm;
        let set = Config::from_toml("[confirm]\nenabled = false\nrounds = 10\nmax_benchmarks = 5")
            .unwrap()
            .confirm;

        assert!(defaults.enabled);
        assert_eq!(defaults.rounds, 6);
        assert_eq!(defaults.max_benchmarks, 20);
        assert!(!set.enabled);
        assert_eq!(set.rounds, 10);
        assert_eq!(set.max_benchmarks, 5);
    }

    #[test]
    fn bad_confirm_values_name_key_and_fix() {
        let cases = [
            ("rounds at asv's default", "[confirm]\nrounds = 2", "invalid confirm.rounds 2: expected 3 to 1000"),
            ("absurd rounds", "[confirm]\nrounds = 5000", "invalid confirm.rounds 5000"),
            ("no benchmarks", "[confirm]\nmax_benchmarks = 0", "set confirm.enabled = false"),
            ("negative rounds", "[confirm]\nrounds = -1", "rounds"),
            ("unknown key", "[confirm]\nrepeat = 3", "repeat"),
        ];

        for (case, text, expected) in cases {
            let error = format!("{:#}", Config::from_toml(text).unwrap_err());
            assert!(error.contains(expected), "case {case}: {error}");
        }
    }
}
