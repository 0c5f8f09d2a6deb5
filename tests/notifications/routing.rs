//! `DESTINATIONS` filters honoured by the run: who gets what, when a notification is
//! complete, and the keys its delivery records use.

use crate::shared::{Receiver, Reply};
use serde_json::json;

use crate::support::*;

fn types(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|request| {
            request.json()["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn resources(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|request| {
            request.json()["data"]["resourceName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn event_filters_pick_what_each_destination_gets() {
    let everything = Receiver::start().await.unwrap();
    let failures = Receiver::start().await.unwrap();
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[destinations_variable(&[
            destination("webhook", &everything.url(), json!({"name": "everything"})),
            destination(
                "webhook",
                &failures.url(),
                json!({"name": "failures", "events": ["sync.failed"]}),
            ),
        ])],
    )
    .await;
    pipeline.tick(0).await;
    pipeline.tick(1).await;
    assert!(
        pipeline.pending("orders-stack").await.is_empty(),
        "sync.started is complete once the destinations that want it have it"
    );
    pipeline.tick(2).await;
    assert_eq!(types(&everything), ["sync.started", "sync.failed"]);
    assert_eq!(types(&failures), ["sync.failed"]);
}

#[tokio::test]
async fn resource_globs_pick_stacks() {
    let prod = Receiver::start().await.unwrap();
    let payments = Receiver::start().await.unwrap();
    let pipeline = Pipeline::start(
        start_then_fail(&["prod-orders", "dev-orders", "payments-stack"]),
        &[destinations_variable(&[
            destination("webhook", &prod.url(), json!({"resources": ["prod-*"]})),
            destination(
                "webhook",
                &payments.url(),
                json!({"resources": ["payments-stack", "*-pay?ents"], "events": ["sync.failed"]}),
            ),
        ])],
    )
    .await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    assert_eq!(resources(&prod), ["prod-orders", "prod-orders"]);
    assert_eq!(resources(&payments), ["payments-stack"]);
    for stack in ["prod-orders", "dev-orders", "payments-stack"] {
        assert!(pipeline.pending(stack).await.is_empty(), "{stack}");
    }
}

#[tokio::test]
async fn a_notification_no_destination_wants_is_not_kept() {
    let receiver = Receiver::start().await.unwrap();
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[destinations_variable(&[destination(
            "slack",
            &receiver.url(),
            json!({"events": ["sync.succeeded"]}),
        )])],
    )
    .await;
    for tick in 0..3 {
        let summary = pipeline.tick(tick).await;
        assert_eq!(
            summary.deliveries.delivered + summary.deliveries.retrying,
            0
        );
    }
    assert!(pipeline.pending("orders-stack").await.is_empty());
    assert_eq!(receiver.arrivals(), 0);
}

#[tokio::test]
async fn notify_on_and_destination_filters_both_apply() {
    let receiver = Receiver::start().await.unwrap();
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[
            ("NOTIFY_ON", "failed".to_owned()),
            destinations_variable(&[destination("webhook", &receiver.url(), json!({}))]),
        ],
    )
    .await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    assert_eq!(types(&receiver), ["sync.failed"]);
}

#[tokio::test]
async fn single_url_variables_combine_with_destinations() {
    let slack = Receiver::start().await.unwrap();
    let teams = Receiver::start().await.unwrap();
    let discord = Receiver::start().await.unwrap();
    let webhook = Receiver::start().await.unwrap();
    let extra = Receiver::start().await.unwrap();
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[
            ("SLACK_WEBHOOK_URL", slack.url()),
            ("TEAMS_WEBHOOK_URL", teams.url()),
            ("DISCORD_WEBHOOK_URL", discord.url()),
            ("WEBHOOK_URL", webhook.url()),
            ("WEBHOOK_SECRET", SECRET.to_owned()),
            destinations_variable(&[destination(
                "slack",
                &extra.url(),
                json!({"name": "failures", "events": ["sync.failed"]}),
            )]),
        ],
    )
    .await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    for (kind, receiver) in [
        ("slack", &slack),
        ("teams", &teams),
        ("discord", &discord),
        ("webhook", &webhook),
    ] {
        let got: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| event_type_of(kind, &r.json()))
            .collect();
        assert_eq!(got, ["sync.started", "sync.failed"], "{kind}");
    }
    assert_eq!(extra.received().len(), 1);
}

#[tokio::test]
async fn delivery_records_use_stable_keys_without_secrets() {
    let ok = Receiver::start().await.unwrap();
    let down = Receiver::start().await.unwrap();
    down.reply((0..6).map(|_| Reply::status(503)));
    let down_url = down.url_with_path("/hooks/SECRETPART");
    let mut pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[destinations_variable(&[
            destination("slack", &ok.url(), json!({"name": "ok"})),
            destination("webhook", &down_url, json!({})),
        ])],
    )
    .await;
    pipeline.tick(0).await;
    pipeline.tick(1).await;
    let pending = pipeline.pending("orders-stack").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].done, ["slack:ok"]);

    // A cold start computes the same keys: the destination that has it is not sent it
    // again; the one that failed is retried.
    pipeline.restart();
    pipeline.tick(1).await;
    assert_eq!(ok.arrivals(), 1);
    assert_eq!(down.arrivals(), 6);
    let keys = format!("{:?}", pipeline.pending("orders-stack").await);
    assert!(
        !keys.contains("SECRETPART") && !keys.contains("whsec_"),
        "{keys}"
    );
}
