//! The `pitot` command: continuous benchmarking for asv projects.
//!
//! `main` only boots: it parses the command line, sets up logging and hands
//! over to one subcommand module.

mod agent_cmd;
mod api_token_cmd;
mod calibrate_cmd;
mod check_config_cmd;
mod compare_cmd;
mod database;
mod demo_cmd;
mod detect_cmd;
mod embedded_pg;
mod import_cmd;
mod prune_cmd;
mod results_dir;
mod serve_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pitot_server::config::{Config, LogFormat};

#[derive(Parser)]
#[command(name = "pitot", version, about = "Continuous benchmarking for asv projects")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole loop once on this machine: a demo repository, a labelled
    /// pull request, a real asv run and the comment pitot would post.
    Demo(demo_cmd::DemoArgs),
    /// Serve webhooks and the agent API, and report to GitHub.
    Serve(serve_cmd::ServeArgs),
    /// Run benchmark jobs for a pitot server on this machine.
    Agent(agent_cmd::AgentArgs),
    /// Create or revoke the token a `pitot agent` authenticates with.
    AgentToken(agent_cmd::AgentTokenArgs),
    /// Create or revoke a token that may change state through the JSON API.
    ApiToken(api_token_cmd::ApiTokenArgs),
    /// Import an asv results folder (or a project folder with asv.conf.json) into the store.
    Import(import_cmd::ImportArgs),
    /// Compare two asv result sets, as `asv compare` does.
    Compare(compare_cmd::CompareArgs),
    /// Detect change points in every series of a repository and store them
    /// as regressions to triage.
    Detect(detect_cmd::DetectArgs),
    /// Queue an A/A calibration job: benchmark one commit against itself on
    /// one machine to measure each benchmark's noise there.
    Calibrate(calibrate_cmd::CalibrateArgs),
    /// Apply pending database migrations and exit.
    Migrate(database::DatabaseArgs),
    /// Check a `pitot serve` configuration: load it, connect to the database
    /// and reach GitHub, printing one line per check.
    CheckConfig(check_config_cmd::CheckConfigArgs),
    /// Delete the raw reports, webhook deliveries and samples that the
    /// `[retention]` settings no longer keep, as `pitot serve` does hourly.
    Prune(prune_cmd::PruneArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = match log_format(&cli.command) {
        Ok(format) => format,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_tracing(log_format);
    let outcome = match cli.command {
        Command::Demo(args) => demo_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Agent(args) => agent_cmd::run(args),
        Command::AgentToken(args) => agent_cmd::run_token(args),
        Command::ApiToken(args) => api_token_cmd::run(args),
        Command::Import(args) => import_cmd::run(args),
        Command::Compare(args) => compare_cmd::run(args),
        Command::Detect(args) => detect_cmd::run(args),
        Command::Calibrate(args) => calibrate_cmd::run(args),
        Command::Migrate(args) => database::run_migrate(args),
        Command::CheckConfig(args) => check_config_cmd::run(args),
        Command::Prune(args) => prune_cmd::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            // Status 1 means "a benchmark got worse" (see `compare_cmd`), so a
            // tool error uses 2, as clap does for a usage error, and never
            // looks like a regression.
            ExitCode::from(2)
        }
    }
}

/// Returns the log format: `PITOT_LOG_FORMAT` for every command, else
/// `log.format` of `pitot serve`'s configuration file, else text.
fn log_format(command: &Command) -> anyhow::Result<LogFormat> {
    if let Ok(value) = std::env::var("PITOT_LOG_FORMAT") {
        return value.parse();
    }
    if let Command::Serve(args) = command {
        // A file that fails to load is reported by `serve` itself, after
        // logging is set up.
        if let Ok(config) = Config::load(args.config.as_deref()) {
            return Ok(config.log.format);
        }
    }
    Ok(LogFormat::Text)
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PITOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colour codes only for a terminal: journald and container logs show them raw.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One object per line with the fields of the event and of every
        // span it happened in, so a request's id is on each of its lines.
        LogFormat::Json => builder.json().with_span_list(true).init(),
    }
}
