//! What every test crate (and the benchmark) shares: loopback stand-ins for the services
//! the function posts to, and small helpers. Included with
//! `#[path = "../support/mod.rs"] mod shared;`, so none of it ships in the product.
//!
//! - [`Receiver`]: an HTTP receiver that records requests and answers from a script
//!   (Slack, Teams, Discord, Google Chat, a webhook);
//! - [`PagerDutyApi`]: the PagerDuty Events API v2, with its alerts;
//! - [`SlackApi`]: the Slack Web API a Slack app posts and updates messages through;
//! - [`AwsServices`]: Amazon SNS and Amazon EventBridge, for the real SDK clients;
//! - [`StsOrganizations`]: AWS STS and AWS Organizations, for a hub's real SDK clients;
//! - [`LoopbackRuntimeApi`]: the Lambda Runtime API, to drive the real binary in Lambda mode.

// Each test crate uses its own part of this.
#![allow(dead_code, unused_imports)]

mod aws_services;
mod organization;
mod pagerduty;
mod process;
mod receiver;
mod runtime_api;
mod slack_api;

use std::io::Write;
use std::sync::{Arc, Mutex};

pub use aws_services::{AwsServices, Call, Fault, Service, entry_size};
pub use organization::{AssumeRoleCall, OrgAccount, StsOrganizations, hub_sdk_config};
pub use pagerduty::{Alert, PagerDutyApi, PdEvent};
pub use process::{measured_invoke, usage};
pub use receiver::{Receiver, Recorded, Reply};
pub use runtime_api::{Answer, LoopbackRuntimeApi};
pub use slack_api::{Posted, SlackApi, SlackCall, SlackReply};

/// A `Write` that tests can read back.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The configuration that these variables (and nothing else) give.
pub fn config(pairs: &[(&str, &str)]) -> sync_notifier::config::Config {
    let vars: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sync_notifier::config::Config::from_lookup(|name| vars.get(name).cloned())
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Captures what the code logs while `future` runs (on this thread).
pub async fn logs_of<F: std::future::Future>(future: F) -> (F::Output, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut buffer) = self.0.lock() {
                buffer.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = lambda_runtime::tracing::subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let output = future.await;
    drop(guard);
    let text = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    (output, text)
}

/// Two ticks of `app-stack`: attempt 1 running, then attempt 2 running and attempt 1 the
/// latest success, so the second tick tells two notifications, one after the other, to
/// each destination (`succeeded` of 1, then `started` of 2).
pub fn one_ends_and_the_next_starts() -> sync_notifier::scenario::Scenario {
    let revision = |sha: &str| {
        serde_json::json!({"Branch": "main", "Directory": "app.yaml", "OwnerId": "acme",
                           "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": sha})
    };
    let attempt = |started: i64, status: &str, sha: &str| {
        serde_json::json!({"Events": [{"Event": "e", "Time": started, "Type": "INFO"}],
                           "InitialRevision": revision("0000000"), "StartedAt": started,
                           "Status": status, "Target": "app-stack", "TargetRevision": revision(sha)})
    };
    let first = attempt(1_795_687_200, "IN_PROGRESS", "1111111");
    let ended = attempt(1_795_687_200, "SUCCEEDED", "1111111");
    let next = attempt(1_795_687_800, "IN_PROGRESS", "2222222");
    sync_notifier::scenario::Scenario::parse(
        &serde_json::json!({"ticks": [
            {"app-stack": {"LatestSync": first}},
            {"app-stack": {"LatestSync": next, "LatestSuccessfulSync": ended}},
        ]})
        .to_string(),
    )
    .unwrap()
}
