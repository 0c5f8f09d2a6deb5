//! Shared helpers: sample notifications for rendering, and a real pipeline (loopback
//! CodeConnections → real SDK client → local store → real reqwest → loopback receivers)
//! for delivery and routing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sync_notifier::config::Config;
use sync_notifier::domain::ledger::{Pending, Thread};
use sync_notifier::domain::{
    Blocker, BlockerStatus, Notification, NotificationKind, Region, ResourceName, Revision,
    StackRef, SyncAttempt, SyncEvent, SyncStatus, Timestamp, blocker_notification_id,
    notification_id,
};
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions, loopback_client};
use sync_notifier::notify::{
    Clients, Delivered, DeliveryError, DeliveryPolicy, Destination, Gate, http_client,
};
use sync_notifier::run::{RunSettings, Runner, Scope, Summary, Tick};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::{Loaded, LocalStore, StateStore};

pub use crate::shared::logs_of;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// ---------------------------------------------------------------- sample notifications

pub fn region() -> Region {
    Region::parse("us-east-1").unwrap()
}

/// A commit of `resource`'s deployment file.
pub fn revision(resource: &str, sha: &str) -> Revision {
    Revision {
        provider_type: "GitHub".into(),
        owner_id: "acme".into(),
        repository_name: "infra".into(),
        branch: "main".into(),
        directory: format!("deployments/{resource}.yaml"),
        sha: sha.into(),
    }
}

pub fn event(time: i64, event_type: &str, text: &str) -> SyncEvent {
    SyncEvent {
        event: text.into(),
        event_type: event_type.into(),
        time: Timestamp::from_millis(time * 1000),
        external_id: None,
    }
}

fn notification(
    resource: &str,
    kind: NotificationKind,
    status: SyncStatus,
    previous: Option<SyncStatus>,
    events: Vec<SyncEvent>,
) -> Notification {
    let attempt = SyncAttempt {
        started_at: Timestamp::from_millis(1_795_687_330_000),
        status,
        target: resource.to_owned(),
        initial_revision: revision(resource, "7a3e5c1d9b2f4a6e8c0d1e2f3a4b5c6d7e8f9a0b"),
        target_revision: revision(resource, "c4f8a2e6b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a2"),
        events,
        events_omitted: 0,
    };
    let resource = ResourceName::parse(resource).unwrap();
    let occurred_at = attempt.ended_at().unwrap_or(attempt.started_at);
    Notification {
        id: notification_id(&StackRef::local(resource.clone()), &attempt.id(), kind),
        kind,
        resource,
        location: None,
        account_name: None,
        previous_status: previous,
        desired_state: Some(attempt.target_revision.clone()),
        occurred_at,
        detected_at: occurred_at,
        note: None,
        blocker: None,
        replaced: None,
        reported_stuck: false,
        explanation: Default::default(),
        tags: Vec::new(),
        reminder: None,
        commit: None,
        attempt,
    }
}

pub fn started() -> Notification {
    notification(
        "orders-stack",
        NotificationKind::Started,
        SyncStatus::InProgress,
        None,
        vec![event(1_795_687_330, "INFO", "Deployment of commit started")],
    )
}

/// A success, with a newer commit already waiting (desired ≠ deployed).
pub fn success() -> Notification {
    let mut notification = notification(
        "payments-stack",
        NotificationKind::Succeeded,
        SyncStatus::Succeeded,
        Some(SyncStatus::InProgress),
        vec![
            event(1_795_687_330, "INFO", "Deployment of commit started"),
            SyncEvent {
                external_id: Some(
                    "arn:aws:cloudformation:us-east-1:123456789012:stack/payments-stack/1b2c3d4e-aaaa-bbbb-cccc-123456789012".into(),
                ),
                ..event(1_795_687_335, "INFO", "Stack payments-stack update initiated")
            },
            event(1_795_687_528, "INFO", "Stack payments-stack is in UPDATE_COMPLETE state"),
        ],
    );
    notification.desired_state = Some(revision(
        "payments-stack",
        "4e1d0c2a7b9f3e5d6c8a1b2c3d4e5f6a7b8c9d0e",
    ));
    notification
}

/// The demo's failure, plus many long events.
pub fn failure_with_many_long_events() -> Notification {
    let mut events = vec![
        event(1_795_687_330, "INFO", "Deployment of commit started"),
        event(1_795_687_335, "INFO", "Stack orders-stack update initiated"),
        event(
            1_795_687_400,
            "ERROR",
            "Resource handler returned message: \"Table already exists: orders-v2 (Service: DynamoDb, Status Code: 400, Request ID: 5QNB8TQ1VHR3L5R8M2KJ4G6H7F)\" (RequestToken: 3f6a9c1e-2b4d-4e8f-a0c2-6e8b0d2f4a6c, HandlerErrorCode: AlreadyExists)",
        ),
        event(
            1_795_687_420,
            "ERROR",
            "The following resource(s) failed to update: [OrdersTable].",
        ),
        event(
            1_795_687_427,
            "ERROR",
            "Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state",
        ),
    ];
    for index in 0..20 {
        events.push(event(
            1_795_687_340 + index,
            "INFO",
            &format!(
                "Resource OrdersQueue{index} is UPDATE_IN_PROGRESS: {}",
                "waiting for the dependent resources to stabilise; ".repeat(8)
            ),
        ));
    }
    notification(
        "orders-stack",
        NotificationKind::Failed,
        SyncStatus::Failed,
        Some(SyncStatus::InProgress),
        events,
    )
}

/// Text from Git and AWS that tries to ping, link and inject markup everywhere.
pub fn hostile() -> Notification {
    let nasty = "<!channel> <!here> <@U024BE7LH> @everyone <script>alert(1)</script> *bold* _it_ [click](https://evil.example) & &amp; `code` <t:0:R> # heading";
    let mut notification = notification(
        "prod-payments",
        NotificationKind::Failed,
        SyncStatus::Failed,
        Some(SyncStatus::InProgress),
        vec![
            event(1_795_687_400, "ERROR", nasty),
            event(1_795_687_401, "<!channel>", "second\nline\r\nbreaks <@U1>"),
        ],
    );
    for revision in [
        &mut notification.attempt.target_revision,
        &mut notification.attempt.initial_revision,
    ] {
        revision.owner_id = "<!channel>".into();
        revision.repository_name = "<@U024BE7LH>".into();
        revision.branch = "feature/<!here>&<b>bold</b>".into();
        revision.directory = "deploy/@everyone/<img src=x>.yaml".into();
        revision.sha = "<!channel>".into();
    }
    notification.desired_state = Some(notification.attempt.target_revision.clone());
    notification.note = Some(format!("note: {nasty}"));
    notification
}

/// A failure whose event, branch, directory and note hide a terminal escape, controls, a
/// right-to-left override and a zero-width space.
pub fn invisible() -> Notification {
    let trick = "ok\u{1b}]0;pwned\u{7} \u{85}next\u{7f} \u{202e}txt.exe\u{200b}";
    let mut notification = notification(
        "prod-payments",
        NotificationKind::Failed,
        SyncStatus::Failed,
        Some(SyncStatus::InProgress),
        vec![event(1_795_687_400, "ERROR", trick)],
    );
    notification.attempt.target_revision.branch = format!("main{trick}");
    notification.attempt.target_revision.directory = format!("app{trick}.yaml");
    notification.note = Some(format!("note: {trick}"));
    notification
}

/// 400 events of 300 characters: far more than any chat message can hold.
pub fn huge() -> Notification {
    let events = (0..400)
        .map(|index| {
            event(
                1_795_687_330 + index,
                if index % 3 == 0 { "ERROR" } else { "INFO" },
                &format!("{index:03} {}", "x".repeat(296)),
            )
        })
        .collect();
    notification(
        "orders-stack",
        NotificationKind::Failed,
        SyncStatus::Failed,
        Some(SyncStatus::InProgress),
        events,
    )
}

/// Still running an hour and a half after it started.
pub fn stuck() -> Notification {
    let mut notification = started();
    notification.kind = NotificationKind::Stuck;
    notification.occurred_at = Timestamp::from_millis(1_795_687_330_000 + 5_400_000);
    notification.id = notification_id(
        &notification.stack(),
        &notification.attempt.id(),
        NotificationKind::Stuck,
    );
    notification
}

/// The blocker Git sync set after the demo's failure.
pub fn blocker() -> Blocker {
    Blocker {
        id: "a1b2c3d4-blocker".into(),
        blocker_type: "AUTOMATED".into(),
        status: BlockerStatus::Active,
        created_reason:
            "Stack orders-stack failed to update; Git sync will not deploy until this is resolved"
                .into(),
        created_at: Timestamp::from_millis(1_795_687_430_000),
        contexts: vec![
            ("StackName".into(), "orders-stack".into()),
            ("LatestSyncAttemptStatus".into(), "FAILED".into()),
        ],
        resolved_reason: None,
        resolved_at: None,
    }
}

/// Blocked after the failure of [`failure_with_many_long_events`]'s attempt.
pub fn blocked() -> Notification {
    let mut notification = failure_with_many_long_events();
    notification.kind = NotificationKind::Blocked;
    notification.previous_status = None;
    notification.blocker = Some(blocker());
    notification.occurred_at = blocker().created_at;
    notification.id = blocker_notification_id(
        &notification.stack(),
        &blocker().id,
        NotificationKind::Blocked,
    );
    notification
}

/// That blocker, resolved.
pub fn unblocked() -> Notification {
    let mut notification = blocked();
    notification.kind = NotificationKind::Unblocked;
    let resolved_at = Timestamp::from_millis(1_795_690_000_000);
    if let Some(blocker) = &mut notification.blocker {
        blocker.status = BlockerStatus::Resolved;
        blocker.resolved_reason = Some("Fixed the table name".into());
        blocker.resolved_at = Some(resolved_at);
    }
    notification.occurred_at = resolved_at;
    notification.id = blocker_notification_id(
        &notification.stack(),
        &blocker().id,
        NotificationKind::Unblocked,
    );
    notification
}

/// The demo's failure, explained (ARCHITECTURE §14): the root cause in a nested stack (its
/// reason with a right-to-left override and a zero-width space, which never reach a chat
/// message and show as escapes in a terminal), what it changed, and the compare link.
pub fn failure_explained() -> Notification {
    use sync_notifier::domain::{ChangedResource, Changes, Explanation, RootCause};
    let changed = |names: &[(&str, &str)]| -> Vec<ChangedResource> {
        names
            .iter()
            .map(|(logical_id, resource_type)| ChangedResource {
                logical_id: (*logical_id).into(),
                resource_type: (*resource_type).into(),
            })
            .collect()
    };
    Notification {
        explanation: Explanation {
            root_cause: Some(RootCause {
                logical_id: "OrdersTable".into(),
                resource_type: "AWS::DynamoDB::Table".into(),
                status: "CREATE_FAILED".into(),
                reason: Some("Resource handler returned message: \"Table already exists:\u{202e} orders-v2\u{200b} (Service: DynamoDb, Status Code: 400, Request ID: 5QNB8TQ1)\" (RequestToken: 3f6a9c1e, HandlerErrorCode: AlreadyExists)".into()),
                stack: "orders-stack-DataStack-1R2T3Y4U5I6O".into(),
                time: Timestamp::from_millis(1_795_687_400_000),
            }),
            changes: Some(Changes {
                created: changed(&[("OrdersTable", "AWS::DynamoDB::Table")]),
                updated: changed(&[
                    ("OrdersQueue", "AWS::SQS::Queue"),
                    ("DataStack", "AWS::CloudFormation::Stack"),
                    ("OrdersApi", "AWS::ApiGateway::RestApi"),
                    ("OrdersFunction", "AWS::Lambda::Function"),
                ]),
                deleted: Vec::new(),
                created_omitted: 0,
                updated_omitted: 2,
                deleted_omitted: 0,
            }),
            compare_from: Some("7a3e5c1b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c".into()),
        },
        ..failure_with_many_long_events()
    }
}

/// What `send-test` sends.
pub fn test_message() -> Notification {
    // Each real test message gets a fresh random id; a fixed one keeps the snapshots stable.
    Notification {
        id: "msg_test_0123456789abcdef".to_owned(),
        ..sync_notifier::notify::test_notification(Timestamp::from_millis(1_795_687_330_000))
    }
}

/// Every kind of notification, by name.
pub fn every_kind() -> Vec<(&'static str, Notification)> {
    vec![
        ("started", started()),
        ("succeeded", success()),
        ("failed", failure_with_many_long_events()),
        ("blocked", blocked()),
        ("unblocked", unblocked()),
        ("stuck", stuck()),
        ("test", test_message()),
    ]
}

// ---------------------------------------------------------------- a real pipeline

/// Short timeouts and waits, so failure modes take milliseconds (a `Retry-After: 1`
/// still waits its second).
pub fn fast_policy() -> DeliveryPolicy {
    DeliveryPolicy {
        timeout: Duration::from_millis(400),
        max_attempts: 3,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(2),
        retry_budget: Duration::from_secs(5),
        concurrency: 4,
    }
}

/// A `GetResourceSyncStatus` answer about `resource` in the AWS JSON shape.
pub fn status(
    resource: &str,
    status: &str,
    started_at: i64,
    sha: &str,
    events: &[(i64, &str, &str)],
) -> Value {
    let revision = |sha: &str| {
        json!({"Branch": "main", "Directory": format!("deployments/{resource}.yaml"), "OwnerId": "acme",
               "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": sha})
    };
    let sync = json!({
        "Events": events.iter().map(|(time, kind, text)| json!({"Event": text, "Time": time, "Type": kind})).collect::<Vec<_>>(),
        "InitialRevision": revision("0000000000000000000000000000000000000000"),
        "StartedAt": started_at,
        "Status": status,
        "Target": resource,
        "TargetRevision": revision(sha),
    });
    json!({"DesiredState": revision(sha), "LatestSync": sync})
}

/// Three ticks per resource: a baseline, a new sync started, that sync failed.
pub fn start_then_fail(resources: &[&str]) -> Scenario {
    let baseline = |resource: &str| {
        status(
            resource,
            "SUCCEEDED",
            1_795_680_000,
            &"a".repeat(40),
            &[(1_795_680_000, "INFO", "done")],
        )
    };
    let running = |resource: &str| {
        status(
            resource,
            "IN_PROGRESS",
            1_795_687_330,
            &"b".repeat(40),
            &[(1_795_687_330, "INFO", "Deployment of commit started")],
        )
    };
    let failed = |resource: &str| {
        status(
            resource,
            "FAILED",
            1_795_687_330,
            &"b".repeat(40),
            &[
                (1_795_687_330, "INFO", "Deployment of commit started"),
                (
                    1_795_687_400,
                    "ERROR",
                    &format!("Stack {resource} is in UPDATE_ROLLBACK_COMPLETE state"),
                ),
            ],
        )
    };
    let tick = |answer: &dyn Fn(&str) -> Value| {
        Value::Object(
            resources
                .iter()
                .map(|name| (name.to_string(), answer(name)))
                .collect(),
        )
    };
    let text = json!({"ticks": [tick(&baseline), tick(&running), tick(&failed)]}).to_string();
    Scenario::parse(&text).unwrap()
}

/// Rule 6: a running sync replaced by a newer one gives two notifications at once:
/// the old one failed, then the new one started.
pub fn two_at_once(resource: &str) -> Scenario {
    let first = status(
        resource,
        "IN_PROGRESS",
        1_795_687_000,
        &"a".repeat(40),
        &[(1_795_687_000, "INFO", "started")],
    );
    let second = status(
        resource,
        "IN_PROGRESS",
        1_795_687_330,
        &"b".repeat(40),
        &[(1_795_687_330, "INFO", "started")],
    );
    let text = json!({"ticks": [{resource: first}, {resource: second}]}).to_string();
    Scenario::parse(&text).unwrap()
}

pub type TestRunner = Runner<CodeConnectionsSource, Arc<LocalStore>>;

/// The pipeline, serving `scenario`, delivering to what `variables` configure.
pub struct Pipeline {
    pub endpoint: LoopbackCodeConnections,
    pub store: Arc<LocalStore>,
    pub runner: TestRunner,
    names: Vec<ResourceName>,
    variables: Vec<(String, String)>,
    policy: DeliveryPolicy,
    /// The SDK configuration AWS-service destinations are built with, if any.
    aws: Option<aws_config::SdkConfig>,
}

pub fn config(variables: &[(String, String)]) -> Config {
    let map: HashMap<String, String> = variables.iter().cloned().collect();
    Config::from_lookup(|name| map.get(name).cloned()).unwrap()
}

fn destinations(
    variables: &[(String, String)],
    policy: DeliveryPolicy,
    aws: Option<&aws_config::SdkConfig>,
) -> Vec<Destination> {
    config(variables).build_destinations(&Clients {
        http: http_client(),
        policy,
        aws: aws.cloned(),
    })
}

impl Pipeline {
    pub async fn start(scenario: Scenario, variables: &[(&str, String)]) -> Pipeline {
        Pipeline::with_policy(scenario, variables, fast_policy()).await
    }

    /// The pipeline, with AWS-service destinations built from `aws`.
    pub async fn with_aws(
        scenario: Scenario,
        variables: &[(&str, String)],
        aws: aws_config::SdkConfig,
    ) -> Pipeline {
        let mut pipeline = Pipeline::start(scenario, variables).await;
        pipeline.aws = Some(aws);
        pipeline.restart();
        pipeline
    }

    pub async fn with_policy(
        scenario: Scenario,
        variables: &[(&str, String)],
        policy: DeliveryPolicy,
    ) -> Pipeline {
        Pipeline::with_store(scenario, variables, policy, LocalStore::in_memory()).await
    }

    /// The pipeline, keeping its state in `store` (a state file, say).
    pub async fn with_store(
        scenario: Scenario,
        variables: &[(&str, String)],
        policy: DeliveryPolicy,
        store: LocalStore,
    ) -> Pipeline {
        let names = scenario.resources();
        let endpoint = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
            .await
            .unwrap();
        let store = Arc::new(store);
        let variables: Vec<(String, String)> = variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            // These scenarios happened days ago: the wall clock would find every running
            // sync stuck (rule 10 has its own tests).
            .chain([
                ("AWS_REGION".to_string(), "us-east-1".to_string()),
                ("STUCK_AFTER_MINUTES".to_string(), "0".to_string()),
            ])
            .collect();
        let runner = Pipeline::runner(&endpoint, &store, &variables, policy, None);
        Pipeline {
            endpoint,
            store,
            runner,
            names,
            variables,
            policy,
            aws: None,
        }
    }

    fn runner(
        endpoint: &LoopbackCodeConnections,
        store: &Arc<LocalStore>,
        variables: &[(String, String)],
        policy: DeliveryPolicy,
        aws: Option<&aws_config::SdkConfig>,
    ) -> TestRunner {
        let config = config(variables);
        Runner::new(
            CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url())),
            store.clone(),
            destinations(variables, policy, aws),
            RunSettings::from(&config),
        )
    }

    /// Runs tick `index` of the scenario.
    pub async fn tick(&self, index: usize) -> Summary {
        self.endpoint.set_tick(index);
        self.runner
            .tick(Some(self.names.clone()), None)
            .await
            .unwrap()
    }

    /// Runs tick `index` of the scenario with `now` as the tick's clock (retention, message
    /// times), whatever the wall clock says.
    pub async fn tick_at(&self, index: usize, now: Timestamp) -> Summary {
        self.endpoint.set_tick(index);
        let stacks = self.names.iter().cloned().map(StackRef::local).collect();
        self.runner
            .run(Tick {
                scope: Scope::Stacks(stacks),
                deadline: None,
                now: Some(now),
            })
            .await
            .unwrap()
    }

    /// A new process (a Lambda cold start) sharing the same state.
    pub fn restart(&mut self) {
        self.runner = Pipeline::runner(
            &self.endpoint,
            &self.store,
            &self.variables,
            self.policy,
            self.aws.as_ref(),
        );
    }

    /// Lets the lease on `resource` lapse, as time would.
    pub async fn lapse_leases(&self, resource: &str) {
        let key = resource.to_owned();
        let Some(Loaded::Found {
            version,
            mut record,
        }) = self
            .store
            .load(std::slice::from_ref(&key))
            .await
            .unwrap()
            .remove(&key)
        else {
            panic!("no record for {resource}");
        };
        if let Some(lease) = &mut record.lease {
            lease.until = Timestamp::from_millis(0);
        }
        self.store.save(&key, Some(version), &record).await.unwrap();
    }

    /// Moves every kept quiet period (`Retry-After`) into the past, as time would.
    pub async fn end_quiet_periods(&self) {
        let mut kept = self.store.load_destinations().await.unwrap();
        for quiet in &mut kept.quiet {
            quiet.until = Timestamp::from_millis(0);
        }
        self.store.save_destinations(&kept).await.unwrap();
    }

    /// The messages destinations keep for `resource`'s attempts (a Slack app's `ts`).
    pub async fn threads(&self, resource: &str) -> Vec<Thread> {
        let key = resource.to_owned();
        match self
            .store
            .load(std::slice::from_ref(&key))
            .await
            .unwrap()
            .remove(&key)
        {
            Some(Loaded::Found { record, .. }) => record.threads,
            other => panic!("no record for {resource}: {other:?}"),
        }
    }

    /// What is still pending for `resource`.
    pub async fn pending(&self, resource: &str) -> Vec<Pending> {
        let key = resource.to_owned();
        match self
            .store
            .load(std::slice::from_ref(&key))
            .await
            .unwrap()
            .remove(&key)
        {
            Some(Loaded::Found { record, .. }) => record.pending,
            other => panic!("no record for {resource}: {other:?}"),
        }
    }
}

/// The one destination `variables` configure, built as a process would (fast policy).
pub fn only_destination(variables: &[(&str, String)]) -> Destination {
    let variables: Vec<(String, String)> = variables
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect();
    let mut built = destinations(&variables, fast_policy(), None);
    assert_eq!(built.len(), 1, "{built:?}");
    built.remove(0)
}

/// Sends one notification to `destination` in a run of its own, with the message it
/// keeps for the attempt, if any.
pub async fn send_one(
    destination: &Destination,
    notification: &Notification,
    thread: Option<&Thread>,
) -> Result<Delivered, DeliveryError> {
    let gate = Gate::new(destination.key(), destination.policy(), None, None);
    destination.send(notification, &gate, thread).await
}

/// The message a destination keeps for `notification`'s attempt.
pub fn thread_of(
    destination: &Destination,
    notification: &Notification,
    kept: &Delivered,
) -> Thread {
    let (channel, ts) = kept.thread.clone().expect("a message kept for the attempt");
    Thread {
        destination: destination.key().to_owned(),
        attempt: notification.attempt.id(),
        channel,
        ts,
    }
}

/// Variables that send to `url` as a destination of `kind` with `extra` JSON fields.
pub fn destination(kind: &str, url: &str, extra: Value) -> Value {
    let mut entry = json!({"type": kind, "url": url});
    if kind == "webhook" {
        entry["secret"] = json!(SECRET);
    }
    if let (Value::Object(entry), Value::Object(extra)) = (&mut entry, extra) {
        entry.extend(extra);
    }
    entry
}

pub fn destinations_variable(entries: &[Value]) -> (&'static str, String) {
    ("DESTINATIONS", Value::Array(entries.to_vec()).to_string())
}

/// The event type of a delivered request, whatever the destination's format: the
/// webhook's `type`, or the first word of the footer the chat messages end with.
pub fn event_type_of(kind: &str, body: &Value) -> String {
    let footer = match kind {
        "webhook" => &body["type"],
        "slack" => body["blocks"]
            .as_array()
            .and_then(|blocks| blocks.last())
            .map_or(&Value::Null, |block| &block["elements"][0]["text"]),
        "teams" => body["attachments"][0]["content"]["body"]
            .as_array()
            .and_then(|blocks| blocks.last())
            .map_or(&Value::Null, |block| &block["inlines"][0]["text"]),
        "discord" => &body["embeds"][0]["footer"]["text"],
        "google-chat" => body["cardsV2"][0]["card"]["sections"]
            .as_array()
            .and_then(|sections| sections.last())
            .map_or(&Value::Null, |section| {
                &section["widgets"][0]["textParagraph"]["text"]
            }),
        _ => &Value::Null,
    };
    let first = footer.as_str().unwrap_or_default().split(' ').next();
    first.unwrap_or_default().trim_matches('`').to_owned()
}

pub const KINDS: [&str; 5] = ["slack", "webhook", "teams", "discord", "google-chat"];
