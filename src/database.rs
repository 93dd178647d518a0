//! Choosing the database: `DATABASE_URL`, or the embedded default (placeholder, being written).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct DatabaseArgs {}

pub fn run_migrate(_args: DatabaseArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not written yet")
}
