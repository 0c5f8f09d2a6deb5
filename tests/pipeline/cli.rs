//! The `sync-notifier` binary as a user runs it.

use std::process::Command;

use crate::support::scenario;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    for variable in [
        "WATCH_RESOURCES",
        "STATE_TABLE",
        "SLACK_WEBHOOK_URL",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET",
        "NOTIFY_ON",
        "SLACK_BOT_TOKEN",
        "SLACK_CHANNEL",
        "GOOGLE_CHAT_WEBHOOK_URL",
        "PAGERDUTY_ROUTING_KEY",
    ] {
        command.env_remove(variable);
    }
    command
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
