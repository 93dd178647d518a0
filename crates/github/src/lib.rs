//! GitHub's side of pitot: webhook signature verification and the webhook
//! events pitot acts on.
//!
//! This crate knows GitHub, not PostgreSQL: it parses what GitHub sends into
//! typed values and leaves storing and acting on them to the server.

mod events;
mod signature;

pub use events::{
    Event, EventError, InstallationEvent, PullRequestAction, PullRequestEvent, RepoRef,
};
pub use signature::{sign, verify_signature, SignatureError};
