//! The `sync-notifier` binary as a user runs it.

use std::process::{Command, Output};

use crate::shared::{Receiver, Reply};
use crate::support::scenario;

/// The binary with none of the developer's variables: only what each test sets.
fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// Runs `command` off the async runtime, so the loopback receivers keep answering.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[test]
fn replay_prints_the_story_and_exits_zero() {
    let output = binary()
        .arg("replay")
        .arg(scenario("demo"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("── tick 1 of 4 ──"), "{stdout}");
    assert!(stdout.contains("3 seen for the first time"), "{stdout}");
    assert!(
        stdout.contains("✅ sync.succeeded payments-stack"),
        "{stdout}"
    );
    assert!(
        stdout.contains("❌ sync.failed    orders-stack"),
        "{stdout}"
    );
    assert!(stdout.contains("took 3m 18s"), "{stdout}");
    assert!(stdout.contains("Table already exists"), "{stdout}");
}

#[test]
fn replay_prints_blocked_and_stuck_syncs_with_what_to_do() {
    let replay = |name: &str| {
        let output = binary().arg("replay").arg(scenario(name)).output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let blockers = replay("rule-9-blockers-told-once");
    assert!(
        blockers.contains("⛔ sync.blocked   app-stack"),
        "{blockers}"
    );
    assert!(
        blockers
            .contains("to resolve it: aws codeconnections update-sync-blocker --id '9f1c2e7a-app'"),
        "{blockers}"
    );
    assert!(
        blockers.contains("🔓 sync.unblocked app-stack"),
        "{blockers}"
    );
    assert_eq!(blockers.matches("⛔ sync.blocked").count(), 2, "{blockers}");
    let stuck = replay("rule-10-stuck-told-once");
    assert!(stuck.contains("⏳ sync.stuck     slow-stack"), "{stuck}");
    assert!(stuck.contains("running for 1h 1m"), "{stuck}");
    assert!(
        stuck.contains("This sync had been reported stuck."),
        "{stuck}"
    );
    assert_eq!(stuck.matches("sync.stuck").count(), 1, "{stuck}");
}

#[test]
fn replay_json_prints_only_webhook_bodies() {
    let output = binary()
        .args(["replay", "--format", "json"])
        .arg(scenario("demo"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for line in lines {
        let body: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(body["type"].as_str().unwrap().starts_with("sync."));
        assert!(body["data"]["resourceName"].is_string());
    }
}

#[test]
fn state_kept_with_state_path_carries_over_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let first = binary()
        .args(["replay", "--format", "json", "--state"])
        .arg(&state)
        .arg(scenario("demo"))
        .output()
        .unwrap();
    assert!(first.status.success());
    assert_eq!(String::from_utf8(first.stdout).unwrap().lines().count(), 4);
    // The same story again: everything was already told, so nothing is told twice.
    let second = binary()
        .args(["replay", "--format", "json", "--state"])
        .arg(&state)
        .arg(scenario("demo"))
        .output()
        .unwrap();
    assert!(second.status.success());
    assert_eq!(String::from_utf8(second.stdout).unwrap(), "");
}

#[test]
fn a_malformed_scenario_is_refused_naming_the_file_and_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        "{\"ticks\": [\n  {\"ok\": {}},\n  {\"bad name\": {}}\n]}",
    )
    .unwrap();
    let output = binary().arg("replay").arg(&path).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("broken.json: ticks[1].bad name: "),
        "{stderr}"
    );

    std::fs::write(&path, "{\"ticks\": [\n  {\"ok\": {}},,\n]}").unwrap();
    let stderr =
        String::from_utf8(binary().arg("replay").arg(&path).output().unwrap().stderr).unwrap();
    assert!(stderr.contains("broken.json: line 2, column"), "{stderr}");

    let stderr = String::from_utf8(
        binary()
            .arg("replay")
            .arg(dir.path().join("missing.json"))
            .output()
            .unwrap()
            .stderr,
    )
    .unwrap();
    assert!(
        stderr.contains("missing.json: cannot read the scenario file"),
        "{stderr}"
    );
}

#[test]
fn bad_configuration_stops_start_up_with_the_variable_and_the_fix() {
    let output = binary()
        .env(
            "SLACK_WEBHOOK_URL",
            "http://hooks.slack.com/services/T0/B0/SECRETPART",
        )
        .env("NOTIFY_ON", "failures")
        .arg("replay")
        .arg(scenario("demo"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("SLACK_WEBHOOK_URL: \"http://hooks.slack.com/…\" uses http"),
        "{stderr}"
    );
    assert!(
        stderr.contains("NOTIFY_ON: unknown word \"failures\""),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETPART"), "{stderr}");
}

#[test]
fn help_explains_the_commands() {
    let output = binary().arg("--help").output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("replay") && stdout.contains("check"),
        "{stdout}"
    );
    assert!(stdout.contains("no AWS account"), "{stdout}");
}

// ------------------------------------------------------------------------- send-test

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn send_test_reaches_every_destination_and_exits_zero() {
    let slack = Receiver::start().await.unwrap();
    let webhook = Receiver::start().await.unwrap();
    let mut command = binary();
    command
        .env(
            "SLACK_WEBHOOK_URL",
            slack.url_with_path("/services/T0/B0/SECRETPART"),
        )
        .env("WEBHOOK_URL", webhook.url())
        .env("WEBHOOK_SECRET", SECRET)
        // Filters do not apply to a test message.
        .env("NOTIFY_ON", "failed")
        .arg("send-test");
    let output = run(command).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("✓ ") && line.ends_with(": delivered")),
        "{stdout}"
    );
    assert!(
        stdout.contains("SLACK_WEBHOOK_URL") && stdout.contains("WEBHOOK_URL"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("SECRETPART") && !stderr.contains("SECRETPART"),
        "{stdout}{stderr}"
    );
    let body = webhook.received()[0].json();
    assert_eq!(body["type"], "sync.test");
    assert_eq!(body["data"]["test"], true);
    assert!(
        slack.received()[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("Test message")
    );
}

#[tokio::test]
async fn send_test_names_a_refusal_and_an_unreachable_destination_and_exits_four() {
    let slack = Receiver::start().await.unwrap();
    slack.reply([Reply::status(404)]);
    let webhook = Receiver::start().await.unwrap();
    let mut command = binary();
    command
        .env(
            "SLACK_WEBHOOK_URL",
            slack.url_with_path("/services/T0/B0/SECRETPART"),
        )
        .env("WEBHOOK_URL", webhook.url())
        .env("WEBHOOK_SECRET", SECRET)
        // Nothing listens on the discard port.
        .env(
            "DISCORD_WEBHOOK_URL",
            "http://127.0.0.1:9/api/webhooks/1/SECRETPART",
        )
        .arg("send-test");
    let output = run(command).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(4), "{stdout}{stderr}");
    let line = |variable: &str| {
        stdout
            .lines()
            .find(|line| line.contains(variable))
            .unwrap_or_else(|| panic!("no line for {variable}: {stdout}"))
            .to_owned()
    };
    let slack_line = line("SLACK_WEBHOOK_URL");
    assert!(
        slack_line.starts_with("✗ ")
            && slack_line.contains(": refused (")
            && slack_line.contains("404"),
        "{slack_line}"
    );
    let discord_line = line("DISCORD_WEBHOOK_URL");
    assert!(
        discord_line.starts_with("✗ ") && discord_line.contains(": unreachable ("),
        "{discord_line}"
    );
    assert!(line("(WEBHOOK_URL").starts_with("✓ "), "{stdout}");
    assert!(
        slack_line.ends_with(": refused (HTTP 404)"),
        "the reason is not prefixed with the destination again: {slack_line}"
    );
    assert!(
        !stdout.contains("SECRETPART") && !stderr.contains("SECRETPART"),
        "{stdout}{stderr}"
    );
}

#[test]
fn send_test_without_a_destination_says_how_to_configure_one() {
    let output = binary().arg("send-test").output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("SLACK_WEBHOOK_URL") && stderr.contains("DESTINATIONS"),
        "{stderr}"
    );
}
