//! The real binary in Lambda mode: it is started with `AWS_LAMBDA_RUNTIME_API` pointing at a
//! loopback Runtime API (the same HTTP protocol Lambda serves), fetches each sample event
//! through the real `lambda_runtime` loop, and posts its answers back.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
#[path = "../support/mod.rs"]
mod shared;

use shared::{Answer, LoopbackRuntimeApi, Receiver};
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions};
use sync_notifier::scenario::Scenario;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn sample(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn function(runtime: &LoopbackRuntimeApi, codeconnections: &str, extra: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    runtime
        .lambda_environment(&mut command)
        .env("AWS_ENDPOINT_URL_CODECONNECTIONS", codeconnections)
        .env("AWS_ENDPOINT_URL_CLOUDFORMATION", codeconnections)
        // The demo happened days before the wall clock the function runs on: rule 10 would
        // find its running syncs stuck (it has tests of its own).
        .env("STUCK_AFTER_MINUTES", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    command.spawn().unwrap()
}

/// A function process that is stopped and reaped however the test ends, a failed
/// assertion included.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn transitions(summary: &Value) -> Vec<(String, String)> {
    summary["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap().to_owned(),
                t["resource"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(kind: &str, resource: &str) -> (String, String) {
    (kind.to_owned(), resource.to_owned())
}

#[tokio::test]
async fn every_sample_event_runs_through_the_real_runtime_loop() {
    let scenario =
        Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let webhook = Receiver::start().await.unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut child = function(
        &runtime,
        codeconnections.endpoint_url(),
        &[("WEBHOOK_URL", &webhook.url()), ("WEBHOOK_SECRET", SECRET)],
    );

    // Tick 1: the schedule discovers the three stacks and records baselines.
    let Answer::Response(first) = runtime
        .invoke(sample("scheduled-event.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    assert_eq!(first["resourcesChecked"], 3, "{first}");
    assert_eq!(first["baselines"], 3);
    assert!(transitions(&first).is_empty());

    // Tick 2: Git sync's own event for payments-stack checks that stack at once...
    codeconnections.set_tick(1);
    let Answer::Response(pushed) = runtime
        .invoke(sample("git-sync-status-change.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    assert_eq!(pushed["resourcesChecked"], 1, "{pushed}");
    assert_eq!(
        transitions(&pushed),
        [pair("sync.started", "payments-stack")]
    );
    // ...and the scheduled tick that sees the same transition does not tell it again.
    let Answer::Response(scheduled) = runtime
        .invoke(sample("scheduled-event.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    assert_eq!(scheduled["resourcesChecked"], 3);
    assert!(transitions(&scheduled).is_empty(), "{scheduled}");

    // Tick 3: a manual invoke naming two stacks.
    codeconnections.set_tick(2);
    let Answer::Response(manual) = runtime
        .invoke(sample("check-resources.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    assert_eq!(manual["resourcesChecked"], 2);
    let mut told = transitions(&manual);
    told.sort();
    assert_eq!(
        told,
        [
            pair("sync.started", "orders-stack"),
            pair("sync.succeeded", "payments-stack")
        ]
    );
    assert_eq!(manual["deliveries"]["delivered"], 2);

    // Anything else is refused with an error type, and touches nothing.
    let Answer::Error(error) = runtime
        .invoke(serde_json::json!({"hello": "world"}))
        .await
        .expect("an answer")
    else {
        panic!("accepted")
    };
    assert_eq!(error["errorType"], "UnsupportedEvent");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("accepted events"),
        "{error}"
    );

    let received = webhook.received();
    assert_eq!(received.len(), 3, "each notification delivered once");

    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("\"CloudWatchMetrics\"")
                && line.contains("\"DeliveryFailures\":0")),
        "an Embedded Metric Format record per invocation: {stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with('{') && line.contains("tick done")),
        "JSON logs: {stdout}"
    );
    assert!(
        !stdout.contains(&webhook.url()) && !stdout.contains(SECRET),
        "no secret in the logs"
    );
}

#[tokio::test]
async fn a_bad_configuration_fails_the_init_with_the_variable_and_the_fix() {
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut child = function(&runtime, "http://127.0.0.1:9", &[("NOTIFY_ON", "failures")]);
    let status = tokio::task::spawn_blocking(move || {
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, child.wait_with_output().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        panic!("the function did not stop on a bad configuration");
    })
    .await
    .unwrap();
    assert!(!status.0.success());
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&status.1.stdout),
        String::from_utf8_lossy(&status.1.stderr)
    );
    assert!(logs.contains("NOTIFY_ON: unknown word"), "{logs}");
}

/// A loopback Secrets Manager answering `GetSecretValue` (AWS JSON 1.1) with `secret`,
/// recording the secret ids asked for.
async fn secrets_manager(secret: Value) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = asked.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (secret, recorded) = (secret.clone(), recorded.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let (secret, recorded) = (secret.clone(), recorded.clone());
                        async move {
                            let target = request
                                .headers()
                                .get("x-amz-target")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let body: Value = serde_json::from_slice(
                                &request.into_body().collect().await.unwrap().to_bytes(),
                            )
                            .unwrap_or(Value::Null);
                            assert_eq!(target, "secretsmanager.GetSecretValue");
                            recorded
                                .lock()
                                .unwrap()
                                .push(body["SecretId"].as_str().unwrap_or("").to_owned());
                            let answer = serde_json::json!({"ARN": body["SecretId"], "Name": "sync-notifier", "SecretString": secret.to_string(), "VersionId": "v1"});
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .header("content-type", "application/x-amz-json-1.1")
                                    .body(http_body_util::Full::new(bytes::Bytes::from(
                                        answer.to_string(),
                                    )))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (endpoint, asked)
}

#[tokio::test]
async fn destinations_come_from_the_secret_read_once_at_cold_start() {
    let scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events/scenarios/rule-3-same-attempt-ends.json"),
    )
    .unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let webhook = Receiver::start().await.unwrap();
    let (secrets, asked) = secrets_manager(serde_json::json!({
        "SLACK_WEBHOOK_URL": "", "WEBHOOK_URL": webhook.url(), "WEBHOOK_SECRET": SECRET,
        "TEAMS_WEBHOOK_URL": "", "DISCORD_WEBHOOK_URL": "", "DESTINATIONS": ""
    }))
    .await;
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sync-notifier-AbCdEf";
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut child = function(
        &runtime,
        codeconnections.endpoint_url(),
        &[
            ("CONFIG_SECRET_ARN", arn),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &secrets),
        ],
    );
    for tick in 0..3 {
        codeconnections.set_tick(tick);
        let Answer::Response(summary) = runtime
            .invoke(sample("scheduled-event.json"))
            .await
            .expect("an answer")
        else {
            panic!("error")
        };
        assert!(
            summary["failures"].as_array().unwrap().is_empty(),
            "{summary}"
        );
    }
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(*asked.lock().unwrap(), [arn], "read once, at cold start");
    let received = webhook.received();
    assert_eq!(
        received.len(),
        1,
        "the webhook named only in the secret got the failure"
    );
    assert_eq!(received[0].json()["type"], "sync.failed");
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(
        !logs.contains(&webhook.url()) && !logs.contains(SECRET),
        "no secret in the logs: {logs}"
    );
}

#[tokio::test]
async fn the_invocation_answers_before_its_deadline_whatever_a_dependency_does() {
    let scenario =
        Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap();
    let options = LoopbackOptions {
        faults: [(
            "orders-stack".to_owned(),
            sync_notifier::loopback::Fault::Hang,
        )]
        .into(),
        ..LoopbackOptions::default()
    };
    let codeconnections = LoopbackCodeConnections::start(scenario, options)
        .await
        .unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let _function = Running(function(&runtime, codeconnections.endpoint_url(), &[]));

    // Four seconds to live; orders-stack's status call never answers. The Runtime API
    // stand-in takes only an answer posted before the deadline it handed out, as Lambda.
    let answer = runtime
        .invoke_within(sample("scheduled-event.json"), Duration::from_secs(4))
        .await
        .expect("an answer");
    let Answer::Response(summary) = answer else {
        panic!("not an answer in time: {answer:?}")
    };
    assert_eq!(
        summary["baselines"], 2,
        "the other stacks went on: {summary}"
    );
    let deferred: Vec<&str> = summary["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem["resource"].as_str().unwrap())
        .collect();
    assert!(deferred.contains(&"orders-stack"), "{summary}");
}

#[tokio::test]
async fn both_spellings_of_each_git_sync_event_run_through_the_binary() {
    let scenario =
        Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let _function = Running(function(&runtime, codeconnections.endpoint_url(), &[]));
    let answer = |event: Value| {
        let runtime = &runtime;
        async move {
            match runtime.invoke(event).await.expect("an answer") {
                Answer::Response(summary) => summary,
                other => panic!("{other:?}"),
            }
        }
    };
    answer(sample("scheduled-event.json")).await;
    codeconnections.set_tick(1);

    // The EventBridge reference's spelling, with the stack as an ARN and previousStatus.
    let mut event = sample("git-sync-status-change.json");
    event["detail-type"] = "GitSync Resource Sync Status Change".into();
    event["detail"]["syncTarget"] =
        "arn:aws:cloudformation:us-east-1:111122223333:stack/payments-stack/cd915317".into();
    event["detail"]["previousStatus"] = "INITIATED".into();
    let pushed = answer(event).await;
    assert_eq!(pushed["resourcesChecked"], 1, "{pushed}");
    assert_eq!(
        transitions(&pushed),
        [pair("sync.started", "payments-stack")]
    );

    // The repository-level event checks every stack of that repository link now.
    codeconnections.set_tick(2);
    for spelling in [
        "Git Sync Repository Sync Status Change",
        "GitSync Repository Sync Status Change",
    ] {
        let mut event = sample("git-sync-repository-status-change.json");
        event["detail-type"] = spelling.into();
        let summary = answer(event).await;
        assert_eq!(summary["resourcesChecked"], 3, "{spelling}: {summary}");
    }
}

#[tokio::test]
async fn send_test_reports_how_each_destination_took_the_test_message() {
    let scenario =
        Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let webhook = Receiver::start().await.unwrap();
    let slack = Receiver::start().await.unwrap();
    slack.answer_with(&[404]);
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let destinations = serde_json::json!([
        {"type": "slack", "name": "deploys", "url": slack.url(), "events": ["sync.failed"]}
    ])
    .to_string();
    let _function = Running(function(
        &runtime,
        codeconnections.endpoint_url(),
        &[
            ("WEBHOOK_URL", &webhook.url()),
            ("WEBHOOK_SECRET", SECRET),
            ("DESTINATIONS", &destinations),
        ],
    ));
    let Answer::Response(answer) = runtime
        .invoke(sample("send-test.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    let results = answer["sendTest"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{answer}");
    let by_result: Vec<(&str, bool)> = results
        .iter()
        .map(|result| {
            (
                result["result"].as_str().unwrap(),
                result["destination"]
                    .as_str()
                    .unwrap()
                    .starts_with("slack:deploys"),
            )
        })
        .collect();
    assert!(by_result.contains(&("delivered", false)), "{answer}");
    assert!(
        by_result.contains(&("refused", true)),
        "filters do not apply: {answer}"
    );
    assert!(
        !answer.to_string().contains(&webhook.url()),
        "no URL in the answer"
    );
    let sent = webhook.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json()["type"], "sync.test");
    assert_eq!(sent[0].json()["data"]["test"], true);
    assert!(
        codeconnections.calls("GetResourceSyncStatus") == 0,
        "no stack was checked"
    );
}

#[tokio::test]
async fn the_cold_start_log_names_the_active_destinations_and_the_lookalike_variables() {
    let scenario = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events/scenarios/rule-3-same-attempt-ends.json"),
    )
    .unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let webhook = Receiver::start().await.unwrap();
    let url = webhook.url_with_path("/hooks/SECRETPATH");
    // One lookalike in the secret, one in the environment; neither value may be logged.
    let (secrets, _) = secrets_manager(serde_json::json!({
        "WEBHOOK_URL": url, "WEBHOOK_SECRET": SECRET,
        "TEAMS_URL": "https://acme.webhook.office.com/webhookb2/SECRETTEAMS"
    }))
    .await;
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut child = function(
        &runtime,
        codeconnections.endpoint_url(),
        &[
            (
                "CONFIG_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:sync-notifier-AbCdEf",
            ),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &secrets),
            (
                "SLACK_URL",
                "https://hooks.slack.com/services/T0/B0/SECRETSLACK",
            ),
        ],
    );
    // An answer means the cold start is over.
    let Answer::Response(_) = runtime
        .invoke(sample("scheduled-event.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    let messages: Vec<String> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|record| {
            Some(format!(
                "{} {}",
                record["level"].as_str()?,
                record["fields"]["message"].as_str()?
            ))
        })
        .collect();
    let has = |expected: &str| messages.iter().any(|message| message == expected);
    assert!(
        has(
            "WARN SLACK_URL is not a variable sync-notifier reads; did you mean SLACK_WEBHOOK_URL?"
        ),
        "{messages:#?}"
    );
    assert!(
        has(
            "WARN TEAMS_URL is not a variable sync-notifier reads; did you mean TEAMS_WEBHOOK_URL?"
        ),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(
            |message| message.starts_with("INFO destination active: webhook#")
                && message.ends_with(" (WEBHOOK_URL, http://127.0.0.1/…, signed)")
        ),
        "{messages:#?}"
    );
    for secret in ["SECRETPATH", "SECRETSLACK", "SECRETTEAMS", SECRET] {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
}

#[tokio::test]
async fn the_cold_start_log_says_when_no_destination_is_active() {
    let scenario =
        Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut child = function(&runtime, codeconnections.endpoint_url(), &[]);
    let Answer::Response(_) = runtime
        .invoke(sample("scheduled-event.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(
        logs.lines().any(|line| line.contains("\"WARN\"")
            && line.contains(
                "no destination is configured: changes are recorded and logged, and nobody is told"
            )),
        "{logs}"
    );
    assert!(!logs.contains("destination active"), "{logs}");
}

#[tokio::test]
async fn a_denied_blocker_read_silences_no_stack_and_is_counted_in_its_own_metric() {
    // The demo's stacks, with every GetSyncBlockerSummary denied (a hand-written role).
    let mut scenario: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap(),
    )
    .unwrap();
    for tick in scenario["ticks"].as_array_mut().unwrap() {
        for (name, stack) in tick.as_object_mut().unwrap() {
            // Watched stacks only (a nested stack's entry holds only its `@stackEvents`).
            if !name.starts_with('@') && stack.get("LatestSync").is_some() {
                stack["SyncBlockerSummary"] = serde_json::json!({"__type": "AccessDeniedException",
                    "message": "not authorized to perform: codeconnections:GetSyncBlockerSummary"});
            }
        }
    }
    let scenario = Scenario::parse(&scenario.to_string()).unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let webhook = Receiver::start().await.unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut process = function(
        &runtime,
        codeconnections.endpoint_url(),
        &[("WEBHOOK_URL", &webhook.url()), ("WEBHOOK_SECRET", SECRET)],
    );
    let mut answers = Vec::new();
    for tick in 0..codeconnections.tick_count() {
        codeconnections.set_tick(tick);
        let Answer::Response(summary) = runtime
            .invoke(sample("scheduled-event.json"))
            .await
            .expect("an answer")
        else {
            panic!("the invocation failed")
        };
        assert_eq!(summary["failureCount"], 0, "{summary}");
        answers.push(summary);
    }
    assert_eq!(answers[0]["baselines"], 3, "{}", answers[0]);
    assert_eq!(
        answers[0]["optionalReadFailures"][0]["api"],
        "GetSyncBlockerSummary"
    );
    let told: Vec<(String, String)> = answers.iter().flat_map(transitions).collect();
    assert_eq!(
        told,
        [
            pair("sync.started", "payments-stack"),
            pair("sync.started", "orders-stack"),
            pair("sync.succeeded", "payments-stack"),
            pair("sync.failed", "orders-stack"),
        ]
    );
    assert_eq!(webhook.received().len(), 4);
    // The stack events are read where AWS_ENDPOINT_URL_CLOUDFORMATION points: the failure
    // says why (§14), the blocker reads' denial notwithstanding.
    let failed = webhook
        .received()
        .into_iter()
        .map(|request| request.json())
        .find(|body| body["type"] == "sync.failed")
        .expect("the failure");
    assert_eq!(
        failed["data"]["rootCause"]["logicalId"], "OrdersTable",
        "{failed}"
    );

    process.kill().unwrap();
    let output = process.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let metrics: Vec<Value> = stdout
        .lines()
        .filter(|line| line.contains("\"OptionalReadFailures\""))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!metrics.is_empty(), "{stdout}");
    for record in &metrics {
        assert_eq!(record["Api"], "GetSyncBlockerSummary");
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Api"], []])
        );
        assert!(record["OptionalReadFailures"].as_u64().unwrap() >= 1);
    }
    let warnings = stdout
        .lines()
        .filter(|line| line.contains("an optional read failed"))
        .count();
    assert_eq!(warnings, 1, "said once in the hour: {stdout}");
}

#[tokio::test]
async fn the_ready_line_of_the_cold_start_names_the_release() {
    let scenario =
        Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json"))
            .unwrap();
    let codeconnections = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut child = function(&runtime, codeconnections.endpoint_url(), &[]);
    let Answer::Response(_) = runtime
        .invoke(sample("scheduled-event.json"))
        .await
        .expect("an answer")
    else {
        panic!("error")
    };
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    let ready: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["fields"]["message"] == "ready")
        .collect();
    assert_eq!(ready.len(), 1, "{logs}");
    // The Cargo version, as `sync-notifier --version` prints it (tests/scripts/release.rs).
    assert_eq!(
        ready[0]["fields"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{logs}"
    );
}

#[tokio::test]
async fn an_invocation_cut_by_a_slow_destination_hands_its_stack_back_at_once() {
    let codeconnections = LoopbackCodeConnections::start(
        shared::one_ends_and_the_next_starts(),
        LoopbackOptions::default(),
    )
    .await
    .unwrap();
    let webhook = Receiver::start().await.unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let _function = Running(function(
        &runtime,
        codeconnections.endpoint_url(),
        &[
            ("WEBHOOK_URL", &webhook.url()),
            ("WEBHOOK_SECRET", SECRET),
            ("LEASE_SECONDS", "600"),
        ],
    ));
    let Some(Answer::Response(_)) = runtime.invoke(sample("scheduled-event.json")).await else {
        panic!("the baseline")
    };

    // Every request takes 1.5 s; the invocation has 3 s. The first notification is taken;
    // the second is still on its way when requests must end, so it is in doubt.
    codeconnections.set_tick(1);
    webhook.reply([
        shared::Reply::status(200).after(Duration::from_millis(1500)),
        shared::Reply::status(200).after(Duration::from_millis(1500)),
    ]);
    let cut = runtime
        .invoke_within(sample("scheduled-event.json"), Duration::from_secs(3))
        .await
        .expect("an answer");
    let Answer::Response(cut) = cut else {
        panic!("not an answer before the deadline: {cut:?}")
    };
    assert_eq!(cut["deliveries"]["delivered"], 1, "{cut}");
    assert_eq!(cut["deliveries"]["retrying"], 1, "{cut}");

    // The very next invocation (the lease is 10 minutes) sends what is left at once.
    let Some(Answer::Response(next)) = runtime.invoke(sample("scheduled-event.json")).await else {
        panic!("the next invocation")
    };
    assert_eq!(
        next["deliveries"]["delivered"], 1,
        "no lease to wait for: {next}"
    );
    assert_eq!(next["deferredCount"], 0, "{next}");

    // The receiver took the request in doubt too (late, after the client gave up): that
    // one, and only it, arrives twice, with one id.
    let ids: Vec<String> = webhook
        .arrived()
        .iter()
        .map(|request| request.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 2, "one repeat: {ids:?}");
    let types: Vec<String> = webhook
        .arrived()
        .iter()
        .map(|request| request.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types.iter().filter(|t| *t == "sync.started").count(),
        2,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "sync.succeeded").count(),
        1,
        "{types:?}"
    );
}
