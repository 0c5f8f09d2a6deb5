//! Keep working under faults: every call bounded in time and size, answers that break the
//! model refused by name, errors that say what happened, a state file two processes cannot
//! share, and a terminal nothing from AWS can take over. Through the real SDK client and
//! the real binary, against a loopback CodeConnections that hangs, trickles, sends
//! oversized or broken answers, or is not there at all.

use std::collections::HashMap;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use sync_notifier::domain::{ResourceName, StackRef};
use sync_notifier::loopback::{Fault, LoopbackCodeConnections, LoopbackOptions, loopback_client};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::{CodeConnectionsSource, SourceErrorKind, StatusSource};

const BINARY: &str = env!("CARGO_BIN_EXE_sync-notifier");

fn revision(sha: &str) -> Value {
    json!({"Branch": "main", "Directory": "app.yaml", "OwnerId": "acme", "ProviderType": "GitHub",
           "RepositoryName": "infra", "Sha": sha})
}

/// A `GetResourceSyncStatus` answer with these events.
fn answer(status: &str, sha: &str, events: Vec<Value>) -> Value {
    json!({"LatestSync": {"Events": events, "InitialRevision": revision("0000000"), "StartedAt": 1795687260,
                          "Status": status, "Target": "app", "TargetRevision": revision(sha)}})
}

fn ok_answer() -> Value {
    answer(
        "SUCCEEDED",
        "a1b2c3d",
        vec![json!({"Event": "done", "Time": 1795687300, "Type": "INFO"})],
    )
}

/// A loopback endpoint serving one tick of `stacks`, misbehaving as `faults` say.
async fn endpoint(stacks: &[(&str, Value)], faults: &[(&str, Fault)]) -> LoopbackCodeConnections {
    let tick: serde_json::Map<String, Value> = stacks
        .iter()
        .map(|(name, answer)| (name.to_string(), answer.clone()))
        .collect();
    let scenario = Scenario::parse(&json!({"ticks": [tick]}).to_string()).unwrap();
    let options = LoopbackOptions {
        faults: faults
            .iter()
            .map(|(name, fault)| (name.to_string(), fault.clone()))
            .collect::<HashMap<_, _>>(),
        ..LoopbackOptions::default()
    };
    LoopbackCodeConnections::start(scenario, options)
        .await
        .unwrap()
}

fn stack(name: &str) -> StackRef {
    StackRef::local(ResourceName::parse(name).unwrap())
}

/// Runs the binary with a clean environment (and `vars`), failing the test rather than
/// hanging if it does not end within a minute.
async fn run(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("STUCK_AFTER_MINUTES", "0")
        .envs(vars.iter().copied())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command ends: every call is bounded")
        .unwrap()
}

#[tokio::test]
async fn a_status_call_that_never_answers_is_cut_and_the_other_stacks_go_on() {
    let endpoint = endpoint(
        &[("hang-a", ok_answer()), ("ok-b", ok_answer())],
        &[("hang-a", Fault::Hang)],
    )
    .await;
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let output = run(
        &[
            "check",
            "--resources",
            "hang-a,ok-b",
            "--state",
            state.to_str().unwrap(),
        ],
        &[
            ("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url()),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "a stack could not be checked: {stdout}"
    );
    assert!(stdout.contains("hang-a: timed out"), "{stdout}");
    let recorded: HashMap<String, Value> =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(
        recorded.contains_key("ok-b"),
        "ok-b was recorded: {recorded:?}"
    );
    assert!(!recorded.contains_key("hang-a"));
}

#[tokio::test]
async fn an_answer_over_a_megabyte_is_not_read_and_is_refused_by_name() {
    let endpoint = endpoint(
        &[("big", ok_answer())],
        &[("big", Fault::Oversized(3 * 1024 * 1024))],
    )
    .await;
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()));
    let error = source.fetch(&stack("big")).await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::Malformed, "{error}");
    assert!(
        error.message.contains("over the 1 MB sync-notifier reads"),
        "{error}"
    );
}

#[tokio::test]
async fn an_answer_that_trickles_in_is_cut_by_the_attempt_timeout() {
    let endpoint = endpoint(
        &[("slow", ok_answer())],
        &[("slow", Fault::Trickle(Duration::from_millis(200)))],
    )
    .await;
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()));
    let error = source.fetch(&stack("slow")).await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::TimedOut, "{error}");
    assert!(error.message.contains("timed out"), "{error}");
}

#[tokio::test]
async fn errors_say_what_happened() {
    let endpoint = endpoint(
        &[("garbled", ok_answer()), ("empty-500", ok_answer())],
        &[
            ("garbled", Fault::NotCbor),
            ("empty-500", Fault::EmptyStatus(500)),
        ],
    )
    .await;
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()));
    let garbled = source.fetch(&stack("garbled")).await.unwrap_err();
    assert_eq!(garbled.kind, SourceErrorKind::Malformed, "{garbled}");
    assert!(
        garbled.message.contains("could not be decoded"),
        "{garbled}"
    );
    let empty = source.fetch(&stack("empty-500")).await.unwrap_err();
    assert_eq!(empty.kind, SourceErrorKind::Unavailable, "{empty}");
    assert!(empty.message.contains("HTTP 500 with no body"), "{empty}");

    // Nobody listening there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let source = CodeConnectionsSource::new(loopback_client(&closed));
    let refused = source.fetch(&stack("any")).await.unwrap_err();
    assert!(
        refused.message.contains("cannot connect to the endpoint"),
        "{refused}"
    );
}

#[tokio::test]
async fn values_past_the_model_are_cut_or_refused_by_name() {
    let long_sha = "f".repeat(1000);
    let far_future = json!({"LatestSync": {"Events": [], "InitialRevision": revision("0"), "StartedAt": 1e20,
                                            "Status": "FAILED", "Target": "app", "TargetRevision": revision("1")}});
    let endpoint = endpoint(
        &[
            ("long-sha", answer("FAILED", &long_sha, vec![])),
            ("far-future", far_future),
        ],
        &[],
    )
    .await;
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()));
    let status = source.fetch(&stack("long-sha")).await.unwrap();
    assert_eq!(
        status.latest_sync.target_revision.sha.len(),
        255,
        "a SHA is at most 255 (the model)"
    );
    let error = source.fetch(&stack("far-future")).await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::Malformed, "{error}");
    assert!(error.message.contains("LatestSync.StartedAt"), "{error}");
}

#[tokio::test]
async fn pretty_output_never_passes_control_characters_to_the_terminal_and_shows_ten_events() {
    let nasty = "\u{1b}]0;pwned\u{7}\u{1b}[2J forged\nline \u{202e}reversed\u{200b}";
    let mut events: Vec<Value> = (0..30)
        .map(|index| json!({"Event": format!("event {index:02} {nasty}"), "Time": 1795687300 + index, "Type": "ERROR"}))
        .collect();
    events.push(json!({"Event": "x".repeat(100_000), "Time": 1795687400, "Type": "ERROR"}));
    let running = answer("IN_PROGRESS", "b2c3d4e", vec![]);
    let failed = answer("FAILED", "b2c3d4e", events);
    let scenario = json!({"ticks": [{"@now": 1795687280, "app": running}, {"@now": 1795687500, "app": failed}]});
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("nasty.json");
    std::fs::write(&path, scenario.to_string()).unwrap();
    let output = run(&["replay", path.to_str().unwrap()], &[]).await;
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    for forbidden in ['\u{1b}', '\u{7}', '\u{202e}', '\u{200b}'] {
        assert!(
            !stdout.contains(forbidden),
            "{forbidden:?} reached the terminal: {stdout}"
        );
    }
    assert!(
        stdout.contains("\\u{1b}]0;pwned\\u{7}"),
        "made visible: {stdout}"
    );
    let event_lines = stdout
        .lines()
        .filter(|line| line.contains("   ERROR "))
        .count();
    assert_eq!(event_lines, 10, "{stdout}");
    assert!(stdout.contains("…and 21 more"), "{stdout}");
    assert!(
        stdout.lines().all(|line| line.chars().count() < 400),
        "every event cut to one short line"
    );
}

#[tokio::test]
async fn two_checks_on_one_state_file_never_run_together() {
    let endpoint = endpoint(&[("slow", ok_answer())], &[("slow", Fault::Hang)]).await;
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state = state.to_str().unwrap();
    let vars = [
        ("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url()),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url()),
    ];
    let args = ["check", "--resources", "slow", "--state", state];
    let first = run(&args, &vars);
    let second = async {
        // The first holds the file while its call hangs: start the second once that call
        // has reached the endpoint.
        until(|| endpoint.calls_for("GetResourceSyncStatus", "slow") >= 1).await;
        run(&args, &vars).await
    };
    let (first, second) = tokio::join!(first, second);
    let refused = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{refused}");
    assert!(refused.contains("state file in use"), "{refused}");
    assert_eq!(
        first.status.code(),
        Some(3),
        "the first ran (its stack timed out)"
    );
}

/// Waits (polling, for at most a minute) until `done` holds: the order of events, never
/// their timing, is what a test waits for.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..6000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited a minute for something that did not happen");
}

#[tokio::test]
async fn a_check_killed_mid_delivery_repeats_only_what_was_in_flight() {
    use crate::shared::{Receiver, Reply};
    // Two stacks start a sync; `fast` takes both notifications at once, `slow` accepts
    // the requests and never answers. The process is killed with both requests to `slow`
    // in flight.
    let started = |sha: &str| {
        let mut started = answer("IN_PROGRESS", sha, vec![]);
        started["LatestSync"]["StartedAt"] = json!(1795687900);
        started
    };
    let scenario = json!({"ticks": [
        {"a": ok_answer(), "b": ok_answer()},
        {"a": started("2222222"), "b": started("2222222")},
    ]});
    let endpoint = LoopbackCodeConnections::start(
        Scenario::parse(&scenario.to_string()).unwrap(),
        LoopbackOptions::default(),
    )
    .await
    .unwrap();
    let fast = Receiver::start().await.unwrap();
    let slow = Receiver::start().await.unwrap();
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let destinations = json!([{"type": "webhook", "name": "fast", "url": fast.url(), "secret": secret},
                              {"type": "webhook", "name": "slow", "url": slow.url(), "secret": secret}])
    .to_string();
    let vars = [
        ("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url()),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url()),
        ("DESTINATIONS", destinations.as_str()),
    ];
    let args = ["check", "--state", state.to_str().unwrap()];
    let baseline = run(&args, &vars).await;
    assert_eq!(baseline.status.code(), Some(0), "{baseline:?}");

    endpoint.set_tick(1);
    slow.reply([
        Reply::status(200).after(Duration::from_secs(3600)),
        Reply::status(200).after(Duration::from_secs(3600)),
    ]);
    let home = tempfile::tempdir().unwrap();
    let mut killed = tokio::process::Command::new(BINARY)
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("STUCK_AFTER_MINUTES", "0")
        .envs(vars)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Killed once both requests to `slow` are in flight and `fast`'s two deliveries are
    // recorded in the state file (until then, they too are in flight).
    let fast_recorded = || {
        let Ok(bytes) = std::fs::read(&state) else {
            return false;
        };
        let Ok(file) = serde_json::from_slice::<Value>(&bytes) else {
            return false;
        };
        ["a", "b"].iter().all(|stack| {
            file[stack][1]["pending"][0]["done"]
                .as_array()
                .is_some_and(|done| {
                    done.iter()
                        .any(|key| key.as_str().is_some_and(|key| key.contains("fast")))
                })
        })
    };
    until(|| slow.arrivals() == 2 && fast_recorded()).await;
    killed.start_kill().unwrap(); // SIGKILL
    killed.wait().await.unwrap();

    slow.recover();
    let after = run(&args, &vars).await;
    let stdout = String::from_utf8_lossy(&after.stdout);
    assert_eq!(after.status.code(), Some(0), "{stdout}");
    assert_eq!(fast.received().len(), 2, "fast had them: nothing repeated");
    assert_eq!(slow.received().len(), 2, "the two in flight are sent again");
    let ids = |receiver: &Receiver| -> std::collections::BTreeSet<String> {
        receiver
            .received()
            .iter()
            .map(|request| request.header("webhook-id").unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&slow), ids(&fast), "with the same ids");
}

#[tokio::test]
async fn check_without_a_region_or_credentials_says_so_with_the_fix() {
    let empty_region = run(&["check"], &[("AWS_REGION", "")]).await;
    let message = String::from_utf8_lossy(&empty_region.stderr);
    assert_eq!(empty_region.status.code(), Some(1), "{message}");
    assert!(message.contains("AWS_REGION is empty"), "{message}");

    let no_credentials = run(
        &["check"],
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    )
    .await;
    let message = String::from_utf8_lossy(&no_credentials.stderr);
    assert_eq!(no_credentials.status.code(), Some(1), "{message}");
    assert!(message.contains("no AWS credentials"), "{message}");
    assert!(message.contains("aws configure"), "{message}");
    assert!(
        !message.contains("IMDS") && !message.to_lowercase().contains("instance metadata"),
        "no metadata-service noise: {message}"
    );
}

#[tokio::test]
async fn check_exits_three_when_a_destination_did_not_take_a_notification() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let args = [
        "check",
        "--resources",
        "app",
        "--state",
        state.to_str().unwrap(),
    ];
    // First sight: a baseline, nothing to tell, nothing owed.
    let before = endpoint(&[("app", ok_answer())], &[]).await;
    let first = run(
        &args,
        &[
            ("AWS_ENDPOINT_URL_CODECONNECTIONS", before.endpoint_url()),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", before.endpoint_url()),
        ],
    )
    .await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // A new attempt starts, and the only destination refuses it.
    let receiver = crate::shared::Receiver::start().await.unwrap();
    receiver.reply([crate::shared::Reply::status(403)]);
    let started = json!({"LatestSync": {"Events": [], "InitialRevision": revision("a1b2c3d"),
        "StartedAt": 1795690000, "Status": "IN_PROGRESS", "Target": "app", "TargetRevision": revision("b2c3d4e")}});
    let after = endpoint(&[("app", started)], &[]).await;
    let second = run(
        &args,
        &[
            ("AWS_ENDPOINT_URL_CODECONNECTIONS", after.endpoint_url()),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", after.endpoint_url()),
            (
                "SLACK_WEBHOOK_URL",
                &receiver.url_with_path("/services/T/B/x"),
            ),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(
        second.status.code(),
        Some(3),
        "every stack was checked, but a notification was not delivered: {stdout}"
    );
    assert!(stdout.contains("sync.started"), "{stdout}");
    assert!(
        stdout.contains("1 delivery refused for good by a destination"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("403"),
        "the refusal's reason is logged: {stderr}"
    );
    assert_eq!(receiver.arrivals(), 1, "the refusal was asked once");
}
