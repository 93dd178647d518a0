//! The runner: everything a benchmark machine does for pitot.
//!
//! It fetches a pull request's head and the merge-base with its target
//! branch ([`workspace`]), runs `asv continuous` on them ([`continuous`]),
//! judges the run from the result files asv wrote, and uploads those files
//! and the log. [`agent`] drives this in a loop against the server's agent
//! API ([`api`], [`client`]).
//!
//! The runner executes untrusted code from pull requests, so it has no
//! database or GitHub credentials. Its only secret is the agent token it
//! sends to the server, and the processes it starts do not inherit it. It
//! must not depend on the store, GitHub or server crates.
//!
//! Process handling is Unix-only, and killing asv's whole process tree
//! needs Linux's `/proc`.

pub mod agent;
pub mod api;
pub mod artifact;
pub mod calibration;
pub mod client;
pub mod config;
pub mod continuous;
pub mod demo;
mod git;
pub mod job;
pub mod joblog;
pub mod process;
pub mod toolchain;
pub mod workspace;

pub use config::{AgentConfig, UrlRewrite};
pub use git::redact_url;
