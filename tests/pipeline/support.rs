//! Shared helpers: replay a scenario and read what it printed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sync_notifier::cli::replay;
use sync_notifier::config::Config;

pub use crate::shared::{Captured, config};
use sync_notifier::notify::ConsoleFormat;
use sync_notifier::run::Summary;

pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events/scenarios")
        .join(format!("{name}.json"))
}

/// Replays a scenario with `--format json` and returns the printed webhook bodies.
pub async fn replay_json(path: &Path, config: &Config) -> (Vec<Value>, Vec<Summary>) {
    let out = Captured::default();
    let summaries = replay(
        path,
        ConsoleFormat::Json,
        None,
        config,
        Arc::new(Mutex::new(out.clone())),
    )
    .await
    .unwrap();
    let bodies = out
        .text()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
        })
        .collect();
    (bodies, summaries)
}

/// `(type, resourceName, startedAt)` of each body, in order.
pub fn told(bodies: &[Value]) -> Vec<(String, String, String)> {
    bodies
        .iter()
        .map(|body| {
            (
                body["type"].as_str().unwrap().to_owned(),
                body["data"]["resourceName"].as_str().unwrap().to_owned(),
                body["data"]["startedAt"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Settings for runners built by hand: discover, every kind, 4 calls at once, an hour of
/// retention, a one-minute lease, and no stuck detection (these scenarios are days old).
pub fn settings() -> sync_notifier::run::RunSettings {
    use sync_notifier::domain::ledger::Policy;
    sync_notifier::run::RunSettings {
        watch: sync_notifier::config::Watch::Discover,
        notify_on: sync_notifier::domain::KindSet::ALL,
        fetch_concurrency: 4,
        policy: Policy {
            retention: std::time::Duration::from_secs(3600),
            lease: std::time::Duration::from_secs(60),
            idle_ttl: Policy::DEFAULT_IDLE_TTL,
            vanished_ttl: Policy::DEFAULT_VANISHED_TTL,
        },
        rules: sync_notifier::domain::Rules { stuck_after: None },
        first_sweep_window: std::time::Duration::from_secs(3600),
    }
}
