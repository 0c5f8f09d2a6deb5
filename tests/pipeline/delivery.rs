//! Delivery through reqwest to loopback receivers: signatures, escaping, retries, overlap.

use std::collections::HashMap;
use std::sync::Arc;

use crate::shared::Receiver;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions, loopback_client};
use sync_notifier::notify::{Clients, http_client};
use sync_notifier::run::Runner;
use sync_notifier::scenario::Scenario;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::LocalStore;

use crate::support::{config, replay_json, scenario};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Verifies a Standard Webhooks signature independently of the code under test.
fn verify(request: &crate::shared::Recorded) {
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let id = request.header("webhook-id").expect("webhook-id");
    let timestamp = request
        .header("webhook-timestamp")
        .expect("webhook-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let signature = request
        .header("webhook-signature")
        .expect("webhook-signature");
    assert_eq!(signature, format!("v1,{expected}"), "signature of {id}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - timestamp.parse::<i64>().unwrap()).abs() < 300,
        "timestamp is the send time"
    );
}

#[tokio::test]
async fn the_webhook_receives_signed_bodies_identical_to_the_json_output() {
    let receiver = Receiver::start().await.unwrap();
    let config = config(&[("WEBHOOK_URL", &receiver.url()), ("WEBHOOK_SECRET", SECRET)]);
    let (printed, _) = replay_json(&scenario("demo"), &config).await;
    let received = receiver.received();
    assert_eq!(received.len(), 4);
    for request in &received {
        verify(request);
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert!(
            request
                .header("user-agent")
                .unwrap()
                .starts_with("sync-notifier/")
        );
        assert!(
            printed.contains(&request.json()),
            "the webhook body is exactly what --format json prints"
        );
    }
    let ids: std::collections::HashSet<_> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "one id per resource, attempt and type");

    // Replaying again gives the same ids: receivers can drop repeats.
    let again = Receiver::start().await.unwrap();
    let config =
        crate::support::config(&[("WEBHOOK_URL", &again.url()), ("WEBHOOK_SECRET", SECRET)]);
    replay_json(&scenario("demo"), &config).await;
    let again_ids: std::collections::HashSet<_> = again
        .received()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(again_ids, ids);
}

#[tokio::test]
async fn slack_gets_block_kit_with_every_aws_value_escaped() {
    let hostile = std::fs::read_to_string(scenario("rule-3-same-attempt-ends"))
        .unwrap()
        .replace("Access Denied", "<!channel> & <@U024BE7LH> <b>bold</b>");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.json");
    std::fs::write(&path, hostile).unwrap();

    let slack = Receiver::start().await.unwrap();
    replay_json(&path, &config(&[("SLACK_WEBHOOK_URL", &slack.url())])).await;
    let received = slack.received();
    assert_eq!(received.len(), 1);
    let body = String::from_utf8(received[0].body.to_vec()).unwrap();
    assert!(
        !body.contains("<!channel>") && !body.contains("<@U024BE7LH>") && !body.contains("<b>"),
        "{body}"
    );
    assert!(
        body.contains("&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt;"),
        "{body}"
    );
    let message = received[0].json();
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .contains("Sync failed: app-stack")
    );
    assert_eq!(message["blocks"][0]["type"], "header");
}

#[tokio::test]
async fn a_failing_destination_is_retried_next_tick_and_gets_it_once() {
    let receiver = Receiver::start().await.unwrap();
    // Down for the whole of one run: every in-run retry (4 attempts) gets 503.
    receiver.answer_with(&[503, 503, 503, 503]);
    let config = config(&[("WEBHOOK_URL", &receiver.url()), ("WEBHOOK_SECRET", SECRET)]);
    let (printed, summaries) = replay_json(&scenario("rule-3-same-attempt-ends"), &config).await;
    assert_eq!(printed.len(), 1, "the console got it on time and only once");
    assert_eq!(summaries[1].deliveries.retrying, 1);
    assert_eq!(
        summaries[2].deliveries.delivered, 1,
        "retried on the next tick"
    );
    assert_eq!(receiver.refused().len(), 4);
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.received()[0].json(), printed[0]);
}

#[tokio::test]
async fn a_destination_that_refuses_for_good_is_not_retried() {
    let receiver = Receiver::start().await.unwrap();
    receiver.answer_with(&[410]);
    let config = config(&[("SLACK_WEBHOOK_URL", &receiver.url())]);
    let (_, summaries) = replay_json(&scenario("rule-3-same-attempt-ends"), &config).await;
    assert_eq!(summaries[1].deliveries.refused, 1);
    assert_eq!(
        summaries[2].deliveries.delivered + summaries[2].deliveries.retrying,
        0
    );
    assert_eq!(receiver.refused().len(), 1);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn overlapping_runs_over_one_store_deliver_each_notification_once() {
    let scenario = Scenario::load(&scenario("demo")).unwrap();
    let names = scenario.resources();
    let endpoint = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let receiver = Receiver::start().await.unwrap();
    let store = Arc::new(LocalStore::in_memory());
    let client = http_client();
    let settings = crate::support::settings();
    let webhook_config = config(&[("WEBHOOK_URL", &receiver.url()), ("WEBHOOK_SECRET", SECRET)]);
    let runners: Vec<_> = (0..4)
        .map(|_| {
            Runner::new(
                CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url())),
                store.clone(),
                webhook_config.build_destinations(&Clients::new(client.clone())),
                settings.clone(),
            )
        })
        .collect();
    for tick in 0..endpoint.tick_count() {
        endpoint.set_tick(tick);
        // Each tick runs twice in every runner, all at once: eight overlapping invocations.
        let runs = runners.iter().flat_map(|runner| {
            [
                runner.tick(Some(names.clone()), None),
                runner.tick(Some(names.clone()), None),
            ]
        });
        for summary in futures_util::future::join_all(runs).await {
            summary.unwrap();
        }
    }
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for request in receiver.received() {
        verify(&request);
        *per_id
            .entry(request.header("webhook-id").unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), 4, "{per_id:?}");
    assert!(per_id.values().all(|count| *count == 1), "{per_id:?}");
}

#[tokio::test]
async fn a_pending_notification_goes_out_even_while_the_stacks_checks_fail() {
    // Tick 2 tells a failure the webhook cannot take; in tick 3 the stack's check is
    // throttled, or the stack is not found any more, and the notification is delivered all
    // the same.
    for (case, tick_3) in [
        (
            "throttled",
            Some(serde_json::json!({"__type": "ThrottlingException", "message": "Rate exceeded"})),
        ),
        ("not found", None),
    ] {
        let mut story: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(scenario("rule-3-same-attempt-ends")).unwrap(),
        )
        .unwrap();
        match tick_3 {
            Some(answer) => story["ticks"][2]["app-stack"] = answer,
            // Only the stack goes: the tick keeps its @now, or it would run on the wall
            // clock, more than RETENTION_HOURS after the scenario's day, and the pending
            // notification would expire instead (as it did from 2026-11-27 on).
            None => {
                story["ticks"][2]
                    .as_object_mut()
                    .unwrap()
                    .remove("app-stack");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("story.json");
        std::fs::write(&path, story.to_string()).unwrap();

        let receiver = Receiver::start().await.unwrap();
        receiver.answer_with(&[503, 503, 503, 503]);
        let config = config(&[("WEBHOOK_URL", &receiver.url()), ("WEBHOOK_SECRET", SECRET)]);
        let (_, summaries) = replay_json(&path, &config).await;
        assert_eq!(summaries[1].deliveries.retrying, 1, "{case}");
        assert_eq!(
            summaries[2].failures.len(),
            1,
            "{case}: the check failed: {:?}",
            summaries[2]
        );
        assert_eq!(
            summaries[2].deliveries.delivered, 1,
            "{case}: and the pending notification went out"
        );
        assert_eq!(receiver.received().len(), 1, "{case}");
        assert_eq!(
            receiver.received()[0].json()["type"],
            "sync.failed",
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_process_with_fewer_destinations_never_completes_a_notification_for_the_others() {
    // The function's runner has a webhook that is down; a `check` on the same state has only
    // the console. The check prints the notification but leaves it pending for the webhook,
    // which gets it once it is back.
    let scenario = Scenario::load(&scenario("rule-3-same-attempt-ends")).unwrap();
    let names = scenario.resources();
    let endpoint = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let receiver = Receiver::start().await.unwrap();
    let store = Arc::new(LocalStore::in_memory());
    let settings = crate::support::settings();
    let function = Runner::new(
        CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url())),
        store.clone(),
        config(&[("WEBHOOK_URL", &receiver.url()), ("WEBHOOK_SECRET", SECRET)])
            .build_destinations(&Clients::new(http_client())),
        settings.clone(),
    );
    let printed = crate::support::Captured::default();
    let console = sync_notifier::notify::Destination::console(
        sync_notifier::notify::ConsoleFormat::Json,
        Arc::new(std::sync::Mutex::new(printed.clone())),
        None,
    );
    let check = Runner::new(
        CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url())),
        store.clone(),
        vec![console],
        settings,
    );

    function.tick(Some(names.clone()), None).await.unwrap();
    endpoint.set_tick(1);
    receiver.answer_with(&[503, 503, 503, 503]);
    assert_eq!(
        function
            .tick(Some(names.clone()), None)
            .await
            .unwrap()
            .deliveries
            .retrying,
        1
    );
    let checked = check.tick(Some(names.clone()), None).await.unwrap();
    assert_eq!(checked.deliveries.delivered, 1, "the console printed it");
    assert_eq!(printed.text().lines().count(), 1);
    let recovered = function.tick(Some(names.clone()), None).await.unwrap();
    assert_eq!(
        recovered.deliveries.delivered, 1,
        "still pending for the webhook: {recovered:?}"
    );
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(
        check
            .tick(Some(names), None)
            .await
            .unwrap()
            .deliveries
            .delivered,
        0,
        "nothing twice"
    );
}
