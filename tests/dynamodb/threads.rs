//! One Slack message per sync attempt across processes: the `ts` a Slack app posted is
//! kept in the stack's item, so another process (a Lambda cold start) updates that message
//! rather than posting a second one.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use sync_notifier::config::Config;
use sync_notifier::notify::{Clients, DeliveryPolicy, Destination, http_client};
use sync_notifier::store::RECORD_ATTRIBUTE;

use super::support::{Attempt, Server, codeconnections, name, runner, scenario, settings, status};
use crate::shared::SlackApi;

const TOKEN: &str = "xoxb-1234567890-0987654321-LoopbackSecretToken";
const CHANNEL: &str = "C0123456789";

/// The Slack app, as a process builds it from its variables.
fn slack_app(api: &SlackApi) -> Vec<Destination> {
    let variables = HashMap::from([
        ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
        ("SLACK_CHANNEL", CHANNEL.to_owned()),
        ("SLACK_API_URL", api.url()),
    ]);
    Config::from_lookup(|key| variables.get(key).cloned())
        .unwrap()
        .build_destinations(&Clients {
            http: http_client(),
            policy: DeliveryPolicy::default(),
            aws: None,
        })
}

/// The stored record's JSON.
fn stored(item: &HashMap<String, AttributeValue>) -> Value {
    let text = item
        .get(RECORD_ATTRIBUTE)
        .and_then(|value| value.as_s().ok())
        .expect("a record attribute");
    serde_json::from_str(text).expect("the record is JSON")
}

#[tokio::test]
async fn a_second_process_updates_the_message_the_first_posted() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let resource = "orders-stack";
    let baseline = Attempt::new(1_795_680_000, "SUCCEEDED", "a".repeat(40));
    let running = Attempt::new(1_795_687_330, "IN_PROGRESS", "b".repeat(40));
    let failed = Attempt::new(1_795_687_330, "FAILED", "b".repeat(40));
    let endpoint = codeconnections(scenario(vec![
        vec![(
            resource.to_owned(),
            status(resource, &baseline, Some(&baseline)),
        )],
        vec![(
            resource.to_owned(),
            status(resource, &running, Some(&baseline)),
        )],
        vec![(
            resource.to_owned(),
            status(resource, &failed, Some(&baseline)),
        )],
    ]))
    .await;
    let api = SlackApi::start(TOKEN, &[CHANNEL]).await.unwrap();
    let names = [name(resource)];

    // Process A, with a DynamoDB client of its own: the baseline, then the start.
    let a = runner(
        &endpoint,
        server.store(&table).0,
        slack_app(&api),
        settings(&names),
    );
    a.tick(None, None).await.unwrap();
    endpoint.set_tick(1);
    assert_eq!(a.tick(None, None).await.unwrap().deliveries.delivered, 1);
    assert_eq!(api.methods(), ["chat.postMessage"]);
    let ts = api.calls()[0].answer["ts"].as_str().unwrap().to_owned();

    // The ts is in the stored item, for this attempt.
    let record = stored(&server.raw_item(&table, resource).await.unwrap());
    let threads = record["threads"].as_array().expect("threads are stored");
    assert_eq!(threads.len(), 1, "{record}");
    assert_eq!(threads[0]["ts"], ts.as_str());
    assert_eq!(threads[0]["channel"], CHANNEL);
    assert!(
        !record.to_string().contains("LoopbackSecretToken"),
        "no token in the state"
    );
    drop(a);

    // Process B: a new Runner, a new client, destinations built afresh (a cold start).
    let b = runner(
        &endpoint,
        server.store(&table).0,
        slack_app(&api),
        settings(&names),
    );
    endpoint.set_tick(2);
    let summary = b.tick(None, None).await.unwrap();
    assert_eq!(summary.deliveries.delivered, 1);
    assert_eq!(
        api.methods(),
        ["chat.postMessage", "chat.update", "chat.postMessage"],
        "the failure updates A's message and replies under it; no second message"
    );
    let calls = api.calls();
    assert_eq!(calls[1].body["ts"], ts.as_str());
    assert_eq!(calls[1].body["channel"], CHANNEL);
    assert_eq!(calls[2].body["thread_ts"], ts.as_str());
    assert_eq!(calls[2].body["reply_broadcast"], true);
    let messages = api.messages();
    let top: Vec<_> = messages
        .iter()
        .filter(|message| message.thread_ts.is_none())
        .collect();
    assert_eq!(top.len(), 1, "one message for the attempt: {messages:#?}");
    assert_eq!(top[0].updates, 1);
    assert!(top[0].text.starts_with("❌ Sync failed: orders-stack"));

    // Nothing left to send; the thread is still kept for the attempt.
    let record = stored(&server.raw_item(&table, resource).await.unwrap());
    assert_eq!(
        record["pending"].as_array().map_or(0, Vec::len),
        0,
        "{record}"
    );
    assert_eq!(record["threads"][0]["ts"], ts.as_str());
}
