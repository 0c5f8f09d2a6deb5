//! Lambda mode: which event asks for what, the invocation's answer, and its errors.
//!
//! The triggers (ARCHITECTURE §4): the EventBridge schedule (check every watched stack),
//! Git sync's own status-change events — resource-level (check that stack now) and
//! repository-level (check every watched stack of that repository link now), each under
//! both of the detail-types AWS documents — a manual `{"resources": [...]}`, and
//! `{"sendTest": true}`. Anything else is refused before any state is touched.
//! Per-stack failures are in the returned summary and do not fail the invocation (a
//! failed invocation would make EventBridge retry everything); a failure of the whole
//! run does, with an `errorType` that says what failed.

use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::config::Watch;
use crate::domain::{ResourceName, StackRef};
use crate::run::{RunError, Runner, Scope, Summary, Tick};
use crate::source::StatusSource;
use crate::store::StateStore;

/// The detail-types of the resource-level Git sync event: the CloudFormation guide's
/// spelling and the EventBridge event reference's.
pub const RESOURCE_EVENTS: [&str; 2] = [
    "Git Sync Resource Sync Status Change",
    "GitSync Resource Sync Status Change",
];
/// The repository-level event, both spellings.
pub const REPOSITORY_EVENTS: [&str; 2] = [
    "Git Sync Repository Sync Status Change",
    "GitSync Repository Sync Status Change",
];

/// What an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule: every watched stack.
    Scheduled,
    /// Git sync said this stack's status changed.
    GitSync { stack: StackRef },
    /// Git sync said a repository link's sync changed: its stacks.
    Repository { link: String },
    /// A manual invoke naming stacks.
    Check { resources: Vec<ResourceName> },
    /// Send a `sync.test` message to every destination.
    SendTest,
    /// A well-formed event about something this function does not watch (a Git sync of
    /// another sync type): answered with an empty summary, not an error, so it never lands
    /// in the failed-invocations queue or sets off an alarm.
    Ignored { reason: String },
}

const ACCEPTED: &str = "accepted events: an EventBridge \"Scheduled Event\" from aws.events, a \"Git Sync Resource Sync Status Change\" or \"Git Sync Repository Sync Status Change\" event from aws.codeconnections (or their \"GitSync …\" spellings), {\"resources\": [\"stack-name\", ...]}, or {\"sendTest\": true}";

#[derive(thiserror::Error)]
pub enum HandlerError {
    #[error("unsupported event: {0}; {ACCEPTED}")]
    UnsupportedEvent(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The runtime logs a failed invocation's error in its `Debug` form: make that the
/// readable message, not the nested enum (`Run(Store(StoreError { … }))`).
impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::UnsupportedEvent(_) => "UnsupportedEvent",
            HandlerError::Run(RunError::Discovery(_)) => "DiscoveryFailed",
            HandlerError::Run(RunError::Store(_)) => "StateStoreUnavailable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Reads an invocation's payload.
pub fn parse_trigger(payload: &Value) -> Result<Trigger, HandlerError> {
    let unsupported = |reason: String| HandlerError::UnsupportedEvent(reason);
    if payload.get("detail-type").is_some() || payload.get("source").is_some() {
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(payload.clone()).map_err(|error| {
                unsupported(format!(
                    "an EventBridge event that does not parse ({error})"
                ))
            })?;
        let source = event.source.as_str();
        let detail_type = event.detail_type.as_str();
        if source == "aws.events" && detail_type == "Scheduled Event" {
            return Ok(Trigger::Scheduled);
        }
        let resource = RESOURCE_EVENTS.contains(&detail_type);
        let repository = REPOSITORY_EVENTS.contains(&detail_type);
        if source != "aws.codeconnections" || !(resource || repository) {
            return Err(unsupported(format!(
                "source {:?} with detail-type {:?}",
                crate::text::preview(source, 60),
                crate::text::preview(detail_type, 80)
            )));
        }
        if let Some(sync_type) = event.detail.get("syncType").and_then(Value::as_str)
            && sync_type != "CFN_STACK_SYNC"
        {
            return Ok(Trigger::Ignored {
                reason: format!(
                    "a Git sync event of syncType {:?}; only CFN_STACK_SYNC is watched",
                    crate::text::preview(sync_type, 40)
                ),
            });
        }
        if repository {
            return repository_link(&event).map(|link| Trigger::Repository { link });
        }
        return git_sync_target(&event).map(|name| Trigger::GitSync {
            stack: StackRef::local(name),
        });
    }
    if payload.get("sendTest").is_some() {
        return match payload.get("sendTest") {
            Some(Value::Bool(true)) => Ok(Trigger::SendTest),
            _ => Err(unsupported("\"sendTest\" is not true".into())),
        };
    }
    if let Some(resources) = payload.get("resources") {
        let names = resources
            .as_array()
            .ok_or_else(|| unsupported("\"resources\" is not an array of stack names".into()))?
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let text = name
                    .as_str()
                    .ok_or_else(|| unsupported(format!("resources[{index}] is not a string")))?;
                ResourceName::parse(text)
                    .map_err(|error| unsupported(format!("resources[{index}]: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if names.is_empty() {
            return Err(unsupported("\"resources\" is empty".into()));
        }
        return Ok(Trigger::Check { resources: names });
    }
    Err(unsupported(format!(
        "a payload with keys {:?}",
        keys(payload)
    )))
}

fn keys(payload: &Value) -> Vec<String> {
    payload
        .as_object()
        .map(|map| {
            map.keys()
                .take(10)
                .map(|key| crate::text::preview(key, 40))
                .collect()
        })
        .unwrap_or_default()
}

/// The stack a resource-level Git sync event is about: `detail.syncTarget` (a name or a
/// stack ARN), else the stack ARN in `resources`.
fn git_sync_target(event: &EventBridgeEvent<Value>) -> Result<ResourceName, HandlerError> {
    if let Some(target) = event.detail.get("syncTarget") {
        let text = target.as_str().unwrap_or_default();
        return stack_name(text)
            .and_then(|name| ResourceName::parse(name).ok())
            .ok_or_else(|| {
                HandlerError::UnsupportedEvent(format!(
                    "detail.syncTarget {:?} is neither a stack name nor a CloudFormation stack ARN (arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID)",
                    crate::text::preview(text, 80)
                ))
            });
    }
    event
        .resources
        .iter()
        .flatten()
        .filter_map(|arn| stack_name(arn))
        .find_map(|name| ResourceName::parse(name).ok())
        .ok_or_else(|| {
            HandlerError::UnsupportedEvent(
                "a Git sync event without a stack in detail.syncTarget or resources".into(),
            )
        })
}

/// `arn:aws:cloudformation:region:account:stack/NAME/uuid` → `NAME`; a plain name as is;
/// an ARN of anything else, nothing.
fn stack_name(target: &str) -> Option<&str> {
    if !target.starts_with("arn:") {
        return Some(target);
    }
    let parts: Vec<&str> = target.splitn(6, ':').collect();
    match parts.as_slice() {
        [_, _, "cloudformation", _, _, rest] => rest
            .strip_prefix("stack/")
            .and_then(|rest| rest.split('/').next()),
        _ => None,
    }
}

/// The repository link a repository-level event is about: `detail.repositoryLinkId`, else
/// the repository-link ARN in `resources`.
fn repository_link(event: &EventBridgeEvent<Value>) -> Result<String, HandlerError> {
    let valid = |id: &str| id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if let Some(id) = event.detail.get("repositoryLinkId") {
        let text = id.as_str().unwrap_or_default();
        return valid(text).then(|| text.to_owned()).ok_or_else(|| {
            HandlerError::UnsupportedEvent(format!(
                "detail.repositoryLinkId {:?} is not a repository link id (a UUID)",
                crate::text::preview(text, 60)
            ))
        });
    }
    event
        .resources
        .iter()
        .flatten()
        .filter_map(|arn| arn.rsplit_once(":repository-link/").map(|(_, id)| id))
        .find(|id| valid(id))
        .map(str::to_owned)
        .ok_or_else(|| {
            HandlerError::UnsupportedEvent(
                "a repository-level Git sync event without detail.repositoryLinkId".into(),
            )
        })
}

/// How long before the Lambda deadline a run abandons what is still in flight: enough to
/// log and answer. Every request is cut to end by then, so nothing outlives it.
pub fn deadline_margin(remaining: Duration) -> Duration {
    (remaining / 4).min(Duration::from_secs(2))
}

/// Handles one invocation: resolves the trigger, runs one tick (or sends the test
/// message), returns its summary.
pub async fn handle<S: StatusSource, T: StateStore>(
    runner: &Runner<S, T>,
    watch: &Watch,
    event: LambdaEvent<Value>,
) -> Result<Value, HandlerError> {
    let trigger = parse_trigger(&event.payload)?;
    let remaining = event
        .context
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    // Lambda always gives a deadline ahead; a runtime that gives none (or one already past,
    // as local emulators may) gets no deadline rather than a run that does nothing.
    let deadline = (!remaining.is_zero()).then(|| {
        tokio::time::Instant::now() + remaining.saturating_sub(deadline_margin(remaining))
    });
    let scope = match trigger {
        Trigger::Scheduled => Scope::Watched,
        Trigger::Check { resources } => {
            Scope::Stacks(resources.into_iter().map(StackRef::local).collect())
        }
        Trigger::SendTest => {
            let results = crate::cli::send_test_to(runner.destinations(), deadline).await;
            tracing::info!(results = %serde_json::to_string(&results).unwrap_or_default(), "test message sent");
            return Ok(serde_json::json!({"sendTest": results}));
        }
        Trigger::Ignored { reason } => {
            tracing::info!(%reason, "event ignored");
            return summary_value(Summary::default());
        }
        Trigger::GitSync { stack } => match watch {
            Watch::Resources(watched) if !watched.contains(&stack.name) => {
                tracing::info!(resource = %stack, "Git sync event for a stack that is not watched; ignored");
                return summary_value(Summary::default());
            }
            _ => Scope::Stacks(vec![stack]),
        },
        Trigger::Repository { link } => {
            let stacks = match runner.source().stacks_of_link(None, &link).await {
                Ok(stacks) => stacks,
                Err(error) => {
                    // The schedule checks them anyway; an error here would only be retried.
                    tracing::warn!(repository_link = %link, %error, "could not list the stacks of the repository link; the schedule checks them");
                    return summary_value(Summary::default());
                }
            };
            let stacks: Vec<StackRef> = stacks
                .into_iter()
                .filter(|stack| match watch {
                    Watch::Resources(watched) => watched.contains(&stack.name),
                    Watch::Discover => true,
                })
                .collect();
            Scope::Stacks(stacks)
        }
    };
    let summary = runner
        .run(Tick {
            scope,
            deadline,
            now: None,
        })
        .await?;
    tracing::info!(
        summary = %serde_json::to_string(&summary).unwrap_or_default(),
        time_at_start_ms = remaining.as_millis() as u64,
        "tick done"
    );
    emit_metrics(&summary);
    summary_value(summary)
}

fn summary_value(summary: Summary) -> Result<Value, HandlerError> {
    Ok(serde_json::to_value(summary).unwrap_or(Value::Null))
}

/// Writes the tick's counts as a CloudWatch Embedded Metric Format record (one JSON line on
/// stdout, outside the tracing format, or CloudWatch would not read it as a metric).
fn emit_metrics(summary: &Summary) {
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let record = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "SyncNotifier",
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": "DeliveryFailures", "Unit": "Count"},
                    {"Name": "ResourceCheckFailures", "Unit": "Count"},
                    {"Name": "Notifications", "Unit": "Count"},
                    {"Name": "StacksDeferred", "Unit": "Count"},
                    {"Name": "BlockerChecks", "Unit": "Count"}
                ]
            }]
        },
        "DeliveryFailures": summary.deliveries.retrying + summary.deliveries.refused + summary.deliveries.expired,
        "ResourceCheckFailures": summary.failure_count,
        "Notifications": summary.deliveries.delivered,
        "StacksDeferred": summary.deferred_count,
        "BlockerChecks": summary.blocker_checks,
    });
    println!("{record}");
}

/// Lambda mode, from cold start to the runtime loop: configuration (environment, then the
/// secret), clients built once, then one tick per invocation.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = crate::aws::sdk_config().await;
    let secret = match std::env::var("CONFIG_SECRET_ARN")
        .ok()
        .filter(|arn| !arn.trim().is_empty())
    {
        Some(arn) => {
            let client = aws_sdk_secretsmanager::Client::new(&sdk_config);
            crate::secret::load(&client, arn.trim())
                .await
                .inspect_err(|error| tracing::error!(%error, "init failed"))?
        }
        None => Default::default(),
    };
    for lookalike in crate::config::lookalike::in_environment_and(secret.keys().map(String::as_str))
    {
        tracing::warn!("{lookalike}");
    }
    let config = crate::config::Config::from_lookup(|name| {
        secret
            .get(name)
            .filter(|value| !value.trim().is_empty())
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })
    .inspect_err(|error| tracing::error!(%error, "init failed"))?;

    let source =
        crate::source::CodeConnectionsSource::new(crate::cli::codeconnections_client(&sdk_config));
    // STATE_TABLE names the DynamoDB table; unset (local runs), state lives in memory for
    // as long as the process does.
    let store = match &config.state_table {
        Some(table) => crate::store::AnyStore::Dynamo(crate::store::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk_config),
            table.clone(),
        )),
        None => crate::store::AnyStore::Local(crate::store::LocalStore::in_memory()),
    };
    let clients =
        crate::notify::Clients::new(crate::notify::http_client()).with_aws(sdk_config.clone());
    let destinations = crate::notify::destinations(
        &config.destinations,
        &clients,
        config.console_region.as_ref(),
    );
    let labels: Vec<String> = destinations
        .iter()
        .map(|destination| destination.label().to_owned())
        .collect();
    let runner = Runner::new(
        source,
        store,
        destinations,
        crate::run::RunSettings::from(&config),
    );
    let watch = config.watch.clone();
    tracing::info!(destinations = ?labels, watch = ?watch, "ready");
    for label in &labels {
        tracing::info!("destination active: {label}");
    }
    if labels.is_empty() {
        tracing::warn!(
            "no destination is configured: changes are recorded and logged, and nobody is told"
        );
    }
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        handle(&runner, &watch, event)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(name);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn stack(name: &str) -> StackRef {
        StackRef::local(ResourceName::parse(name).unwrap())
    }

    #[test]
    fn the_sample_events_parse_into_their_triggers() {
        assert_eq!(
            parse_trigger(&sample("scheduled-event.json")).unwrap(),
            Trigger::Scheduled
        );
        assert_eq!(
            parse_trigger(&sample("git-sync-status-change.json")).unwrap(),
            Trigger::GitSync {
                stack: stack("payments-stack")
            }
        );
        let Trigger::Check { resources } = parse_trigger(&sample("check-resources.json")).unwrap()
        else {
            panic!("not a check")
        };
        assert_eq!(resources.len(), 2);
        assert_eq!(
            parse_trigger(&sample("send-test.json")).unwrap(),
            Trigger::SendTest
        );
        let Trigger::Repository { link } =
            parse_trigger(&sample("git-sync-repository-status-change.json")).unwrap()
        else {
            panic!("not a repository event")
        };
        assert_eq!(link.len(), 36);
    }

    #[test]
    fn both_documented_spellings_of_each_git_sync_event_are_accepted() {
        for spelling in RESOURCE_EVENTS {
            let mut event = sample("git-sync-status-change.json");
            event["detail-type"] = spelling.into();
            assert!(
                matches!(parse_trigger(&event), Ok(Trigger::GitSync { .. })),
                "{spelling}"
            );
        }
        for spelling in REPOSITORY_EVENTS {
            let mut event = sample("git-sync-repository-status-change.json");
            event["detail-type"] = spelling.into();
            assert!(
                matches!(parse_trigger(&event), Ok(Trigger::Repository { .. })),
                "{spelling}"
            );
        }
    }

    #[test]
    fn a_git_sync_target_given_as_a_stack_arn_is_read_as_its_name() {
        let mut event = sample("git-sync-status-change.json");
        for arn in [
            "arn:aws:cloudformation:us-east-1:111122223333:stack/orders-stack/cd915317",
            "arn:aws:cloudformation:us-east-1:111122223333:stack/orders-stack",
        ] {
            event["detail"]["syncTarget"] = arn.into();
            assert_eq!(
                parse_trigger(&event).unwrap(),
                Trigger::GitSync {
                    stack: stack("orders-stack")
                }
            );
        }
        event["detail"]["previousStatus"] = "IN_PROGRESS".into();
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("syncTarget");
        assert_eq!(
            parse_trigger(&event).unwrap(),
            Trigger::GitSync {
                stack: stack("payments-stack")
            }
        );
    }

    #[test]
    fn a_sync_target_that_is_no_stack_is_refused_naming_the_field() {
        let mut event = sample("git-sync-status-change.json");
        for bad in ["not a stack!", "arn:aws:s3:::bucket", ""] {
            event["detail"]["syncTarget"] = bad.into();
            let message = parse_trigger(&event).unwrap_err().to_string();
            assert!(message.contains("detail.syncTarget"), "{message}");
            assert!(
                message.contains("neither a stack name nor a CloudFormation stack ARN"),
                "{message}"
            );
        }
    }

    #[test]
    fn the_deadline_margin_leaves_time_to_answer() {
        assert_eq!(
            deadline_margin(Duration::from_secs(4)),
            Duration::from_secs(1)
        );
        assert_eq!(
            deadline_margin(Duration::from_secs(50)),
            Duration::from_secs(2)
        );
        assert_eq!(deadline_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn anything_else_is_refused_naming_the_accepted_shapes() {
        for payload in [
            serde_json::json!({"hello": "world"}),
            serde_json::json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
            serde_json::json!({"resources": "stack-a"}),
            serde_json::json!({"resources": []}),
            serde_json::json!({"resources": ["bad name"]}),
            serde_json::json!({"sendTest": "yes"}),
            serde_json::json!([1, 2]),
        ] {
            let error = parse_trigger(&payload).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains("accepted events: an EventBridge \"Scheduled Event\""),
                "{message}"
            );
            assert_eq!(Diagnostic::from(error).error_type, "UnsupportedEvent");
        }
        // Another sync type is well formed but not ours: ignored, not an error.
        let mut other_sync = sample("git-sync-status-change.json");
        other_sync["detail"]["syncType"] = "SERVICE_SYNC".into();
        let Ok(Trigger::Ignored { reason }) = parse_trigger(&other_sync) else {
            panic!("not ignored")
        };
        assert!(reason.contains("SERVICE_SYNC"), "{reason}");
    }
}
