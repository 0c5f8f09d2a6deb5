//! `replay` and `check` keep state in the table `STATE_TABLE` names, through the SDK's
//! usual configuration (`AWS_ENDPOINT_URL_DYNAMODB`), and in a file with `--state`.

use std::collections::BTreeMap;
use std::process::Output;

use super::support::{Attempt, Server, codeconnections, scenario, status};

const BINARY: &str = env!("CARGO_BIN_EXE_sync-notifier");

/// Runs the binary with only `vars` in its environment (plus a throwaway HOME, so no
/// AWS profile of the machine is read), off the runtime that serves DynamoDB.
async fn run(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // `check` runs on the wall clock, and these syncs started days ago: rule 10 (stuck)
        // would tell them all (it has tests of its own).
        .env("STUCK_AFTER_MINUTES", "0")
        .envs(vars.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON body per line"))
        .collect()
}

/// The notifications of each stack, in the order they were printed.
fn per_stack(lines: &[serde_json::Value]) -> BTreeMap<String, Vec<&serde_json::Value>> {
    let mut stacks: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for line in lines {
        let stack = line["data"]["resourceName"].as_str().unwrap_or_default();
        stacks.entry(stack.to_owned()).or_default().push(line);
    }
    stacks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_with_state_table_keeps_state_in_the_table_and_tells_the_same_story() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/events/scenarios/demo.json");

    let in_memory = run(&["replay", demo, "--format", "json"], &[]).await;
    let in_table = run(
        &["replay", demo, "--format", "json"],
        &[
            ("STATE_TABLE", &table),
            ("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint()),
        ],
    )
    .await;

    // The same notifications, in the same order per stack (stacks are handled concurrently,
    // so their lines interleave as they finish).
    assert!(!lines(&in_memory).is_empty());
    assert_eq!(per_stack(&lines(&in_table)), per_stack(&lines(&in_memory)));
    for stack in ["catalog-stack", "orders-stack", "payments-stack"] {
        assert!(server.raw_item(&table, stack).await.is_some(), "{stack}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_with_state_table_remembers_between_runs_and_state_overrides_it() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let a = Attempt::new(1_795_680_000, "SUCCEEDED", "a".repeat(40));
    let b = Attempt::new(1_795_690_000, "INITIATED", "b".repeat(40));
    let endpoint = codeconnections(scenario(vec![
        vec![("app-stack".to_owned(), status("app-stack", &a, Some(&a)))],
        vec![("app-stack".to_owned(), status("app-stack", &b, Some(&a)))],
    ]))
    .await;
    let vars = [
        ("STATE_TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint()),
        ("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url()),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url()),
    ];
    let check = ["check", "--resources", "app-stack", "--format", "json"];

    assert!(
        lines(&run(&check, &vars).await).is_empty(),
        "first sight: a baseline"
    );
    assert!(server.raw_item(&table, "app-stack").await.is_some());

    endpoint.set_tick(1);
    let told = lines(&run(&check, &vars).await);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["type"], "sync.started");
    assert!(lines(&run(&check, &vars).await).is_empty(), "told once");

    // --state names a file: the local store, even with STATE_TABLE set.
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("state.json");
    let before = server.raw_item(&table, "app-stack").await;
    let mut with_file = check.to_vec();
    with_file.extend(["--state", file.to_str().unwrap()]);
    assert!(
        lines(&run(&with_file, &vars).await).is_empty(),
        "a new file: a baseline"
    );
    assert!(file.exists());
    assert_eq!(server.raw_item(&table, "app-stack").await, before);
}
