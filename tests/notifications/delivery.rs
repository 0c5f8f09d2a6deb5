//! Every destination type through the real reqwest client to loopback receivers, and
//! every failure mode: 429 with short and long `Retry-After`, 5xx, timeouts, a spent
//! retry budget, permanent refusals, ordering, and destinations not waiting for each other.

use std::time::Duration;

use crate::shared::{Receiver, Reply};
use futures_util::future::join_all;
use serde_json::json;
use sync_notifier::domain::{ResourceName, Timestamp};
use sync_notifier::notify::{DeliveryPolicy, USER_AGENT};
use sync_notifier::store::LocalStore;

use crate::support::*;

/// A pipeline over `scenario` sending to one receiver as a destination of `kind`.
async fn single(kind: &str, scenario: sync_notifier::scenario::Scenario) -> (Receiver, Pipeline) {
    let receiver = Receiver::start().await.unwrap();
    let entry = destination(
        kind,
        &receiver.url(),
        json!({"name": format!("{kind}-alerts")}),
    );
    let pipeline = Pipeline::start(scenario, &[destinations_variable(&[entry])]).await;
    (receiver, pipeline)
}

fn kinds_of(kind: &str, receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|request| event_type_of(kind, &request.json()))
        .collect()
}

#[tokio::test]
async fn every_destination_type_gets_json_with_our_user_agent() {
    for kind in KINDS {
        let (receiver, pipeline) = single(kind, start_then_fail(&["orders-stack"])).await;
        let summaries = [
            pipeline.tick(0).await,
            pipeline.tick(1).await,
            pipeline.tick(2).await,
        ];
        assert_eq!(
            summaries
                .iter()
                .map(|s| s.deliveries.delivered)
                .sum::<usize>(),
            2,
            "{kind}"
        );
        let requests = receiver.received();
        assert_eq!(requests.len(), 2, "{kind}");
        for request in &requests {
            // Google Chat's own examples send a charset.
            let json = match kind {
                "google-chat" => "application/json; charset=UTF-8",
                _ => "application/json",
            };
            assert_eq!(request.header("content-type"), Some(json), "{kind}");
            assert_eq!(request.header("user-agent"), Some(USER_AGENT), "{kind}");
            assert_eq!(
                USER_AGENT,
                concat!("sync-notifier/", env!("CARGO_PKG_VERSION"))
            );
            assert_eq!(request.path, "/hook");
        }
        assert_eq!(
            kinds_of(kind, &receiver),
            ["sync.started", "sync.failed"],
            "{kind}"
        );
        let failed = requests[1].json();
        match kind {
            "slack" => assert_eq!(
                failed["blocks"][0]["text"]["text"],
                "❌ Sync failed: orders-stack"
            ),
            "teams" => assert_eq!(failed["attachments"][0]["content"]["type"], "AdaptiveCard"),
            "discord" => assert_eq!(failed["allowed_mentions"]["parse"], json!([])),
            "google-chat" => assert_eq!(
                failed["cardsV2"][0]["card"]["header"]["title"],
                "❌ Sync failed: orders-stack"
            ),
            _ => {
                assert_eq!(failed["data"]["resourceName"], "orders-stack");
                assert!(
                    requests[1]
                        .header("webhook-signature")
                        .unwrap()
                        .starts_with("v1,")
                );
            }
        }
        assert!(pipeline.pending("orders-stack").await.is_empty(), "{kind}");
    }
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_in_the_same_run() {
    join_all(KINDS.map(|kind| async move {
        let (receiver, pipeline) = single(kind, start_then_fail(&["orders-stack"])).await;
        receiver.reply([Reply::status(429).retry_after("1")]);
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(
            (summary.deliveries.delivered, summary.deliveries.retrying),
            (1, 0),
            "{kind}"
        );
        let requests = receiver.requests();
        assert_eq!(
            requests.iter().map(|r| r.status).collect::<Vec<_>>(),
            [429, 200],
            "{kind}"
        );
        assert_eq!(
            requests[1].body, requests[0].body,
            "{kind}: the same message"
        );
        // The bound is the behaviour: the retry waited the second the destination asked
        // for (the ordinary backoff here is 10-40 ms).
        let waited = requests[1]
            .arrived_at
            .duration_since(requests[0].answered_at);
        assert!(
            waited >= Duration::from_secs(1),
            "{kind}: retried {waited:?} after a Retry-After of 1 s"
        );
    }))
    .await;
}

#[tokio::test]
async fn a_long_retry_after_leaves_it_pending_and_keeps_the_destination_quiet() {
    join_all(KINDS.map(|kind| async move {
        let (receiver, mut pipeline) = single(kind, start_then_fail(&["orders-stack"])).await;
        receiver.reply([Reply::status(429).retry_after("120")]);
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(summary.deliveries.retrying, 1, "{kind}");
        assert_eq!(
            receiver.arrivals(),
            1,
            "{kind}: a long wait is not waited out"
        );
        assert_eq!(pipeline.pending("orders-stack").await.len(), 1, "{kind}");

        // The next tick in the same process honours the 120 s: nothing is sent.
        let summary = pipeline.tick(2).await;
        assert_eq!(receiver.arrivals(), 1, "{kind}");
        assert_eq!(
            summary.deliveries.retrying, 1,
            "{kind}: the first in line is still owed"
        );
        assert_eq!(pipeline.pending("orders-stack").await.len(), 2, "{kind}");

        // The quiet period is kept in state: a new process honours it too.
        pipeline.restart();
        pipeline.tick(2).await;
        assert_eq!(
            receiver.arrivals(),
            1,
            "{kind}: another process keeps quiet too"
        );

        // Once the wait is over (here: the kept period moved into the past), a tick
        // delivers both, in order.
        pipeline.end_quiet_periods().await;
        let summary = pipeline.tick(2).await;
        assert_eq!(summary.deliveries.delivered, 2, "{kind}");
        assert_eq!(
            kinds_of(kind, &receiver),
            ["sync.started", "sync.failed"],
            "{kind}"
        );
        assert!(pipeline.pending("orders-stack").await.is_empty());
    }))
    .await;
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_in_the_same_run() {
    join_all(KINDS.map(|kind| async move {
        let (receiver, pipeline) = single(kind, start_then_fail(&["orders-stack"])).await;
        receiver.reply([Reply::status(500), Reply::status(502)]);
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(
            (summary.deliveries.delivered, summary.deliveries.retrying),
            (1, 0),
            "{kind}"
        );
        assert_eq!(receiver.arrivals(), 3, "{kind}");
    }))
    .await;
}

#[tokio::test]
async fn a_timeout_pauses_the_destination_for_the_run_and_the_next_tick_delivers() {
    join_all(KINDS.map(|kind| async move {
        let (receiver, pipeline) = single(kind, start_then_fail(&["orders-stack"])).await;
        // Answered only after 3 s; the client gives up after 400 ms, and does not spend
        // more of the run on a destination that hangs.
        receiver.reply([Reply::status(200).after(Duration::from_secs(3))]);
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(
            (summary.deliveries.delivered, summary.deliveries.retrying),
            (0, 1),
            "{kind}"
        );
        assert_eq!(receiver.arrivals(), 1, "{kind}");
        assert_eq!(summary.paused.len(), 1, "{kind}");
        let summary = pipeline.tick(1).await;
        assert_eq!(summary.deliveries.delivered, 1, "{kind}");
        assert_eq!(receiver.arrivals(), 2, "{kind}");
    }))
    .await;
}

#[tokio::test]
async fn a_destination_that_keeps_failing_is_left_for_the_next_tick_in_order() {
    join_all(KINDS.map(|kind| async move {
        let (receiver, pipeline) = single(kind, start_then_fail(&["orders-stack"])).await;
        receiver.reply([Reply::status(503), Reply::status(503), Reply::status(503)]);
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(summary.deliveries.retrying, 1, "{kind}");
        assert_eq!(
            receiver.arrivals(),
            3,
            "{kind}: every attempt the policy allows"
        );
        let summary = pipeline.tick(2).await;
        assert_eq!(summary.deliveries.delivered, 2, "{kind}");
        assert_eq!(
            kinds_of(kind, &receiver),
            ["sync.started", "sync.failed"],
            "{kind}"
        );
    }))
    .await;
}

#[tokio::test]
async fn permanent_refusals_are_given_up_for_that_message_only() {
    let cases: Vec<(&str, u16)> = KINDS
        .iter()
        .flat_map(|kind| [400, 403, 404, 410].map(|status| (*kind, status)))
        .collect();
    join_all(cases.into_iter().map(|(kind, status)| async move {
        let (receiver, pipeline) = single(kind, start_then_fail(&["orders-stack"])).await;
        receiver.reply([Reply::status(status)]);
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(
            (summary.deliveries.refused, summary.deliveries.retrying),
            (1, 0),
            "{kind} {status}"
        );
        assert_eq!(receiver.arrivals(), 1, "{kind} {status}: not retried");
        assert!(
            pipeline.pending("orders-stack").await.is_empty(),
            "{kind} {status}"
        );
        let summary = pipeline.tick(2).await;
        assert_eq!(summary.deliveries.delivered, 1, "{kind} {status}");
        assert_eq!(
            kinds_of(kind, &receiver),
            ["sync.failed"],
            "{kind} {status}: the next message still goes"
        );
    }))
    .await;
}

#[tokio::test]
async fn a_resource_s_notifications_reach_a_destination_in_order() {
    join_all(KINDS.map(|kind| async move {
        // Tick 1 yields two notifications at once: the replaced sync failed, the new one started.
        let (receiver, pipeline) = single(kind, two_at_once("orders-stack")).await;
        receiver.reply([Reply::status(503), Reply::status(503), Reply::status(503)]);
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(summary.deliveries.retrying, 1, "{kind}");
        let attempted: Vec<String> = receiver
            .requests()
            .iter()
            .map(|request| event_type_of(kind, &request.json()))
            .collect();
        assert_eq!(
            attempted, ["sync.failed"; 3],
            "{kind}: the second waits for the first"
        );
        pipeline.tick(1).await;
        assert_eq!(
            kinds_of(kind, &receiver),
            ["sync.failed", "sync.started"],
            "{kind}"
        );
    }))
    .await;
}

#[tokio::test]
async fn different_destinations_do_not_wait_for_each_other() {
    let slow = Receiver::start().await.unwrap();
    let failing = Receiver::start().await.unwrap();
    let fast = Receiver::start().await.unwrap();
    slow.reply([Reply::status(200).after(Duration::from_millis(1500))]);
    failing.reply([Reply::status(503), Reply::status(503), Reply::status(503)]);
    let policy = sync_notifier::notify::DeliveryPolicy {
        timeout: Duration::from_secs(5),
        ..fast_policy()
    };
    let pipeline = Pipeline::with_policy(
        start_then_fail(&["orders-stack"]),
        &[destinations_variable(&[
            destination("slack", &slow.url(), json!({"name": "slow"})),
            destination("discord", &failing.url(), json!({"name": "failing"})),
            destination("webhook", &fast.url(), json!({"name": "fast"})),
        ])],
        policy,
    )
    .await;
    pipeline.tick(0).await;
    let summary = pipeline.tick(1).await;
    assert_eq!(
        (summary.deliveries.delivered, summary.deliveries.retrying),
        (2, 1)
    );
    let slow_request = &slow.requests()[0];
    let fast_request = &fast.requests()[0];
    assert!(
        fast_request.answered < slow_request.answered,
        "the fast destination was served while the slow one was still answering"
    );
}

#[tokio::test]
async fn the_retry_budget_bounds_what_one_run_spends_on_a_destination() {
    let receiver = Receiver::start().await.unwrap();
    receiver.reply((0..10).map(|_| Reply::status(500)));
    // A retry reserves its wait (20-40 ms: equal jitter under a 40 ms ceiling) and its
    // request's timeout (400 ms) from a budget of 440 ms: one retry always fits, a second
    // never does.
    let policy = sync_notifier::notify::DeliveryPolicy {
        max_attempts: 10,
        base_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(40),
        retry_budget: Duration::from_millis(440),
        ..fast_policy()
    };
    let pipeline = Pipeline::with_policy(
        start_then_fail(&["orders-stack"]),
        &[destinations_variable(&[destination(
            "webhook",
            &receiver.url(),
            json!({}),
        )])],
        policy,
    )
    .await;
    pipeline.tick(0).await;
    let summary = pipeline.tick(1).await;
    assert_eq!(summary.deliveries.retrying, 1);
    assert_eq!(receiver.arrivals(), 2);
    // A new run has a new budget.
    pipeline.tick(1).await;
    assert_eq!(receiver.arrivals(), 4);
}

#[tokio::test]
async fn logs_name_the_destination_and_never_its_url() {
    let receiver = Receiver::start().await.unwrap();
    let secret_url = receiver.url_with_path("/services/T000/B000/SECRETTOKEN");
    receiver.reply([Reply::status(404)]);
    let failing = Receiver::start().await.unwrap();
    let failing_url = failing.url_with_path("/api/webhooks/1/OTHERSECRET");
    failing.reply((0..3).map(|_| Reply::status(503)));
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[
            ("SLACK_WEBHOOK_URL", failing_url.clone()),
            destinations_variable(&[destination(
                "discord",
                &secret_url,
                json!({"name": "team-alerts"}),
            )]),
        ],
    )
    .await;
    let (summary, logs) = logs_of(async {
        pipeline.tick(0).await;
        pipeline.tick(1).await
    })
    .await;
    assert_eq!(
        (summary.deliveries.refused, summary.deliveries.retrying),
        (1, 1)
    );
    assert!(logs.contains("discord:team-alerts: HTTP 404"), "{logs}");
    assert!(logs.contains("refused the notification for good"), "{logs}");
    assert!(
        logs.contains("slack#") && logs.contains("HTTP 503"),
        "{logs}"
    );
    for secret in ["SECRETTOKEN", "OTHERSECRET", "/services/", "/api/webhooks"] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs: {logs}"
        );
    }
    let debug = format!("{:?}", pipeline.runner.store());
    assert!(!debug.contains("SECRETTOKEN"));
}

/// The ids a receiver accepted, whatever the destination's format (from the webhook's
/// `webhook-id`, or the text of a chat message).
fn accepted(receiver: &Receiver) -> usize {
    receiver.received().len()
}

#[tokio::test]
async fn one_dead_destination_starves_no_other_destination_and_no_stack() {
    let stacks: Vec<String> = (0..100).map(|index| format!("stack-{index:03}")).collect();
    let names: Vec<&str> = stacks.iter().map(String::as_str).collect();
    let teams = Receiver::start().await.unwrap();
    let slack = Receiver::start().await.unwrap();
    // Teams hangs: no request is ever answered (so none can count as received, however
    // long a run takes).
    teams.reply((0..200).map(|_| Reply::hang()));
    let pipeline = Pipeline::start(
        start_then_fail(&names),
        &[destinations_variable(&[
            destination("teams", &teams.url(), json!({})),
            destination("slack", &slack.url(), json!({"events": ["sync.started"]})),
        ])],
    )
    .await;
    pipeline.tick(0).await;

    // Every stack starts: Slack gets all 100 in the first run; Teams, timed out once,
    // is paused for the rest of the run instead of holding back the stacks behind it.
    let first = pipeline.tick(1).await;
    assert_eq!(accepted(&slack), 100, "{:?}", first.paused);
    assert_eq!(first.deliveries.delivered, 100);
    assert_eq!(first.paused.len(), 1, "{:?}", first.paused);
    assert!(
        teams.arrivals() <= 4,
        "at most one request per slot (4) before the pause: {}",
        teams.arrivals()
    );

    // Teams recovers: the next run gives it all 100, and Slack nothing more.
    teams.recover();
    let second = pipeline.tick(1).await;
    assert_eq!(second.deliveries.delivered, 100, "{second:?}");
    assert_eq!(accepted(&slack), 100, "nothing twice");
    let texts: std::collections::HashSet<String> = teams
        .received()
        .iter()
        .map(|request| request.json()["summary"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), 100, "each stack once");
    assert_eq!(accepted(&teams), 100);
    for stack in &names {
        assert!(pipeline.pending(stack).await.is_empty(), "{stack}");
    }
}

#[tokio::test]
async fn a_run_killed_mid_delivery_repeats_only_what_was_in_flight() {
    let slack = Receiver::start().await.unwrap();
    let webhook = Receiver::start().await.unwrap();
    // The webhook takes 8 s to answer; the run is killed 1 s in.
    webhook.reply([Reply::status(200).after(Duration::from_secs(8))]);
    let policy = DeliveryPolicy {
        timeout: Duration::from_secs(10),
        ..fast_policy()
    };
    let mut pipeline = Pipeline::with_policy(
        start_then_fail(&["orders-stack"]),
        &[destinations_variable(&[
            destination("slack", &slack.url(), json!({})),
            destination("webhook", &webhook.url(), json!({})),
        ])],
        policy,
    )
    .await;
    pipeline.tick(0).await;
    pipeline.endpoint.set_tick(1);
    // Killed (its future dropped) once the webhook's request is on its way and Slack's
    // delivery is written: a delivery is recorded as soon as it succeeds.
    let run = pipeline.runner.tick(
        Some(vec![ResourceName::parse("orders-stack").unwrap()]),
        None,
    );
    let slack_recorded = async {
        loop {
            let pending = pipeline.pending("orders-stack").await;
            let recorded = pending
                .first()
                .is_some_and(|item| item.done.iter().any(|key| key.starts_with("slack")));
            if recorded && webhook.arrivals() == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = run => panic!("the run ended while the webhook's request was on its way"),
        () = slack_recorded => {}
    }
    assert_eq!(accepted(&slack), 1);
    let pending = pipeline.pending("orders-stack").await;
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0].done.iter().any(|key| key.starts_with("slack")),
        "{pending:?}"
    );

    // Once the dead run's lease has lapsed, a new process delivers the webhook's copy only.
    pipeline.lapse_leases("orders-stack").await;
    pipeline.restart();
    let recovered = pipeline.tick(1).await;
    assert_eq!(recovered.deliveries.delivered, 1, "{recovered:?}");
    assert_eq!(accepted(&slack), 1, "Slack is not sent it again");
    assert!(
        webhook
            .received()
            .iter()
            .any(|request| request.json()["type"] == "sync.started")
    );
}

#[tokio::test]
async fn two_stacks_failing_fast_at_once_both_get_their_retries_within_the_budget() {
    // The shipped delivery policy (10 s requests, 4 attempts, a 15 s retry budget per run).
    // Two stacks fail at once on the same destination, every answer a 500 at once: each
    // retry reserves its wait and half of what the budget has left, so the first stack's
    // retries do not take the second's room, and both get their four attempts before the
    // destination is paused (before, each retry reserved a whole 10 s request, and the
    // second stack got one try: "no retry budget left in this run"). That the budget is
    // never overrun is the gate's own test, on a paused clock.
    join_all(KINDS.map(|kind| async move {
        let receiver = Receiver::start().await.unwrap();
        receiver.reply((0..100).map(|_| Reply::status(500)));
        let pipeline = Pipeline::with_policy(
            start_then_fail(&["a", "b"]),
            &[destinations_variable(&[destination(
                kind,
                &receiver.url(),
                json!({}),
            )])],
            DeliveryPolicy::default(),
        )
        .await;
        pipeline.tick(0).await;
        let summary = pipeline.tick(1).await;
        assert_eq!(summary.deliveries.retrying, 2, "{kind}: {summary:?}");
        assert_eq!(receiver.arrivals(), 2 * 4, "{kind}: four attempts each");
        assert!(
            summary.paused[0]
                .reason
                .contains("gave up for this run after 4 attempts"),
            "{kind}: {summary:?}"
        );
    }))
    .await;
}

#[tokio::test]
async fn a_notification_undelivered_past_the_retention_is_counted_logged_and_never_sent() {
    let webhook = Receiver::start().await.unwrap();
    // Down for every request of the first three ticks.
    webhook.reply((0..9).map(|_| Reply::status(503)));
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let mut pipeline = Pipeline::with_store(
        start_then_fail(&["orders-stack"]),
        &[
            destinations_variable(&[destination("webhook", &webhook.url(), json!({}))]),
            ("RETENTION_HOURS", "1".to_owned()),
        ],
        fast_policy(),
        LocalStore::open(&state_file).unwrap(),
    )
    .await;
    // The ticks' own clock, never the wall clock: the retention runs from when the
    // notification was decided (tick 1).
    let decided = Timestamp::from_millis(1_795_687_400_000);
    let hour = 3_600_000;
    pipeline.tick_at(0, decided.plus_millis(-60_000)).await;
    let first = pipeline.tick_at(1, decided).await;
    assert_eq!(first.deliveries.retrying, 1, "{first:?}");
    let id = first.transitions[0].id.clone();

    // At the retention's very end it is still tried.
    let last_chance = pipeline.tick_at(1, decided.plus_millis(hour)).await;
    assert_eq!(
        (
            last_chance.deliveries.retrying,
            last_chance.deliveries.expired
        ),
        (1, 0),
        "{last_chance:?}"
    );
    assert_eq!(webhook.arrivals(), 6, "tried in each tick until then");
    assert_eq!(pipeline.pending("orders-stack").await.len(), 1);

    // The webhook is back, a moment too late: the notification is dropped, counted and
    // logged, and not sent.
    webhook.recover();
    let (past, logs) = logs_of(pipeline.tick_at(1, decided.plus_millis(hour + 1_000))).await;
    assert_eq!(
        (past.deliveries.expired, past.deliveries.delivered),
        (1, 0),
        "{past:?}"
    );
    let line = logs
        .lines()
        .find(|line| {
            line.contains("dropping a notification undelivered for longer than the retention")
        })
        .unwrap_or_else(|| panic!("no log line for the expiry in:\n{logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("orders-stack") && line.contains(&id),
        "{line}"
    );
    assert!(line.contains("sync.started"), "{line}");
    assert!(pipeline.pending("orders-stack").await.is_empty());
    assert_eq!(webhook.arrivals(), 6);

    // Never afterwards, in this process or the next (a cold start).
    pipeline.tick_at(1, decided.plus_millis(2 * hour)).await;
    pipeline.restart();
    let later = pipeline.tick_at(1, decided.plus_millis(3 * hour)).await;
    assert_eq!(later.deliveries.delivered + later.deliveries.expired, 0);
    assert_eq!(webhook.arrivals(), 6);
    assert!(webhook.received().is_empty(), "{:?}", webhook.received());
}
