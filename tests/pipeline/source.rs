//! The CodeConnections adapter through the real SDK client and the loopback CBOR endpoint.

use std::time::Duration;

use futures_util::StreamExt;
use sync_notifier::domain::{ResourceName, StackRef, SyncStatus, Timestamp};
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions, loopback_client};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::{CodeConnectionsSource, SourceErrorKind, StatusSource};

fn name(text: &str) -> StackRef {
    StackRef::local(ResourceName::parse(text).unwrap())
}

async fn endpoint(
    scenario: &str,
    options: LoopbackOptions,
) -> (LoopbackCodeConnections, CodeConnectionsSource) {
    let endpoint = LoopbackCodeConnections::start(Scenario::parse(scenario).unwrap(), options)
        .await
        .unwrap();
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()));
    (endpoint, source)
}

const ONE_STACK: &str = r#"{"ticks": [{"payments-stack": {
  "DesiredState": {"Branch": "main", "Directory": "p.yaml", "OwnerId": "acme", "ProviderType": "GitLab", "RepositoryName": "infra", "Sha": "bbbb"},
  "LatestSync": {
    "Events": [{"Event": "Stack failed", "ExternalId": "arn:aws:cloudformation:us-east-1:1:stack/p/1", "Time": 1795688142.25, "Type": "ERROR"},
               {"Event": "Started", "Time": 1795688100, "Type": "INFO"}],
    "InitialRevision": {"Branch": "main", "Directory": "p.yaml", "OwnerId": "acme", "ProviderType": "GitLab", "RepositoryName": "infra", "Sha": "aaaa"},
    "StartedAt": 1795688100.5,
    "Status": "FAILED",
    "Target": "payments-stack",
    "TargetRevision": {"Branch": "main", "Directory": "p.yaml", "OwnerId": "acme", "ProviderType": "GitLab", "RepositoryName": "infra", "Sha": "cccc"}
  }
}}]}"#;

#[tokio::test]
async fn maps_every_field_of_the_answer_into_the_domain() {
    let (_endpoint, source) = endpoint(ONE_STACK, LoopbackOptions::default()).await;
    let status = source.fetch(&name("payments-stack")).await.unwrap();
    let latest = &status.latest_sync;
    assert_eq!(latest.status, SyncStatus::Failed);
    assert_eq!(
        latest.started_at,
        Timestamp::from_millis(1_795_688_100_500),
        "fractions of seconds survive"
    );
    assert_eq!(latest.target, "payments-stack");
    assert_eq!(latest.initial_revision.sha, "aaaa");
    assert_eq!(latest.target_revision.sha, "cccc");
    assert_eq!(latest.target_revision.provider_type, "GitLab");
    assert_eq!(latest.target_revision.directory, "p.yaml");
    assert_eq!(latest.events.len(), 2);
    assert_eq!(latest.events[0].event_type, "ERROR");
    assert_eq!(
        latest.events[0].time,
        Timestamp::from_millis(1_795_688_142_250)
    );
    assert_eq!(
        latest.events[0].external_id.as_deref(),
        Some("arn:aws:cloudformation:us-east-1:1:stack/p/1")
    );
    assert_eq!(latest.events[1].external_id, None);
    assert_eq!(status.desired_state.unwrap().sha, "bbbb");
    assert!(status.latest_successful_sync.is_none());
}

#[tokio::test]
async fn errors_are_sorted_by_kind_and_throttling_is_retried_by_the_sdk() {
    let scenario = r#"{"ticks": [{
        "throttled": {"__type": "ThrottlingException", "message": "Rate exceeded"},
        "denied": {"__type": "AccessDeniedException", "message": "no"},
        "broken": {"__type": "InternalServerException", "message": "oops"},
        "malformed": {"LatestSync": {"Status": "FAILED"}}
    }]}"#;
    let (endpoint, source) = endpoint(scenario, LoopbackOptions::default()).await;
    let kind = |result: Result<_, sync_notifier::source::SourceError>| result.unwrap_err().kind;
    assert_eq!(
        kind(source.fetch(&name("throttled")).await),
        SourceErrorKind::Throttled
    );
    assert_eq!(
        endpoint.calls("GetResourceSyncStatus"),
        3,
        "the SDK retried throttling twice"
    );
    assert_eq!(
        kind(source.fetch(&name("denied")).await),
        SourceErrorKind::AccessDenied
    );
    assert_eq!(
        endpoint.calls("GetResourceSyncStatus"),
        4,
        "access denied is not retried"
    );
    assert_eq!(
        kind(source.fetch(&name("broken")).await),
        SourceErrorKind::Unavailable
    );
    assert_eq!(
        kind(source.fetch(&name("missing")).await),
        SourceErrorKind::NotFound
    );
    let malformed = source.fetch(&name("malformed")).await.unwrap_err();
    assert_eq!(malformed.kind, SourceErrorKind::Malformed);
    assert!(
        malformed
            .message
            .contains("LatestSync.StartedAt is missing"),
        "{}",
        malformed.message
    );
}

#[tokio::test]
async fn an_unknown_status_is_kept_as_unknown() {
    let scenario = ONE_STACK.replace("\"Status\": \"FAILED\"", "\"Status\": \"QUEUED\"");
    let (_endpoint, source) = endpoint(&scenario, LoopbackOptions::default()).await;
    let status = source.fetch(&name("payments-stack")).await.unwrap();
    assert_eq!(
        status.latest_sync.status,
        SyncStatus::Unknown("QUEUED".into())
    );
}

#[tokio::test]
async fn discovery_walks_every_page_of_links_and_sync_configurations() {
    let names = ["a1", "a2", "a3", "b1", "b2", "b3", "c1"];
    let tick: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                serde_json::json!({"__type": "ThrottlingException"}),
            )
        })
        .collect();
    let scenario = serde_json::json!({"ticks": [tick]}).to_string();
    let (endpoint, source) = endpoint(
        &scenario,
        LoopbackOptions {
            page_size: 2,
            ..LoopbackOptions::default()
        },
    )
    .await;
    let mut found: Vec<String> = source
        .discover()
        .filter_map(|found| async move {
            match found {
                sync_notifier::source::Discovered::Stack(stack) => Some(stack.key()),
                failure => panic!("{failure:?}"),
            }
        })
        .collect()
        .await;
    // Links are listed a few at a time, so their stacks may come in any order; each once.
    found.sort();
    assert_eq!(found, names);
    // 3 links in pages of 2; per link ⌈3/2⌉, ⌈3/2⌉ and ⌈1/2⌉ pages of configurations.
    assert_eq!(endpoint.calls("ListRepositoryLinks"), 2);
    assert_eq!(endpoint.calls("ListSyncConfigurations"), 5);
}

/// An endpoint answering after 50 ms, where every one of `names` is denied its status.
async fn denied_stacks_at_50_ms(
    names: &[String],
    options: LoopbackOptions,
) -> (LoopbackCodeConnections, CodeConnectionsSource) {
    let tick: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|name| {
            let denied = serde_json::json!({"__type": "AccessDeniedException"});
            (name.clone(), denied)
        })
        .collect();
    let scenario = serde_json::json!({"ticks": [tick]}).to_string();
    let options = LoopbackOptions {
        latency: Duration::from_millis(50),
        ..options
    };
    endpoint(&scenario, options).await
}

#[tokio::test]
async fn the_stand_in_answers_when_its_latency_has_passed_and_not_before() {
    // The bench's ideal counts the latency per call and nothing more: the stand-in makes its
    // answer while the latency runs, but never sends it early.
    let options = LoopbackOptions {
        latency: Duration::from_millis(50),
        ..LoopbackOptions::default()
    };
    let (endpoint, source) = endpoint(ONE_STACK, options).await;
    // An answer and an error alike.
    for stack in ["payments-stack", "no-such-stack"] {
        let started = std::time::Instant::now();
        let answer = source.fetch(&name(stack)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(50), "{stack}: {waited:?}");
        match (stack, answer) {
            ("payments-stack", Ok(status)) => {
                assert_eq!(status.latest_sync.status, SyncStatus::Failed)
            }
            ("no-such-stack", Err(error)) => assert_eq!(error.kind, SourceErrorKind::NotFound),
            (stack, other) => panic!("{stack}: {other:?}"),
        }
    }
    assert_eq!(endpoint.calls("GetResourceSyncStatus"), 2);
}

#[tokio::test]
async fn a_tick_fetches_with_bounded_concurrency() {
    // 32 resources answered in 50 ms each with concurrency 8: calls overlap, never more than 8.
    let names: Vec<String> = (0..32).map(|i| format!("stack-{i}")).collect();
    let (endpoint, source) = denied_stacks_at_50_ms(&names, LoopbackOptions::default()).await;
    let settings = sync_notifier::run::RunSettings {
        fetch_concurrency: 8,
        ..crate::support::settings()
    };
    let runner = sync_notifier::run::Runner::new(
        source,
        sync_notifier::store::LocalStore::in_memory(),
        Vec::new(),
        settings,
    );
    let summary = runner.tick(None, None).await.unwrap();
    assert_eq!(summary.resources_checked, 32);
    assert_eq!(
        summary.failures.len(),
        32,
        "every resource failed alone, none stopped the others"
    );
    assert_eq!(
        endpoint.calls("GetResourceSyncStatus"),
        32,
        "exactly one call each"
    );
    let peak = endpoint.max_in_flight_of("GetResourceSyncStatus");
    assert!(
        (2..=8).contains(&peak),
        "at most 8 calls at once, and more than one: {peak}"
    );
}

#[tokio::test]
async fn discovery_lists_a_few_repository_links_at_once() {
    // 12 links of one stack each, 50 ms per call: read one after another they would
    // hold the tick for 13 calls; a few at a time, never more than LINKS_AT_ONCE.
    let expected: Vec<String> = (0..12).map(|i| format!("stack-{i:02}")).collect();
    let one_stack_links = LoopbackOptions {
        stacks_per_link: 1,
        ..LoopbackOptions::default()
    };
    let (endpoint, source) = denied_stacks_at_50_ms(&expected, one_stack_links).await;
    let mut found: Vec<String> = source
        .discover()
        .map(|found| match found {
            sync_notifier::source::Discovered::Stack(stack) => stack.key(),
            failure => panic!("{failure:?}"),
        })
        .collect()
        .await;
    found.sort();
    assert_eq!(found, expected);
    assert_eq!(
        endpoint.calls("ListSyncConfigurations"),
        12,
        "one page per link"
    );
    let peak = endpoint.max_in_flight_of("ListSyncConfigurations");
    let limit = sync_notifier::source::LINKS_AT_ONCE;
    assert!(
        (2..=limit).contains(&peak),
        "several links at once, at most {limit}: {peak}"
    );
}

#[tokio::test]
async fn past_the_deadline_no_new_work_starts_and_nothing_is_written() {
    let (endpoint, source) = endpoint(ONE_STACK, LoopbackOptions::default()).await;
    let settings = crate::support::settings();
    let runner = sync_notifier::run::Runner::new(
        source,
        sync_notifier::store::LocalStore::in_memory(),
        Vec::new(),
        settings,
    );
    let summary = runner
        .tick(None, Some(tokio::time::Instant::now()))
        .await
        .unwrap();
    assert_eq!(summary.deferred.len(), 1, "{summary:?}");
    assert_eq!(summary.state_writes, 0);
    assert_eq!(
        endpoint.calls("GetResourceSyncStatus"),
        0,
        "no status call started after the deadline"
    );
    // The next tick, with time to spare, does the work.
    let summary = runner.tick(None, None).await.unwrap();
    assert_eq!(summary.baselines, 1);
}

#[tokio::test]
async fn serve_scenario_moves_to_the_next_tick_after_a_quiet_moment() {
    let scenario = r#"{"ticks": [{"a": {"__type": "AccessDeniedException"}}, {"a": {"__type": "ThrottlingException"}}]}"#;
    // The stand-in reads the wall clock (it has no clock of its own to set): a quiet moment
    // of two seconds, and a burst of two calls made at once, so the burst never spans it.
    let idle = Duration::from_secs(2);
    let options = LoopbackOptions {
        advance_after_idle: Some(idle),
        ..LoopbackOptions::default()
    };
    let (endpoint, source) = endpoint(scenario, options).await;
    let a = name("a");
    let (first, second) = tokio::join!(source.fetch(&a), source.fetch(&a));
    assert_eq!(first.unwrap_err().kind, SourceErrorKind::AccessDenied);
    assert_eq!(
        second.unwrap_err().kind,
        SourceErrorKind::AccessDenied,
        "same burst, same tick"
    );
    assert_eq!(endpoint.calls("GetResourceSyncStatus"), 2);
    assert_eq!(endpoint.tick(), 0);
    // At least the quiet moment (the bound is the behaviour).
    tokio::time::sleep(idle + Duration::from_millis(100)).await;
    assert_eq!(
        source.fetch(&name("a")).await.unwrap_err().kind,
        SourceErrorKind::Throttled
    );
    assert_eq!(endpoint.tick(), 1);
    tokio::time::sleep(idle + Duration::from_millis(100)).await;
    assert_eq!(
        source.fetch(&name("a")).await.unwrap_err().kind,
        SourceErrorKind::Throttled,
        "the last tick stays"
    );
    assert_eq!(endpoint.tick(), 1);
}

#[tokio::test]
async fn a_checked_stack_renews_its_idle_expiry_only_when_a_third_of_it_is_left() {
    use sync_notifier::store::{Loaded, StateStore};
    let (_endpoint, source) = endpoint(ONE_STACK, LoopbackOptions::default()).await;
    let store = std::sync::Arc::new(sync_notifier::store::LocalStore::in_memory());
    let settings = crate::support::settings();
    let runner = sync_notifier::run::Runner::new(source, store.clone(), Vec::new(), settings);
    let stack = "payments-stack".to_owned();
    let idle_ms = sync_notifier::domain::ledger::Policy::DEFAULT_IDLE_TTL.as_millis() as i64;
    let expiry = || async {
        match &store.load(std::slice::from_ref(&stack)).await.unwrap()[&stack] {
            Loaded::Found { version, record } => (*version, record.expires_at.expect("an expiry")),
            other => panic!("{other:?}"),
        }
    };

    let before = Timestamp::now();
    assert_eq!(
        runner.tick(None, None).await.unwrap().state_writes,
        1,
        "the baseline"
    );
    let (version, first) = expiry().await;
    assert!(
        first >= before.plus_millis(idle_ms),
        "a record nobody checks for 90 days runs out"
    );
    assert_eq!(
        runner.tick(None, None).await.unwrap().state_writes,
        0,
        "plenty left: nothing written"
    );

    // Ten days left: the next check renews it, once.
    let Loaded::Found { mut record, .. } = store
        .load(std::slice::from_ref(&stack))
        .await
        .unwrap()
        .remove(&stack)
        .unwrap()
    else {
        panic!()
    };
    record.expires_at = Some(Timestamp::now().plus_millis(10 * 24 * 3600 * 1000));
    store.save(&stack, Some(version), &record).await.unwrap();
    let renewing = Timestamp::now();
    assert_eq!(runner.tick(None, None).await.unwrap().state_writes, 1);
    assert!(expiry().await.1 >= renewing.plus_millis(idle_ms));
    assert_eq!(runner.tick(None, None).await.unwrap().state_writes, 0);
}

/// Rule 9's call budget, over an hour of one-minute ticks: a stack whose latest attempt
/// failed, or with a blocker told active, is read every tick; every other stack exactly
/// once in the hour, spread over the ticks; nothing else.
#[tokio::test]
async fn blockers_are_read_within_rule_9_s_call_budget() {
    use serde_json::{Value, json};
    let t0: i64 = 1_795_687_200;
    let revision = json!({"Branch": "main", "Directory": "s.yaml", "OwnerId": "acme",
                          "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": "a1"});
    let attempt = |status: &str| {
        json!({"Events": [], "InitialRevision": revision, "StartedAt": t0 - 600, "Status": status,
               "Target": "x", "TargetRevision": revision})
    };
    let healthy: Vec<String> = (0..60).map(|i| format!("healthy-{i:03}")).collect();
    let failed: Vec<String> = (0..3).map(|i| format!("failed-{i}")).collect();
    let mut stacks = serde_json::Map::new();
    for name in &healthy {
        stacks.insert(name.clone(), json!({"LatestSync": attempt("SUCCEEDED")}));
    }
    for name in &failed {
        stacks.insert(name.clone(), json!({"LatestSync": attempt("FAILED")}));
    }
    stacks.insert(
        "blocked-stack".into(),
        json!({"LatestSync": attempt("SUCCEEDED"), "SyncBlockerSummary": {
            "ResourceName": "blocked-stack",
            "LatestBlockers": [{"Id": "b1", "Type": "AUTOMATED", "Status": "ACTIVE",
                                "CreatedReason": "a failed sync", "CreatedAt": t0 - 500}]}}),
    );
    let scenario = json!({"ticks": [Value::Object(stacks)]}).to_string();
    let (endpoint, source) = endpoint(
        &scenario,
        LoopbackOptions {
            page_size: 50,
            stacks_per_link: 25,
            ..LoopbackOptions::default()
        },
    )
    .await;
    let runner = sync_notifier::run::Runner::new(
        source,
        sync_notifier::store::LocalStore::in_memory(),
        Vec::new(),
        sync_notifier::run::RunSettings {
            first_sweep_window: Duration::from_secs(90),
            ..crate::support::settings()
        },
    );
    let tick = |minute: i64| {
        runner.run(sync_notifier::run::Tick {
            now: Some(Timestamp::from_millis((t0 + minute * 60) * 1000)),
            ..sync_notifier::run::Tick::watched()
        })
    };
    let reads = || endpoint.calls("GetSyncBlockerSummary");

    // First sight: every stack's blockers are read, so one already active is told.
    let first = tick(0).await.unwrap();
    assert_eq!(reads(), 64);
    assert_eq!(first.transitions.len(), 1, "{first:?}");

    let mut per_tick = Vec::new();
    for minute in 1..=60 {
        let before = reads();
        let summary = tick(minute).await.unwrap();
        assert!(summary.failures.is_empty(), "{summary:?}");
        per_tick.push(reads() - before);
    }
    for name in failed.iter().map(String::as_str).chain(["blocked-stack"]) {
        assert_eq!(
            endpoint.calls_for("GetSyncBlockerSummary", name),
            61,
            "{name}: every tick"
        );
    }
    for name in &healthy {
        assert_eq!(
            endpoint.calls_for("GetSyncBlockerSummary", name),
            2,
            "{name}: at first sight, then once in the hour"
        );
    }
    let swept: Vec<usize> = per_tick.iter().map(|reads| reads - 4).collect();
    assert_eq!(swept.iter().sum::<usize>(), 60);
    assert!(
        swept.iter().all(|&reads| reads <= 6),
        "spread over the ticks, not all in one: {swept:?}"
    );
    eprintln!("hourly sweep reads per one-minute tick: {swept:?}");
}
