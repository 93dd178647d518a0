//! `pitot import` (placeholder, being written).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ImportArgs {}

pub fn run(_args: ImportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not written yet")
}
