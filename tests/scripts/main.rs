//! The project's scripts, run as a user runs them: `scripts/check-links` on the docs,
//! `scripts/lambda-loop`, the local Lambda loop under the real `cargo lambda watch`, and the
//! release (`release.rs`): the version, `scripts/package`, the workflows, the docs' commands.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

#[path = "../support/mod.rs"]
mod shared;

use shared::Receiver;

mod release;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Held by the tests whose scripts run cargo (the loop's build, the release build, the docs'
/// `cargo run`): one at a time, rather than each waiting on cargo's lock of the build directory
/// inside its own time limits.
fn cargo_lock() -> std::sync::MutexGuard<'static, ()> {
    static CARGO: std::sync::Mutex<()> = std::sync::Mutex::new(());
    CARGO
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn script(name: &str) -> Command {
    let mut command = Command::new(Path::new(ROOT).join("scripts").join(name));
    command.current_dir(ROOT);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_links_passes_on_the_projects_own_pages() {
    let output = script("check-links").output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("check-links: "), "{stdout}");
    assert!(
        stdout.contains("relative links resolve (README.md"),
        "{stdout}"
    );
}

#[test]
fn check_links_names_each_broken_link_and_fails() {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(
        root.join("docs/deploy.md"),
        "# Deploy in ten minutes!\n\n## `check` says it works\n",
    )
    .unwrap();
    let page = root.join("page.md");
    std::fs::write(
        &page,
        [
            "# Title",
            "## Same",
            "## Same",
            "<a id=\"custom\"></a>",
            "Fine: [a](docs/deploy.md#deploy-in-ten-minutes), [b](docs/deploy.md#check-says-it-works), [c](#same-1), [d](#custom), [e](sub/), [f](https://example.com/x#y).",
            "Broken: [g](docs/missing.md) and [h](#nowhere) and [i](docs/deploy.md#nope).",
            "`[in a code span](nothere.md)`",
            "```",
            "[in a code block](nothere.md)",
            "```",
            "[reference]: docs/gone.md",
        ]
        .join("\n"),
    )
    .unwrap();
    let output = script("check-links")
        .arg(&page)
        .arg(root.join("docs/deploy.md"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let page = page.display();
    let deploy = root.join("docs/deploy.md");
    assert_eq!(
        text(&output.stderr),
        format!(
            "check-links: {page}:6: docs/missing.md: docs/missing.md does not exist\n\
             check-links: {page}:6: #nowhere: no heading #nowhere in {page}\n\
             check-links: {page}:6: docs/deploy.md#nope: no heading #nope in {}\n\
             check-links: {page}:11: docs/gone.md: docs/gone.md does not exist\n\
             check-links: 4 broken of 9 relative links\n",
            deploy.display()
        )
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn transitions(answer: &Value) -> Vec<String> {
    answer["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t["type"].as_str().unwrap(),
                t["resource"].as_str().unwrap()
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The script as pasted: it builds (finding the debug build made for these tests), serves
/// the demo, starts `cargo lambda watch`, waits for it, invokes the four sample events a
/// quiet second apart, prints each answer and stops everything. A webhook set in the
/// environment reaches the function, so the demo's four notifications arrive there.
///
/// Needs cargo-lambda: `scripts/install-python-tools` (which `scripts/test` runs) puts it
/// in the project's virtualenv, where the script finds it.
#[tokio::test]
async fn the_lambda_loop_tells_the_demo_through_cargo_lambda_and_leaves_nothing_running() {
    let receiver = Receiver::start().await.unwrap();
    let (invoke, scenario) = (free_port(), free_port());
    let mut command = script("lambda-loop");
    for variable in sync_notifier::config::lookalike::known_variables() {
        command.env_remove(variable);
    }
    command
        .env("INVOKE_PORT", invoke.to_string())
        .env("SCENARIO_PORT", scenario.to_string())
        .env("WEBHOOK_URL", receiver.url())
        .env("WEBHOOK_SECRET", SECRET);
    let output: Output = tokio::task::spawn_blocking(move || {
        let _cargo = cargo_lock();
        command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = text(&output.stdout);
    // What a user sees (run with --nocapture to read it).
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    for (index, event) in [
        "scheduled-event",
        "git-sync-status-change",
        "scheduled-event",
        "check-resources",
    ]
    .iter()
    .enumerate()
    {
        let header = format!("==> invoke {} of 4: events/{event}.json\n", index + 1);
        assert!(stdout.contains(&header), "{stdout}");
    }
    let answers: Vec<Value> = stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), 4, "{stdout}");
    assert_eq!(answers[0]["baselines"], 3, "{stdout}");
    assert_eq!(
        answers.iter().map(transitions).collect::<Vec<_>>(),
        [
            vec![],
            vec!["sync.started payments-stack".to_owned()],
            vec![
                "sync.started orders-stack".to_owned(),
                "sync.succeeded payments-stack".to_owned()
            ],
            vec!["sync.failed orders-stack".to_owned()],
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("destination active: webhook#"),
        "the function's start-up is shown: {stdout}"
    );
    assert!(!stdout.contains(SECRET), "{stdout}");
    let mut told: Vec<String> = receiver
        .received()
        .iter()
        .map(|request| request.json()["type"].as_str().unwrap().to_owned())
        .collect();
    told.sort();
    assert_eq!(
        told,
        [
            "sync.failed",
            "sync.started",
            "sync.started",
            "sync.succeeded"
        ]
    );

    // Nothing it started is left: both ports are free again.
    for port in [invoke, scenario] {
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(("127.0.0.1", port)),
        )
        .await;
        assert!(!matches!(connected, Ok(Ok(_))), "port {port} still answers");
    }
}
