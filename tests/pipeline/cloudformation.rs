//! The CloudFormation adapter through the real `aws-sdk-cloudformation` client and the
//! loopback awsQuery endpoint: stack histories (root causes nested 1–3 levels down, paging,
//! older attempts, bad events) and stack tags, and how each failure is classified.

use std::collections::HashMap;

use serde_json::{Value, json};
use sync_notifier::domain::explain::{Gap, REASON_CHARS};
use sync_notifier::domain::{ResourceName, StackRef, Timestamp, changes, root_cause};
use sync_notifier::loopback::{
    CloudFormationFault, CloudFormationOptions, LoopbackCodeConnections, LoopbackOptions,
    loopback_client, loopback_cloudformation_client,
};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::{
    CloudFormationReader, CodeConnectionsSource, SourceErrorKind, StatusSource, TAG_KEY_CHARS,
    TAGS_PER_STACK,
};

/// The attempt's `StartedAt`.
const SINCE: i64 = 1_795_687_330;

fn since() -> Timestamp {
    Timestamp::from_millis(SINCE * 1000)
}

fn arn(name: &str) -> String {
    format!(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/5f1e2d3c-0000-4000-8000-{name:.>12}"
    )
}

/// One `DescribeStackEvents` event, `seconds` after the attempt started.
fn event(
    stack: &str,
    logical_id: &str,
    kind: &str,
    status: &str,
    reason: &str,
    seconds: i64,
) -> Value {
    let mut event = json!({
        "StackId": arn(stack), "EventId": format!("{logical_id}-{status}-{seconds}"), "StackName": stack,
        "LogicalResourceId": logical_id, "ResourceType": kind, "Timestamp": SINCE + seconds,
        "ResourceStatus": status,
    });
    if !reason.is_empty() {
        event["ResourceStatusReason"] = json!(reason);
    }
    if logical_id == stack {
        event["PhysicalResourceId"] = json!(arn(stack));
    }
    event
}

/// The stack's own event.
fn own(stack: &str, status: &str, reason: &str, seconds: i64) -> Value {
    event(
        stack,
        stack,
        "AWS::CloudFormation::Stack",
        status,
        reason,
        seconds,
    )
}

/// A nested stack resource of `parent` that failed because `child` did.
fn nested_failed(parent: &str, logical_id: &str, child: &str, seconds: i64) -> Value {
    let mut event = event(
        parent,
        logical_id,
        "AWS::CloudFormation::Stack",
        "UPDATE_FAILED",
        &format!(
            "Embedded stack {} was not successfully updated. Currently in UPDATE_ROLLBACK_IN_PROGRESS with reason: The following resource(s) failed to create: [X].",
            arn(child)
        ),
        seconds,
    );
    event["PhysicalResourceId"] = json!(arn(child));
    event
}

const TABLE_EXISTS: &str = "Resource handler returned message: \"Table already exists: orders-v2 (Service: DynamoDb, Status Code: 400)\"";

/// A loopback endpoint serving one tick: `stacks` are (name, `@stackEvents`) pairs; the
/// first is the watched stack (with a status), the others nested-only entries.
async fn endpoint(
    stacks: &[(&str, Vec<Value>)],
    options: CloudFormationOptions,
) -> (LoopbackCodeConnections, CloudFormationReader) {
    let mut tick = serde_json::Map::new();
    for (index, (name, events)) in stacks.iter().enumerate() {
        let entry = if index == 0 {
            json!({"LatestSync": {"StartedAt": SINCE, "Status": "FAILED"}, "@stackEvents": events})
        } else {
            json!({"@stackEvents": events})
        };
        tick.insert(name.to_string(), entry);
    }
    serve(json!({"ticks": [tick]}), options).await
}

async fn serve(
    scenario: Value,
    options: CloudFormationOptions,
) -> (LoopbackCodeConnections, CloudFormationReader) {
    let scenario = Scenario::parse(&scenario.to_string()).unwrap();
    let options = LoopbackOptions {
        cloudformation: options,
        ..LoopbackOptions::default()
    };
    let endpoint = LoopbackCodeConnections::start(scenario, options)
        .await
        .unwrap();
    let reader = CloudFormationReader::new(loopback_cloudformation_client(endpoint.endpoint_url()));
    (endpoint, reader)
}

/// A failure `levels` nested stacks down: each parent reports its child's failure (a
/// cascade), the deepest stack holds the real one, and the top stack an earlier failure of
/// its own that a deeper one outranks.
fn chain(levels: usize) -> Vec<(String, Vec<Value>)> {
    let names: Vec<String> = (0..=levels)
        .map(|depth| match depth {
            0 => "orders-stack".to_owned(),
            depth => format!("orders-stack-Level{depth}-1ABC"),
        })
        .collect();
    names
        .iter()
        .enumerate()
        .map(|(depth, name)| {
            let at = 100 - depth as i64 * 10;
            let mut events = vec![own(name, "UPDATE_IN_PROGRESS", "User Initiated", 5)];
            if depth == 0 {
                events.push(event(
                    name,
                    "Queue",
                    "AWS::SQS::Queue",
                    "UPDATE_FAILED",
                    "Resource update cancelled",
                    20,
                ));
            }
            match names.get(depth + 1) {
                Some(child) => events.push(nested_failed(
                    name,
                    &format!("Level{}", depth + 1),
                    child,
                    at,
                )),
                None => events.push(event(
                    name,
                    "OrdersTable",
                    "AWS::DynamoDB::Table",
                    "CREATE_FAILED",
                    TABLE_EXISTS,
                    at,
                )),
            }
            events.push(own(
                name,
                "UPDATE_ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to update: [X].",
                at + 1,
            ));
            (name.clone(), events)
        })
        .collect()
}

#[tokio::test]
async fn the_root_cause_is_found_one_two_and_three_nested_stacks_down() {
    for levels in 0..=3 {
        let stacks = chain(levels);
        let borrowed: Vec<(&str, Vec<Value>)> = stacks
            .iter()
            .map(|(name, events)| (name.as_str(), events.clone()))
            .collect();
        let (endpoint, reader) = endpoint(&borrowed, CloudFormationOptions::default()).await;
        let history = reader.stack_history("orders-stack", since()).await.unwrap();
        assert_eq!(history.stacks.len(), levels + 1, "{history:?}");
        assert!(history.gaps.is_empty(), "{:?}", history.gaps);
        let deepest = &history.stacks[levels];
        assert_eq!(usize::from(deepest.depth), levels);
        let cause = root_cause(&history).unwrap();
        assert_eq!(
            cause.logical_id, "OrdersTable",
            "{levels} levels: {cause:?}"
        );
        assert_eq!(cause.stack, stacks[levels].0);
        assert_eq!(cause.status, "CREATE_FAILED");
        assert_eq!(cause.reason.as_deref(), Some(TABLE_EXISTS));
        assert_eq!(
            cause.time,
            Timestamp::from_millis((SINCE + 100 - levels as i64 * 10) * 1000)
        );
        // One page per stack: the stack, then each nested stack by its ARN.
        assert_eq!(
            endpoint.cloudformation().calls("DescribeStackEvents"),
            levels + 1
        );
        for (name, _) in &stacks[1..] {
            assert_eq!(
                endpoint
                    .cloudformation()
                    .calls_for("DescribeStackEvents", &arn(name)),
                1
            );
        }
    }
}

#[tokio::test]
async fn no_more_than_three_levels_are_followed() {
    let stacks = chain(4);
    let borrowed: Vec<(&str, Vec<Value>)> = stacks
        .iter()
        .map(|(name, events)| (name.as_str(), events.clone()))
        .collect();
    let (endpoint, reader) = endpoint(&borrowed, CloudFormationOptions::default()).await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert_eq!(history.stacks.len(), 4);
    assert_eq!(endpoint.cloudformation().calls("DescribeStackEvents"), 4);
    assert_eq!(
        history.gaps,
        vec![Gap::NotFollowed {
            stack: stacks[4].0.clone()
        }]
    );
    // The deepest stack read holds only its report of the fourth level: no resource of its
    // own failed, so no root cause is invented from a cascade.
    assert_eq!(root_cause(&history), None);
}

#[tokio::test]
async fn events_of_an_older_attempt_end_the_read_and_never_count() {
    let events = vec![
        own("orders-stack", "UPDATE_IN_PROGRESS", "User Initiated", 5),
        event(
            "orders-stack",
            "Topic",
            "AWS::SNS::Topic",
            "CREATE_COMPLETE",
            "",
            30,
        ),
        // The attempt before: its failure must not be this one's cause.
        event(
            "orders-stack",
            "OldTable",
            "AWS::DynamoDB::Table",
            "CREATE_FAILED",
            "old trouble",
            -600,
        ),
        own("orders-stack", "UPDATE_ROLLBACK_COMPLETE", "", -500),
        own("orders-stack", "UPDATE_IN_PROGRESS", "", -700),
        own("orders-stack", "UPDATE_COMPLETE", "", -4000),
        own("orders-stack", "UPDATE_IN_PROGRESS", "", -4100),
        own("orders-stack", "CREATE_COMPLETE", "", -9000),
    ];
    let options = CloudFormationOptions {
        events_page_size: 2,
        ..CloudFormationOptions::default()
    };
    let (endpoint, reader) = endpoint(&[("orders-stack", events)], options).await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert_eq!(root_cause(&history), None);
    let read: Vec<&str> = history.stacks[0]
        .events
        .iter()
        .map(|event| event.logical_id.as_str())
        .collect();
    assert_eq!(
        read,
        ["orders-stack", "Topic"],
        "oldest first, the older attempt left out"
    );
    assert_eq!(
        endpoint.cloudformation().calls("DescribeStackEvents"),
        2,
        "the page that reached the older attempt was the last"
    );
    assert_eq!(changes(&history).created[0].logical_id, "Topic");
}

#[tokio::test]
async fn pages_are_read_newest_first_up_to_five() {
    let attempt = |count: i64| -> Vec<Value> {
        (0..count)
            .map(|index| {
                event(
                    "orders-stack",
                    &format!("Queue{index}"),
                    "AWS::SQS::Queue",
                    "CREATE_COMPLETE",
                    "",
                    10 + index,
                )
            })
            .collect()
    };
    let options = || CloudFormationOptions {
        events_page_size: 3,
        ..CloudFormationOptions::default()
    };
    // 11 events: four pages, all read.
    let (short, reader) = endpoint(&[("orders-stack", attempt(11))], options()).await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert_eq!(history.stacks[0].events.len(), 11);
    assert_eq!(
        history.stacks[0].events[0].logical_id, "Queue0",
        "oldest first"
    );
    assert_eq!(short.cloudformation().calls("DescribeStackEvents"), 4);
    assert!(history.gaps.is_empty());
    // 40 events: five pages, the 15 newest, and a gap that says so.
    let (long, reader) = endpoint(&[("orders-stack", attempt(40))], options()).await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert_eq!(long.cloudformation().calls("DescribeStackEvents"), 5);
    assert_eq!(history.stacks[0].events.len(), 15);
    assert_eq!(history.stacks[0].events[0].logical_id, "Queue25");
    assert_eq!(
        history.gaps,
        vec![Gap::PageLimit {
            stack: "orders-stack".into()
        }]
    );
}

#[tokio::test]
async fn failures_are_classified_and_throttling_is_retried() {
    let events = vec![own("orders-stack", "UPDATE_IN_PROGRESS", "", 5)];
    for (fault, kind, calls, words) in [
        (
            CloudFormationFault::Deny,
            SourceErrorKind::AccessDenied,
            1,
            "AccessDenied: User: arn:aws:sts::",
        ),
        (
            CloudFormationFault::Throttle,
            SourceErrorKind::Throttled,
            3,
            "Throttling: Rate exceeded",
        ),
        (
            CloudFormationFault::Garbage,
            SourceErrorKind::Malformed,
            1,
            "could not be decoded",
        ),
    ] {
        let options = CloudFormationOptions {
            faults: HashMap::from([("DescribeStackEvents".to_owned(), fault.clone())]),
            ..CloudFormationOptions::default()
        };
        let (endpoint, reader) = endpoint(&[("orders-stack", events.clone())], options).await;
        let error = reader
            .stack_history("orders-stack", since())
            .await
            .unwrap_err();
        assert_eq!(error.kind, kind, "{fault:?}: {error}");
        assert!(error.message.contains(words), "{fault:?}: {error}");
        assert_eq!(
            endpoint.cloudformation().calls("DescribeStackEvents"),
            calls,
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_cut_by_the_client_timeouts() {
    let options = CloudFormationOptions {
        faults: HashMap::from([("DescribeStacks".to_owned(), CloudFormationFault::Hang)]),
        ..CloudFormationOptions::default()
    };
    let (endpoint, reader) = endpoint(&[("orders-stack", Vec::new())], options).await;
    let error = reader.stack_tags().await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::TimedOut, "{error}");
    assert!(error.message.contains("timed out"), "{error}");
    assert!(endpoint.cloudformation().calls("DescribeStacks") >= 1);
}

#[tokio::test]
async fn a_stack_that_no_longer_exists_is_not_found() {
    let (_endpoint, reader) = endpoint(
        &[("orders-stack", Vec::new())],
        CloudFormationOptions::default(),
    )
    .await;
    let error = reader
        .stack_history("deleted-stack", since())
        .await
        .unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::NotFound, "{error}");
    assert_eq!(
        error.message,
        "ValidationError: Stack with id deleted-stack does not exist"
    );
    // A watched stack without events exists and has none.
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert!(history.stacks[0].events.is_empty());
}

#[tokio::test]
async fn a_nested_stack_that_cannot_be_read_leaves_the_parent_history_and_says_so() {
    let events = vec![
        own("orders-stack", "UPDATE_IN_PROGRESS", "", 5),
        event(
            "orders-stack",
            "Function",
            "AWS::Lambda::Function",
            "UPDATE_FAILED",
            "Role is invalid",
            50,
        ),
        nested_failed("orders-stack", "Data", "orders-stack-Data-GONE", 60),
    ];
    // The nested stack is not in the tick: ValidationError, as for a deleted stack.
    let (endpoint, reader) = endpoint(
        &[("orders-stack", events)],
        CloudFormationOptions::default(),
    )
    .await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert_eq!(history.stacks.len(), 1);
    assert_eq!(history.stacks[0].events.len(), 3);
    assert!(
        matches!(&history.gaps[..], [Gap::Unread { stack, reason }] if stack == "orders-stack-Data-GONE" && reason.contains("does not exist")),
        "{:?}",
        history.gaps
    );
    assert_eq!(root_cause(&history).unwrap().logical_id, "Function");
    assert_eq!(endpoint.cloudformation().calls("DescribeStackEvents"), 2);
}

#[tokio::test]
async fn events_with_missing_members_are_skipped_and_the_rest_explain() {
    let mut no_logical_id = event(
        "orders-stack",
        "Broken",
        "AWS::SQS::Queue",
        "CREATE_FAILED",
        "first, but unreadable",
        10,
    );
    no_logical_id
        .as_object_mut()
        .unwrap()
        .remove("LogicalResourceId");
    let mut no_event_id = event(
        "orders-stack",
        "Broken2",
        "AWS::SQS::Queue",
        "CREATE_FAILED",
        "unreadable",
        11,
    );
    no_event_id.as_object_mut().unwrap().remove("EventId");
    let mut no_time = event(
        "orders-stack",
        "Broken3",
        "AWS::SQS::Queue",
        "CREATE_FAILED",
        "unreadable",
        12,
    );
    no_time.as_object_mut().unwrap().remove("Timestamp");
    let mut no_status = event(
        "orders-stack",
        "Broken4",
        "AWS::SQS::Queue",
        "CREATE_FAILED",
        "unreadable",
        13,
    );
    no_status.as_object_mut().unwrap().remove("ResourceStatus");
    let events = vec![
        no_logical_id,
        no_event_id,
        no_time,
        no_status,
        event(
            "orders-stack",
            "OrdersTable",
            "AWS::DynamoDB::Table",
            "CREATE_FAILED",
            TABLE_EXISTS,
            40,
        ),
    ];
    let (_endpoint, reader) = endpoint(
        &[("orders-stack", events)],
        CloudFormationOptions::default(),
    )
    .await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert_eq!(
        history.stacks[0].events.len(),
        1,
        "{:?}",
        history.stacks[0].events
    );

    assert_eq!(
        history.gaps,
        vec![Gap::Skipped {
            stack: "orders-stack".into(),
            events: 4
        }]
    );
    assert_eq!(root_cause(&history).unwrap().logical_id, "OrdersTable");
}

#[tokio::test]
async fn a_nested_physical_id_that_is_not_a_stack_arn_is_not_followed() {
    let mut odd = nested_failed("orders-stack", "Data", "x", 30);
    odd["PhysicalResourceId"] = json!("arn:aws:cloudformation:us-east-1:123:stack/");
    let events = vec![
        odd,
        event(
            "orders-stack",
            "Queue",
            "AWS::SQS::Queue",
            "CREATE_FAILED",
            "Queue name taken",
            40,
        ),
    ];
    let (endpoint, reader) = endpoint(
        &[("orders-stack", events)],
        CloudFormationOptions::default(),
    )
    .await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    assert_eq!(endpoint.cloudformation().calls("DescribeStackEvents"), 1);
    assert!(history.gaps.is_empty(), "{:?}", history.gaps);
    assert_eq!(root_cause(&history).unwrap().logical_id, "Queue");
}

#[tokio::test]
async fn a_100_kb_reason_is_cut_and_invisible_characters_reach_the_renderers() {
    let huge = format!(
        "Bad\u{7f}\u{9b}\u{202e}\u{200b}\nthing\u{1b}{}",
        "x".repeat(100 * 1024)
    );
    let events = vec![event(
        "orders-stack",
        "Queue",
        "AWS::SQS::Queue",
        "CREATE_FAILED",
        &huge,
        40,
    )];
    let (_endpoint, reader) = endpoint(
        &[("orders-stack", events)],
        CloudFormationOptions::default(),
    )
    .await;
    let history = reader.stack_history("orders-stack", since()).await.unwrap();
    let reason = root_cause(&history).unwrap().reason.unwrap();
    assert_eq!(reason.chars().count(), REASON_CHARS);
    // XML cannot carry ESC at all (the stand-in, like any XML answer, has none); the rest
    // is kept for the renderers to escape.
    assert!(
        reason.starts_with("Bad\u{7f}\u{9b}\u{202e}\u{200b}\nthing\u{fffd}xxx"),
        "{:?}",
        &reason[..40]
    );
}

#[tokio::test]
async fn tags_of_every_stack_are_read_across_pages_within_the_model_limits() {
    let many: serde_json::Map<String, Value> = (0..60)
        .map(|index| (format!("k{index:02}"), json!("v")))
        .collect();
    let status = json!({"StartedAt": SINCE, "Status": "SUCCEEDED"});
    let scenario = json!({"ticks": [{
        "a-stack": {"LatestSync": status, "@tags": {"team": "payments", "sync-notifier:slack-channel": "C0123"}},
        "b-stack": {"LatestSync": status, "@tags": many},
        "c-stack": {"LatestSync": status, "@tags": {"k".repeat(200): "v".repeat(300)}},
        "d-stack": {"LatestSync": status},
        "e-stack": {"__type": "ThrottlingException", "message": "slow", "@tags": {"team": "orders"}},
        "a-stack-Nested-1ABC": {"@stackEvents": [], "@tags": {"team": "payments"}}
    }]});
    let options = CloudFormationOptions {
        stacks_page_size: 2,
        ..CloudFormationOptions::default()
    };
    let (endpoint, reader) = serve(scenario, options).await;
    let tags = reader.stack_tags().await.unwrap();
    assert_eq!(endpoint.cloudformation().calls("DescribeStacks"), 3);
    let of = |name: &str| &tags[&ResourceName::parse(name).unwrap()];
    let names: Vec<&str> = tags.keys().map(ResourceName::as_str).collect();
    assert_eq!(
        names,
        ["a-stack", "b-stack", "c-stack", "d-stack", "e-stack"],
        "the watched stacks"
    );
    let mut a_tags = of("a-stack").clone();
    a_tags.sort();
    assert_eq!(
        a_tags,
        vec![
            ("sync-notifier:slack-channel".to_owned(), "C0123".to_owned()),
            ("team".to_owned(), "payments".to_owned())
        ]
    );
    assert_eq!(of("b-stack").len(), TAGS_PER_STACK);
    assert_eq!(of("c-stack")[0].0.chars().count(), TAG_KEY_CHARS);
    assert_eq!(of("c-stack")[0].1.chars().count(), 256);
    assert!(of("d-stack").is_empty());
    assert_eq!(of("e-stack")[0].1, "orders");
}

#[tokio::test]
async fn tags_denied_are_access_denied() {
    let options = CloudFormationOptions {
        faults: HashMap::from([("DescribeStacks".to_owned(), CloudFormationFault::Deny)]),
        ..CloudFormationOptions::default()
    };
    let (_endpoint, reader) = endpoint(&[("orders-stack", Vec::new())], options).await;
    assert_eq!(
        reader.stack_tags().await.unwrap_err().kind,
        SourceErrorKind::AccessDenied
    );
}

#[tokio::test]
async fn the_status_source_offers_the_reads_only_with_a_reader() {
    let stacks = chain(1);
    let borrowed: Vec<(&str, Vec<Value>)> = stacks
        .iter()
        .map(|(name, events)| (name.as_str(), events.clone()))
        .collect();
    let (endpoint, reader) = endpoint(&borrowed, CloudFormationOptions::default()).await;
    let stack = StackRef::local(ResourceName::parse("orders-stack").unwrap());
    let plain = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()));
    assert_eq!(
        plain.stack_history(&stack, since()).await.unwrap_err().kind,
        SourceErrorKind::Unsupported
    );
    assert_eq!(
        plain.stack_tags(None).await.unwrap_err().kind,
        SourceErrorKind::Unsupported
    );
    assert_eq!(endpoint.cloudformation().total_calls(), 0);
    let source = plain.with_cloudformation(reader);
    let history = source.stack_history(&stack, since()).await.unwrap();
    assert_eq!(root_cause(&history).unwrap().logical_id, "OrdersTable");
    assert!(
        source
            .stack_tags(None)
            .await
            .unwrap()
            .contains_key(&stack.name)
    );
    // The status itself is served by the same endpoint, as before.
    assert!(
        source.fetch(&stack).await.is_err(),
        "this scenario's status is incomplete"
    );
    assert_eq!(endpoint.calls("GetResourceSyncStatus"), 1);
}

#[tokio::test]
async fn the_demo_explains_its_failure_by_a_nested_stack_and_lists_what_its_success_changed() {
    let scenario = Scenario::load(&crate::support::scenario("demo")).unwrap();
    let endpoint = LoopbackCodeConnections::start(scenario, LoopbackOptions::default())
        .await
        .unwrap();
    let source = CodeConnectionsSource::new(loopback_client(endpoint.endpoint_url()))
        .with_cloudformation(CloudFormationReader::new(loopback_cloudformation_client(
            endpoint.endpoint_url(),
        )));
    let stack = |name: &str| StackRef::local(ResourceName::parse(name).unwrap());
    let at = |seconds: i64| Timestamp::from_millis(seconds * 1000);

    endpoint.set_tick(3);
    let failed = source
        .stack_history(&stack("orders-stack"), at(1_795_687_330))
        .await
        .unwrap();
    assert!(failed.gaps.is_empty(), "{:?}", failed.gaps);
    let cause = root_cause(&failed).unwrap();
    assert_eq!(
        (
            cause.logical_id.as_str(),
            cause.resource_type.as_str(),
            cause.status.as_str()
        ),
        ("OrdersTable", "AWS::DynamoDB::Table", "CREATE_FAILED")
    );
    assert_eq!(cause.stack, "orders-stack-DataStack-1R2T3Y4U5I6O");
    assert!(
        cause
            .reason
            .unwrap()
            .contains("Table already exists: orders-v2")
    );
    let tried = changes(&failed);
    let names = |list: &[sync_notifier::domain::ChangedResource]| -> Vec<String> {
        list.iter()
            .map(|resource| resource.logical_id.clone())
            .collect()
    };
    assert_eq!(names(&tried.updated), ["OrdersQueue", "DataStack"]);
    assert!(tried.created.is_empty() && tried.deleted.is_empty());

    endpoint.set_tick(2);
    let succeeded = source
        .stack_history(&stack("payments-stack"), at(1_795_687_260))
        .await
        .unwrap();
    assert_eq!(root_cause(&succeeded), None);
    let changed = changes(&succeeded);
    assert_eq!(names(&changed.created), ["PaymentsTopic"]);
    assert_eq!(
        names(&changed.updated),
        ["PaymentsFunction", "PaymentsErrorsAlarm"]
    );
    assert_eq!(names(&changed.deleted), ["LegacyQueue"]);
}

#[tokio::test]
async fn the_stand_in_answers_after_its_latency() {
    let options = CloudFormationOptions {
        latency: std::time::Duration::from_millis(150),
        ..CloudFormationOptions::default()
    };
    let (_endpoint, reader) = endpoint(&[("orders-stack", Vec::new())], options).await;
    let started = std::time::Instant::now();
    reader.stack_tags().await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
}
