//! What every test here needs: a real DynamoDB-compatible server (dynoxide, embedded on
//! `127.0.0.1:0`), SDK clients that count their calls, the table as `template.yaml`
//! defines it, Git sync scenarios built in code, and loopback Slack and webhook receivers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::shared::Receiver;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use dynoxide::Database;
use dynoxide::storage_backend::ManualClock;
use serde_json::{Value, json};
use sync_notifier::config::{Config, Watch};
use sync_notifier::domain::ledger::Policy;
use sync_notifier::domain::ledger::ResourceRecord;
use sync_notifier::domain::{
    AttemptId, KindSet, NotificationKind, ResourceName, Rules, StackRef, Timestamp, notification_id,
};
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions, loopback_client};
use sync_notifier::notify::{Clients, DeliveryPolicy, Destination, http_client};
use sync_notifier::run::{RunSettings, Runner};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::{
    DestinationState, DynamoStore, KEY, Loaded, SaveError, StateStore, StoreError, TTL_ATTRIBUTE,
};
use tokio::sync::{Notify, oneshot};

pub type DynamoRunner = Runner<CodeConnectionsSource, DynamoStore>;

/// dynoxide serving the DynamoDB JSON API over HTTP until dropped.
pub struct Server {
    endpoint: String,
    pub db: Database,
    tables: AtomicUsize,
    _stop: oneshot::Sender<()>,
}

impl Server {
    pub async fn start() -> Server {
        Server::serve(Database::memory().expect("an in-memory dynoxide database")).await
    }

    /// A server whose clock (for TTL) the test sets.
    pub async fn start_with_clock(clock: &ManualClock) -> Server {
        Server::serve(
            Database::memory_with_clock(clock.arc()).expect("an in-memory dynoxide database"),
        )
        .await
    }

    async fn serve(db: Database) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(dynoxide::server::serve_with_shutdown(
            listener,
            db.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            endpoint,
            db,
            tables: AtomicUsize::new(0),
            _stop: stop,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client of its own (as each Lambda sandbox has), counting its calls in the log.
    pub fn client(&self) -> (Client, CallLog) {
        let log = CallLog::default();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIDTEST",
                "test-secret",
                None,
                None,
                "tests",
            ))
            .endpoint_url(&self.endpoint)
            .interceptor(log.clone())
            .build();
        (Client::from_conf(config), log)
    }

    /// A store on `table` with a client of its own.
    pub fn store(&self, table: &str) -> (DynamoStore, CallLog) {
        let (client, log) = self.client();
        (DynamoStore::new(client, table), log)
    }

    /// A new table with the key schema and TTL attribute of `template.yaml`'s StateTable.
    pub async fn create_table(&self) -> String {
        let name = format!(
            "sync-notifier-state-{}",
            self.tables.fetch_add(1, Ordering::SeqCst)
        );
        let (client, _) = self.client();
        client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("CreateTable");
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("UpdateTimeToLive");
        name
    }

    /// The raw item stored under `pk`, read with a client of its own.
    pub async fn raw_item(&self, table: &str, pk: &str) -> Option<HashMap<String, AttributeValue>> {
        let (client, _) = self.client();
        client
            .get_item()
            .table_name(table)
            .key(KEY, AttributeValue::S(pk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
    }
}

/// DynamoDB calls one client made, counted on the wire (retries included), with the
/// capacity units DynamoDB reported for them.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Calls>>);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calls {
    pub operations: BTreeMap<String, usize>,
    pub read_units: f64,
    pub write_units: f64,
}

impl Calls {
    pub fn count(&self, operation: &str) -> usize {
        self.operations.get(operation).copied().unwrap_or(0)
    }
}

impl CallLog {
    /// What was counted since the last call, and start counting afresh.
    pub fn take(&self) -> Calls {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        *self
            .0
            .lock()
            .unwrap()
            .operations
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let mut calls = self.0.lock().unwrap();
        if let Some(output) = output.downcast_ref::<BatchGetItemOutput>() {
            calls.read_units += output
                .consumed_capacity()
                .iter()
                .filter_map(|capacity| capacity.capacity_units())
                .sum::<f64>();
        } else if let Some(output) = output.downcast_ref::<PutItemOutput>() {
            calls.write_units += output
                .consumed_capacity()
                .and_then(|capacity| capacity.capacity_units())
                .unwrap_or(0.0);
        }
        Ok(())
    }
}

/// The key of stack `text` in the table.
pub fn name(text: &str) -> String {
    ResourceName::parse(text).unwrap().to_string()
}

/// One sync attempt of a scenario: when it started, its status, its commit.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub started: i64,
    pub status: &'static str,
    pub sha: String,
}

impl Attempt {
    pub fn new(started: i64, status: &'static str, sha: impl Into<String>) -> Attempt {
        Attempt {
            started,
            status,
            sha: sha.into(),
        }
    }

    pub fn id(&self) -> AttemptId {
        AttemptId {
            started_at: Timestamp::from_epoch_seconds(self.started as f64),
            sha: self.sha.clone(),
        }
    }

    fn json(&self, resource: &str) -> Value {
        let revision = |sha: &str| {
            json!({"Branch": "main", "Directory": format!("deployments/{resource}.yaml"), "OwnerId": "acme",
                   "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": sha})
        };
        let mut events = vec![
            json!({"Event": "Deployment of commit started", "Time": self.started, "Type": "INFO"}),
        ];
        match self.status {
            "SUCCEEDED" => events.push(json!({"Event": format!("Stack {resource} is in UPDATE_COMPLETE state"), "Time": self.started + 90, "Type": "INFO"})),
            "FAILED" => events.push(json!({"Event": format!("Stack {resource} is in UPDATE_ROLLBACK_COMPLETE state"), "Time": self.started + 90, "Type": "ERROR"})),
            _ => {}
        }
        json!({"StartedAt": self.started, "Status": self.status, "Target": resource, "Events": events,
               "InitialRevision": revision("0000000000000000000000000000000000000000"), "TargetRevision": revision(&self.sha)})
    }
}

/// A `GetResourceSyncStatus` answer: the latest attempt and the latest successful one.
pub fn status(resource: &str, latest: &Attempt, latest_successful: Option<&Attempt>) -> Value {
    let mut answer = json!({"LatestSync": latest.json(resource)});
    if let Some(successful) = latest_successful {
        answer["LatestSuccessfulSync"] = successful.json(resource);
    }
    answer
}

/// A scenario from ticks of (resource → answer); a resource left out of a tick is not
/// found in it.
pub fn scenario(ticks: Vec<Vec<(String, Value)>>) -> Scenario {
    let ticks: Vec<Value> = ticks
        .into_iter()
        .map(|tick| Value::Object(tick.into_iter().collect()))
        .collect();
    Scenario::parse(&json!({"ticks": ticks}).to_string()).expect("a valid scenario")
}

/// One resource's story, told over eight ticks, and the notifications it must produce
/// (ARCHITECTURE §6), in order.
pub fn story(resource: &str, index: usize) -> (Vec<Value>, Vec<(NotificationKind, Attempt)>) {
    let base = 1_795_680_000 + index as i64 * 10_000;
    let sha = |attempt: usize| format!("{:03x}{attempt:04x}{}", index, "f".repeat(33));
    let a = Attempt::new(base, "SUCCEEDED", sha(1));
    let b = |status| Attempt::new(base + 100, status, sha(2));
    let c = Attempt::new(base + 300, "SUCCEEDED", sha(3));
    let d = Attempt::new(base + 500, "IN_PROGRESS", sha(4));
    let e = |status| Attempt::new(base + 700, status, sha(5));
    let ticks = vec![
        status(resource, &a, Some(&a)),                           // baseline
        status(resource, &b("INITIATED"), Some(&a)),              // rule 4: started
        status(resource, &b("IN_PROGRESS"), Some(&a)),            // rule 2: nothing
        status(resource, &b("FAILED"), Some(&a)),                 // rule 3: failed
        status(resource, &c, Some(&c)),                           // rule 5: succeeded only
        status(resource, &d, Some(&c)),                           // rule 4: started
        status(resource, &e("IN_PROGRESS"), Some(&c)), // rule 6: d failed, then e started
        status(resource, &e("SUCCEEDED"), Some(&e("SUCCEEDED"))), // rule 3: succeeded
    ];
    use NotificationKind::{Failed, Started, Succeeded};
    let expected = vec![
        (Started, b("INITIATED")),
        (Failed, b("FAILED")),
        (Succeeded, c.clone()),
        (Started, d.clone()),
        (Failed, d.clone()),
        (Started, e("IN_PROGRESS")),
        (Succeeded, e("SUCCEEDED")),
    ];
    (ticks, expected)
}

/// The `webhook-id` a notification must carry.
pub fn webhook_id(resource: &str, kind: NotificationKind, attempt: &Attempt) -> String {
    notification_id(
        &StackRef::local(ResourceName::parse(resource).unwrap()),
        &attempt.id(),
        kind,
    )
}

/// The Slack fallback text a notification must carry.
pub fn slack_text(resource: &str, kind: NotificationKind, attempt: &Attempt) -> String {
    let (emoji, headline) = match kind {
        NotificationKind::Started => ("🔄", "Sync started"),
        NotificationKind::Succeeded => ("✅", "Sync succeeded"),
        NotificationKind::Failed => ("❌", "Sync failed"),
        other => panic!("no story tells {other}"),
    };
    format!("{emoji} {headline}: {resource} · {}", &attempt.sha[..7])
}

/// A loopback Slack and a loopback webhook, configured as the destinations.
pub struct Receivers {
    pub slack: Receiver,
    pub webhook: Receiver,
}

impl Receivers {
    pub async fn start() -> Receivers {
        Receivers {
            slack: Receiver::start().await.unwrap(),
            webhook: Receiver::start().await.unwrap(),
        }
    }

    /// The destinations, as built from the configuration (each call builds them afresh,
    /// as another process would; their keys are the same). One attempt per message per
    /// run, so a failure in a tick stays a failure of that tick: these tests are about
    /// what the state carries from one tick to the next, not about in-run retries.
    pub fn destinations(&self) -> Vec<Destination> {
        let vars = HashMap::from([
            ("SLACK_WEBHOOK_URL", self.slack.url().to_owned()),
            ("WEBHOOK_URL", self.webhook.url().to_owned()),
            (
                "WEBHOOK_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            ),
        ]);
        let config = Config::from_lookup(|key| vars.get(key).cloned()).unwrap();
        let policy = DeliveryPolicy {
            max_attempts: 1,
            ..DeliveryPolicy::default()
        };
        config.build_destinations(&Clients {
            http: http_client(),
            policy,
            aws: None,
        })
    }

    /// The `webhook-id`s the webhook accepted, in arrival order.
    pub fn webhook_ids(&self) -> Vec<String> {
        self.webhook
            .received()
            .iter()
            .map(|request| request.header("webhook-id").unwrap_or_default().to_owned())
            .collect()
    }

    /// The start of each fallback text Slack accepted (what tells them apart), in arrival order.
    pub fn slack_texts(&self) -> Vec<String> {
        self.slack
            .received()
            .iter()
            .map(|request| {
                // The fallback text starts "<emoji> <headline>: <stack> · <sha7>", then
                // says more; that start tells the notifications apart.
                let text = request.json()["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                text.split(" on ").next().unwrap_or_default().to_owned()
            })
            .collect()
    }
}

pub fn settings(names: &[String]) -> RunSettings {
    RunSettings {
        watch: Watch::Resources(
            names
                .iter()
                .map(|name| ResourceName::parse(name).unwrap())
                .collect(),
        ),
        notify_on: KindSet::ALL,
        fetch_concurrency: 16,
        policy: Policy {
            retention: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(120),
            idle_ttl: Policy::DEFAULT_IDLE_TTL,
            vanished_ttl: Policy::DEFAULT_VANISHED_TTL,
        },
        // These stories happened days ago: the wall clock would find every running sync
        // stuck (rule 10 has its own tests).
        rules: Rules { stuck_after: None },
        first_sweep_window: Duration::from_secs(3600),
    }
}

pub async fn codeconnections(scenario: Scenario) -> LoopbackCodeConnections {
    LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap()
}

pub fn runner(
    endpoint: &LoopbackCodeConnections,
    store: DynamoStore,
    destinations: Vec<Destination>,
    settings: RunSettings,
) -> DynamoRunner {
    Runner::new(
        CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url())),
        store,
        destinations,
        settings,
    )
}

/// A record as a run would keep it after seeing `attempt`, with about `padding` bytes of
/// event text (to make items as large as a test needs), in the stored JSON shape.
pub fn record(resource: &str, attempt: &Attempt, padding: usize) -> ResourceRecord {
    let line = "x".repeat(200);
    let events: Vec<Value> = (0..padding.div_ceil(260))
        .map(|index| json!({"event": format!("{index} {line}"), "type": "INFO", "time": attempt.started * 1000}))
        .collect();
    let revision = |sha: &str| {
        json!({"providerType": "GitHub", "ownerId": "acme", "repositoryName": "infra", "branch": "main",
               "directory": format!("deployments/{resource}.yaml"), "sha": sha})
    };
    sync_notifier::store::record::decode(
        &json!({
            "state": {
                "attempt": {
                    "startedAt": attempt.started * 1000,
                    "status": attempt.status,
                    "target": resource,
                    "initialRevision": revision("0000000000000000000000000000000000000000"),
                    "targetRevision": revision(&attempt.sha),
                    "events": events
                },
                "notified": []
            }
        })
        .to_string(),
    )
    .expect("a record")
}

/// A store that dies at a chosen point, as a run killed there would: after writing its
/// claim (before delivering), or after delivering (before recording it).
pub struct Dies {
    inner: DynamoStore,
    at: Point,
    claimed: AtomicBool,
    pub died: Notify,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Point {
    AfterClaim,
    BeforeRecordingDeliveries,
}

impl Dies {
    pub fn new(inner: DynamoStore, at: Point) -> Dies {
        Dies {
            inner,
            at,
            claimed: AtomicBool::new(false),
            died: Notify::new(),
        }
    }
}

impl StateStore for Dies {
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Loaded>, StoreError> {
        self.inner.load(keys).await
    }

    async fn load_destinations(&self) -> Result<DestinationState, StoreError> {
        self.inner.load_destinations().await
    }

    async fn save_destinations(&self, state: &DestinationState) -> Result<u64, SaveError> {
        self.inner.save_destinations(state).await
    }

    async fn save(
        &self,
        name: &str,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> Result<u64, SaveError> {
        if self.at == Point::BeforeRecordingDeliveries && self.claimed.load(Ordering::SeqCst) {
            self.died.notify_one();
            std::future::pending::<()>().await;
        }
        let version = self.inner.save(name, expected, record).await?;
        if record.lease.is_some() {
            self.claimed.store(true, Ordering::SeqCst);
            if self.at == Point::AfterClaim {
                self.died.notify_one();
                std::future::pending::<()>().await;
            }
        }
        Ok(version)
    }
}
