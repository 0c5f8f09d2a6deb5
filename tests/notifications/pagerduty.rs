//! PagerDuty (`pagerduty`) through the real reqwest client to a loopback Events API v2:
//! what triggers and what resolves, one alert per stack, severities, links, change events
//! for a start (when asked) and for `send-test`, every kind of answer, and its
//! configuration.

use serde_json::{Value, json};
use sync_notifier::config::Config;
use sync_notifier::notify::DeliveryError;
use sync_notifier::scenario::Scenario;

use crate::shared::PagerDutyApi;
use crate::support::*;

const KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

async fn api() -> PagerDutyApi {
    PagerDutyApi::start(KEY).await.unwrap()
}

fn variables(api: &PagerDutyApi) -> Vec<(&'static str, String)> {
    vec![
        ("PAGERDUTY_ROUTING_KEY", KEY.to_owned()),
        ("PAGERDUTY_EVENTS_URL", api.url()),
    ]
}

/// A baseline, a sync that starts, fails, and then a new sync that succeeds.
fn fail_then_succeed() -> Scenario {
    let a = status(
        "orders-stack",
        "SUCCEEDED",
        1_795_680_000,
        &"a".repeat(40),
        &[(1_795_680_000, "INFO", "done")],
    );
    let running = status(
        "orders-stack",
        "IN_PROGRESS",
        1_795_687_330,
        &"b".repeat(40),
        &[(1_795_687_330, "INFO", "Deployment of commit started")],
    );
    let failed = status(
        "orders-stack",
        "FAILED",
        1_795_687_330,
        &"b".repeat(40),
        &[
            (1_795_687_330, "INFO", "Deployment of commit started"),
            (
                1_795_687_400,
                "ERROR",
                "Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state",
            ),
        ],
    );
    let fixed = status(
        "orders-stack",
        "SUCCEEDED",
        1_795_688_000,
        &"c".repeat(40),
        &[
            (1_795_688_000, "INFO", "started"),
            (
                1_795_688_090,
                "INFO",
                "Stack orders-stack is in UPDATE_COMPLETE state",
            ),
        ],
    );
    let ticks: Vec<Value> = [a, running, failed, fixed]
        .into_iter()
        .map(|answer| json!({"orders-stack": answer}))
        .collect();
    Scenario::parse(&json!({"ticks": ticks}).to_string()).unwrap()
}

#[tokio::test]
async fn a_failure_opens_one_alert_and_the_next_success_resolves_it() {
    let api = api().await;
    let pipeline = Pipeline::start(fail_then_succeed(), &variables(&api)).await;
    pipeline.tick(0).await;
    let summary = pipeline.tick(1).await;
    assert_eq!(summary.transitions.len(), 1, "the start was decided…");
    assert!(
        api.events().is_empty(),
        "…but pages nobody: not sent by default"
    );
    assert!(pipeline.pending("orders-stack").await.is_empty());

    assert_eq!(pipeline.tick(2).await.deliveries.delivered, 1);
    let events = api.events();
    let trigger = &events[0].body;
    // What arrives (shown with --nocapture).
    println!("{trigger:#}");
    assert_eq!(events[0].status, 202);
    assert!(!events[0].change);
    assert_eq!(trigger["routing_key"], KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], "sync-notifier/orders-stack");
    let payload = &trigger["payload"];
    assert_eq!(
        payload["summary"],
        "❌ Sync failed: orders-stack · bbbbbbb on acme/infra (main) · Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state"
    );
    assert_eq!(payload["severity"], "error");
    assert_eq!(payload["source"], "us-east-1/orders-stack");
    assert_eq!(payload["component"], "orders-stack");
    assert_eq!(payload["group"], "acme/infra");
    assert_eq!(payload["class"], "sync.failed");
    assert_eq!(payload["timestamp"], "2026-11-26T10:03:20Z");
    assert_eq!(payload["custom_details"]["resourceName"], "orders-stack");
    assert_eq!(payload["custom_details"]["status"], "FAILED");
    assert_eq!(payload["custom_details"]["events"][1]["type"], "ERROR");
    assert_eq!(trigger["client"], "sync-notifier");
    let links = trigger["links"].as_array().unwrap();
    assert_eq!(links[0]["text"], "Open stack in CloudFormation");
    assert!(
        links[0]["href"]
            .as_str()
            .unwrap()
            .starts_with("https://us-east-1.console.aws.amazon.com/cloudformation/")
    );
    assert_eq!(links[1]["text"], "View commit bbbbbbb");
    assert_eq!(
        links[1]["href"],
        format!("https://github.com/acme/infra/commit/{}", "b".repeat(40))
    );
    assert_eq!(trigger["client_url"], links[0]["href"]);
    assert!(api.alerts()[0].open);

    assert_eq!(pipeline.tick(3).await.deliveries.delivered, 1);
    let events = api.events();
    println!("{:#}", events[1].body);
    assert_eq!(
        events[1].body,
        json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "sync-notifier/orders-stack"})
    );
    let alerts = api.alerts();
    assert_eq!(alerts.len(), 1);
    assert!(!alerts[0].open, "resolved by the success");
}

#[tokio::test]
async fn repeats_merge_into_one_alert_with_the_severity_of_each_kind() {
    let api = api().await;
    let pager = only_destination(&variables(&api));
    for notification in [stuck(), failure_with_many_long_events(), blocked()] {
        send_one(&pager, &notification, None).await.unwrap();
    }
    let alerts = api.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].severities, ["warning", "error", "critical"]);
    assert!(
        alerts[0]
            .summary
            .starts_with("⛔ Sync blocked: orders-stack")
    );
    send_one(&pager, &unblocked(), None).await.unwrap();
    assert!(!api.alerts()[0].open, "unblocked resolves it");
    // The next failure is a new alert.
    send_one(&pager, &failure_with_many_long_events(), None)
        .await
        .unwrap();
    let alerts = api.alerts();
    assert_eq!(alerts.len(), 2);
    assert!(alerts[1].open);
    assert!(
        api.events()
            .iter()
            .all(|event| event.body["dedup_key"] == "sync-notifier/orders-stack")
    );
}

#[tokio::test]
async fn a_start_is_sent_only_when_asked_and_then_as_a_change_event() {
    let api = api().await;
    let asks = json!({"type": "pagerduty", "routingKey": KEY, "eventsUrl": api.url(), "events": ["sync.started", "sync.failed"]});
    let pipeline = Pipeline::start(fail_then_succeed(), &[destinations_variable(&[asks])]).await;
    for tick in 0..4 {
        pipeline.tick(tick).await;
    }
    let events = api.events();
    assert_eq!(events.len(), 2, "started and failed, as asked");
    assert!(events[0].change, "a start is a change event");
    assert!(events[0].body.get("event_action").is_none());
    assert_eq!(
        events[0].body["payload"]["summary"],
        "🔄 Sync started: orders-stack · bbbbbbb on acme/infra (main)"
    );
    assert_eq!(events[1].body["event_action"], "trigger");

    let by_default = only_destination(&variables(&api));
    assert!(!by_default.accepts(&started()));
    for notification in [
        success(),
        failure_with_many_long_events(),
        blocked(),
        unblocked(),
        stuck(),
    ] {
        assert!(by_default.accepts(&notification), "{}", notification.kind);
    }
}

#[tokio::test]
async fn send_test_is_a_change_event_that_pages_nobody() {
    let api = api().await;
    let pager = only_destination(&variables(&api));
    let results = sync_notifier::notify::send_test_to(std::slice::from_ref(&pager), None).await;
    assert_eq!(results[0].result, "delivered", "{:?}", results[0]);
    let events = api.events();
    assert_eq!(events.len(), 1);
    assert!(events[0].change);
    assert_eq!(
        events[0].body["payload"]["summary"],
        "🧪 Test message from sync-notifier"
    );
    assert!(api.alerts().is_empty());
}

#[tokio::test]
async fn a_refused_event_is_permanent_and_never_repeats_the_key() {
    let api = api().await;
    // A key the loopback does not know: PagerDuty says why, with the key taken out.
    let mut other = variables(&api);
    other[0].1 = "0123456789abcdef0123456789abcdef".into();
    let error = send_one(
        &only_destination(&other),
        &failure_with_many_long_events(),
        None,
    )
    .await
    .unwrap_err();
    let DeliveryError::Permanent(reason) = &error else {
        panic!("{error}");
    };
    assert!(reason.contains("PagerDuty refused the event (HTTP 400): Event object is invalid; routing_key is not one this loopback knows"), "{reason}");
    assert!(!reason.contains("0123456789abcdef"));
    assert_eq!(api.events().len(), 1, "not retried");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let api = api().await;
    let pager = only_destination(&variables(&api));
    api.answer_next(429, Some("1"));
    let started_at = std::time::Instant::now();
    send_one(&pager, &failure_with_many_long_events(), None)
        .await
        .unwrap();
    assert!(
        started_at.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After honoured"
    );
    api.answer_next(500, None);
    api.answer_next(502, None);
    send_one(&pager, &success(), None).await.unwrap();
    let statuses: Vec<u16> = api.events().iter().map(|event| event.status).collect();
    assert_eq!(statuses, [429, 202, 500, 502, 202]);
    for status in [503, 503, 503] {
        api.answer_next(status, None);
    }
    let error = send_one(&pager, &stuck(), None).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Retry(_)), "{error}");
}

#[tokio::test]
async fn logs_and_labels_never_show_the_routing_key() {
    let api = api().await;
    let mut other = variables(&api);
    other[0].1 = "ffffffffffffffffffffffffffffffff".into();
    let pipeline = Pipeline::start(fail_then_succeed(), &other).await;
    let (summary, logs) = logs_of(async {
        for tick in 0..3 {
            pipeline.tick(tick).await;
        }
        pipeline.tick(3).await
    })
    .await;
    assert_eq!(summary.deliveries.refused, 1);
    assert!(
        logs.contains("pagerduty#") && logs.contains("HTTP 400"),
        "{logs}"
    );
    let pager = only_destination(&other);
    assert!(
        pager
            .label()
            .contains("integration key (secret of 32 characters)"),
        "{}",
        pager.label()
    );
    let shown = format!("{logs}\n{}\n{pager:?}", pager.label());
    assert!(!shown.contains("ffffffff"), "{shown}");
}

fn problems(pairs: &[(&str, &str)]) -> String {
    Config::from_lookup(|name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    })
    .unwrap_err()
    .to_string()
}

#[test]
fn start_up_problems_name_the_field_never_the_key() {
    let message = problems(&[("PAGERDUTY_ROUTING_KEY", "SECRETKEY-TOO-SHORT")]);
    assert!(message.contains("PAGERDUTY_ROUTING_KEY: the value is 19 characters long; an integration key is 32 letters and digits"), "{message}");
    assert!(!message.contains("SECRETKEY"), "{message}");
    let entries = json!([
        {"type": "pagerduty", "routingKey": "SECRETKEY-SECRETKEY-SECRETKEY-XX"},
        {"type": "pagerduty", "routingKey": KEY, "eventsUrl": "https://events.pagerduty.com/"},
        {"type": "pagerduty"}
    ]);
    let message = problems(&[("DESTINATIONS", &entries.to_string())]);
    assert!(
        message.contains(
            "DESTINATIONS[0].routingKey: the value has characters other than letters and digits"
        ),
        "{message}"
    );
    assert!(message.contains("DESTINATIONS[1].eventsUrl: https://events.pagerduty.com/… is not an Events API v2 URL; it ends with /v2/enqueue"), "{message}");
    assert!(
        message.contains("DESTINATIONS[2].routingKey: missing; give the integration key"),
        "{message}"
    );
    assert!(!message.contains("SECRETKEY"), "{message}");
    let message = problems(&[(
        "PAGERDUTY_EVENTS_URL",
        "https://events.eu.pagerduty.com/v2/enqueue",
    )]);
    assert!(
        message.contains("PAGERDUTY_EVENTS_URL: is used only with PAGERDUTY_ROUTING_KEY"),
        "{message}"
    );
}
