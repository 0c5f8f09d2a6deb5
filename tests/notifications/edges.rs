//! Delivery edges an adversarial run found (issue: a deadline cut hands its stacks back):
//! what a long `Retry-After` asked and what is kept, one wording for a retried status on
//! every kind, what Google Chat says when it refuses, and a Slack app answer without `ts`.
//! Through the real reqwest client to loopback servers.

use serde_json::json;
use sync_notifier::notify::DeliveryError;

use crate::shared::{PagerDutyApi, Receiver, Reply, SlackApi, SlackReply};
use crate::support::*;

#[tokio::test]
async fn a_long_retry_after_is_logged_as_asked_and_as_kept() {
    let receiver = Receiver::start().await.unwrap();
    receiver.reply([Reply::status(429).retry_after("99999")]);
    let destination = only_destination(&[("SLACK_WEBHOOK_URL", receiver.url())]);
    let (result, logs) = logs_of(send_one(&destination, &started(), None)).await;
    assert!(result.is_err());
    let line = logs
        .lines()
        .find(|line| line.contains("asked for quiet"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(line.contains("asked_seconds=99999"), "{line}");
    assert!(line.contains("kept_seconds=3600"), "{line}");
}

#[tokio::test]
async fn every_kind_says_a_retried_status_with_its_retry_after_in_the_same_words() {
    // A webhook, Google Chat and PagerDuty answer 503 with `Retry-After: 120` (too long to
    // wait out in the run): each reason names the status and the wait the same way.
    let webhook = Receiver::start().await.unwrap();
    let chat = Receiver::start().await.unwrap();
    let pager = PagerDutyApi::start("e93facc04764012d7bfb002500d5d1a6")
        .await
        .unwrap();
    webhook.reply([Reply::status(503).retry_after("120")]);
    chat.reply([Reply::status(503).retry_after("120")]);
    pager.answer_next(503, Some("120"));
    let destinations = [
        only_destination(&[
            ("WEBHOOK_URL", webhook.url()),
            ("WEBHOOK_SECRET", SECRET.to_owned()),
        ]),
        only_destination(&[("GOOGLE_CHAT_WEBHOOK_URL", chat.url())]),
        only_destination(&[
            (
                "PAGERDUTY_ROUTING_KEY",
                "e93facc04764012d7bfb002500d5d1a6".to_owned(),
            ),
            ("PAGERDUTY_EVENTS_URL", pager.url()),
        ]),
    ];
    for destination in &destinations {
        let error = send_one(destination, &failure_with_many_long_events(), None)
            .await
            .unwrap_err();
        let DeliveryError::Retry(reason) = &error else {
            panic!("{error:?}")
        };
        assert!(
            reason.contains("HTTP 503, Retry-After 120s"),
            "{}: {reason}",
            destination.key()
        );
    }
}

#[tokio::test]
async fn a_google_chat_refusal_says_what_google_said_and_the_fix() {
    let chat = Receiver::start().await.unwrap();
    chat.reply([Reply::status(404).body(
        &json!({"error": {"code": 404, "message": "Requested entity was\nnot found.", "status": "NOT_FOUND"}})
            .to_string(),
    )]);
    let destination = only_destination(&[("GOOGLE_CHAT_WEBHOOK_URL", chat.url())]);
    let error = send_one(&destination, &started(), None).await.unwrap_err();
    let DeliveryError::Permanent(reason) = &error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("HTTP 404"), "{reason}");
    assert!(
        reason.contains("Google Chat says \"Requested entity was not found.\""),
        "what Google said, on one line: {reason}"
    );
    assert!(
        reason.contains("create a webhook in the space")
            && reason.contains("GOOGLE_CHAT_WEBHOOK_URL"),
        "{reason}"
    );
    assert!(!reason.contains("\n"));
}

#[tokio::test]
async fn a_slack_app_answer_without_ts_is_delivered_and_said_once() {
    let api = SlackApi::start(
        "xoxb-1234567890-0987654321-LoopbackSecretToken",
        &["C0123456789"],
    )
    .await
    .unwrap();
    api.script(Some("chat.postMessage"), SlackReply::OkWithoutTs);
    api.script(Some("chat.postMessage"), SlackReply::OkWithoutTs);
    let destination = only_destination(&[
        (
            "SLACK_BOT_TOKEN",
            "xoxb-1234567890-0987654321-LoopbackSecretToken".to_owned(),
        ),
        ("SLACK_CHANNEL", "C0123456789".to_owned()),
        ("SLACK_API_URL", api.url()),
    ]);
    let ((first, second), logs) = logs_of(async {
        (
            send_one(&destination, &started(), None).await,
            send_one(&destination, &success(), None).await,
        )
    })
    .await;
    for delivered in [first, second] {
        let delivered = delivered.unwrap();
        assert_eq!(delivered.thread, None, "nothing to update later");
    }
    let said = logs
        .lines()
        .filter(|line| line.contains("has no ts"))
        .count();
    assert_eq!(said, 1, "{logs}");
}
