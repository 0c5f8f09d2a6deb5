//! The real binary as a hub in Lambda mode: Git sync events forwarded from member accounts
//! through the organization bus, the schedule, manual checks, and the metrics, with every
//! AWS endpoint a loopback one given through the `AWS_ENDPOINT_URL_*` variables.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sync_notifier::domain::ResourceName;
use sync_notifier::loopback::access_key_for;

use crate::shared::{Answer, LoopbackRuntimeApi, Receiver};
use crate::support::*;

fn sample(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A Git sync event for `stack` as the organization bus delivers it: from the member's
/// account and Region.
fn forwarded(account: &str, region: &str, stack: &str) -> Value {
    let mut event = sample("git-sync-status-change.json");
    event["account"] = account.into();
    event["region"] = region.into();
    event["detail"]["syncTarget"] = stack.into();
    event["resources"] = serde_json::json!([format!(
        "arn:aws:cloudformation:{region}:{account}:stack/{stack}/cd915317-4354-4dee-8b1d-c53fd096584c"
    )]);
    event
}

/// The hub function, started as Lambda would start it, every endpoint on loopback.
fn hub_function(runtime: &LoopbackRuntimeApi, org: &Org, extra: &[(&str, &str)]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    runtime
        .lambda_environment(&mut command)
        .env("AWS_ACCESS_KEY_ID", access_key_for(HUB))
        .env("AWS_ENDPOINT_URL_STS", org.apis.endpoint())
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", org.apis.endpoint())
        .env(
            "AWS_ENDPOINT_URL_CODECONNECTIONS",
            org.codeconnections.endpoint_url(),
        )
        .env(
            "AWS_ENDPOINT_URL_CLOUDFORMATION",
            org.codeconnections.endpoint_url(),
        )
        .env("STUCK_AFTER_MINUTES", "0")
        // As the template sets them: always, "" meaning unset.
        .env("WATCH_RESOURCES", "*")
        .env("STATE_TABLE", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    Running(Some(command.spawn().unwrap()))
}

/// A function process that is stopped and reaped however the test ends.
struct Running(Option<Child>);

impl Running {
    /// Stops it and returns what it wrote (stdout: JSON logs and metrics).
    fn stop(mut self) -> String {
        let mut child = self.0.take().unwrap();
        child.kill().ok();
        let output = child.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

async fn answer(runtime: &LoopbackRuntimeApi, event: Value) -> Value {
    match runtime.invoke(event).await.expect("an answer") {
        Answer::Response(summary) => summary,
        Answer::Error(error) => panic!("the invocation failed: {error}"),
        Answer::TooLate(summary) => panic!("answered after the deadline: {summary}"),
    }
}

fn told(summary: &Value) -> Vec<(String, String)> {
    let mut told: Vec<(String, String)> = summary["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap().to_owned(),
                t["resource"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    told.sort();
    told
}

fn pair(kind: &str, resource: &str) -> (String, String) {
    (kind.to_owned(), resource.to_owned())
}

#[tokio::test]
async fn a_forwarded_event_is_checked_in_its_members_account_and_region() {
    let org = Org::start(
        members(),
        fleet(LAYOUT, &["dev-api", "prod-eu-3", "prod-eu-1"]),
    )
    .await;
    let webhook = Receiver::start().await.unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let function = hub_function(
        &runtime,
        &org,
        &[
            ("TARGET_ACCOUNTS", &format!("{HUB},{DEV},{PROD}")),
            ("TARGET_REGIONS", "us-east-1,eu-west-1"),
            ("WEBHOOK_URL", &webhook.url()),
            ("WEBHOOK_SECRET", SECRET),
        ],
    );

    // The schedule: every account and Region, baselines.
    let first = answer(&runtime, sample("scheduled-event.json")).await;
    assert_eq!(first["resourcesChecked"], 9, "{first}");
    assert_eq!(first["baselines"], 9);

    // dev's stack fails; its Git sync event arrives through the organization bus.
    org.codeconnections.set_tick(1);
    let pushed = answer(&runtime, forwarded(DEV, "us-east-1", "dev-api")).await;
    assert_eq!(pushed["resourcesChecked"], 1, "{pushed}");
    assert_eq!(
        told(&pushed),
        [pair("sync.failed", "222222222222/us-east-1/dev-api")]
    );
    let delivered = webhook.received();
    assert_eq!(delivered.len(), 1);
    let data = &delivered[0].json()["data"];
    assert_eq!(data["account"], DEV);
    assert_eq!(data["region"], "us-east-1");
    assert!(
        data.get("accountName").is_none(),
        "no name without ListAccounts: {data}"
    );

    // From an account, or a Region, that is not a target: ignored, and not an error.
    for (account, region) in [("999999999999", "us-east-1"), (DEV, "ap-south-1")] {
        let ignored = answer(&runtime, forwarded(account, region, "dev-api")).await;
        assert_eq!(ignored["resourcesChecked"], 0, "{ignored}");
    }

    // The repository-level event: that link's stacks, in the member's account and Region.
    let link = org
        .codeconnections
        .link_in(
            PROD,
            "eu-west-1",
            &ResourceName::parse("prod-eu-1").unwrap(),
        )
        .unwrap();
    let mut repository = sample("git-sync-repository-status-change.json");
    repository["account"] = PROD.into();
    repository["region"] = "eu-west-1".into();
    repository["detail"]["repositoryLinkId"] = link.into();
    let linked = answer(&runtime, repository).await;
    assert_eq!(linked["resourcesChecked"], 3, "{linked}");
    assert_eq!(
        told(&linked),
        [
            pair("sync.failed", "333333333333/eu-west-1/prod-eu-1"),
            pair("sync.failed", "333333333333/eu-west-1/prod-eu-3"),
        ]
    );

    // The schedule after them tells nothing again.
    let scheduled = answer(&runtime, sample("scheduled-event.json")).await;
    assert_eq!(scheduled["resourcesChecked"], 9);
    assert!(told(&scheduled).is_empty(), "{scheduled}");
    assert_eq!(webhook.received().len(), 3, "each failure told once");

    // A manual check names hub stacks by account, Region and name...
    let manual = answer(
        &runtime,
        serde_json::json!({"resources": ["333333333333/eu-west-1/prod-eu-2"]}),
    )
    .await;
    assert_eq!(manual["resourcesChecked"], 1, "{manual}");
    // ...and a bare name is refused, saying so.
    let Some(Answer::Error(error)) = runtime
        .invoke(serde_json::json!({"resources": ["prod-eu-2"]}))
        .await
    else {
        panic!("a bare name was accepted")
    };
    assert_eq!(error["errorType"], "UnsupportedEvent");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("unsupported event: resources[0]: \"prod-eu-2\" names no account and Region; an org-wide hub checks ACCOUNT/REGION/STACK, like 111122223333/us-east-1/prod-eu-2"),
        "{message}"
    );
    let Some(Answer::Error(error)) = runtime
        .invoke(serde_json::json!({"resources": ["444444444444/eu-west-1/prod-eu-2"]}))
        .await
    else {
        panic!("a stack outside the targets was accepted")
    };
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("account 444444444444 in eu-west-1 is not a target of this hub (TARGET_ACCOUNTS, TARGET_REGIONS)"),
        "{message}"
    );

    // Warm invocations kept the clients: one AssumeRole per member account in all.
    assert_eq!(org.apis.assumed(DEV), 1);
    assert_eq!(org.apis.assumed(PROD), 1);
    assert_eq!(org.apis.assumed(HUB), 0);
    assert_eq!(org.apis.caller_identity_calls(), 1);

    let logs = function.stop();
    assert!(
        logs.contains("not a target of this hub (TARGET_ACCOUNTS, TARGET_REGIONS); ignored")
            && logs.contains("999999999999")
            && logs.contains("ap-south-1"),
        "the ignored events are logged: {logs}"
    );
    assert!(
        logs.lines()
            .any(|line| line.contains("\"CloudWatchMetrics\"")
                && line.contains("\"TargetFailures\":0")),
        "{logs}"
    );
    assert!(
        !logs.contains(SECRET) && !logs.contains("loopback-secret-"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_denied_account_is_a_target_failure_and_the_invocation_still_succeeds() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    org.apis.deny(PROD);
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let function = hub_function(
        &runtime,
        &org,
        &[("TARGET_ACCOUNTS", "*"), ("TARGET_REGIONS", "")],
    );
    for _ in 0..2 {
        let summary = answer(&runtime, sample("scheduled-event.json")).await;
        assert_eq!(summary["targetFailures"], 1, "{summary}");
        assert_eq!(summary["failures"][0]["resource"], "account 333333333333");
        assert_eq!(summary["resourcesChecked"], 3, "hub and dev in us-east-1");
    }
    // An event from the denied account is checked there, and fails as that account does.
    let pushed = answer(&runtime, forwarded(PROD, "us-east-1", "prod-api")).await;
    assert_eq!(pushed["failureCount"], 1, "{pushed}");
    assert_eq!(
        pushed["failures"][0]["resource"],
        "333333333333/us-east-1/prod-api"
    );
    let reason = pushed["failures"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("access denied: could not assume arn:aws:iam::333333333333:role/SyncNotifierReadRole (AccessDenied"),
        "{reason}"
    );
    assert_eq!(org.apis.list_accounts_calls(), 1, "kept for ten minutes");

    let logs = function.stop();
    let metrics: Vec<Value> = logs
        .lines()
        .filter(|line| line.contains("\"CloudWatchMetrics\""))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(metrics.len(), 3, "{logs}");
    assert_eq!(metrics[0]["TargetFailures"], 1);
    assert_eq!(
        metrics[0]["ResourceCheckFailures"], 0,
        "a target failure is not a stack's"
    );
    assert_eq!(metrics[2]["TargetFailures"], 0);
    assert_eq!(
        metrics[2]["ResourceCheckFailures"], 1,
        "the stack the event named"
    );
    assert_eq!(
        metrics[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([[]])
    );
}

#[tokio::test]
async fn a_bad_hub_configuration_fails_the_init_naming_the_variable_and_the_fix() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let function = hub_function(
        &runtime,
        &org,
        &[
            ("TARGET_ACCOUNTS", "2222,333333333333"),
            ("TARGET_REGIONS", "us-east-1,eu-wset-1"),
        ],
    );
    let mut child = function;
    let status = tokio::task::spawn_blocking(move || {
        let process = child.0.as_mut().unwrap();
        for _ in 0..200 {
            if process.try_wait().unwrap().is_some() {
                return child.stop();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the function did not stop on a bad configuration");
    })
    .await
    .unwrap();
    assert!(
        status.contains("TARGET_ACCOUNTS: item 1 \\\"2222\\\" is not an AWS account id"),
        "{status}"
    );
    assert!(
        status.contains(
            "TARGET_REGIONS: item 2 \\\"eu-wset-1\\\" is not a Region this release knows"
        ),
        "{status}"
    );
    assert_eq!(org.apis.caller_identity_calls(), 0, "nothing called");
}
