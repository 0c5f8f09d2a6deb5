//! Optional reads fail soft (ARCHITECTURE §13): a blocker read that is denied, throttled,
//! hangs or answers garbage never stops a stack's baseline or its started and failed
//! messages; it is counted, named once with the permission, and `check` still exits 0.
//! Through the real SDK client against the loopback CodeConnections, and the real binary.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use sync_notifier::loopback::{Fault, LoopbackCodeConnections, LoopbackOptions, loopback_client};
use sync_notifier::notify::{ConsoleFormat, Destination};
use sync_notifier::run::{RunSettings, Runner, Summary, Tick};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::LocalStore;

use crate::support::Captured;

const T0: i64 = 1_795_687_200;

fn revision(sha: &str) -> Value {
    json!({"Branch": "main", "Directory": "app.yaml", "OwnerId": "acme", "ProviderType": "GitHub",
           "RepositoryName": "infra", "Sha": sha})
}

fn attempt(minute: i64, status: &str) -> Value {
    let started = T0 + minute * 60;
    json!({"Events": [{"Event": "Deployment of commit started", "Time": started, "Type": "INFO"}],
           "InitialRevision": revision("0000000"), "StartedAt": started, "Status": status,
           "Target": "app", "TargetRevision": revision(&format!("{minute:07}"))})
}

/// How `GetSyncBlockerSummary` misbehaves.
#[derive(Debug, Clone, Copy)]
enum Blockers {
    Denied,
    Throttled,
    Hangs,
    Garbage,
}

/// Three ticks of two stacks: a baseline, a new attempt running, that attempt failed (so
/// rule 9 reads blockers every tick of it). Every blocker read fails as `blockers` says.
fn story(blockers: Blockers) -> (Scenario, LoopbackOptions) {
    let stack = |latest: Value| {
        let mut entry = json!({"LatestSync": latest});
        let error = match blockers {
            Blockers::Denied => Some(json!({"__type": "AccessDeniedException",
                "message": "User: arn:aws:sts::111122223333:assumed-role/handwritten/fn is not authorized to perform: codeconnections:GetSyncBlockerSummary"})),
            Blockers::Throttled => {
                Some(json!({"__type": "ThrottlingException", "message": "Rate exceeded"}))
            }
            Blockers::Hangs | Blockers::Garbage => None,
        };
        if let Some(error) = error {
            entry["SyncBlockerSummary"] = error;
        }
        entry
    };
    let tick = |minute: i64, latest: Value| json!({"@now": T0 + minute * 60, "payments-stack": stack(latest.clone()), "orders-stack": stack(latest)});
    let scenario = json!({"ticks": [
        tick(2, attempt(1, "SUCCEEDED")),
        tick(3, attempt(3, "IN_PROGRESS")),
        tick(4, attempt(3, "FAILED")),
    ]});
    let fault = match blockers {
        Blockers::Hangs => Some(Fault::Hang),
        Blockers::Garbage => Some(Fault::NotCbor),
        Blockers::Denied | Blockers::Throttled => None,
    };
    let options = LoopbackOptions {
        operation_faults: fault
            .map(|fault| HashMap::from([("GetSyncBlockerSummary".to_owned(), fault)]))
            .unwrap_or_default(),
        ..LoopbackOptions::default()
    };
    (Scenario::parse(&scenario.to_string()).unwrap(), options)
}

/// Replays `story(blockers)` through a runner with the console in JSON: the webhook bodies
/// and each tick's summary.
async fn replay(blockers: Blockers) -> (Vec<Value>, Vec<Summary>, LoopbackCodeConnections) {
    let (scenario, options) = story(blockers);
    let endpoint = LoopbackCodeConnections::start(scenario, options)
        .await
        .unwrap();
    let out = Captured::default();
    let console = Destination::console(
        ConsoleFormat::Json,
        std::sync::Arc::new(std::sync::Mutex::new(out.clone())),
        None,
    );
    let runner = Runner::new(
        CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url())),
        LocalStore::in_memory(),
        vec![console],
        RunSettings {
            first_sweep_window: Duration::from_secs(60),
            ..crate::support::settings()
        },
    );
    let mut summaries = Vec::new();
    for tick in 0..endpoint.tick_count() {
        endpoint.set_tick(tick);
        let summary = runner
            .run(Tick {
                now: endpoint.now_of(tick),
                ..Tick::watched()
            })
            .await
            .unwrap();
        summaries.push(summary);
    }
    let bodies = out
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (bodies, summaries, endpoint)
}

#[tokio::test]
async fn a_blocker_read_that_fails_in_any_way_never_silences_a_stack() {
    for (blockers, kind) in [
        (Blockers::Denied, "access denied"),
        (Blockers::Throttled, "throttled"),
        (Blockers::Hangs, "timed out"),
        (Blockers::Garbage, "malformed answer"),
    ] {
        let (bodies, summaries, endpoint) = replay(blockers).await;
        let told: Vec<(&str, &str)> = bodies
            .iter()
            .map(|body| {
                (
                    body["type"].as_str().unwrap(),
                    body["data"]["resourceName"].as_str().unwrap(),
                )
            })
            .collect();
        let mut sorted = told.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                ("sync.failed", "orders-stack"),
                ("sync.failed", "payments-stack"),
                ("sync.started", "orders-stack"),
                ("sync.started", "payments-stack"),
            ],
            "{blockers:?}"
        );
        assert_eq!(summaries[0].baselines, 2, "{blockers:?}: both baselined");
        for summary in &summaries {
            assert_eq!(summary.failure_count, 0, "{blockers:?}: {summary:?}");
            assert!(summary.is_clean(), "{blockers:?}: {summary:?}");
        }
        // First sight and the failed attempt read blockers; each failure is counted.
        for tick in [0, 2] {
            let failed = &summaries[tick].optional_read_failures;
            assert_eq!(failed.len(), 1, "{blockers:?} tick {tick}: {failed:?}");
            assert_eq!(failed[0].api, "GetSyncBlockerSummary");
            assert_eq!(failed[0].kind, kind, "{blockers:?}");
            assert_eq!(failed[0].count, 2, "{blockers:?}");
        }
        assert!(endpoint.calls("GetSyncBlockerSummary") >= 4, "{blockers:?}");
        if let Blockers::Denied = blockers {
            assert!(
                summaries[0].optional_read_failures[0]
                    .fix
                    .contains("add codeconnections:GetSyncBlockerSummary to the function's role"),
                "{:?}",
                summaries[0].optional_read_failures
            );
        }
    }
}

#[tokio::test]
async fn a_blocker_told_active_stays_told_while_reads_fail_and_nothing_is_told_twice_after() {
    let blocker = |status: &str| {
        json!({"ResourceName": "payments-stack", "LatestBlockers": [{"Id": "b-1", "Type": "AUTOMATED",
               "Status": status, "CreatedReason": "a failed sync", "CreatedAt": T0}]})
    };
    let denied = json!({"__type": "AccessDeniedException", "message": "not authorized"});
    let tick = |minute: i64, blockers: Value| json!({"@now": T0 + minute * 60, "payments-stack": {"LatestSync": attempt(1, "FAILED"), "SyncBlockerSummary": blockers}});
    let scenario = json!({"ticks": [
        tick(2, blocker("ACTIVE")),
        tick(3, denied.clone()),
        tick(4, denied),
        tick(5, blocker("ACTIVE")),
        tick(6, blocker("RESOLVED")),
    ]})
    .to_string();
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), scenario).unwrap();
    let (bodies, summaries) =
        crate::support::replay_json(path.path(), &crate::support::config(&[])).await;
    let told: Vec<&str> = bodies
        .iter()
        .map(|body| body["type"].as_str().unwrap())
        .collect();
    assert_eq!(told, ["sync.blocked", "sync.unblocked"]);
    assert_eq!(summaries[1].optional_read_failures[0].kind, "access denied");
    assert!(
        summaries[3].transitions.is_empty(),
        "blocked is not told twice"
    );
}

fn binary() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    command
        .env_clear()
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("STUCK_AFTER_MINUTES", "0")
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn check_exits_zero_and_names_the_missing_permission_once_when_blockers_are_denied() {
    // Five stacks seen for the first time: each one's blocker read is denied.
    let denied = json!({"__type": "AccessDeniedException", "message": "not authorized to perform: codeconnections:GetSyncBlockerSummary"});
    let mut tick = serde_json::Map::new();
    for n in 0..5 {
        tick.insert(
            format!("stack-{n}"),
            json!({"LatestSync": attempt(1, "SUCCEEDED"), "SyncBlockerSummary": denied}),
        );
    }
    let scenario = Scenario::parse(&json!({"ticks": [tick]}).to_string()).unwrap();
    let endpoint = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let output = binary()
        .args(["check", "--state"])
        .arg(home.path().join("state.json"))
        .env("HOME", home.path())
        .env("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url())
        .env("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url())
        .env("RUST_LOG", "warn")
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("check ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("checked 5, 5 seen for the first time"),
        "{stdout}"
    );
    let recap: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("GetSyncBlockerSummary"))
        .collect();
    assert_eq!(recap.len(), 1, "{stdout}");
    assert!(recap[0].contains("failed for 5 stacks"), "{stdout}");
    assert!(
        recap[0].contains("add codeconnections:GetSyncBlockerSummary to the function's role"),
        "{stdout}"
    );
    let warnings = stderr
        .lines()
        .filter(|line| line.contains("an optional read failed"))
        .count();
    assert_eq!(
        warnings, 1,
        "once per process and hour, not per stack:\n{stderr}"
    );
    assert_eq!(endpoint.calls("GetSyncBlockerSummary"), 5);
}

#[tokio::test]
async fn the_permission_is_named_again_an_hour_later_by_the_same_process() {
    // One process replays four ticks half an hour apart; every blocker read is denied.
    let denied = json!({"__type": "AccessDeniedException", "message": "not authorized"});
    let ticks: Vec<Value> = (0..4)
        .map(|n| {
            json!({"@now": T0 + 120 + n * 1800,
                   "payments-stack": {"LatestSync": attempt(1, "FAILED"), "SyncBlockerSummary": denied},
                   "orders-stack": {"LatestSync": attempt(1, "FAILED"), "SyncBlockerSummary": denied}})
        })
        .collect();
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), json!({"ticks": ticks}).to_string()).unwrap();
    let output = binary()
        .arg("replay")
        .arg(path.path())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let warnings = stderr
        .lines()
        .filter(|line| line.contains("an optional read failed"))
        .count();
    // Ticks at 0, 30, 60 and 90 minutes: said at 0 and 60.
    assert_eq!(warnings, 2, "{stderr}");
}
