//! Exactly once per destination, through overlapping runs, failing destinations and a
//! run that dies holding its claim (ARCHITECTURE §7).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use sync_notifier::domain::{NotificationKind, Timestamp};
use sync_notifier::run::{Runner, Scope, Summary, Tick};
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::{DynamoStore, Loaded, RECORD_ATTRIBUTE, StateStore};

use crate::shared::logs_of;

use super::support::{
    Attempt, Dies, DynamoRunner, Point, Receivers, Server, codeconnections, name, runner, scenario,
    settings, slack_text, status, story, webhook_id,
};

/// `resources` each telling [`story`], as one scenario, with the notifications each must
/// produce.
fn stories(
    resources: &[String],
) -> (
    sync_notifier::scenario::Scenario,
    HashMap<String, Vec<(NotificationKind, Attempt)>>,
) {
    let told: Vec<_> = resources
        .iter()
        .enumerate()
        .map(|(index, resource)| story(resource, index))
        .collect();
    let ticks = (0..told[0].0.len())
        .map(|tick| {
            resources
                .iter()
                .zip(&told)
                .map(|(resource, (answers, _))| (resource.clone(), answers[tick].clone()))
                .collect()
        })
        .collect();
    let expected = resources
        .iter()
        .cloned()
        .zip(told.into_iter().map(|(_, expected)| expected))
        .collect();
    (scenario(ticks), expected)
}

/// Every destination got every notification of every resource exactly once, in the order
/// the attempts happened.
fn assert_each_delivered_once_in_order(
    receivers: &Receivers,
    expected: &HashMap<String, Vec<(NotificationKind, Attempt)>>,
) {
    let ids = receivers.webhook_ids();
    let texts = receivers.slack_texts();
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(ids.len(), total, "webhook deliveries: {ids:?}");
    assert_eq!(texts.len(), total, "Slack deliveries: {texts:#?}");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        total,
        "a webhook-id repeated"
    );
    for (resource, notifications) in expected {
        let want_ids: Vec<String> = notifications
            .iter()
            .map(|(kind, attempt)| webhook_id(resource, *kind, attempt))
            .collect();
        let got_ids: Vec<&String> = ids.iter().filter(|id| want_ids.contains(id)).collect();
        assert_eq!(
            got_ids,
            want_ids.iter().collect::<Vec<_>>(),
            "webhook order of {resource}"
        );
        let want_texts: Vec<String> = notifications
            .iter()
            .map(|(kind, attempt)| slack_text(resource, *kind, attempt))
            .collect();
        let got_texts: Vec<&String> = texts
            .iter()
            .filter(|text| want_texts.contains(text))
            .collect();
        assert_eq!(
            got_texts,
            want_texts.iter().collect::<Vec<_>>(),
            "Slack order of {resource}"
        );
    }
}

/// One tick of every runner, all at once.
async fn all_at_once(runners: &[DynamoRunner]) -> Vec<Summary> {
    join_all(runners.iter().map(|runner| runner.tick(None, None)))
        .await
        .into_iter()
        .map(|summary| summary.expect("a tick"))
        .collect()
}

/// Nothing pending and no lease left anywhere.
async fn assert_settled(store: &DynamoStore, names: &[String]) {
    for (resource, loaded) in store.load(names).await.unwrap() {
        let Loaded::Found { record, .. } = loaded else {
            panic!("{resource}: {loaded:?}");
        };
        assert!(
            record.pending.is_empty(),
            "{resource} still has {:?}",
            record.pending
        );
        assert_eq!(record.lease, None, "{resource}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_overlapping_runs_with_a_flaky_destination_deliver_each_notification_once_in_order() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let resources: Vec<String> = (0..6).map(|index| format!("stack-{index}")).collect();
    let names: Vec<String> = resources.iter().map(|resource| name(resource)).collect();
    let (scenario, expected) = stories(&resources);
    let ticks = scenario.ticks.len();
    let endpoint = codeconnections(scenario).await;
    let receivers = Receivers::start().await;
    // The webhook fails one request in three (503, then 500, then 429) for a while.
    let flaky: Vec<u16> = (0..60)
        .map(|index| match index % 9 {
            0 => 503,
            3 => 500,
            6 => 429,
            _ => 200,
        })
        .collect();
    receivers.webhook.answer_with(&flaky);
    let runners: Vec<_> = (0..4)
        .map(|_| {
            runner(
                &endpoint,
                server.store(&table).0,
                receivers.destinations(),
                settings(&names),
            )
        })
        .collect();

    let mut summaries: Vec<Summary> = Vec::new();
    for tick in 0..ticks {
        endpoint.set_tick(tick);
        summaries.extend(all_at_once(&runners).await);
    }
    // The last answers stay; keep ticking (all four at once) until the retries are done.
    let total: usize = expected.values().map(Vec::len).sum();
    for _ in 0..20 {
        if receivers.webhook_ids().len() >= total {
            break;
        }
        summaries.extend(all_at_once(&runners).await);
    }

    assert_each_delivered_once_in_order(&receivers, &expected);
    assert!(
        !receivers.webhook.refused().is_empty(),
        "the webhook was meant to fail now and then"
    );
    assert!(
        summaries.iter().any(|summary| !summary.deferred.is_empty()),
        "the runs were meant to overlap and step aside for each other"
    );
    let delivered: usize = summaries
        .iter()
        .map(|summary| summary.deliveries.delivered)
        .sum();
    assert_eq!(
        delivered,
        2 * total,
        "each delivery counted once, across all runs"
    );
    assert_settled(&server.store(&table).0, &names).await;
}

#[tokio::test]
async fn a_destination_down_for_several_ticks_gets_each_notification_once_in_order_when_it_recovers()
 {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (answers, expected) = story("app-stack", 0);
    // Baseline, started, in progress, failed, then failed again and again.
    let ticks: Vec<_> = [0, 1, 2, 3, 3, 3]
        .iter()
        .map(|&tick| vec![("app-stack".to_owned(), answers[tick].clone())])
        .collect();
    let endpoint = codeconnections(scenario(ticks)).await;
    let receivers = Receivers::start().await;
    receivers.webhook.answer_with(&[503, 503, 503, 503]);
    let names = [name("app-stack")];
    let (store, _) = server.store(&table);
    let run = runner(&endpoint, store, receivers.destinations(), settings(&names));
    let started = webhook_id("app-stack", expected[0].0, &expected[0].1);
    let failed = webhook_id("app-stack", expected[1].0, &expected[1].1);

    let mut summaries = Vec::new();
    for tick in 0..5 {
        endpoint.set_tick(tick);
        summaries.push(run.tick(None, None).await.unwrap());
    }
    // Ticks 1-4: the webhook was asked for the oldest notification each time, and only
    // for it: the newer one waits behind it, never overtakes it.
    let refused: Vec<String> = receivers
        .webhook
        .refused()
        .iter()
        .map(|request| request.header("webhook-id").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(refused, [&started; 4].map(String::as_str));
    assert!(receivers.webhook_ids().is_empty());
    assert_eq!(
        summaries
            .iter()
            .map(|summary| summary.deliveries.retrying)
            .collect::<Vec<_>>(),
        [0, 1, 1, 1, 1]
    );
    // Slack, healthy all along, got each one once as it happened, and no repeat while the
    // webhook was retried.
    let slack_expected: Vec<String> = expected[..2]
        .iter()
        .map(|(kind, attempt)| slack_text("app-stack", *kind, attempt))
        .collect();
    assert_eq!(receivers.slack_texts(), slack_expected);

    // Tick 5: the webhook is back and gets both, in order, once.
    endpoint.set_tick(5);
    let recovered = run.tick(None, None).await.unwrap();
    assert_eq!(recovered.deliveries.delivered, 2);
    assert_eq!(receivers.webhook_ids(), [started.clone(), failed.clone()]);
    assert_eq!(receivers.slack_texts(), slack_expected);

    // And then nothing more: no send, no write.
    let quiet = run.tick(None, None).await.unwrap();
    assert_eq!(quiet.deliveries.delivered, 0);
    assert_eq!(quiet.state_writes, 0);
    assert_eq!(receivers.webhook_ids(), [started, failed]);
    assert_settled(run.store(), &names).await;
}

/// Runs one tick of a run that dies at `at` (holding its lease), then ticks with a healthy
/// run: while the lease holds, and once it has lapsed (moved into the past in the table, as
/// time would move it; the lease is counted on the wall clock, so the test does not wait
/// for it). Returns the receivers, the three summaries and the notification's id.
async fn killed_at(at: Point) -> (Receivers, Summary, Summary, Summary, String) {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (answers, expected) = story("app-stack", 0);
    let ticks = vec![
        vec![("app-stack".to_owned(), answers[0].clone())],
        vec![("app-stack".to_owned(), answers[1].clone())],
    ];
    let endpoint = codeconnections(scenario(ticks)).await;
    let receivers = Receivers::start().await;
    let names = [name("app-stack")];
    let healthy = runner(
        &endpoint,
        server.store(&table).0,
        receivers.destinations(),
        settings(&names),
    );
    healthy.tick(None, None).await.unwrap(); // the baseline

    endpoint.set_tick(1);
    let dies = Dies::new(server.store(&table).0, at);
    let doomed = Runner::new(
        CodeConnectionsSource::new(sync_notifier::loopback::loopback_client(
            endpoint.endpoint_url(),
        )),
        dies,
        receivers.destinations(),
        settings(&names),
    );
    tokio::select! {
        _ = doomed.tick(None, None) => panic!("the doomed run was meant to die"),
        _ = doomed.store().died.notified() => {}
    }
    drop(doomed); // killed: its future is gone, its lease stays in the table

    let store = server.store(&table).0;
    let Loaded::Found {
        version,
        mut record,
    } = store.load(&names).await.unwrap()[&names[0]].clone()
    else {
        panic!("no record");
    };
    assert!(record.lease.is_some(), "the claim left its lease");
    assert_eq!(record.pending.len(), 1);

    // The lease (two minutes) holds.
    let while_held = healthy.tick(None, None).await.unwrap();

    // It lapses.
    if let Some(lease) = &mut record.lease {
        lease.until = Timestamp::from_millis(0);
    }
    store.save(&names[0], Some(version), &record).await.unwrap();
    let after_expiry = healthy.tick(None, None).await.unwrap();
    let later = healthy.tick(None, None).await.unwrap();
    assert_settled(healthy.store(), &names).await;
    let started = webhook_id("app-stack", expected[0].0, &expected[0].1);
    (receivers, while_held, after_expiry, later, started)
}

#[tokio::test]
async fn a_run_killed_between_claim_and_delivery_loses_nothing_a_later_tick_delivers_once() {
    let (receivers, while_held, after_expiry, later, started) = killed_at(Point::AfterClaim).await;

    // While the dead run's lease holds, the notification is left alone.
    assert_eq!(while_held.deliveries.delivered, 0);
    assert_eq!(while_held.deferred.len(), 1, "{while_held:?}");
    assert!(
        while_held.deferred[0]
            .reason
            .contains("another run is delivering")
    );
    // Once it expires, a later tick delivers it, once to each destination.
    assert_eq!(after_expiry.deliveries.delivered, 2);
    assert_eq!(later.deliveries.delivered, 0);
    assert_eq!(later.state_writes, 0);
    assert_eq!(receivers.webhook_ids(), [started]);
    assert_eq!(receivers.slack_texts().len(), 1);
}

#[tokio::test]
async fn a_run_killed_between_delivery_and_recording_repeats_it_once_with_the_same_webhook_id() {
    let (receivers, while_held, after_expiry, later, started) =
        killed_at(Point::BeforeRecordingDeliveries).await;

    // The dead run delivered before dying; nobody repeats it while its lease holds…
    assert_eq!(while_held.deliveries.delivered, 0);
    assert_eq!(while_held.deferred.len(), 1);
    // …then it is repeated exactly once (ARCHITECTURE §7), with the same webhook-id, so a
    // receiver can drop the repeat.
    assert_eq!(after_expiry.deliveries.delivered, 2);
    assert_eq!(later.deliveries.delivered, 0);
    assert_eq!(receivers.webhook_ids(), [started.clone(), started]);
    assert_eq!(receivers.slack_texts().len(), 2);
}

/// A failed sync with 100 events of 4 KB each (about 400 KB of text, over DynamoDB's item
/// limit as it came): Slack gets it at once, the pending copy for a webhook that is down
/// is stored under the limit, and the webhook gets it, with the newest events, when it
/// comes back.
#[tokio::test]
async fn a_failure_with_a_hundred_4_kb_events_is_delivered_and_stored_under_the_item_limit() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let baseline = Attempt::new(1_795_680_000, "SUCCEEDED", "a".repeat(40));
    let failed = Attempt::new(1_795_680_100, "FAILED", "b".repeat(40));
    let mut failure = status("big-stack", &failed, Some(&baseline));
    failure["LatestSync"]["Events"] = (0..100)
        .map(|index| {
            json!({
                "Event": format!("{index:03} {}", "x".repeat(4096)),
                "Time": 1_795_680_100 + index,
                "Type": if index == 99 { "ERROR" } else { "INFO" }
            })
        })
        .collect();
    let answers = vec![
        vec![(
            "big-stack".to_owned(),
            status("big-stack", &baseline, Some(&baseline)),
        )],
        vec![("big-stack".to_owned(), failure.clone())],
        vec![("big-stack".to_owned(), failure)],
    ];
    let endpoint = codeconnections(scenario(answers)).await;
    let receivers = Receivers::start().await;
    receivers.webhook.answer_with(&[503]);
    let names = [name("big-stack")];
    let (store, _) = server.store(&table);
    let run = runner(&endpoint, store, receivers.destinations(), settings(&names));

    run.tick(None, None).await.unwrap();
    endpoint.set_tick(1);
    let told = run.tick(None, None).await.unwrap();
    assert_eq!(told.deliveries.delivered, 1, "{told:?}");
    assert_eq!(told.deliveries.retrying, 1, "{told:?}");
    assert!(told.failures.is_empty(), "the record was saved: {told:?}");
    let slack = receivers.slack.received();
    assert_eq!(slack.len(), 1);
    assert!(slack[0].json()["text"].as_str().unwrap().starts_with("❌"));

    let item = server.raw_item(&table, "big-stack").await.unwrap();
    let stored = item[RECORD_ATTRIBUTE].as_s().unwrap();
    eprintln!(
        "stored record with the pending failure: {} bytes",
        stored.len()
    );
    assert!(
        stored.len() < 200 * 1024,
        "the stored record is {} bytes, far from DynamoDB's 400 KB",
        stored.len()
    );
    let record: Value = serde_json::from_str(stored).unwrap();
    assert_eq!(
        record["pending"].as_array().unwrap().len(),
        1,
        "kept for the webhook"
    );

    endpoint.set_tick(2);
    let recovered = run.tick(None, None).await.unwrap();
    assert_eq!(recovered.deliveries.delivered, 1, "{recovered:?}");
    let body = receivers.webhook.received()[0].json();
    assert_eq!(body["type"], "sync.failed");
    let events = body["data"]["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert_eq!(
        events.last().unwrap()["event"].as_str().unwrap()[..3].to_owned(),
        "099",
        "the newest event, the error, is kept"
    );
    assert_eq!(
        events.len() as u64 + body["data"]["eventsOmitted"].as_u64().unwrap(),
        100,
        "every event is shown or counted"
    );
    assert_settled(run.store(), &names).await;
}

/// The webhook is down past the retention (one hour here), driven by the ticks' own clock:
/// Slack, healthy, gets the notification at once; the webhook's copy is tried until the
/// retention's end, then dropped from the table, counted and logged, and never sent.
#[tokio::test]
async fn a_notification_undelivered_past_the_retention_is_dropped_from_the_table_counted_and_logged()
 {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (answers, expected) = story("app-stack", 0);
    let ticks = vec![
        vec![("app-stack".to_owned(), answers[0].clone())],
        vec![("app-stack".to_owned(), answers[1].clone())],
    ];
    let endpoint = codeconnections(scenario(ticks)).await;
    let receivers = Receivers::start().await;
    receivers.webhook.answer_with(&[503, 503, 503]);
    let names = [name("app-stack")];
    let mut one_hour = settings(&names);
    one_hour.policy.retention = Duration::from_secs(3600);
    let run = runner(
        &endpoint,
        server.store(&table).0,
        receivers.destinations(),
        one_hour,
    );
    let at = |index: usize, now: Timestamp| {
        endpoint.set_tick(index);
        run.run(Tick {
            scope: Scope::Watched,
            deadline: None,
            now: Some(now),
        })
    };
    let decided = Timestamp::from_millis(1_795_690_000_000);
    let hour = 3_600_000;
    at(0, decided.plus_millis(-60_000)).await.unwrap();
    let told = at(1, decided).await.unwrap();
    assert_eq!(
        (told.deliveries.delivered, told.deliveries.retrying),
        (1, 1),
        "{told:?}"
    );
    let last_chance = at(1, decided.plus_millis(hour)).await.unwrap();
    assert_eq!(
        (
            last_chance.deliveries.retrying,
            last_chance.deliveries.expired
        ),
        (1, 0)
    );
    assert_eq!(
        receivers.webhook.arrivals(),
        2,
        "tried until the retention's end"
    );

    receivers.webhook.recover();
    let (past, logs) = logs_of(at(1, decided.plus_millis(hour + 1_000))).await;
    let past = past.unwrap();
    assert_eq!(
        (past.deliveries.expired, past.deliveries.delivered),
        (1, 0),
        "{past:?}"
    );
    let started = webhook_id("app-stack", expected[0].0, &expected[0].1);
    let line = logs
        .lines()
        .find(|line| {
            line.contains("dropping a notification undelivered for longer than the retention")
        })
        .unwrap_or_else(|| panic!("no log line for the expiry in:\n{logs}"));
    assert!(
        line.contains(&started) && line.contains("app-stack"),
        "{line}"
    );
    assert!(line.contains("slack"), "it says who had it: {line}");
    assert_settled(run.store(), &names).await;

    let later = at(1, decided.plus_millis(2 * hour)).await.unwrap();
    assert_eq!(later.deliveries.delivered + later.deliveries.expired, 0);
    assert_eq!(receivers.webhook.arrivals(), 2, "never sent");
    assert_eq!(receivers.slack_texts().len(), 1, "Slack got it once");
}
