//! The runner: everything a benchmark machine does for pitot.
//!
//! It fetches a pull request's head and the merge-base with its target
//! branch, runs `asv continuous` on them, judges the run from the result
//! files asv wrote, and uploads those files and the log. [`agent`] drives
//! this in a loop against the server's agent API ([`api`]).
//!
//! The runner executes untrusted code from pull requests, so it holds no
//! database or GitHub credentials: its only secret is the agent token it
//! sends to the server. It must not depend on the store, GitHub or server
//! crates.

pub mod api;
