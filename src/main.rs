//! Wiring only: parse the command line, configure logging, run, and say how it went in
//! the exit status.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use lambda_runtime::tracing::subscriber::filter::EnvFilter;
use sync_notifier::cli::{Cli, Command, Output, check, replay, send_test, serve_scenario};
use sync_notifier::config::Config;

/// Exit statuses (the CLI's `--help` lists them).
const COULD_NOT_RUN: u8 = 1;
const BAD_CONFIGURATION: u8 = 2;
const NOT_CLEAN: u8 = 3;
const TEST_NOT_ACCEPTED: u8 = 4;

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
    // Warnings, without the SDK's own chatter about where it looked for credentials
    // (instance metadata…): a missing Region or credentials is said once, in words.
    // RUST_LOG, when set, decides everything.
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(
            "warn,aws_config=error,aws_smithy_runtime=error,aws_smithy_http_client=error",
        ),
    };
    lambda_runtime::tracing::subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_env_filter(filter)
        .init();

    // A variable that looks like ours but is not one (SLACK_URL) is said before the
    // configuration is read, so it stands beside any problem it causes.
    if !matches!(cli.command, Command::ServeScenario { .. }) {
        for lookalike in sync_notifier::config::lookalike::in_environment() {
            eprintln!("warning: {lookalike}");
        }
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(BAD_CONFIGURATION);
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
            .map(|_| ExitCode::SUCCESS),
        Command::Check {
            resources,
            format,
            state,
        } => check(resources, format, state, &config, out)
            .await
            .map(|summary| {
                if summary.is_clean() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(NOT_CLEAN)
                }
            }),
        Command::SendTest => send_test(&config, out).await.map(|results| {
            if results.iter().all(|result| result.result == "delivered") {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(TEST_NOT_ACCEPTED)
            }
        }),
        Command::ServeScenario { scenario, port } => serve_scenario(&scenario, port, out)
            .await
            .map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(if error.is_bad_configuration() {
                BAD_CONFIGURATION
            } else {
                COULD_NOT_RUN
            })
        }
    }
}
