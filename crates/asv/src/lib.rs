//! Readers for airspeed velocity's file formats: results files (schema 1
//! and 2), `benchmarks.json`, `machine.json` and `asv.conf.json`.
//!
//! Pure: bytes in, typed values out. This crate does no file or network
//! I/O and depends on nothing async, so it can be tested and fuzzed alone.
//! The rules follow asv 0.6.6; each module names the asv code it mirrors.

mod benchmarks;
mod config;
mod error;
mod fields;
pub mod folder;
pub mod json;
mod machine;
mod model;
mod results;
#[cfg(test)]
mod testing;

pub use benchmarks::parse_benchmarks;
pub use config::{parse_config, DEFAULT_RESULTS_DIR};
pub use error::ParseError;
pub use machine::parse_machine;
pub use model::*;
pub use results::parse_results;
