//! The command line: `replay` a scenario through the real pipeline, or `check` for real.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError, Watch};
use crate::domain::ResourceName;
use crate::loopback::{LoopbackCodeConnections, LoopbackOptions, loopback_client};
use crate::notify::{ConsoleFormat, ConsoleNotifier, Destination, destinations_from, http_client};
use crate::run::{RunError, RunSettings, Runner, Summary};
use crate::scenario::{Scenario, ScenarioError};
use crate::source::CodeConnectionsSource;
use crate::store::{AnyStore, DynamoStore, LocalStore, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "sync-notifier",
    version,
    about = "Tells your team when a CloudFormation Git sync starts, fails or succeeds.",
    long_about = "Tells your team, in Slack or through any webhook, when an AWS CloudFormation Git sync \
starts, fails or succeeds.\n\nIn AWS Lambda it runs on a schedule and on Git sync's own events. On your \
machine, `replay` plays a scenario file through the real pipeline with no AWS account, and `check` runs one \
real tick against your AWS account.\n\nDestinations and options come from the environment: \
SLACK_WEBHOOK_URL, WEBHOOK_URL + WEBHOOK_SECRET, TEAMS_WEBHOOK_URL, DISCORD_WEBHOOK_URL, DESTINATIONS, \
NOTIFY_ON, WATCH_RESOURCES, STATE_TABLE, AWS_REGION (see the README).",
    after_help = "Examples:\n  sync-notifier replay events/scenarios/demo.json\n  sync-notifier replay events/scenarios/demo.json --format json\n  AWS_REGION=eu-west-1 sync-notifier check --resources payments-stack"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play a scenario file tick by tick through the real pipeline, with no AWS account.
    ///
    /// A loopback CodeConnections endpoint serves the scenario's responses to the real AWS
    /// SDK client; notifications go to stdout and to any destination configured in the
    /// environment. The watched resources are the names in the scenario. State starts
    /// empty and is dropped at the end, unless STATE_TABLE names a DynamoDB table (with
    /// AWS_ENDPOINT_URL_DYNAMODB for a local server) or --state a file.
    Replay {
        /// The scenario: {"ticks": [{"stack-name": <GetResourceSyncStatus response>, ...}, ...]}
        scenario: PathBuf,
        /// `pretty` for people; `json` prints each notification as its webhook body, one per line.
        #[arg(long, value_enum, default_value = "pretty")]
        format: ConsoleFormat,
        /// Keep state in this file across runs, even when STATE_TABLE is set (default: the
        /// STATE_TABLE table, or start empty and keep nothing).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
    /// Run one real tick against AWS (or the endpoints AWS_ENDPOINT_URL* name).
    ///
    /// Uses your usual AWS credentials and region. State is kept in the DynamoDB table
    /// STATE_TABLE names (the deployed function's table, to share its memory), or else in a
    /// local file, so the first check records a baseline and later checks report what
    /// changed since.
    Check {
        /// Comma-separated stack names (default: WATCH_RESOURCES, or discover them all).
        #[arg(long, value_delimiter = ',', value_name = "A,B")]
        resources: Option<Vec<String>>,
        #[arg(long, value_enum, default_value = "pretty")]
        format: ConsoleFormat,
        /// Keep state in this file, even when STATE_TABLE is set (default: the STATE_TABLE
        /// table, or $XDG_STATE_HOME or ~/.local/state, sync-notifier/state.json).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
    /// Serve a scenario as a local CodeConnections endpoint, for `cargo lambda watch`.
    ///
    /// Point the function at it with AWS_ENDPOINT_URL_CODECONNECTIONS=http://127.0.0.1:PORT.
    /// Each burst of checks (one invoke) sees the next tick: the endpoint moves on when a
    /// request comes after a second without any. Stops with Ctrl-C.
    ServeScenario {
        scenario: PathBuf,
        #[arg(long, default_value_t = 9001)]
        port: u16,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot serve on port {port}: {error}")]
    Serve { port: u16, error: std::io::Error },
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("--resources: {0}")]
    Resources(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("cannot start the loopback CodeConnections endpoint: {0}")]
    Loopback(std::io::Error),
}

/// Where the CLI writes: notifications and the story to `out`, nothing else.
pub type Output = Arc<Mutex<dyn Write + Send>>;

fn say(out: &Output, text: &str) {
    if let Ok(mut out) = out.lock() {
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Runs every tick of `scenario` and returns each tick's summary.
pub async fn replay(
    scenario: &std::path::Path,
    format: ConsoleFormat,
    state: Option<PathBuf>,
    config: &Config,
    out: Output,
) -> Result<Vec<Summary>, CliError> {
    let scenario = Scenario::load(scenario)?;
    let names = scenario.resources();
    let endpoint = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .map_err(CliError::Loopback)?;
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()));
    let store = state_store(state, config, None, || Ok(LocalStore::in_memory())).await?;
    let client = http_client();
    let mut destinations = destinations_from(config, &client);
    destinations.push(Destination::Console(
        ConsoleNotifier::new(format, out.clone()).with_region(config.console_region.clone()),
    ));
    let runner = Runner::new(source, store, destinations, RunSettings::from(config));

    let mut summaries = Vec::new();
    for tick in 0..endpoint.tick_count() {
        endpoint.set_tick(tick);
        if format == ConsoleFormat::Pretty {
            say(
                &out,
                &format!("── tick {} of {} ──\n", tick + 1, endpoint.tick_count()),
            );
        }
        let summary = runner.tick(Some(names.clone()), None).await?;
        if format == ConsoleFormat::Pretty {
            say(&out, &recap(&summary));
        }
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "tick done");
        summaries.push(summary);
    }
    Ok(summaries)
}

/// Serves `scenario` on `127.0.0.1:port` until Ctrl-C.
pub async fn serve_scenario(
    scenario: &std::path::Path,
    port: u16,
    out: Output,
) -> Result<(), CliError> {
    let scenario = Scenario::load(scenario)?;
    let names = scenario.resources();
    let options = LoopbackOptions {
        advance_after_idle: Some(std::time::Duration::from_secs(1)),
        ..LoopbackOptions::default()
    };
    let endpoint = LoopbackCodeConnections::start_on(scenario, options, port)
        .await
        .map_err(|error| CliError::Serve { port, error })?;
    say(
        &out,
        &format!(
            "Serving {} ticks for {} at {}\n  export AWS_ENDPOINT_URL_CODECONNECTIONS={}\n",
            endpoint.tick_count(),
            names
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            endpoint.endpoint_url(),
            endpoint.endpoint_url()
        ),
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

/// One real tick against AWS.
pub async fn check(
    resources: Option<Vec<String>>,
    format: ConsoleFormat,
    state: Option<PathBuf>,
    config: &Config,
    out: Output,
) -> Result<Summary, CliError> {
    let resources = resources
        .map(|names| {
            names
                .iter()
                .map(|name| {
                    ResourceName::parse(name.trim())
                        .map_err(|error| CliError::Resources(error.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let source = CodeConnectionsSource::new(aws_sdk_codeconnections::Client::new(&sdk_config));
    let store = state_store(state, config, Some(&sdk_config), || {
        LocalStore::open(default_state_path())
    })
    .await?;
    let client = http_client();
    let mut destinations = destinations_from(config, &client);
    destinations.push(Destination::Console(
        ConsoleNotifier::new(format, out.clone()).with_region(config.console_region.clone()),
    ));
    let runner = Runner::new(source, store, destinations, RunSettings::from(config));
    let resources = resources.or(match &config.watch {
        Watch::Resources(names) => Some(names.clone()),
        Watch::Discover => None,
    });
    let summary = runner.tick(resources, None).await?;
    if format == ConsoleFormat::Pretty {
        say(&out, &recap(&summary));
    }
    Ok(summary)
}

/// Where state lives: the file `--state` names (the local store); else the DynamoDB table
/// `STATE_TABLE` names (through the SDK's usual configuration, so
/// `AWS_ENDPOINT_URL_DYNAMODB` can point it at a local server); else `local`.
async fn state_store(
    state: Option<PathBuf>,
    config: &Config,
    sdk_config: Option<&aws_config::SdkConfig>,
    local: impl FnOnce() -> Result<LocalStore, StoreError>,
) -> Result<AnyStore, CliError> {
    if let Some(path) = state {
        return Ok(AnyStore::Local(LocalStore::open(path)?));
    }
    let Some(table) = &config.state_table else {
        return Ok(AnyStore::Local(local()?));
    };
    let client = match sdk_config {
        Some(sdk_config) => aws_sdk_dynamodb::Client::new(sdk_config),
        None => aws_sdk_dynamodb::Client::new(
            &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
        ),
    };
    Ok(AnyStore::Dynamo(DynamoStore::new(client, table.clone())))
}

/// `$XDG_STATE_HOME/sync-notifier/state.json`, or `~/.local/state/...`, or the working directory.
fn default_state_path() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("sync-notifier").join("state.json")
}

/// A few lines that say what a tick did, for people.
pub fn recap(summary: &Summary) -> String {
    let told = summary
        .transitions
        .iter()
        .filter(|transition| transition.notify)
        .count();
    let mut text = format!("   checked {}", summary.resources_checked);
    if summary.baselines > 0 {
        text.push_str(&format!(
            ", {} seen for the first time (baseline recorded, nothing to tell)",
            summary.baselines
        ));
    }
    if told == 0 && summary.baselines == 0 && summary.failures.is_empty() {
        text.push_str(", nothing changed");
    } else if told > 0 {
        text.push_str(&format!(
            ", {told} notification{}",
            if told == 1 { "" } else { "s" }
        ));
    }
    text.push('\n');
    for failure in &summary.failures {
        text.push_str(&format!(
            "   ⚠ {}: {} (state kept, retried next tick)\n",
            failure.resource, failure.reason
        ));
    }
    for deferred in &summary.deferred {
        text.push_str(&format!(
            "   ⏭ {}: {}\n",
            deferred.resource, deferred.reason
        ));
    }
    if summary.deliveries.retrying > 0 {
        text.push_str(&format!(
            "   ↻ {} deliveries failed and will be retried\n",
            summary.deliveries.retrying
        ));
    }
    text
}
