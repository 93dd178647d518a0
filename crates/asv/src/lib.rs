//! Readers for airspeed velocity's file formats: results files (schema 1
//! and 2), `benchmarks.json`, `machine.json` and `asv.conf.json`.
//!
//! Pure: bytes in, typed values out. This crate does no file or network
//! I/O and depends on nothing async, so it can be tested and fuzzed alone.

mod model;

pub use model::*;
