//! GitHub's side of pitot: webhook signature verification, the webhook
//! events pitot acts on, and the REST client that writes results back (the
//! sticky pull request comment and check runs) and drives GitHub Actions
//! runs (workflow dispatch, run state, artifact download).
//!
//! This crate deals with GitHub only, never PostgreSQL: it parses what GitHub sends
//! into typed values, writes back through the REST API, and leaves storing
//! and acting on events to the server.

mod actions;
mod auth;
mod check_runs;
mod client;
mod commands;
mod comments;
mod error;
mod events;
mod pull_requests;
mod releases;
mod versions;
mod identity;
mod percent;
mod retry;
mod signature;
mod stats;
mod transport;

pub use commands::{may_run_commands, parse_command, Command, CommandError, USAGE as COMMAND_USAGE};
pub use events::{
    Event, EventError, InstallationEvent, IssueCommentEvent, PullRequestAction, PullRequestEvent, PushEvent,
    ReleaseEvent, RepoRef, WorkflowRunEvent,
};
pub use signature::{sign, verify_signature, SignatureError};

pub use actions::{job_id_from_title, run_title, ArtifactInfo, DownloadError, WorkflowRun};
pub use auth::Credentials;
pub use check_runs::{CheckConclusion, CheckRunOutput, CheckRunRef, CheckRunStatus, NewCheckRun};
pub use client::{ClientBuildError, ClientSettings, GitHubClient, GITHUB_API_URL};
pub use comments::{reply_marker, sticky_marker, CommentRef};
pub use error::{GitHubError, TransportError};
pub use pull_requests::{BranchDrift, PullRequestInfo, Reaction};
pub use releases::{ReleaseInfo, RepositoryInfo};
pub use versions::{previous_release, Version};
pub use identity::Identity;
pub use percent::encode_segment;
pub use retry::RetryPolicy;
pub use stats::CallStats;
pub use secrecy::SecretString;
