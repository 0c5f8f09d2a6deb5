//! The mistakes of a first day, each said by the real binary with its fix (issue 12): a
//! variable that looks like ours but is not one, which destinations are active, no AWS
//! Region or credentials in a bare shell, and a scenario pasted from the AWS CLI.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::shared::Receiver;
use crate::support::scenario;
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions};
use sync_notifier::scenario::Scenario;

const BINARY: &str = env!("CARGO_BIN_EXE_sync-notifier");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SLACK_SECRET_PART: &str = "XXXXSECRETPART";

/// Runs the binary in an environment holding only `vars` and a HOME of its own (no AWS
/// profile): a new user's bare shell.
async fn bare(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .envs(vars.iter().copied())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command ends")
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn demo() -> String {
    scenario("demo").to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_lookalike_variable_is_warned_about_by_the_variable_meant_and_never_its_value() {
    let slack = format!("https://hooks.slack.com/services/T0/B0/{SLACK_SECRET_PART}");
    let output = bare(
        &["replay", &demo()],
        &[("SLACK_URL", &slack), ("WEBHOOK_SECRETS", SECRET)],
    )
    .await;
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "warning: SLACK_URL is not a variable sync-notifier reads; did you mean SLACK_WEBHOOK_URL?\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: WEBHOOK_SECRETS is not a variable sync-notifier reads; did you mean WEBHOOK_SECRET?\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("destinations: none configured; notifications are printed here only"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(SLACK_SECRET_PART) && !stderr.contains(SECRET),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_bad_value_and_the_lookalike_that_explains_it_are_said_together() {
    let webhook = "https://example.com/hook";
    let output = bare(
        &["replay", &demo()],
        &[("WEBHOOK_URL", webhook), ("WEBHOOK_SECRETS", SECRET)],
    )
    .await;
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("warning: WEBHOOK_SECRETS is not a variable sync-notifier reads; did you mean WEBHOOK_SECRET?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("WEBHOOK_SECRET: is required with WEBHOOK_URL"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");
}

#[tokio::test]
async fn send_test_with_only_a_lookalike_says_what_was_meant_and_that_nothing_is_configured() {
    let output = bare(
        &["send-test"],
        &[(
            "TEAMS_URL",
            "https://acme.webhook.office.com/webhookb2/SECRETTEAMS",
        )],
    )
    .await;
    let stderr = stderr(&output);
    // Exit status 2: nothing configured is a configuration problem.
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("warning: TEAMS_URL is not a variable sync-notifier reads; did you mean TEAMS_WEBHOOK_URL?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: no destination is configured"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETTEAMS"), "{stderr}");
}

#[tokio::test]
async fn replay_and_check_say_which_destinations_are_active_by_masked_name() {
    let receiver = Receiver::start().await.unwrap();
    let url = receiver.url_with_path("/hooks/SECRETPATH");
    let vars = [("WEBHOOK_URL", url.as_str()), ("WEBHOOK_SECRET", SECRET)];

    let replayed = bare(&["replay", &demo()], &vars).await;
    let told = stderr(&replayed);
    assert!(replayed.status.success(), "{told}");
    let line = told
        .lines()
        .find(|line| line.starts_with("destination: webhook#"))
        .unwrap_or_else(|| panic!("no destination line: {told}"));
    assert!(
        line.ends_with(" (WEBHOOK_URL, http://127.0.0.1/…, signed)"),
        "{line}"
    );
    assert!(
        !told.contains("SECRETPATH") && !told.contains(SECRET),
        "{told}"
    );
    assert_eq!(
        receiver.received().len(),
        4,
        "the demo's four notifications"
    );

    // `check`, against a loopback CodeConnections, names the same destination.
    let endpoint = LoopbackCodeConnections::start(
        Scenario::load(&scenario("demo")).unwrap(),
        LoopbackOptions::default(),
    )
    .await
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("state.json");
    let checked = bare(
        &["check", "--state", state_file.to_str().unwrap()],
        &[
            vars[0],
            vars[1],
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret"),
            ("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url()),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url()),
        ],
    )
    .await;
    let told = stderr(&checked);
    assert!(checked.status.success(), "{told}");
    assert!(told.contains(line), "{told}");
    assert!(!told.contains("SECRETPATH"), "{told}");
}

/// Stands in for the EC2 instance metadata service as a laptop meets it: it takes
/// connections and never answers, so the SDK's lookups there time out as they do off EC2
/// (on loopback, so no test traffic leaves the machine).
async fn silent_metadata_service() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}

/// Something that answers on the metadata address with 403, as a proxy or a sandbox may.
async fn refusing_metadata_service() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    url
}

const NO_REGION: &str = "error: no AWS Region is set; set AWS_REGION to the Region of your synced stacks (e.g. AWS_REGION=us-east-1), or a region in your AWS profile (aws configure)\n";
const NO_CREDENTIALS: &str = "error: no AWS credentials were found; configure them with `aws configure` or `aws sso login`, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (RUST_LOG=aws_config=debug shows where the SDK looked)\n";

#[tokio::test]
async fn check_in_a_bare_shell_says_no_region_then_no_credentials_and_nothing_else() {
    let metadata = silent_metadata_service().await;
    let imds = ("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.as_str());

    let nothing = bare(&["check"], &[imds]).await;
    assert_eq!(nothing.status.code(), Some(1));
    assert_eq!(stderr(&nothing), NO_REGION, "one line, no SDK warnings");

    let region_only = bare(&["check"], &[imds, ("AWS_REGION", "eu-west-1")]).await;
    assert_eq!(region_only.status.code(), Some(1));
    assert_eq!(
        stderr(&region_only),
        NO_CREDENTIALS,
        "one line, no SDK warnings"
    );

    // A metadata address that answers, and refuses, is still "none found".
    let refusing = refusing_metadata_service().await;
    let refused = bare(
        &["check"],
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", refusing.as_str()),
            ("AWS_REGION", "eu-west-1"),
        ],
    )
    .await;
    assert_eq!(stderr(&refused), NO_CREDENTIALS);

    // RUST_LOG opens the SDK's own account of where it looked.
    let debug = bare(
        &["check"],
        &[
            imds,
            ("AWS_REGION", "eu-west-1"),
            ("RUST_LOG", "aws_config=debug"),
        ],
    )
    .await;
    let told = stderr(&debug);
    assert!(told.contains("Ec2InstanceMetadata"), "{told}");
    assert!(told.ends_with(NO_CREDENTIALS), "{told}");
}

#[tokio::test]
async fn replay_into_a_dynamodb_table_without_credentials_says_so_before_it_starts() {
    let metadata = silent_metadata_service().await;
    let output = bare(
        &["replay", &demo()],
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.as_str()),
            ("AWS_REGION", "eu-west-1"),
            ("STATE_TABLE", "sync-notifier-state"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).ends_with(NO_CREDENTIALS),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty(), "no tick ran");
}

/// Every `StartedAt`, `Time` and `CreatedAt`/`ResolvedAt` of `value` written as the AWS
/// CLI v2 prints them: ISO 8601 with an offset.
fn as_the_aws_cli_prints_it(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (name, member) in object.iter_mut() {
                let is_time =
                    ["StartedAt", "Time", "CreatedAt", "ResolvedAt"].contains(&name.as_str());
                match member.as_i64() {
                    Some(seconds) if is_time => {
                        let at = chrono::DateTime::from_timestamp(seconds, 0).unwrap();
                        *member = Value::from(at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
                    }
                    _ => as_the_aws_cli_prints_it(member),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_the_aws_cli_prints_it),
        _ => {}
    }
}

#[tokio::test]
async fn a_scenario_pasted_from_the_aws_cli_replays_exactly_like_epoch_seconds() {
    let mut pasted: Value =
        serde_json::from_str(&std::fs::read_to_string(scenario("demo")).unwrap()).unwrap();
    as_the_aws_cli_prints_it(&mut pasted);
    let text = pasted.to_string();
    assert!(
        text.contains("\"StartedAt\":\"2026-11-26T"),
        "converted: {text}"
    );
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("pasted.json");
    std::fs::write(&path, serde_json::to_string_pretty(&pasted).unwrap()).unwrap();

    let epoch = bare(&["replay", "--format", "json", &demo()], &[]).await;
    let iso = bare(&["replay", "--format", "json", path.to_str().unwrap()], &[]).await;
    assert!(iso.status.success(), "{}", stderr(&iso));
    let bodies = |output: &Output| -> Vec<Value> {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    assert_eq!(bodies(&iso).len(), 4);
    assert_eq!(bodies(&iso), bodies(&epoch));
    assert!(!stderr(&iso).contains("unavailable"), "{}", stderr(&iso));
}

#[tokio::test]
async fn a_value_of_the_wrong_type_stops_replay_naming_its_place() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("pasted.json");
    let file = path.to_str().unwrap();
    for (latest_sync, place) in [
        (
            r#"{"Status": 42}"#,
            "ticks[1].payments-stack.LatestSync.Status: expected a string; found a number",
        ),
        (
            r#"{"Events": "x"}"#,
            "ticks[1].payments-stack.LatestSync.Events: expected an array; found a string",
        ),
        (
            r#"{"StartedAt": "last Tuesday"}"#,
            "ticks[1].payments-stack.LatestSync.StartedAt: expected a time, as epoch seconds (1795687260) or ISO 8601 (\"2026-11-26T10:01:00+00:00\"); found \"last Tuesday\"",
        ),
    ] {
        let text = format!(
            r#"{{"ticks": [{{"payments-stack": {{"LatestSync": {{"StartedAt": "2026-11-26T10:01:00+00:00", "Status": "IN_PROGRESS"}}}}}},
                          {{"payments-stack": {{"LatestSync": {latest_sync}}}}}]}}"#
        );
        std::fs::write(&path, text).unwrap();
        let output = bare(&["replay", file], &[]).await;
        let told = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{told}");
        assert_eq!(told, format!("error: {file}: {place}\n"));
        assert!(output.stdout.is_empty(), "no tick ran");
    }
}
