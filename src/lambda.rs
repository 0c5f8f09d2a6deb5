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
//!
//! In org-wide (hub) mode a Git sync event comes forwarded from a member account: its
//! `account` and `region` say where the stack lives, and that is where it is checked.
//! The organization bus admits every account of the organization, so an event from an
//! account or Region that is not a target is ignored with a log line (never an error,
//! which EventBridge would retry). A manual check names hub stacks as
//! `ACCOUNT/REGION/STACK`, their state key.

use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::config::Watch;
use crate::domain::{AccountId, Location, Region, ResourceName, StackRef};
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
    /// Git sync said this stack's status changed (in `origin`, the event's account and
    /// Region, when they are well formed: where a hub checks it).
    GitSync {
        stack: StackRef,
        origin: Option<Location>,
    },
    /// Git sync said a repository link's sync changed: its stacks.
    Repository {
        link: String,
        origin: Option<Location>,
    },
    /// A manual invoke naming stacks: `NAME`, or in hub mode `ACCOUNT/REGION/NAME`.
    Check { resources: Vec<StackRef> },
    /// Send a `sync.test` message to every destination.
    SendTest,
    /// A well-formed event about something this function does not watch (a Git sync of
    /// another sync type): answered with an empty summary, not an error, so it never lands
    /// in the failed-invocations queue or sets off an alarm.
    Ignored { reason: String },
}

const ACCEPTED: &str = "accepted events: an EventBridge \"Scheduled Event\" from aws.events, a \"Git Sync Resource Sync Status Change\" or \"Git Sync Repository Sync Status Change\" event from aws.codeconnections (or their \"GitSync …\" spellings), {\"resources\": [\"stack-name\", ...]} (in org-wide mode [\"ACCOUNT/REGION/stack-name\", ...]), or {\"sendTest\": true}";

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
        let origin = origin(&event);
        if repository {
            return repository_link(&event).map(|link| Trigger::Repository { link, origin });
        }
        return git_sync_target(&event).map(|name| Trigger::GitSync {
            stack: StackRef::local(name),
            origin,
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
                StackRef::parse(text)
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

/// Where an event comes from: its `account` and `region` (a member's, when forwarded to
/// a hub), if both are well formed.
fn origin(event: &EventBridgeEvent<Value>) -> Option<Location> {
    Some(Location {
        account: AccountId::parse(event.account.as_deref()?).ok()?,
        region: Region::parse(event.region.as_deref()?).ok()?,
    })
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
    let source = runner.source();
    let scope = match trigger {
        Trigger::Scheduled => Scope::Watched,
        Trigger::Check { resources } => Scope::Stacks(
            crate::source::named_stacks(source, resources)
                .await
                .map_err(|error| {
                    HandlerError::UnsupportedEvent(format!(
                        "resources[{}]: {}",
                        error.index, error.message
                    ))
                })?,
        ),
        Trigger::SendTest => {
            let results = crate::notify::send_test_to(runner.destinations(), deadline).await;
            tracing::info!(results = %serde_json::to_string(&results).unwrap_or_default(), "test message sent");
            return Ok(serde_json::json!({"sendTest": results}));
        }
        Trigger::Ignored { reason } => {
            tracing::info!(%reason, "event ignored");
            return summary_value(Summary::default());
        }
        Trigger::GitSync { stack, origin } if source.is_hub() => {
            let Some(location) = targeted(source, origin, &stack.name).await else {
                return summary_value(Summary::default());
            };
            Scope::Stacks(vec![StackRef {
                location: Some(location),
                name: stack.name,
            }])
        }
        Trigger::GitSync { stack, .. } => match watch {
            Watch::Resources(watched) if !watched.contains(&stack.name) => {
                tracing::info!(resource = %stack, "Git sync event for a stack that is not watched; ignored");
                return summary_value(Summary::default());
            }
            _ => Scope::Stacks(vec![stack]),
        },
        Trigger::Repository { link, origin } => {
            let location = match source.is_hub() {
                true => match targeted(source, origin, &link).await {
                    Some(location) => Some(location),
                    None => return summary_value(Summary::default()),
                },
                false => None,
            };
            let stacks = match source.stacks_of_link(location.as_ref(), &link).await {
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
    emit_metrics(&summary, source.is_hub());
    summary_value(summary)
}

/// Hub mode: the account and Region a Git sync event came from, when they are a target;
/// otherwise `None`, said in the log (the organization bus admits every account of the
/// organization, and an error would only make EventBridge retry).
async fn targeted<S: StatusSource>(
    source: &S,
    origin: Option<Location>,
    about: &dyn std::fmt::Display,
) -> Option<Location> {
    let Some(location) = origin else {
        tracing::info!(%about, "Git sync event without a well-formed account and region; ignored");
        return None;
    };
    if !source.is_target(&location).await {
        tracing::info!(
            account = %location.account,
            region = %location.region,
            %about,
            "Git sync event from an account or Region that is not a target of this hub (TARGET_ACCOUNTS, TARGET_REGIONS); ignored"
        );
        return None;
    }
    Some(location)
}

fn summary_value(summary: Summary) -> Result<Value, HandlerError> {
    Ok(serde_json::to_value(summary).unwrap_or(Value::Null))
}

/// Writes the tick's counts as a CloudWatch Embedded Metric Format record (one JSON line on
/// stdout, outside the tracing format, or CloudWatch would not read it as a metric).
///
/// A hub also writes `TargetFailures`: the accounts, account/Region pairs and
/// organization listing that failed. Those are not counted again in
/// `ResourceCheckFailures`, which stays about stacks, so each failure sets off one alarm.
fn emit_metrics(summary: &Summary, hub: bool) {
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    println!("{}", metrics_record(summary, hub, timestamp));
    for record in optional_read_records(summary, timestamp) {
        println!("{record}");
    }
}

/// `OptionalReadFailures` (§13), one record per API that failed in the tick: the metric
/// with its `Api` dimension, and without a dimension (the sum over every API, which the
/// template's alarm watches), from the same record.
fn optional_read_records(summary: &Summary, timestamp: u64) -> Vec<Value> {
    let mut by_api: Vec<(&str, usize)> = Vec::new();
    for failure in &summary.optional_read_failures {
        match by_api.iter_mut().find(|(api, _)| *api == failure.api) {
            Some((_, count)) => *count += failure.count,
            None => by_api.push((failure.api, failure.count)),
        }
    }
    by_api
        .into_iter()
        .map(|(api, count)| {
            serde_json::json!({
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [{
                        "Namespace": "SyncNotifier",
                        "Dimensions": [["Api"], []],
                        "Metrics": [{"Name": "OptionalReadFailures", "Unit": "Count"}]
                    }]
                },
                "Api": api,
                "OptionalReadFailures": count,
            })
        })
        .collect()
}

/// The Embedded Metric Format record of a tick: namespace `SyncNotifier`, no dimensions
/// (the template's alarms match dimensionless metrics only).
fn metrics_record(summary: &Summary, hub: bool, timestamp: u64) -> Value {
    let mut names = vec![
        "DeliveryFailures",
        "ResourceCheckFailures",
        "Notifications",
        "StacksDeferred",
        "BlockerChecks",
    ];
    if hub {
        names.push("TargetFailures");
    }
    let metrics: Vec<Value> = names
        .iter()
        .map(|name| serde_json::json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut record = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "SyncNotifier",
                "Dimensions": [[]],
                "Metrics": metrics
            }]
        },
        "DeliveryFailures": summary.deliveries.retrying + summary.deliveries.refused + summary.deliveries.expired,
        "ResourceCheckFailures": summary.failure_count.saturating_sub(summary.target_failures),
        "Notifications": summary.deliveries.delivered,
        "StacksDeferred": summary.deferred_count,
        "BlockerChecks": summary.blocker_checks,
    });
    if hub {
        record["TargetFailures"] = summary.target_failures.into();
    }
    record
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

    let source = crate::source::connect(&sdk_config, &config)
        .await
        .inspect_err(|error| tracing::error!(%error, "init failed"))?;
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
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        destinations = ?labels,
        watch = ?watch,
        "ready"
    );
    for label in &labels {
        tracing::info!("destination active: {label}");
    }
    if labels.is_empty() {
        tracing::warn!(
            "no destination is configured: changes are recorded and logged, and nobody is told"
        );
    }
    let (runner, watch) = (&runner, &watch);
    lambda_runtime::run(lambda_runtime::service_fn(move |event| async move {
        let answer = handle(runner, watch, event).await;
        release_freed_memory();
        answer
    }))
    .await
}

/// Gives the memory an invocation freed back to the system. glibc keeps freed memory for
/// reuse, so without this the biggest tick an execution environment ever ran (the first
/// one, which writes every stack's baseline) would stay its footprint, and what Lambda
/// reports as memory used, for as long as it lives.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only returns free memory the allocator
    // holds; it is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
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

    /// Where the sample events come from.
    fn sample_origin() -> Option<Location> {
        Some(Location {
            account: AccountId::parse("111122223333").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
        })
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
                stack: stack("payments-stack"),
                origin: sample_origin(),
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
        let Trigger::Repository { link, origin } =
            parse_trigger(&sample("git-sync-repository-status-change.json")).unwrap()
        else {
            panic!("not a repository event")
        };
        assert_eq!(link.len(), 36);
        assert_eq!(origin, sample_origin());
    }

    #[test]
    fn a_forwarded_event_says_where_it_comes_from_when_that_is_well_formed() {
        let mut event = sample("git-sync-status-change.json");
        event["account"] = "444455556666".into();
        event["region"] = "eu-west-1".into();
        let Ok(Trigger::GitSync { origin, .. }) = parse_trigger(&event) else {
            panic!("not a Git sync event")
        };
        let origin = origin.unwrap();
        assert_eq!(origin.account.as_str(), "444455556666");
        assert_eq!(origin.region.as_str(), "eu-west-1");
        for (field, bad) in [("account", "12345"), ("region", "Mars")] {
            let mut event = sample("git-sync-status-change.json");
            event[field] = bad.into();
            let Ok(Trigger::GitSync { origin, .. }) = parse_trigger(&event) else {
                panic!("not a Git sync event")
            };
            assert_eq!(origin, None, "{field}");
        }
    }

    #[test]
    fn a_manual_check_names_stacks_by_name_or_by_account_region_and_name() {
        let payload = serde_json::json!({"resources": ["payments-stack", "111122223333/eu-west-1/orders-stack"]});
        let Ok(Trigger::Check { resources }) = parse_trigger(&payload) else {
            panic!("not a check")
        };
        let keys: Vec<String> = resources.iter().map(StackRef::key).collect();
        assert_eq!(
            keys,
            ["payments-stack", "111122223333/eu-west-1/orders-stack"]
        );
        let error = parse_trigger(&serde_json::json!({"resources": ["1111/eu-west-1/x"]}))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("unsupported event: resources[0]: \"1111\" is not an AWS account id"),
            "{error}"
        );
    }

    #[test]
    fn a_hub_reports_target_failures_apart_from_stack_failures() {
        let summary = Summary {
            failure_count: 3,
            target_failures: 2,
            ..Summary::default()
        };
        let record = metrics_record(&summary, true, 1);
        assert_eq!(record["TargetFailures"], 2);
        assert_eq!(record["ResourceCheckFailures"], 1);
        let names: Vec<&str> = record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["Name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"TargetFailures"), "{names:?}");
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[]])
        );
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "SyncNotifier"
        );
        // One account: no such metric (the alarm exists in hub mode only).
        let record = metrics_record(
            &Summary {
                failure_count: 3,
                ..Summary::default()
            },
            false,
            1,
        );
        assert!(record.get("TargetFailures").is_none(), "{record}");
        assert_eq!(record["ResourceCheckFailures"], 3);
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
                    stack: stack("orders-stack"),
                    origin: sample_origin(),
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
                stack: stack("payments-stack"),
                origin: sample_origin(),
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
