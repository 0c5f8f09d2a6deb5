//! Say why (ARCHITECTURE §14), through the runner: a failure carries its root cause, an
//! ending what it changed, every message about an attempt its compare link; the stack
//! events are an optional read, made only on a transition, and one that fails sends the
//! message without them. Through the real SDK clients against the loopback endpoint, which
//! answers CodeConnections and CloudFormation on one port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sync_notifier::loopback::{
    CloudFormationFault, CloudFormationOptions, LoopbackCodeConnections, LoopbackOptions,
    loopback_client, loopback_cloudformation_client,
};
use sync_notifier::notify::{ConsoleFormat, Destination};
use sync_notifier::run::{RunSettings, Runner, Summary, Tick};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::{CloudFormationReader, CodeConnectionsSource};
use sync_notifier::store::LocalStore;

use crate::support::{Captured, config, replay_json, scenario};

fn body<'a>(bodies: &'a [Value], kind: &str, stack: &str) -> &'a Value {
    bodies
        .iter()
        .find(|body| body["type"] == kind && body["data"]["resourceName"] == stack)
        .unwrap_or_else(|| panic!("no {kind} of {stack} in {bodies:#?}"))
}

fn logical_ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|changed| changed["logicalId"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_demo_says_why_its_failure_failed_what_each_ending_changed_and_where_to_compare() {
    let (bodies, _) = replay_json(&scenario("demo"), &config(&[])).await;

    let failed = &body(&bodies, "sync.failed", "orders-stack")["data"];
    let cause = &failed["rootCause"];
    assert_eq!(cause["logicalId"], "OrdersTable");
    assert_eq!(cause["resourceType"], "AWS::DynamoDB::Table");
    assert_eq!(cause["status"], "CREATE_FAILED");
    assert_eq!(
        cause["stack"], "orders-stack-DataStack-1R2T3Y4U5I6O",
        "the deepest nested stack"
    );
    assert!(
        cause["reason"]
            .as_str()
            .unwrap()
            .contains("Table already exists: orders-v2"),
        "{cause}"
    );
    assert_eq!(
        logical_ids(&failed["changes"]["updated"]),
        ["OrdersQueue", "DataStack"]
    );
    assert!(
        failed["compareUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://github.com/acme/infra/compare/7a3e5c1"),
        "from the last success: {failed}"
    );

    let succeeded = &body(&bodies, "sync.succeeded", "payments-stack")["data"];
    assert!(succeeded.get("rootCause").is_none(), "{succeeded}");
    assert_eq!(
        logical_ids(&succeeded["changes"]["created"]),
        ["PaymentsTopic"]
    );
    assert_eq!(
        logical_ids(&succeeded["changes"]["deleted"]),
        ["LegacyQueue"]
    );
    let compare = succeeded["compareUrl"].as_str().unwrap();
    assert!(
        compare.ends_with(&format!(
            "...{}",
            succeeded["targetRevision"]["sha"].as_str().unwrap()
        )),
        "to this commit: {compare}"
    );

    let started = &body(&bodies, "sync.started", "payments-stack")["data"];
    assert_eq!(
        started["compareUrl"].as_str(),
        Some(compare),
        "what is being deployed"
    );
    assert!(started.get("changes").is_none());
}

/// A runner over the demo, printing webhook bodies, against one loopback endpoint.
struct Demo {
    endpoint: LoopbackCodeConnections,
    runner: Runner<CodeConnectionsSource, LocalStore>,
    out: Captured,
}

impl Demo {
    async fn start(cloudformation: CloudFormationOptions) -> Demo {
        let scenario = Scenario::load(&scenario("demo")).unwrap();
        let endpoint = LoopbackCodeConnections::start(
            scenario,
            LoopbackOptions {
                cloudformation,
                ..LoopbackOptions::default()
            },
        )
        .await
        .unwrap();
        let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()))
            .with_cloudformation(CloudFormationReader::new(loopback_cloudformation_client(
                endpoint.endpoint_url(),
            )));
        let out = Captured::default();
        let console =
            Destination::console(ConsoleFormat::Json, Arc::new(Mutex::new(out.clone())), None);
        let runner = Runner::new(
            source,
            LocalStore::in_memory(),
            vec![console],
            RunSettings {
                watch: sync_notifier::config::Watch::Resources(
                    ["catalog-stack", "orders-stack", "payments-stack"]
                        .map(|name| sync_notifier::domain::ResourceName::parse(name).unwrap())
                        .to_vec(),
                ),
                ..crate::support::settings()
            },
        );
        Demo {
            endpoint,
            runner,
            out,
        }
    }

    async fn tick(&self, index: usize) -> Summary {
        self.endpoint.set_tick(index);
        self.runner
            .run(Tick {
                now: self.endpoint.now_of(index),
                ..Tick::watched()
            })
            .await
            .unwrap()
    }

    fn stack_event_reads(&self) -> usize {
        self.endpoint.cloudformation().calls("DescribeStackEvents")
    }

    fn bodies(&self) -> Vec<Value> {
        self.out
            .text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn stack_events_are_read_on_an_ending_only_and_a_steady_tick_reads_none() {
    let demo = Demo::start(CloudFormationOptions::default()).await;
    demo.tick(0).await;
    demo.tick(0).await;
    assert_eq!(demo.stack_event_reads(), 0, "baselines and a steady tick");
    demo.tick(1).await;
    assert_eq!(demo.stack_event_reads(), 0, "a start reads nothing");
    demo.tick(2).await;
    let after_success = demo.stack_event_reads();
    assert_eq!(after_success, 1, "payments-stack's success: one page");
    demo.tick(3).await;
    // orders-stack's failure: its own events, then its failed nested stack's.
    assert_eq!(demo.stack_event_reads() - after_success, 2);
    let reads = demo.stack_event_reads();
    demo.tick(3).await;
    assert_eq!(
        demo.stack_event_reads(),
        reads,
        "nothing changed, nothing read"
    );
}

#[tokio::test]
async fn a_stack_events_read_that_fails_sends_the_failure_without_its_why() {
    for (fault, kind) in [
        (CloudFormationFault::Deny, "access denied"),
        (CloudFormationFault::Throttle, "throttled"),
        (CloudFormationFault::Hang, "timed out"),
        (CloudFormationFault::Garbage, "malformed answer"),
    ] {
        let demo = Demo::start(CloudFormationOptions {
            faults: HashMap::from([("DescribeStackEvents".to_owned(), fault.clone())]),
            ..CloudFormationOptions::default()
        })
        .await;
        let mut summaries = Vec::new();
        for tick in 0..4 {
            summaries.push(demo.tick(tick).await);
        }
        let bodies = demo.bodies();
        let failed = &body(&bodies, "sync.failed", "orders-stack")["data"];
        assert!(failed.get("rootCause").is_none(), "{fault:?}: {failed}");
        assert!(
            failed["compareUrl"].is_string(),
            "{fault:?}: what needs no read stays"
        );
        assert_eq!(bodies.len(), 4, "{fault:?}: every message went out");
        let failures = &summaries[3].optional_read_failures;
        assert_eq!(failures.len(), 1, "{fault:?}: {failures:?}");
        assert_eq!(failures[0].api, "DescribeStackEvents");
        assert_eq!(failures[0].kind, kind, "{fault:?}");
        assert_eq!(summaries[3].failure_count, 0, "{fault:?}");
        if let CloudFormationFault::Deny = fault {
            assert!(
                failures[0]
                    .fix
                    .contains("add cloudformation:DescribeStackEvents"),
                "{failures:?}"
            );
        }
    }
}

#[tokio::test]
async fn check_reads_stack_events_where_aws_endpoint_url_cloudformation_points() {
    // The loopback answers CloudFormation on its own port; `check` finds it only through
    // AWS_ENDPOINT_URL_CLOUDFORMATION. Without it, the why would be missing.
    let scenario = Scenario::load(&scenario("demo")).unwrap();
    let endpoint = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let check = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
        command
            .args(["check", "--state"])
            .arg(home.path().join("state.json"))
            .env_clear()
            .env("HOME", home.path())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("STUCK_AFTER_MINUTES", "0")
            .env("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url())
            .env("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url())
            .kill_on_drop(true);
        async move {
            tokio::time::timeout(Duration::from_secs(60), command.output())
                .await
                .expect("check ends")
                .unwrap()
        }
    };
    endpoint.set_tick(1);
    let baseline = check().await;
    assert_eq!(baseline.status.code(), Some(0), "{baseline:?}");
    endpoint.set_tick(3);
    let failed = check().await;
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(
        stdout.contains(
            "why: OrdersTable (AWS::DynamoDB::Table) CREATE_FAILED — Table already exists: orders-v2"
        ),
        "{stdout}\n{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(endpoint.cloudformation().calls("DescribeStackEvents") >= 1);
}
