//! `pitot compare` (placeholder, being written).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CompareArgs {}

pub fn run(_args: CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not written yet")
}
