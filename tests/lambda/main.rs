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
