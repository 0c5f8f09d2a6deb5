//! One scenario per transition rule (ARCHITECTURE §6), replayed through the real pipeline.

use crate::support::{config, replay_json, scenario, told};

fn t(kind: &str, resource: &str, started: &str) -> (String, String, String) {
    (kind.to_owned(), resource.to_owned(), started.to_owned())
}

#[tokio::test]
async fn rule_1_first_sight_is_a_baseline() {
    let (bodies, summaries) =
        replay_json(&scenario("rule-1-first-sight-is-a-baseline"), &config(&[])).await;
    assert!(bodies.is_empty(), "{bodies:?}");
    assert_eq!(summaries[0].baselines, 1);
    assert_eq!(summaries[0].state_writes, 1, "the baseline is recorded");
    assert_eq!(
        summaries[1].state_writes, 0,
        "nothing changed, nothing written"
    );
}

#[tokio::test]
async fn rule_2_no_change_is_silent() {
    let (bodies, summaries) =
        replay_json(&scenario("rule-2-no-change-is-silent"), &config(&[])).await;
    assert!(bodies.is_empty(), "{bodies:?}");
    assert_eq!(summaries[2].state_writes, 0);
}

#[tokio::test]
async fn rule_3_the_same_attempt_ending_is_told_once() {
    let (bodies, _) = replay_json(&scenario("rule-3-same-attempt-ends"), &config(&[])).await;
    assert_eq!(
        told(&bodies),
        [t("sync.failed", "app-stack", "2026-11-26T10:10:00Z")]
    );
    let data = &bodies[0]["data"];
    assert_eq!(data["status"], "FAILED");
    assert_eq!(data["previousStatus"], "IN_PROGRESS");
    assert_eq!(data["syncType"], "CFN_STACK_SYNC");
    assert_eq!(data["target"], "app-stack");
    assert_eq!(data["events"].as_array().unwrap().len(), 3);
    assert_eq!(data["events"][1]["type"], "ERROR");
    assert_eq!(
        bodies[0]["timestamp"], "2026-11-26T10:11:20Z",
        "when the last event happened"
    );
}

#[tokio::test]
async fn rule_4_a_new_attempt_is_told_started_once() {
    let (bodies, _) = replay_json(&scenario("rule-4-new-attempt-starts"), &config(&[])).await;
    assert_eq!(
        told(&bodies),
        [t("sync.started", "app-stack", "2026-11-26T10:20:00Z")]
    );
    assert_eq!(bodies[0]["data"]["previousStatus"], serde_json::Value::Null);
}

#[tokio::test]
async fn rule_5_an_attempt_that_ended_between_checks_is_told_only_its_ending() {
    let (bodies, _) =
        replay_json(&scenario("rule-5-new-attempt-already-ended"), &config(&[])).await;
    assert_eq!(
        told(&bodies),
        [t("sync.succeeded", "app-stack", "2026-11-26T10:20:00Z")]
    );
    assert_eq!(bodies[0]["data"]["durationSeconds"], 90);
}

#[tokio::test]
async fn rule_6_a_replaced_attempt_is_told_its_ending_first() {
    let (bodies, _) = replay_json(
        &scenario("rule-6-replaced-attempt-ends-first"),
        &config(&[]),
    )
    .await;
    assert_eq!(
        told(&bodies),
        [
            t("sync.succeeded", "app-stack", "2026-11-26T10:10:00Z"),
            t("sync.started", "app-stack", "2026-11-26T10:20:00Z"),
            t("sync.failed", "app-stack", "2026-11-26T10:20:00Z"),
            t("sync.failed", "app-stack", "2026-11-26T10:30:00Z"),
        ]
    );
    // The succeeded one is LatestSuccessfulSync, with its events; the failed one is inferred.
    assert_eq!(bodies[0]["data"]["events"].as_array().unwrap().len(), 2);
    assert!(
        bodies[2]["data"]["note"]
            .as_str()
            .unwrap()
            .contains("no longer reports its events")
    );
    assert!(bodies[2]["data"]["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn rule_7_order_follows_attempts_and_nothing_is_told_twice() {
    // A (10:10) runs; B (10:30) replaces it, C (10:50) replaces B, D (11:10) replaces C.
    // Between those, reads go back to the attempt before (stale) and forth again.
    let (bodies, summaries) =
        replay_json(&scenario("rule-7-order-and-exactly-once"), &config(&[])).await;
    assert_eq!(
        told(&bodies),
        [
            // One tick: A's success (it is the latest success) before B's start.
            t("sync.succeeded", "app-stack", "2026-11-26T10:10:00Z"),
            t("sync.started", "app-stack", "2026-11-26T10:30:00Z"),
            // One tick: B's failure (the latest success is older than B) before C's start.
            t("sync.failed", "app-stack", "2026-11-26T10:30:00Z"),
            t("sync.started", "app-stack", "2026-11-26T10:50:00Z"),
            // D succeeded and is the latest success, so how C ended is unknown: no
            // message of its own, and D's says which attempt it replaced.
            t("sync.succeeded", "app-stack", "2026-11-26T11:10:00Z"),
        ]
    );
    let told_in: Vec<usize> = summaries.iter().map(|s| s.transitions.len()).collect();
    assert_eq!(
        told_in,
        [0, 2, 0, 0, 2, 0, 0, 1, 0, 0],
        "stale and alternating reads tell nothing"
    );
    assert!(
        bodies[2]["data"]["note"]
            .as_str()
            .is_some_and(|note| note.contains("AWS no longer reports its events")),
        "{}",
        bodies[2]
    );
    assert_eq!(
        bodies[4]["data"]["replaced"],
        serde_json::json!({"startedAt": "2026-11-26T10:50:00Z", "sha": "0000003aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "outcome": "unknown"})
    );
    let ids: std::collections::HashSet<_> = bodies.iter().map(|b| &b["data"]["id"]).collect();
    assert_eq!(ids.len(), bodies.len(), "nothing told twice");
}

#[tokio::test]
async fn rule_6_the_note_about_an_unknown_outcome_waits_for_the_new_attempts_first_message() {
    // a runs; b replaces it, first read PAUSED (a status we do not know) while a newer c is
    // the latest success, so a's outcome is unknown; two ticks later b succeeds.
    let (bodies, _) = replay_json(
        &scenario("rule-6-note-waits-for-the-new-attempts-first-message"),
        &config(&[]),
    )
    .await;
    assert_eq!(
        told(&bodies),
        [t("sync.succeeded", "app-stack", "2025-11-26T06:56:40Z")]
    );
    assert_eq!(
        bodies[0]["data"]["replaced"],
        serde_json::json!({"startedAt": "2025-11-26T06:53:20Z", "sha": "a".repeat(40), "outcome": "unknown"})
    );
}

#[tokio::test]
async fn rule_7_never_twice_for_more_attempts_sharing_a_start_than_the_record_keeps() {
    // A baseline, 17 attempts sharing one start each read SUCCEEDED, then the first again.
    let (bodies, summaries) = replay_json(
        &scenario("rule-7-never-twice-for-many-attempts-of-one-start"),
        &config(&[]),
    )
    .await;
    assert_eq!(bodies.len(), 17, "one success per attempt");
    let shas: std::collections::HashSet<&str> = bodies
        .iter()
        .map(|body| body["data"]["targetRevision"]["sha"].as_str().unwrap())
        .collect();
    assert_eq!(shas.len(), 17);
    let last = summaries.last().unwrap();
    assert!(last.transitions.is_empty(), "{:?}", last.transitions);
    assert_eq!(last.state_writes, 0);
}

#[tokio::test]
async fn a_recording_without_now_runs_on_its_own_clock_whatever_the_day() {
    // Recorded in November 2025, no `@now`, replayed with the default STUCK_AFTER_MINUTES
    // (60): the attempt is stuck only once its own events show it has run an hour.
    let path = scenario("a-recording-keeps-its-own-clock");
    let (bodies, _) = replay_json(&path, &config(&[])).await;
    assert_eq!(
        told(&bodies),
        [
            t("sync.started", "app-stack", "2025-11-26T07:10:00Z"),
            t("sync.stuck", "app-stack", "2025-11-26T07:10:00Z"),
            t("sync.succeeded", "app-stack", "2025-11-26T07:10:00Z"),
        ]
    );
    // Stuck at the tick whose latest event is 61 minutes after the start.
    assert_eq!(bodies[1]["timestamp"], "2025-11-26T08:11:40Z");
    assert_eq!(bodies[1]["data"]["runningSeconds"], 3700);
    // A second replay tells exactly the same (no wall clock in it).
    let (again, _) = replay_json(&path, &config(&[])).await;
    assert_eq!(again, bodies);
}

#[tokio::test]
async fn rule_8_a_failed_check_keeps_the_recorded_state_and_the_others_go_on() {
    let (bodies, summaries) =
        replay_json(&scenario("rule-8-failed-checks-keep-state"), &config(&[])).await;
    let failures: Vec<(String, String)> = summaries[1]
        .failures
        .iter()
        .map(|f| {
            (
                f.resource.clone(),
                f.reason.split(':').next().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        [
            ("denied-stack".into(), "access denied".into()),
            ("malformed-stack".into(), "malformed answer".into()),
            ("throttled-stack".into(), "throttled".into()),
        ]
    );
    // ok-stack went on during the failures; the others ended while unobserved and are told
    // once they can be checked again, because their recorded state was kept.
    assert_eq!(
        told(&bodies),
        [
            t("sync.succeeded", "ok-stack", "2026-11-26T10:10:00Z"),
            t("sync.succeeded", "denied-stack", "2026-11-26T10:10:00Z"),
            t("sync.failed", "throttled-stack", "2026-11-26T10:10:00Z"),
        ]
    );
    assert_eq!(
        summaries[1].state_writes, 2,
        "only ok-stack is written: its claim, then its delivery record"
    );
    assert!(summaries[2].failures.is_empty());
}

#[tokio::test]
async fn rule_9_each_blocker_is_told_blocked_once_and_unblocked_once() {
    let (bodies, summaries) =
        replay_json(&scenario("rule-9-blockers-told-once"), &config(&[])).await;
    let blockers: Vec<(String, String, String)> = bodies
        .iter()
        .map(|body| {
            (
                body["type"].as_str().unwrap().to_owned(),
                body["data"]["resourceName"].as_str().unwrap().to_owned(),
                body["data"]["blocker"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let b = |kind: &str, stack: &str, id: &str| (kind.to_owned(), stack.to_owned(), id.to_owned());
    assert_eq!(
        blockers,
        [
            // First sight: the failure is a baseline, but an active blocker needs action.
            b("sync.blocked", "app-stack", "9f1c2e7a-app"),
            // A new failure and the blocker it left, in that order.
            b("sync.failed", "web-stack", ""),
            b("sync.blocked", "web-stack", "4d8b0a13-web"),
            // Resolved…
            b("sync.unblocked", "app-stack", "9f1c2e7a-app"),
            // …or gone from the answer; a new attempt is told as usual.
            b("sync.started", "app-stack", ""),
            b("sync.unblocked", "web-stack", "4d8b0a13-web"),
        ]
    );
    let per_tick: Vec<usize> = summaries.iter().map(|s| s.transitions.len()).collect();
    assert_eq!(per_tick, [1, 2, 1, 2], "told in the tick it was seen");

    let blocked = &bodies[0]["data"];
    assert_eq!(blocked["blocker"]["status"], "ACTIVE");
    assert_eq!(blocked["blocker"]["type"], "AUTOMATED");
    assert_eq!(blocked["blocker"]["createdAt"], "2026-11-26T10:00:45Z");
    assert!(
        blocked["blocker"]["createdReason"]
            .as_str()
            .unwrap()
            .contains("failed to update")
    );
    let unblocked = &bodies[3]["data"]["blocker"];
    assert_eq!(unblocked["status"], "RESOLVED");
    assert_eq!(
        unblocked["resolvedReason"],
        "Fixed the template; redeploying"
    );
}

#[tokio::test]
async fn rule_10_a_sync_running_too_long_is_told_stuck_once_and_its_end_says_so() {
    let (bodies, summaries) = replay_json(&scenario("rule-10-stuck-told-once"), &config(&[])).await;
    assert_eq!(
        told(&bodies),
        [
            t("sync.started", "quick-stack", "2026-11-26T10:55:00Z"),
            t("sync.stuck", "slow-stack", "2026-11-26T10:00:00Z"),
            t("sync.succeeded", "slow-stack", "2026-11-26T10:00:00Z"),
        ]
    );
    let per_tick: Vec<usize> = summaries.iter().map(|s| s.transitions.len()).collect();
    assert_eq!(
        per_tick,
        [0, 0, 2, 0, 1],
        "stuck at 61 minutes, not again at 90"
    );
    assert_eq!(bodies[1]["data"]["runningSeconds"], 3660);
    assert_eq!(bodies[2]["data"]["reportedStuck"], true);
    assert_eq!(bodies[2]["data"]["durationSeconds"], 5700);

    // STUCK_AFTER_MINUTES moves the threshold; 0 turns rule 10 off.
    let (later, _) = replay_json(
        &scenario("rule-10-stuck-told-once"),
        &config(&[("STUCK_AFTER_MINUTES", "80")]),
    )
    .await;
    assert_eq!(later[1]["type"], "sync.stuck");
    assert_eq!(later[1]["data"]["runningSeconds"], 5400);
    let (off, _) = replay_json(
        &scenario("rule-10-stuck-told-once"),
        &config(&[("STUCK_AFTER_MINUTES", "0")]),
    )
    .await;
    assert!(off.iter().all(|body| body["type"] != "sync.stuck"));
    assert!(
        off.iter()
            .all(|body| body["data"].get("reportedStuck").is_none()
                || body["data"]["reportedStuck"] == false)
    );
}

#[tokio::test]
async fn notify_on_leaves_out_the_kinds_not_asked_for_but_still_records_them() {
    let path = scenario("demo");
    let (bodies, summaries) = replay_json(&path, &config(&[("NOTIFY_ON", "failed")])).await;
    assert_eq!(
        told(&bodies),
        [t("sync.failed", "orders-stack", "2026-11-26T10:02:10Z")]
    );
    let decided: usize = summaries.iter().map(|s| s.transitions.len()).sum();
    assert_eq!(
        decided, 4,
        "every transition is decided and recorded, only failures are sent"
    );
}

#[tokio::test]
async fn the_demo_tells_the_story_of_three_stacks() {
    let (bodies, summaries) = replay_json(&scenario("demo"), &config(&[])).await;
    // Resources are handled concurrently, so only the order per resource is promised.
    let payments: Vec<_> = told(&bodies)
        .into_iter()
        .filter(|(_, r, _)| r == "payments-stack")
        .collect();
    let orders: Vec<_> = told(&bodies)
        .into_iter()
        .filter(|(_, r, _)| r == "orders-stack")
        .collect();
    assert_eq!(
        payments,
        [
            t("sync.started", "payments-stack", "2026-11-26T10:01:00Z"),
            t("sync.succeeded", "payments-stack", "2026-11-26T10:01:00Z"),
        ]
    );
    assert_eq!(
        orders,
        [
            t("sync.started", "orders-stack", "2026-11-26T10:02:10Z"),
            t("sync.failed", "orders-stack", "2026-11-26T10:02:10Z"),
        ]
    );
    assert_eq!(
        bodies.len(),
        4,
        "the steady catalog-stack is silent: {bodies:?}"
    );
    assert!(summaries.iter().all(|s| s.failures.is_empty()));
    let failed = bodies.iter().find(|b| b["type"] == "sync.failed").unwrap();
    assert_eq!(
        failed["data"]["targetRevision"]["sha"],
        "c4f8a2e6b0d3f7a1c5e9b3d7f1a4c8e2b6d0f3a7"
    );
    assert_eq!(failed["data"]["targetRevision"]["providerType"], "GitHub");
    assert!(
        failed["data"]["events"][2]["event"]
            .as_str()
            .unwrap()
            .contains("Table already exists")
    );
}
