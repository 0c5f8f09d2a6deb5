//! Lambda mode: which event asks for what, the invocation's answer, and its errors.
//!
//! Three triggers are accepted (ARCHITECTURE §4): the EventBridge schedule (check every
//! watched resource), Git sync's own status-change event (check that resource now), and a
//! manual `{"resources": [...]}`. Anything else is refused before any state is touched.
//! Per-resource failures are in the returned summary and do not fail the invocation (a
//! failed invocation would make EventBridge retry everything); a failure of the whole
//! run does, with an `errorType` that says what failed.

use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::config::Watch;
use crate::domain::ResourceName;
use crate::run::{RunError, Runner, Summary};
use crate::source::StatusSource;
use crate::store::StateStore;

/// What an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule: every watched resource.
    Scheduled,
    /// Git sync said this resource's status changed.
    GitSync { resource: ResourceName },
    /// A manual invoke naming resources.
    Check { resources: Vec<ResourceName> },
    /// A well-formed event about something this function does not watch (a Git sync of
    /// another sync type): answered with an empty summary, not an error, so it never lands
    /// in the failed-invocations queue or sets off an alarm.
    Ignored { reason: String },
}

const ACCEPTED: &str = "accepted events: an EventBridge \"Scheduled Event\" from aws.events, a \"Git Sync Resource Sync Status Change\" event from aws.codeconnections, or {\"resources\": [\"stack-name\", ...]}";

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("unsupported event: {0}; {ACCEPTED}")]
    UnsupportedEvent(String),
    #[error(transparent)]
    Run(#[from] RunError),
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
    if payload.get("detail-type").is_some() || payload.get("source").is_some() {
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(payload.clone()).map_err(|error| {
                HandlerError::UnsupportedEvent(format!(
                    "an EventBridge event that does not parse ({error})"
                ))
            })?;
        return match (event.source.as_str(), event.detail_type.as_str()) {
            ("aws.events", "Scheduled Event") => Ok(Trigger::Scheduled),
            ("aws.codeconnections", "Git Sync Resource Sync Status Change") => {
                match event.detail.get("syncType").and_then(Value::as_str) {
                    Some(sync_type) if sync_type != "CFN_STACK_SYNC" => Ok(Trigger::Ignored {
                        reason: format!(
                            "a Git sync event of syncType {sync_type:?}; only CFN_STACK_SYNC is watched"
                        ),
                    }),
                    _ => git_sync_target(&event).map(|resource| Trigger::GitSync { resource }),
                }
            }
            (source, detail_type) => Err(HandlerError::UnsupportedEvent(format!(
                "source {source:?} with detail-type {detail_type:?}"
            ))),
        };
    }
    if let Some(resources) = payload.get("resources") {
        let names = resources
            .as_array()
            .ok_or_else(|| {
                HandlerError::UnsupportedEvent(
                    "\"resources\" is not an array of stack names".into(),
                )
            })?
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let text = name.as_str().ok_or_else(|| {
                    HandlerError::UnsupportedEvent(format!("resources[{index}] is not a string"))
                })?;
                ResourceName::parse(text).map_err(|error| {
                    HandlerError::UnsupportedEvent(format!("resources[{index}]: {error}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if names.is_empty() {
            return Err(HandlerError::UnsupportedEvent(
                "\"resources\" is empty".into(),
            ));
        }
        return Ok(Trigger::Check { resources: names });
    }
    Err(HandlerError::UnsupportedEvent(format!(
        "a payload with keys {:?}",
        keys(payload)
    )))
}

fn keys(payload: &Value) -> Vec<String> {
    payload
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

/// The stack the Git sync event is about: `detail.syncTarget` (a name, or a stack ARN in
/// some events), else the stack ARN in `resources`.
fn git_sync_target(event: &EventBridgeEvent<Value>) -> Result<ResourceName, HandlerError> {
    let candidates = event
        .detail
        .get("syncTarget")
        .and_then(Value::as_str)
        .into_iter()
        .chain(event.resources.iter().flatten().map(String::as_str));
    for candidate in candidates {
        if let Ok(name) = ResourceName::parse(stack_name(candidate)) {
            return Ok(name);
        }
    }
    Err(HandlerError::UnsupportedEvent(
        "a Git sync event without a stack in detail.syncTarget or resources".into(),
    ))
}

/// `arn:aws:cloudformation:region:account:stack/NAME/uuid` → `NAME`; a plain name as is.
fn stack_name(target: &str) -> &str {
    match target.split_once(":stack/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => target,
    }
}

/// How long before the Lambda deadline the run stops starting new work: half the time it
/// has, at most one webhook request's timeout plus 3 s (for its state write), so a stack
/// claimed just before then still finishes in time (13 s of a 50 s function).
pub fn deadline_margin(remaining: Duration) -> Duration {
    (remaining / 2).min(crate::notify::HTTP_TIMEOUT + Duration::from_secs(3))
}

/// Handles one invocation: resolves the trigger, runs one tick, returns its summary.
pub async fn handle<S: StatusSource, T: StateStore>(
    runner: &Runner<S, T>,
    watch: &Watch,
    event: LambdaEvent<Value>,
) -> Result<Summary, HandlerError> {
    let trigger = parse_trigger(&event.payload)?;
    let resources = match trigger {
        Trigger::Scheduled => None,
        Trigger::Check { resources } => Some(resources),
        Trigger::Ignored { reason } => {
            tracing::info!(%reason, "event ignored");
            return Ok(Summary::default());
        }
        Trigger::GitSync { resource } => match watch {
            Watch::Resources(watched) if !watched.contains(&resource) => {
                tracing::info!(resource = %resource, "Git sync event for a stack that is not watched; ignored");
                return Ok(Summary::default());
            }
            _ => Some(vec![resource]),
        },
    };
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
    let summary = runner.tick(resources, deadline).await?;
    tracing::info!(
        summary = %serde_json::to_string(&summary).unwrap_or_default(),
        time_at_start_ms = remaining.as_millis() as u64,
        "tick done"
    );
    emit_metrics(&summary);
    Ok(summary)
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
                    {"Name": "Notifications", "Unit": "Count"}
                ]
            }]
        },
        "DeliveryFailures": summary.deliveries.retrying + summary.deliveries.refused + summary.deliveries.expired,
        "ResourceCheckFailures": summary.failures.len(),
        "Notifications": summary.deliveries.delivered,
    });
    println!("{record}");
}

/// Lambda mode, from cold start to the runtime loop: configuration (environment, then the
/// secret), clients built once, then one tick per invocation.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
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
    let config = crate::config::Config::from_lookup(|name| {
        secret
            .get(name)
            .filter(|value| !value.trim().is_empty())
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })
    .inspect_err(|error| tracing::error!(%error, "init failed"))?;

    let source = crate::source::CodeConnectionsSource::new(aws_sdk_codeconnections::Client::new(
        &sdk_config,
    ));
    // STATE_TABLE names the DynamoDB table; unset (local runs), state lives in memory for
    // as long as the process does.
    let store = match &config.state_table {
        Some(table) => crate::store::AnyStore::Dynamo(crate::store::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk_config),
            table.clone(),
        )),
        None => crate::store::AnyStore::Local(crate::store::LocalStore::in_memory()),
    };
    let destinations = crate::notify::destinations_from(&config, &crate::notify::http_client());
    let runner = Runner::new(
        source,
        store,
        destinations,
        crate::run::RunSettings::from(&config),
    );
    let watch = config.watch.clone();
    tracing::info!(destinations = runner.destination_count(), watch = ?watch, "ready");
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

    #[test]
    fn the_sample_events_parse_into_their_triggers() {
        assert_eq!(
            parse_trigger(&sample("scheduled-event.json")).unwrap(),
            Trigger::Scheduled
        );
        assert_eq!(
            parse_trigger(&sample("git-sync-status-change.json")).unwrap(),
            Trigger::GitSync {
                resource: ResourceName::parse("payments-stack").unwrap()
            }
        );
        let Trigger::Check { resources } = parse_trigger(&sample("check-resources.json")).unwrap()
        else {
            panic!("not a check")
        };
        assert_eq!(resources.len(), 2);
    }

    #[test]
    fn a_git_sync_target_given_as_a_stack_arn_is_read_as_its_name() {
        let mut event = sample("git-sync-status-change.json");
        event["detail"]["syncTarget"] =
            "arn:aws:cloudformation:us-east-1:111122223333:stack/orders-stack/cd915317".into();
        assert_eq!(
            parse_trigger(&event).unwrap(),
            Trigger::GitSync {
                resource: ResourceName::parse("orders-stack").unwrap()
            }
        );
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("syncTarget");
        assert_eq!(
            parse_trigger(&event).unwrap(),
            Trigger::GitSync {
                resource: ResourceName::parse("payments-stack").unwrap()
            }
        );
    }

    #[test]
    fn the_deadline_margin_outlasts_a_request_and_leaves_a_short_timeout_half() {
        assert_eq!(
            deadline_margin(Duration::from_secs(3)),
            Duration::from_millis(1500)
        );
        assert_eq!(
            deadline_margin(Duration::from_secs(50)),
            crate::notify::HTTP_TIMEOUT + Duration::from_secs(3)
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
