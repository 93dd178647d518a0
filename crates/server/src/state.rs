//! The state every handler and worker shares.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use pitot_github::GitHubClient;
use pitot_store::commit_shas::CommitShas;

use crate::actions::ActionsWake;
use crate::commands::CommandsWake;
use crate::comparison_cache::ComparisonCache;
use crate::metrics::Metrics;
use crate::queue_events::{JobAnnouncer, QueueEvents};
use crate::reporter::ReporterWake;
use crate::repository_ids::RepositoryIds;

/// The state shared by handlers and workers; cloning it is cheap.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// Wakes claims that wait for a job; fed by the listener worker.
    pub queue_events: QueueEvents,
    /// Notifies every replica of jobs that webhook deliveries queued.
    pub job_announcer: JobAnnouncer,
    /// Wakes the reporter when a report is stored or a job queued.
    pub reporter_wake: ReporterWake,
    /// Wakes the command worker when a pull request command is recorded.
    pub commands_wake: CommandsWake,
    /// Wakes the GitHub Actions worker when a job is queued or a workflow
    /// run completed.
    pub actions_wake: ActionsWake,
    /// The GitHub client the reporter writes comments and check runs with;
    /// `None` when no credentials are configured, and then comments are
    /// only stored.
    pub github: Option<GitHubClient>,
    /// Cancelled when the server shuts down: waiting claims return at once
    /// and workers stop.
    pub shutdown: CancellationToken,
    /// This process's counters and histograms, served at `/metrics`.
    pub metrics: Metrics,
    /// Commit hashes by id, for the dashboard's overview and series history.
    pub commit_shas: Arc<CommitShas>,
    /// Bounds how many public requests load and parse a job's report at
    /// once (see [`MAX_COMPARISON_LOADS`]).
    pub comparison_loads: Arc<tokio::sync::Semaphore>,
    /// The comparisons built lately for job pages, details and charts.
    pub comparison_cache: Arc<ComparisonCache>,
    /// The ids of repositories that pull request deliveries named.
    pub(crate) repository_ids: Arc<RepositoryIds>,
}

/// How many requests may load and parse a job's report at once. Anyone can
/// ask for a job's page or charts, and each request reads every results
/// file of the report, so a burst of them could hold the database pool and
/// memory that webhooks and agents need. Two matches the cores pitot is
/// measured on; the rest wait their turn.
pub const MAX_COMPARISON_LOADS: usize = 2;

impl AppState {
    /// Creates the state for `pool` and `config`.
    pub fn new(pool: PgPool, config: Config) -> AppState {
        AppState {
            pool,
            config: Arc::new(config),
            queue_events: QueueEvents::default(),
            job_announcer: JobAnnouncer::default(),
            reporter_wake: ReporterWake::default(),
            commands_wake: CommandsWake::default(),
            actions_wake: ActionsWake::default(),
            github: None,
            shutdown: CancellationToken::new(),
            metrics: Metrics::default(),
            commit_shas: Arc::default(),
            comparison_loads: Arc::new(tokio::sync::Semaphore::new(MAX_COMPARISON_LOADS)),
            comparison_cache: Arc::default(),
            repository_ids: Arc::default(),
        }
    }

    /// Sets the GitHub client the reporter uses.
    pub fn with_github(mut self, github: GitHubClient) -> AppState {
        self.github = Some(github);
        self
    }

    /// Returns the lease a claim grants, in seconds.
    pub(crate) fn lease_seconds(&self) -> f64 {
        self.config.jobs.lease.as_secs_f64()
    }

    /// Returns how often the worker looks for expired leases: a quarter of
    /// the lease, kept within 1 to 30 seconds, so a dead agent's job waits at
    /// most a quarter longer than the lease itself.
    pub(crate) fn lease_check_interval(&self) -> Duration {
        (self.config.jobs.lease / 4).clamp(Duration::from_secs(1), Duration::from_secs(30))
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
