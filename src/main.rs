//! Wiring only: parse the command line, configure logging, run.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use sync_notifier::cli::{Cli, Command, Output, check, replay, serve_scenario};
use sync_notifier::config::Config;

// One thread: the work is waiting on the network, and a single-threaded runtime keeps the
// CPU time and the memory (no per-thread allocator arenas) of a 128 MB function low.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Inside Lambda the runtime API is the only way in.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return match sync_notifier::lambda::serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    lambda_runtime::tracing::subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(LevelFilter::WARN.into())
                .from_env_lossy(),
        )
        .init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let out: Output = Arc::new(Mutex::new(std::io::stdout()));
    let result = match cli.command {
        Command::Replay {
            scenario,
            format,
            state,
        } => replay(&scenario, format, state, &config, out)
            .await
            .map(|_| ()),
        Command::Check {
            resources,
            format,
            state,
        } => check(resources, format, state, &config, out)
            .await
            .map(|_| ()),
        Command::ServeScenario { scenario, port } => serve_scenario(&scenario, port, out).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
