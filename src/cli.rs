//! The command line: `replay` a scenario through the real pipeline, `check` for real,
//! `send-test` to every destination, and `serve-scenario` for `cargo lambda watch`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError, Watch};
use crate::domain::{ResourceName, StackRef};
use crate::loopback::{
    LoopbackCodeConnections, LoopbackOptions, loopback_client, loopback_cloudformation_client,
};
use crate::notify::{Clients, ConsoleFormat, Destination, TestResult, http_client, send_test_to};
use crate::run::{RunError, RunSettings, Runner, Scope, Summary, Tick};
use crate::scenario::{Scenario, ScenarioError};
use crate::source::{CloudFormationReader, CodeConnectionsSource};
use crate::store::{AnyStore, DynamoStore, LocalStore, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "sync-notifier",
    version,
    about = "Tells your team when a CloudFormation Git sync starts, fails or succeeds.",
    long_about = "Tells your team, in Slack or through any webhook, when an AWS CloudFormation Git sync \
starts, fails, succeeds, is blocked or is stuck.\n\nIn AWS Lambda it runs on a schedule and on Git sync's own events. On your \
machine, `replay` plays a scenario file through the real pipeline with no AWS account, `check` runs one \
real tick against your AWS account, and `send-test` sends a test message to every destination.\n\nDestinations and options come from the environment: \
SLACK_WEBHOOK_URL, SLACK_BOT_TOKEN + SLACK_CHANNEL, WEBHOOK_URL + WEBHOOK_SECRET, TEAMS_WEBHOOK_URL, \
DISCORD_WEBHOOK_URL, GOOGLE_CHAT_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, Q_DEVELOPER_TOPIC_ARN, EVENT_BUS, \
DESTINATIONS, NOTIFY_ON, WATCH_RESOURCES, STATE_TABLE, STUCK_AFTER_MINUTES, AWS_REGION, and for org-wide \
mode TARGET_ACCOUNTS, TARGET_REGIONS, MEMBER_ROLE_NAME (see docs/configuration.md and docs/org-wide.md).",
    after_help = "Examples:\n  sync-notifier replay events/scenarios/demo.json\n  sync-notifier replay events/scenarios/demo.json --format json\n  AWS_REGION=eu-west-1 sync-notifier check --resources payments-stack\n  SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... sync-notifier send-test\n\nExit status: 0 done; 1 could not run; 2 bad configuration; 3 (check) some stacks could not be checked or some notifications not delivered; 4 (send-test) a destination did not accept the test message."
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
    /// changed since. Exits 3 when a stack could not be checked or a notification could not
    /// be delivered.
    Check {
        /// Comma-separated stack names (default: WATCH_RESOURCES, or discover them all); in
        /// org-wide mode (TARGET_ACCOUNTS) ACCOUNT/REGION/STACK.
        #[arg(long, value_delimiter = ',', value_name = "A,B")]
        resources: Option<Vec<String>>,
        #[arg(long, value_enum, default_value = "pretty")]
        format: ConsoleFormat,
        /// Keep state in this file, even when STATE_TABLE is set (default: the STATE_TABLE
        /// table, or $XDG_STATE_HOME or ~/.local/state, sync-notifier/state.json).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
    /// Send one sync.test message to every configured destination and say how each
    /// answered. Exits 0 only when every destination accepted it.
    SendTest,
    /// Serve a scenario as a local CodeConnections and CloudFormation endpoint, for `cargo
    /// lambda watch`.
    ///
    /// Point the function at it with AWS_ENDPOINT_URL_CODECONNECTIONS=http://127.0.0.1:PORT
    /// and AWS_ENDPOINT_URL_CLOUDFORMATION=http://127.0.0.1:PORT (the same port).
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
    #[error("{0}")]
    Aws(String),
    #[error(transparent)]
    Credentials(#[from] crate::aws::NoCredentials),
    #[error("{0}")]
    Hub(#[from] crate::source::HubError),
    #[error(
        "no destination is configured, so there is nothing to test; set one of {} (docs/destinations.md says how to get each)",
        crate::notify::destination_variables()
    )]
    NoDestination,
}

impl CliError {
    /// A mistake in what the user gave (configuration, arguments), as opposed to something
    /// that failed while running: the CLI exits 2 for these.
    pub fn is_bad_configuration(&self) -> bool {
        matches!(
            self,
            CliError::Config(_) | CliError::NoDestination | CliError::Resources(_)
        )
    }
}

/// Where the CLI writes: notifications and the story to `out`, nothing else.
pub type Output = Arc<Mutex<dyn Write + Send>>;

fn say(out: &Output, text: &str) {
    if let Ok(mut out) = out.lock() {
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// The clients destinations are built with (the AWS SDK configuration for AWS-service
/// destinations is loaded from the environment; nothing is called until one sends).
async fn clients() -> Clients {
    Clients::new(http_client()).with_aws(crate::aws::sdk_config().await)
}

/// The destinations the configuration names, and the console.
async fn destinations(config: &Config, format: ConsoleFormat, out: &Output) -> Vec<Destination> {
    let mut destinations = config.build_destinations(&clients().await);
    announce(&destinations);
    destinations.push(Destination::console(
        format,
        out.clone(),
        config.console_region.as_ref(),
    ));
    destinations
}

/// Says on stderr which destinations are active (by masked name), so a misspelt variable
/// is not silent.
fn announce(destinations: &[Destination]) {
    if destinations.is_empty() {
        eprintln!("destinations: none configured; notifications are printed here only");
    } else {
        for destination in destinations {
            eprintln!("destination: {}", destination.label());
        }
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
    // One endpoint serves both: the scenario's statuses, and its stack events and tags.
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()))
        .with_cloudformation(CloudFormationReader::new(loopback_cloudformation_client(
            endpoint.endpoint_url(),
        )));
    let store = state_store(state, config, None, || Ok(LocalStore::in_memory())).await?;
    let settings = RunSettings {
        watch: Watch::Resources(names),
        ..RunSettings::from(config)
    };
    let runner = Runner::new(
        source,
        store,
        destinations(config, format, &out).await,
        settings,
    );

    let mut summaries = Vec::new();
    for tick in 0..endpoint.tick_count() {
        endpoint.set_tick(tick);
        if format == ConsoleFormat::Pretty {
            say(
                &out,
                &format!("── tick {} of {} ──\n", tick + 1, endpoint.tick_count()),
            );
        }
        let summary = runner
            .run(Tick {
                scope: Scope::Watched,
                deadline: None,
                now: endpoint.now_of(tick),
            })
            .await?;
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
            "Serving {} ticks for {} at {}\n  export AWS_ENDPOINT_URL_CODECONNECTIONS={}\n  export AWS_ENDPOINT_URL_CLOUDFORMATION={}\n",
            endpoint.tick_count(),
            named(&names),
            endpoint.endpoint_url(),
            endpoint.endpoint_url(),
            endpoint.endpoint_url()
        ),
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

/// "1 delivery", "3 deliveries".
fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Stack names for one line: the first few, then how many more.
fn named(names: &[ResourceName]) -> String {
    const SHOWN: usize = 5;
    let mut line = names
        .iter()
        .take(SHOWN)
        .map(|name| name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        line.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    line
}

/// The SDK configuration for a real call, or why there can be none (no Region, no
/// credentials), said in those words.
async fn aws_for_real() -> Result<aws_config::SdkConfig, CliError> {
    let sdk_config = crate::aws::sdk_config().await;
    if let Some(problem) = crate::aws::missing_region(&sdk_config) {
        return Err(CliError::Aws(problem));
    }
    crate::aws::check_credentials(&sdk_config).await?;
    Ok(sdk_config)
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
                .enumerate()
                .map(|(index, name)| {
                    StackRef::parse(name)
                        .map_err(|error| CliError::Resources(format!("item {} {error}", index + 1)))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let sdk_config = aws_for_real().await?;
    let source = crate::source::connect(&sdk_config, config).await?;
    let resources = match resources {
        Some(stacks) => Some(
            crate::source::named_stacks(&source, stacks)
                .await
                .map_err(|error| CliError::Resources(error.to_string()))?,
        ),
        None => None,
    };
    let store = state_store(state, config, Some(&sdk_config), || {
        LocalStore::open(default_state_path())
    })
    .await?;
    let runner = Runner::new(
        source,
        store,
        destinations(config, format, &out).await,
        RunSettings::from(config),
    );
    let scope = match resources {
        Some(stacks) => Scope::Stacks(stacks),
        None => Scope::Watched,
    };
    let summary = runner
        .run(Tick {
            scope,
            deadline: None,
            now: None,
        })
        .await?;
    if format == ConsoleFormat::Pretty {
        say(&out, &recap(&summary));
    }
    Ok(summary)
}

/// `send-test`: the results, one line each.
pub async fn send_test(config: &Config, out: Output) -> Result<Vec<TestResult>, CliError> {
    let destinations = config.build_destinations(&clients().await);
    if destinations.is_empty() {
        return Err(CliError::NoDestination);
    }
    let results = send_test_to(&destinations, None).await;
    for result in &results {
        let mark = if result.result == "delivered" {
            "✓"
        } else {
            "✗"
        };
        let mut line = format!("{mark} {}: {}", result.destination, result.result);
        if let Some(detail) = &result.detail {
            line.push_str(&format!(" ({})", crate::text::visible(detail)));
        }
        line.push('\n');
        say(&out, &line);
    }
    Ok(results)
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
    // The table needs AWS (or a local server through AWS_ENDPOINT_URL_DYNAMODB): without a
    // Region or credentials, say so now rather than fail every read.
    let client = match sdk_config {
        Some(sdk_config) => aws_sdk_dynamodb::Client::new(sdk_config),
        None => aws_sdk_dynamodb::Client::new(&aws_for_real().await?),
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
    if told == 0 && summary.baselines == 0 && summary.failure_count == 0 {
        text.push_str(", nothing changed");
    } else if told > 0 {
        text.push_str(&format!(
            ", {}",
            counted(told, "notification", "notifications")
        ));
    }
    text.push('\n');
    let visible = |text: &str| crate::text::visible(&crate::text::preview(text, 300));
    for failure in &summary.failures {
        text.push_str(&format!(
            "   ⚠ {}: {} (state kept, retried next tick)\n",
            failure.resource,
            visible(&failure.reason)
        ));
    }
    if summary.failure_count > summary.failures.len() {
        text.push_str(&format!(
            "   ⚠ …and {} more could not be checked\n",
            summary.failure_count - summary.failures.len()
        ));
    }
    for failed in &summary.optional_read_failures {
        text.push_str(&format!(
            "   ⚠ {} failed for {} ({}; not a stack failure): {}\n",
            failed.api,
            counted(failed.count, "stack", "stacks"),
            visible(&failed.reason),
            failed.fix
        ));
    }
    for deferred in &summary.deferred {
        text.push_str(&format!(
            "   ⏭ {}: {}\n",
            deferred.resource,
            visible(&deferred.reason)
        ));
    }
    if summary.deliveries.retrying > 0 {
        text.push_str(&format!(
            "   ↻ {} failed and will be retried\n",
            counted(summary.deliveries.retrying, "delivery", "deliveries")
        ));
    }
    if summary.deliveries.refused > 0 {
        text.push_str(&format!(
            "   ✗ {} refused for good by a destination (the reason is logged above)\n",
            counted(summary.deliveries.refused, "delivery", "deliveries")
        ));
    }
    if summary.deliveries.expired > 0 {
        text.push_str(&format!(
            "   ✗ {} dropped after RETENTION_HOURS without delivery\n",
            counted(summary.deliveries.expired, "notification", "notifications")
        ));
    }
    for paused in &summary.paused {
        // The reason starts with the destination's key, already on the line.
        let prefix = format!("{}: ", paused.resource);
        let reason = paused
            .reason
            .strip_prefix(&prefix)
            .unwrap_or(&paused.reason);
        text.push_str(&format!(
            "   ⏸ {} paused for this tick: {}\n",
            paused.resource,
            visible(reason)
        ));
    }
    text
}
