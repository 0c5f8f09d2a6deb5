//! Upgrading in place: this release reads the state earlier releases wrote, each written by
//! that release's own code — release 0.1.0's DynamoDB items and local state file
//! (`tests/fixtures/previous-release`), release 72c1a3f's state file and release 0dd7e92's
//! DynamoDB items — and carries on: the notifications left pending reach the destination
//! that was down, once each, in order, with the ids they were given; nothing is sent again
//! to the destination that already had them; 0.1.0's lapsed lease is taken over; the
//! vanished stack's expiry is kept; and the records are written back in this release's
//! layout.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use sync_notifier::domain::Timestamp;
use sync_notifier::notify::{Clients, DeliveryPolicy, http_client};
use sync_notifier::run::{RunSettings, Runner, Scope, Summary, Tick};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::{Loaded, LocalStore, SCHEMA, StateStore};

use super::shared::{Receiver, config};
use super::support::{Server, codeconnections};
use sync_notifier::loopback::loopback_client;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/previous-release")
        .join(name)
}

/// The pending notifications as 0.1.0 stored them: (stack, id, type), in order per stack.
fn pending_in(records: &[(String, Value)]) -> Vec<(String, String, String)> {
    let mut pending = Vec::new();
    for (stack, record) in records {
        for item in record["pending"].as_array().into_iter().flatten() {
            let notification = &item["notification"];
            pending.push((
                stack.clone(),
                notification["id"].as_str().unwrap().to_owned(),
                notification["kind"].as_str().unwrap().to_owned(),
            ));
        }
    }
    pending
}

/// When the release decided the notifications it left pending (payments-stack's first).
fn decided_at(records: &[(String, Value)]) -> i64 {
    records
        .iter()
        .find(|(stack, _)| stack == "payments-stack")
        .and_then(|(_, record)| record["pending"][0]["notification"]["detectedAt"].as_i64())
        .expect("payments-stack has a pending notification")
}

/// The demo's last tick (what AWS still says), a few minutes after 0.1.0 decided those
/// notifications: well inside their retention.
fn scenario(decided_at: i64) -> Scenario {
    let demo: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap(),
    )
    .unwrap();
    let mut last = demo["ticks"].as_array().unwrap().last().unwrap().clone();
    last["@now"] = json!(decided_at / 1000 + 300);
    Scenario::parse(&json!({"ticks": [last]}).to_string()).unwrap()
}

struct Destinations {
    slack: Receiver,
    audit: Receiver,
}

impl Destinations {
    /// The same two destinations 0.1.0 had, by name: Slack (it had everything) and the
    /// webhook that was down (it is up again).
    async fn start() -> Destinations {
        Destinations {
            slack: Receiver::start().await.unwrap(),
            audit: Receiver::start().await.unwrap(),
        }
    }

    fn runner<T: StateStore>(&self, endpoint: &str, store: T) -> Runner<CodeConnectionsSource, T> {
        let destinations = json!([
            {"type": "slack", "name": "team", "url": self.slack.url()},
            {"type": "webhook", "name": "audit", "url": self.audit.url(),
             "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
        ])
        .to_string();
        let config = config(&[
            ("DESTINATIONS", &destinations),
            (
                "WATCH_RESOURCES",
                "payments-stack,orders-stack,catalog-stack,retired-stack",
            ),
        ]);
        Runner::new(
            CodeConnectionsSource::new(loopback_client(endpoint)),
            store,
            config.build_destinations(&Clients {
                http: http_client(),
                policy: DeliveryPolicy::default(),
                aws: None,
            }),
            RunSettings::from(&config),
        )
    }

    /// What the webhook received: (webhook-id, type), in order.
    fn audited(&self) -> Vec<(String, String)> {
        self.audit
            .received()
            .iter()
            .map(|request| {
                (
                    request.header("webhook-id").unwrap().to_owned(),
                    request.json()["type"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

async fn tick<T: StateStore>(
    runner: &Runner<CodeConnectionsSource, T>,
    now: Option<Timestamp>,
) -> Summary {
    runner
        .run(Tick {
            scope: Scope::Watched,
            deadline: None,
            now,
        })
        .await
        .unwrap()
}

/// What both stores must show after the upgrade's first tick.
fn check_carried_on(
    destinations: &Destinations,
    summary: &Summary,
    left: &[(String, String, String)],
) {
    assert!(
        destinations.slack.requests().is_empty(),
        "Slack had everything already: nothing is sent to it again"
    );
    let expected: Vec<(String, String)> = left
        .iter()
        .map(|(_, id, kind)| (id.clone(), kind.clone()))
        .collect();
    let mut audited = destinations.audited();
    let mut expected_sorted = expected.clone();
    audited.sort();
    expected_sorted.sort();
    assert_eq!(
        audited, expected_sorted,
        "every pending notification reaches the webhook once, with the id it was given"
    );
    // In order per stack.
    for stack in ["payments-stack", "orders-stack"] {
        let order: Vec<&String> = left
            .iter()
            .filter(|(owner, _, _)| owner == stack)
            .map(|(_, id, _)| id)
            .collect();
        let received: Vec<String> = destinations
            .audited()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| order.contains(&id))
            .collect();
        assert_eq!(received.iter().collect::<Vec<_>>(), order, "{stack}");
    }
    assert_eq!(summary.deliveries.delivered, left.len(), "{summary:?}");
    assert!(
        summary.transitions.is_empty(),
        "nothing new to tell: {summary:?}"
    );
    assert_eq!(summary.baselines, 0, "no stack is new to this release");
    assert!(
        summary
            .vanished
            .iter()
            .any(|vanished| vanished.resource == "retired-stack"),
        "{summary:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_items_written_by_release_0_1_0_are_read_and_their_pending_notifications_delivered()
 {
    dynamodb_items_are_read_and_their_pending_notifications_delivered(
        fixture("dynamodb-items.json"),
        "sync-notifier/1",
    )
    .await;
}

/// The release that landed before this one (commit 0dd7e92) wrote these items in this
/// code's layout (`sync-notifier/2`), with its own binary (`replay` with `STATE_TABLE`):
/// the item attributes around the record are caught too if they ever change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_items_written_by_release_0dd7e92_are_read_and_their_pending_notifications_delivered()
 {
    dynamodb_items_are_read_and_their_pending_notifications_delivered(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/release-0dd7e92/dynamodb-items.json"),
        SCHEMA,
    )
    .await;
}

/// Items as a `Scan` returned them (DynamoDB's JSON form) are put in a fresh table, and
/// the next tick carries on; the vanished stack's item keeps `retired_schema`, as it was
/// written, since nothing about it changes.
async fn dynamodb_items_are_read_and_their_pending_notifications_delivered(
    fixture: std::path::PathBuf,
    retired_schema: &str,
) {
    let items: Vec<Value> = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let server = Server::start().await;
    let table = server.create_table().await;
    let (client, _) = server.client();
    for item in &items {
        let item: HashMap<String, AttributeValue> = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| {
                let value = match (value.get("S"), value.get("N")) {
                    (Some(text), _) => AttributeValue::S(text.as_str().unwrap().to_owned()),
                    (_, Some(number)) => AttributeValue::N(number.as_str().unwrap().to_owned()),
                    _ => panic!("{value}"),
                };
                (name.clone(), value)
            })
            .collect();
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let records: Vec<(String, Value)> = items
        .iter()
        .map(|item| {
            (
                item["pk"]["S"].as_str().unwrap().to_owned(),
                serde_json::from_str(item["record"]["S"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let left = pending_in(&records);
    assert_eq!(
        left.len(),
        4,
        "the fixture holds four pending notifications"
    );
    let decided_at = decided_at(&records);
    let retired_expiry = items
        .iter()
        .find(|item| item["pk"]["S"] == "retired-stack")
        .map(|item| item["expires_at"]["N"].clone())
        .unwrap();

    let endpoint = codeconnections(scenario(decided_at)).await;
    let destinations = Destinations::start().await;
    let runner = destinations.runner(endpoint.endpoint_url(), server.store(&table).0);
    let now = endpoint.now_of(0);
    let summary = tick(&runner, now).await;
    check_carried_on(&destinations, &summary, &left);

    // Written back in this release's layout; the vanished stack keeps 0.1.0's expiry.
    for stack in ["payments-stack", "orders-stack"] {
        let item = server.raw_item(&table, stack).await.unwrap();
        assert_eq!(item["schema"], AttributeValue::S(SCHEMA.into()), "{stack}");
    }
    let retired = server.raw_item(&table, "retired-stack").await.unwrap();
    assert_eq!(
        retired["expires_at"],
        AttributeValue::N(retired_expiry.as_str().unwrap().to_owned())
    );
    assert_eq!(
        retired["schema"],
        AttributeValue::S(retired_schema.into()),
        "not rewritten for nothing"
    );

    // And it goes on: nothing more to send.
    let again = tick(&runner, now).await;
    assert_eq!(again.deliveries.delivered, 0, "{again:?}");
    assert_eq!(destinations.audited().len(), left.len());
    assert_eq!(again.state_writes, 0);
}

#[tokio::test]
async fn a_state_file_written_by_release_0_1_0_is_read_and_its_pending_notifications_delivered() {
    a_state_file_is_read_and_its_pending_notifications_delivered(fixture("state.json")).await;
}

/// The release that landed before this one (commit 72c1a3f) wrote the record this code
/// writes (the ledger's layout, told lists); its own binary wrote this fixture, so a later
/// change of the record is caught against what its users have.
#[tokio::test]
async fn a_state_file_written_by_release_72c1a3f_is_read_and_its_pending_notifications_delivered() {
    a_state_file_is_read_and_its_pending_notifications_delivered(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-72c1a3f/state.json"),
    )
    .await;
}

async fn a_state_file_is_read_and_its_pending_notifications_delivered(fixture: std::path::PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("state.json");
    std::fs::copy(&fixture, &path).unwrap();
    let file: HashMap<String, (u64, Value)> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut records: Vec<(String, Value)> = file
        .into_iter()
        .map(|(stack, (_, record))| (stack, record))
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    let left = pending_in(&records);
    assert_eq!(
        left.len(),
        4,
        "the fixture holds four pending notifications"
    );
    let decided_at = decided_at(&records);

    let endpoint = codeconnections(scenario(decided_at)).await;
    let destinations = Destinations::start().await;
    let store = Arc::new(LocalStore::open(&path).unwrap());
    let runner = destinations.runner(endpoint.endpoint_url(), store.clone());
    let now = endpoint.now_of(0);
    let summary = tick(&runner, now).await;
    check_carried_on(&destinations, &summary, &left);

    let keys: Vec<String> = ["payments-stack", "orders-stack"]
        .map(str::to_owned)
        .to_vec();
    for (stack, loaded) in store.load(&keys).await.unwrap() {
        let Loaded::Found { record, .. } = loaded else {
            panic!("{stack}: {loaded:?}");
        };
        assert!(record.pending.is_empty(), "{stack}");
        assert!(
            record.lease.is_none(),
            "{stack}: the lapsed lease was taken over and released"
        );
    }
    let again = tick(&runner, now).await;
    assert_eq!(again.deliveries.delivered, 0, "{again:?}");
}
