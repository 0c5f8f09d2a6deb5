//! Resources that vanish (and come back), and items that are not ours.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use dynoxide::storage_backend::ManualClock;
use sync_notifier::domain::Timestamp;
use sync_notifier::loopback::loopback_client;
use sync_notifier::run::Runner;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::{
    KEY, SCHEMA, SCHEMA_ATTRIBUTE, SaveError, StateStore, TTL_ATTRIBUTE, VERSION_ATTRIBUTE,
};

use super::support::{
    Attempt, Dies, Point, Receivers, Server, codeconnections, name, record, runner, scenario,
    settings, status, story,
};

fn seconds_now() -> i64 {
    Timestamp::now().as_millis() / 1000
}

fn number(item: &HashMap<String, AttributeValue>, attribute: &str) -> Option<i64> {
    item.get(attribute)
        .and_then(|value| value.as_n().ok())
        .and_then(|number| number.parse().ok())
}

#[tokio::test]
async fn a_vanished_resource_gets_a_short_ttl_once_and_the_idle_one_back_when_it_returns() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let a = Attempt::new(1_795_680_000, "SUCCEEDED", "a".repeat(40));
    let app = ("app-stack".to_owned(), status("app-stack", &a, Some(&a)));
    let other = (
        "other-stack".to_owned(),
        status("other-stack", &a, Some(&a)),
    );
    // app-stack is not found in ticks 1 and 2, and back in tick 3.
    let ticks = vec![
        vec![app.clone(), other.clone()],
        vec![other.clone()],
        vec![other.clone()],
        vec![app.clone(), other.clone()],
    ];
    let endpoint = codeconnections(scenario(ticks)).await;
    let receivers = Receivers::start().await;
    let names = [name("app-stack"), name("other-stack")];
    let run = runner(
        &endpoint,
        server.store(&table).0,
        receivers.destinations(),
        settings(&names),
    );
    let ttl = sync_notifier::domain::ledger::Policy::DEFAULT_VANISHED_TTL.as_secs() as i64;

    assert_eq!(run.tick(None, None).await.unwrap().state_writes, 2);

    endpoint.set_tick(1);
    let before = seconds_now();
    let vanished = run.tick(None, None).await.unwrap();
    let after = seconds_now();
    assert_eq!(vanished.state_writes, 1, "the TTL, written once");
    assert_eq!(vanished.failures.len(), 1);
    assert_eq!(vanished.failures[0].resource, "app-stack");
    assert!(
        vanished.failures[0].reason.starts_with("not found"),
        "{:?}",
        vanished.failures
    );
    assert_eq!(vanished.vanished.len(), 1);
    assert_eq!(vanished.vanished[0].resource, "app-stack");
    assert!(
        vanished.vanished[0].reason.contains("kept until"),
        "{:?}",
        vanished.vanished
    );
    let item = server.raw_item(&table, "app-stack").await.unwrap();
    let expires_at = number(&item, TTL_ATTRIBUTE).expect("a TTL in epoch seconds");
    assert!(
        (before + ttl..=after + ttl + 1).contains(&expires_at),
        "{expires_at}"
    );
    assert_eq!(number(&item, VERSION_ATTRIBUTE), Some(2));
    // The stack still found keeps its long idle expiry, untouched by this tick.
    let idle = sync_notifier::domain::ledger::Policy::DEFAULT_IDLE_TTL.as_secs() as i64;
    let other = number(
        &server.raw_item(&table, "other-stack").await.unwrap(),
        TTL_ATTRIBUTE,
    )
    .expect("every checked stack's record expires if nobody checks it any more");
    assert!(other > after + idle - 60, "{other}");

    // Still gone: reported again, nothing written.
    endpoint.set_tick(2);
    let still = run.tick(None, None).await.unwrap();
    assert_eq!(still.state_writes, 0);
    assert_eq!(still.vanished.len(), 1);
    assert_eq!(server.raw_item(&table, "app-stack").await.unwrap(), item);

    // Back: the short TTL gives way to the long idle one (one write), nothing is told, and
    // quiet ticks write nothing.
    endpoint.set_tick(3);
    let before_back = seconds_now();
    let back = run.tick(None, None).await.unwrap();
    assert_eq!(back.state_writes, 1);
    assert!(back.vanished.is_empty() && back.failures.is_empty() && back.transitions.is_empty());
    let item = server.raw_item(&table, "app-stack").await.unwrap();
    let renewed = number(&item, TTL_ATTRIBUTE).expect("the idle expiry");
    assert!(renewed >= before_back + idle, "{renewed}");
    assert_eq!(number(&item, VERSION_ATTRIBUTE), Some(3));
    assert_eq!(run.tick(None, None).await.unwrap().state_writes, 0);
}

#[tokio::test]
async fn a_resource_vanishing_while_another_run_delivers_its_notifications_waits_for_it() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (answers, _) = story("app-stack", 0);
    let ticks = vec![
        vec![("app-stack".to_owned(), answers[0].clone())],
        vec![("app-stack".to_owned(), answers[1].clone())],
        vec![],
    ];
    let endpoint = codeconnections(scenario(ticks)).await;
    let receivers = Receivers::start().await;
    let names = [name("app-stack")];
    let run = runner(
        &endpoint,
        server.store(&table).0,
        receivers.destinations(),
        settings(&names),
    );
    run.tick(None, None).await.unwrap();
    // Another run claims the new notification and is still delivering it (it never ends).
    endpoint.set_tick(1);
    let delivering = Runner::new(
        CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url())),
        Dies::new(server.store(&table).0, Point::AfterClaim),
        receivers.destinations(),
        settings(&names),
    );
    tokio::select! {
        _ = delivering.tick(None, None) => panic!("the delivering run was meant to hang"),
        _ = delivering.store().died.notified() => {}
    }
    let claimed = server.raw_item(&table, "app-stack").await;

    endpoint.set_tick(2);
    let vanished = run.tick(None, None).await.unwrap();

    // Not found, and its pending notification belongs to the run delivering it: this run
    // writes nothing (no expiry either) and leaves the stack to it until its lease ends.
    assert_eq!(vanished.state_writes, 0);
    assert_eq!(vanished.failures.len(), 1);
    assert!(
        vanished.failures[0].reason.starts_with("not found"),
        "{:?}",
        vanished.failures
    );
    assert_eq!(vanished.deferred.len(), 1);
    assert!(
        vanished.deferred[0]
            .reason
            .contains("another run is delivering its notifications"),
        "{:?}",
        vanished.deferred
    );
    assert_eq!(
        server.raw_item(&table, "app-stack").await,
        claimed,
        "the claim is left alone"
    );
}

#[tokio::test]
async fn the_server_deletes_the_record_at_its_ttl_and_a_returning_stack_starts_from_a_baseline() {
    let clock = ManualClock::new(seconds_now() as u64);
    let server = Server::start_with_clock(&clock).await;
    let table = server.create_table().await;
    let a = Attempt::new(1_795_680_000, "SUCCEEDED", "a".repeat(40));
    let b = Attempt::new(1_795_690_000, "SUCCEEDED", "b".repeat(40));
    let ticks = vec![
        vec![("app-stack".to_owned(), status("app-stack", &a, Some(&a)))],
        vec![],
        // Back much later, with a newer attempt that ended long ago.
        vec![("app-stack".to_owned(), status("app-stack", &b, Some(&b)))],
    ];
    let endpoint = codeconnections(scenario(ticks)).await;
    let receivers = Receivers::start().await;
    let names = [name("app-stack")];
    let run = runner(
        &endpoint,
        server.store(&table).0,
        receivers.destinations(),
        settings(&names),
    );
    run.tick(None, None).await.unwrap();
    endpoint.set_tick(1);
    assert_eq!(run.tick(None, None).await.unwrap().vanished.len(), 1);

    assert_eq!(server.db.sweep_ttl().unwrap(), 0, "not expired yet");
    assert!(server.raw_item(&table, "app-stack").await.is_some());
    clock.tick(
        sync_notifier::domain::ledger::Policy::DEFAULT_VANISHED_TTL + Duration::from_secs(3600),
    );
    assert_eq!(
        server.db.sweep_ttl().unwrap(),
        1,
        "expired: the server's TTL deletes it"
    );
    assert!(server.raw_item(&table, "app-stack").await.is_none());

    endpoint.set_tick(2);
    let back = run.tick(None, None).await.unwrap();
    assert_eq!(back.baselines, 1);
    assert!(back.transitions.is_empty(), "{:?}", back.transitions);
    assert!(receivers.webhook_ids().is_empty());
}

#[tokio::test]
async fn items_that_are_not_ours_are_reported_and_left_untouched() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (client, _) = server.client();
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let n = |text: &str| AttributeValue::N(text.to_owned());
    let foreign: Vec<(&str, HashMap<String, AttributeValue>)> = vec![
        // Someone else's item under the same key (it even has a version).
        (
            "legacy-stack",
            HashMap::from([
                (KEY.to_owned(), s("legacy-stack")),
                ("owner".to_owned(), s("platform-team")),
                ("lastStatus".to_owned(), s("SUCCEEDED")),
                (VERSION_ATTRIBUTE.to_owned(), n("1")),
            ]),
        ),
        // Written by a newer sync-notifier.
        (
            "future-stack",
            HashMap::from([
                (KEY.to_owned(), s("future-stack")),
                (SCHEMA_ATTRIBUTE.to_owned(), s("sync-notifier/3")),
                (VERSION_ATTRIBUTE.to_owned(), n("3")),
                ("record".to_owned(), s("{\"v2\": true}")),
            ]),
        ),
        // Ours, but the record does not parse.
        (
            "garbled-stack",
            HashMap::from([
                (KEY.to_owned(), s("garbled-stack")),
                (SCHEMA_ATTRIBUTE.to_owned(), s(SCHEMA)),
                (VERSION_ATTRIBUTE.to_owned(), n("1")),
                ("record".to_owned(), s("{\"state\": \"truncated")),
            ]),
        ),
    ];
    for (_, item) in &foreign {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item.clone()))
            .send()
            .await
            .unwrap();
    }
    let a = Attempt::new(1_795_680_000, "SUCCEEDED", "a".repeat(40));
    let b = Attempt::new(1_795_690_000, "INITIATED", "b".repeat(40));
    let every = |attempt: &Attempt| {
        ["legacy-stack", "future-stack", "garbled-stack", "app-stack"]
            .map(|resource| (resource.to_owned(), status(resource, attempt, Some(&a))))
            .to_vec()
    };
    let endpoint = codeconnections(scenario(vec![every(&a), every(&b)])).await;
    let receivers = Receivers::start().await;
    let names = ["legacy-stack", "future-stack", "garbled-stack", "app-stack"].map(name);
    let run = runner(
        &endpoint,
        server.store(&table).0,
        receivers.destinations(),
        settings(&names),
    );

    let first = run.tick(None, None).await.unwrap();
    endpoint.set_tick(1);
    let second = run.tick(None, None).await.unwrap();

    for summary in [&first, &second] {
        let reasons: HashMap<&str, &str> = summary
            .failures
            .iter()
            .map(|failure| (failure.resource.as_str(), failure.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons["legacy-stack"].contains("not written by sync-notifier"),
            "{reasons:?}"
        );
        assert!(reasons["legacy-stack"].contains("lastStatus, owner, pk, version"));
        assert!(
            reasons["future-stack"].contains("\"sync-notifier/3\""),
            "{reasons:?}"
        );
        assert!(
            reasons["garbled-stack"].contains("does not parse"),
            "{reasons:?}"
        );
        assert!(
            reasons
                .values()
                .all(|reason| reason.ends_with("left untouched"))
        );
    }
    // app-stack, beside them, went on as usual.
    assert_eq!((first.baselines, first.state_writes), (1, 1));
    assert_eq!(second.state_writes, 2);
    assert_eq!(receivers.webhook_ids().len(), 1);

    // Even a caller that got the version right cannot overwrite a foreign item.
    let (store, _) = server.store(&table);
    let mine = record("legacy-stack", &a, 0);
    assert!(matches!(
        store.save(&name("legacy-stack"), Some(1), &mine).await,
        Err(SaveError::Conflict)
    ));
    for (pk, item) in &foreign {
        assert_eq!(
            server.raw_item(&table, pk).await.as_ref(),
            Some(item),
            "{pk} was changed"
        );
    }
}
