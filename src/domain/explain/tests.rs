//! One test per rule of the root cause, the changes and the nested stacks to follow, then
//! property tests over random histories.

use super::*;
use proptest::prelude::*;

/// The attempt starts at minute 10.
const SINCE: Timestamp = Timestamp::from_millis(1_795_687_200_000 + 10 * 60_000);

fn at(minute: i64) -> Timestamp {
    Timestamp::from_millis(1_795_687_200_000 + minute * 60_000)
}

fn event(
    stack: &str,
    logical_id: &str,
    resource_type: &str,
    status: &str,
    reason: Option<&str>,
    minute: i64,
) -> StackEvent {
    StackEvent {
        stack: stack.into(),
        logical_id: logical_id.into(),
        physical_id: None,
        resource_type: resource_type.into(),
        status: status.into(),
        reason: reason.map(str::to_owned),
        time: at(minute),
    }
}

/// An event of the stack itself.
fn own(stack: &str, status: &str, reason: Option<&str>, minute: i64) -> StackEvent {
    event(stack, stack, STACK_TYPE, status, reason, minute)
}

fn stack(name: &str, depth: u8, events: Vec<StackEvent>) -> StackEvents {
    StackEvents {
        name: name.into(),
        depth,
        events,
    }
}

fn history(stacks: Vec<StackEvents>) -> StackHistory {
    StackHistory {
        since: SINCE,
        stacks,
        gaps: Vec::new(),
    }
}

const TABLE: &str = "AWS::DynamoDB::Table";
const QUEUE: &str = "AWS::SQS::Queue";
const EXISTS: &str = "Resource handler returned message: \"Table already exists: orders-v2 (Service: DynamoDb, Status Code: 400)\"";
const CANCELLED: &str = "Resource creation cancelled";

fn nested_arn(name: &str) -> String {
    format!(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
    )
}

/// A nested stack resource in its parent, failed with `reason`.
fn nested_failed(
    parent: &str,
    logical_id: &str,
    child: &str,
    reason: &str,
    minute: i64,
) -> StackEvent {
    StackEvent {
        physical_id: Some(nested_arn(child)),
        ..event(
            parent,
            logical_id,
            STACK_TYPE,
            "CREATE_FAILED",
            Some(reason),
            minute,
        )
    }
}

fn embedded(child: &str) -> String {
    format!(
        "Embedded stack {} was not successfully created: The following resource(s) failed to create: [OrdersTable].",
        nested_arn(child)
    )
}

// ---------------------------------------------------------------------------------------
// Root cause

#[test]
fn the_root_cause_is_the_earliest_failure_that_is_not_a_cascade() {
    let events = vec![
        own("app", "UPDATE_IN_PROGRESS", Some("User Initiated"), 11),
        event("app", "Queue", QUEUE, "CREATE_IN_PROGRESS", None, 11),
        event("app", "OrdersTable", TABLE, "CREATE_IN_PROGRESS", None, 11),
        event(
            "app",
            "OrdersTable",
            TABLE,
            "CREATE_FAILED",
            Some(EXISTS),
            12,
        ),
        event("app", "Queue", QUEUE, "CREATE_FAILED", Some(CANCELLED), 12),
        event(
            "app",
            "Later",
            QUEUE,
            "UPDATE_FAILED",
            Some("something else broke"),
            13,
        ),
        own(
            "app",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            Some("The following resource(s) failed to create: [OrdersTable, Queue]."),
            13,
        ),
    ];
    let cause = root_cause(&history(vec![stack("app", 0, events)])).unwrap();
    assert_eq!(
        cause,
        RootCause {
            logical_id: "OrdersTable".into(),
            resource_type: TABLE.into(),
            status: "CREATE_FAILED".into(),
            reason: Some(EXISTS.into()),
            stack: "app".into(),
            time: at(12),
        }
    );
}

#[test]
fn cascades_are_never_the_root_cause() {
    for cascade in [
        "Resource creation cancelled",
        "Resource update cancelled",
        "The following resource(s) failed to update: [OrdersTable].",
        &embedded("app-Data-1"),
    ] {
        assert!(is_cascade(cascade), "{cascade}");
        let events = vec![event(
            "app",
            "Queue",
            QUEUE,
            "UPDATE_FAILED",
            Some(cascade),
            11,
        )];
        assert_eq!(
            root_cause(&history(vec![stack("app", 0, events)])),
            None,
            "{cascade}"
        );
    }
    assert!(!is_cascade(EXISTS));
    assert!(!is_cascade("Embedded stack names are limited"));
}

#[test]
fn events_of_an_older_attempt_never_count() {
    let events = vec![
        event(
            "app",
            "OldTable",
            TABLE,
            "CREATE_FAILED",
            Some("an older attempt"),
            9,
        ),
        event(
            "app",
            "OrdersTable",
            TABLE,
            "CREATE_FAILED",
            Some(EXISTS),
            10,
        ),
    ];
    let cause = root_cause(&history(vec![stack("app", 0, events.clone())])).unwrap();
    assert_eq!(
        cause.logical_id, "OrdersTable",
        "an event at `since` counts"
    );
    assert_eq!(
        root_cause(&history(vec![stack("app", 0, events[..1].to_vec())])),
        None
    );
}

#[test]
fn a_failure_without_a_reason_still_counts() {
    let events = vec![event("app", "Queue", QUEUE, "DELETE_FAILED", None, 11)];
    let cause = root_cause(&history(vec![stack("app", 0, events)])).unwrap();
    assert_eq!((cause.logical_id.as_str(), cause.reason), ("Queue", None));
}

#[test]
fn the_deepest_nested_stack_with_a_failure_of_its_own_wins() {
    // app → Data (app-Data-1) → Tables (app-Data-1-Tables-2) → Indexes (…-3)
    let app = stack(
        "app",
        0,
        vec![
            event(
                "app",
                "EarlyQueue",
                QUEUE,
                "CREATE_FAILED",
                Some("a failure of the parent's own"),
                11,
            ),
            nested_failed("app", "Data", "app-Data-1", &embedded("app-Data-1"), 14),
        ],
    );
    let level_1 = stack(
        "app-Data-1",
        1,
        vec![nested_failed(
            "app-Data-1",
            "Tables",
            "app-Data-1-Tables-2",
            &embedded("app-Data-1-Tables-2"),
            13,
        )],
    );
    let level_2 = stack(
        "app-Data-1-Tables-2",
        2,
        vec![
            event(
                "app-Data-1-Tables-2",
                "OrdersTable",
                TABLE,
                "CREATE_FAILED",
                Some(EXISTS),
                12,
            ),
            nested_failed(
                "app-Data-1-Tables-2",
                "Indexes",
                "app-Data-1-Tables-2-Indexes-3",
                &embedded("x"),
                12,
            ),
        ],
    );
    let level_3 = stack(
        "app-Data-1-Tables-2-Indexes-3",
        3,
        vec![event(
            "app-Data-1-Tables-2-Indexes-3",
            "Index",
            TABLE,
            "CREATE_FAILED",
            Some("limit exceeded"),
            12,
        )],
    );
    for (stacks, logical_id, depth_stack) in [
        (vec![app.clone()], "EarlyQueue", "app"),
        (vec![app.clone(), level_1.clone()], "EarlyQueue", "app"),
        (
            vec![app.clone(), level_1.clone(), level_2.clone()],
            "OrdersTable",
            "app-Data-1-Tables-2",
        ),
        (
            vec![app, level_1, level_2, level_3],
            "Index",
            "app-Data-1-Tables-2-Indexes-3",
        ),
    ] {
        let cause = root_cause(&history(stacks)).unwrap();
        assert_eq!(
            (cause.logical_id.as_str(), cause.stack.as_str()),
            (logical_id, depth_stack)
        );
    }
}

#[test]
fn a_nested_stack_with_only_cascades_leaves_the_cause_to_its_parent() {
    let app = stack(
        "app",
        0,
        vec![
            event(
                "app",
                "Function",
                "AWS::Lambda::Function",
                "CREATE_FAILED",
                Some("Role is invalid"),
                11,
            ),
            nested_failed("app", "Data", "app-Data-1", CANCELLED, 12),
        ],
    );
    let nested = stack(
        "app-Data-1",
        1,
        vec![event(
            "app-Data-1",
            "OrdersTable",
            TABLE,
            "CREATE_FAILED",
            Some(CANCELLED),
            12,
        )],
    );
    let cause = root_cause(&history(vec![app, nested])).unwrap();
    assert_eq!(cause.logical_id, "Function");
}

#[test]
fn when_only_the_stack_itself_failed_its_own_reason_is_the_cause_unless_a_cascade() {
    // A timeout, a hook, a cancelled update: the stack's own reason names the cause.
    let events = vec![
        own("app", "UPDATE_IN_PROGRESS", Some("User Initiated"), 10),
        event(
            "app",
            "Queue",
            QUEUE,
            "UPDATE_FAILED",
            Some("Resource update cancelled"),
            12,
        ),
        own(
            "app",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            Some("Stack update time exceeded the specified timeout"),
            12,
        ),
        own("app", "UPDATE_ROLLBACK_COMPLETE", None, 13),
    ];
    let cause = root_cause(&history(vec![stack("app", 0, events)])).unwrap();
    assert_eq!(cause.logical_id, "app");
    assert_eq!(cause.status, "UPDATE_ROLLBACK_IN_PROGRESS");
    assert_eq!(
        cause.reason.as_deref(),
        Some("Stack update time exceeded the specified timeout")
    );
    // A stack-level reason that only lists failed resources explains nothing.
    let events = vec![own(
        "app",
        "ROLLBACK_IN_PROGRESS",
        Some("The following resource(s) failed to create: [Queue]."),
        12,
    )];
    assert_eq!(root_cause(&history(vec![stack("app", 0, events)])), None);
    // A successful stack event, even with a reason, is no cause.
    let events = vec![own("app", "UPDATE_IN_PROGRESS", Some("User Initiated"), 11)];
    assert_eq!(root_cause(&history(vec![stack("app", 0, events)])), None);
    // A resource's own failure always wins over a stack-level reason.
    let events = vec![
        own(
            "app",
            "ROLLBACK_IN_PROGRESS",
            Some("Stack creation time exceeded the specified timeout"),
            11,
        ),
        event(
            "app",
            "Queue",
            QUEUE,
            "CREATE_FAILED",
            Some("Queue name taken"),
            12,
        ),
    ];
    assert_eq!(
        root_cause(&history(vec![stack("app", 0, events)]))
            .unwrap()
            .logical_id,
        "Queue"
    );
}

// ---------------------------------------------------------------------------------------
// Changes

fn named(list: &[ChangedResource]) -> Vec<&str> {
    list.iter()
        .map(|resource| resource.logical_id.as_str())
        .collect()
}

#[test]
fn a_successful_update_lists_created_updated_and_deleted_in_first_touch_order() {
    let events = vec![
        own("app", "UPDATE_IN_PROGRESS", Some("User Initiated"), 10),
        event(
            "app",
            "Topic",
            "AWS::SNS::Topic",
            "CREATE_IN_PROGRESS",
            None,
            11,
        ),
        event("app", "Queue", QUEUE, "UPDATE_IN_PROGRESS", None, 11),
        event(
            "app",
            "Bucket",
            "AWS::S3::Bucket",
            "CREATE_IN_PROGRESS",
            None,
            11,
        ),
        event(
            "app",
            "Topic",
            "AWS::SNS::Topic",
            "CREATE_COMPLETE",
            None,
            12,
        ),
        event("app", "Queue", QUEUE, "UPDATE_COMPLETE", None, 12),
        event(
            "app",
            "Bucket",
            "AWS::S3::Bucket",
            "CREATE_COMPLETE",
            None,
            12,
        ),
        own("app", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None, 13),
        // The replaced queue's old copy, and a resource removed from the template.
        event("app", "Queue", QUEUE, "DELETE_IN_PROGRESS", None, 13),
        event("app", "OldTable", TABLE, "DELETE_IN_PROGRESS", None, 13),
        event("app", "Queue", QUEUE, "DELETE_COMPLETE", None, 13),
        event("app", "OldTable", TABLE, "DELETE_COMPLETE", None, 14),
        event(
            "app",
            "KeptLogs",
            "AWS::Logs::LogGroup",
            "DELETE_SKIPPED",
            None,
            14,
        ),
        own("app", "UPDATE_COMPLETE", None, 14),
    ];
    let changes = changes(&history(vec![stack("app", 0, events)]));
    assert_eq!(named(&changes.created), ["Topic", "Bucket"]);
    assert_eq!(named(&changes.updated), ["Queue"]);
    assert_eq!(named(&changes.deleted), ["OldTable", "KeptLogs"]);
    assert_eq!(changes.updated[0].resource_type, QUEUE);
    assert_eq!(
        (
            changes.created_omitted,
            changes.updated_omitted,
            changes.deleted_omitted
        ),
        (0, 0, 0)
    );
}

#[test]
fn a_failed_create_lists_what_it_tried_and_not_what_the_rollback_deleted() {
    let events = vec![
        own("app", "CREATE_IN_PROGRESS", Some("User Initiated"), 10),
        event("app", "Queue", QUEUE, "CREATE_IN_PROGRESS", None, 11),
        event("app", "OrdersTable", TABLE, "CREATE_IN_PROGRESS", None, 11),
        event("app", "Queue", QUEUE, "CREATE_COMPLETE", None, 11),
        event(
            "app",
            "OrdersTable",
            TABLE,
            "CREATE_FAILED",
            Some(EXISTS),
            12,
        ),
        own(
            "app",
            "ROLLBACK_IN_PROGRESS",
            Some("The following resource(s) failed to create: [OrdersTable]."),
            12,
        ),
        event("app", "Queue", QUEUE, "DELETE_IN_PROGRESS", None, 12),
        event("app", "Queue", QUEUE, "DELETE_COMPLETE", None, 13),
        event("app", "OrdersTable", TABLE, "DELETE_COMPLETE", None, 13),
        own("app", "ROLLBACK_COMPLETE", None, 13),
    ];
    let changes = changes(&history(vec![stack("app", 0, events)]));
    assert_eq!(named(&changes.created), ["Queue", "OrdersTable"]);
    assert!(
        changes.updated.is_empty() && changes.deleted.is_empty(),
        "{changes:?}"
    );
}

#[test]
fn a_failed_update_ignores_its_rollback_and_the_rollback_cleanup() {
    let events = vec![
        own("app", "UPDATE_IN_PROGRESS", Some("User Initiated"), 10),
        event("app", "Queue", QUEUE, "UPDATE_IN_PROGRESS", None, 11),
        event("app", "Queue", QUEUE, "UPDATE_COMPLETE", None, 11),
        event("app", "NewTable", TABLE, "CREATE_IN_PROGRESS", None, 11),
        event("app", "NewTable", TABLE, "CREATE_FAILED", Some(EXISTS), 12),
        own(
            "app",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            Some("The following resource(s) failed to create: [NewTable]."),
            12,
        ),
        event("app", "Queue", QUEUE, "UPDATE_IN_PROGRESS", None, 12),
        event("app", "Queue", QUEUE, "UPDATE_COMPLETE", None, 12),
        event("app", "Other", QUEUE, "UPDATE_COMPLETE", None, 12),
        own(
            "app",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            None,
            13,
        ),
        event("app", "NewTable", TABLE, "DELETE_COMPLETE", None, 13),
        event("app", "Stray", TABLE, "DELETE_COMPLETE", None, 13),
        own("app", "UPDATE_ROLLBACK_COMPLETE", None, 13),
    ];
    let changes = changes(&history(vec![stack("app", 0, events)]));
    assert_eq!(named(&changes.created), ["NewTable"]);
    assert_eq!(named(&changes.updated), ["Queue"]);
    assert!(changes.deleted.is_empty(), "{changes:?}");
}

#[test]
fn changes_leave_out_older_attempts_nested_stacks_and_the_stack_itself() {
    let parent = stack(
        "app",
        0,
        vec![
            event("app", "Old", QUEUE, "CREATE_COMPLETE", None, 5),
            own("app", "UPDATE_IN_PROGRESS", None, 10),
            event("app", "Data", STACK_TYPE, "UPDATE_COMPLETE", None, 12),
            own("app", "UPDATE_COMPLETE", None, 12),
        ],
    );
    let nested = stack(
        "app-Data-1",
        1,
        vec![event(
            "app-Data-1",
            "Inner",
            QUEUE,
            "CREATE_COMPLETE",
            None,
            11,
        )],
    );
    let changes = changes(&history(vec![parent, nested]));
    assert!(changes.created.is_empty(), "{changes:?}");
    assert_eq!(named(&changes.updated), ["Data"]);
    assert_eq!(changes.updated[0].resource_type, STACK_TYPE);
}

#[test]
fn a_deleted_stack_deleted_its_resources() {
    let events = vec![
        own("app", "DELETE_IN_PROGRESS", None, 11),
        event("app", "Queue", QUEUE, "DELETE_COMPLETE", None, 12),
    ];
    assert_eq!(
        named(&changes(&history(vec![stack("app", 0, events)])).deleted),
        ["Queue"]
    );
}

#[test]
fn each_list_names_fifty_and_counts_the_rest() {
    let mut events = vec![own("app", "UPDATE_IN_PROGRESS", None, 10)];
    for index in 0..120 {
        events.push(event(
            "app",
            &format!("Queue{index}"),
            QUEUE,
            "CREATE_COMPLETE",
            None,
            11,
        ));
        events.push(event(
            "app",
            &format!("Queue{index}"),
            QUEUE,
            "CREATE_COMPLETE",
            None,
            11,
        ));
    }
    let changes = changes(&history(vec![stack("app", 0, events)]));
    assert_eq!(changes.created.len(), CHANGES_LISTED);
    assert_eq!(changes.created_omitted, 70, "each resource counts once");
    assert_eq!(changes.created[49].logical_id, "Queue49");
}

#[test]
fn no_stack_no_changes() {
    assert!(changes(&history(Vec::new())).is_empty());
}

// ---------------------------------------------------------------------------------------
// Nested stacks to follow, ARNs

#[test]
fn failed_nested_stacks_are_followed_by_their_arn_once_in_failure_order() {
    let events = vec![
        nested_failed(
            "app",
            "Second",
            "app-Second-2",
            &embedded("app-Second-2"),
            13,
        ),
        nested_failed("app", "First", "app-First-1", &embedded("app-First-1"), 12),
        nested_failed(
            "app",
            "First",
            "app-First-1",
            "UPDATE_ROLLBACK_FAILED again",
            14,
        ),
        // Cancelled because a sibling failed: nothing to find inside.
        nested_failed("app", "Cancelled", "app-Cancelled-3", CANCELLED, 12),
        // Of an older attempt.
        nested_failed("app", "Old", "app-Old-4", &embedded("app-Old-4"), 9),
        // Not failed.
        StackEvent {
            physical_id: Some(nested_arn("app-Fine-5")),
            ..event("app", "Fine", STACK_TYPE, "UPDATE_COMPLETE", None, 12)
        },
        // Not a stack ARN.
        StackEvent {
            physical_id: Some("arn:aws:s3:::bucket".into()),
            ..event("app", "Odd", STACK_TYPE, "CREATE_FAILED", None, 12)
        },
        StackEvent {
            physical_id: None,
            ..event("app", "NoId", STACK_TYPE, "CREATE_FAILED", None, 12)
        },
    ];
    assert_eq!(
        nested_stacks_to_follow(&events, SINCE),
        vec![nested_arn("app-First-1"), nested_arn("app-Second-2")]
    );
}

#[test]
fn a_stack_arn_is_read_in_parts_and_anything_else_is_refused() {
    let arn = "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/app-Data-1ABC/0a1b2c3d-aaaa";
    assert_eq!(
        StackArn::parse(arn),
        Some(StackArn {
            partition: "aws-cn",
            region: "cn-north-1",
            account: "123456789012",
            name: "app-Data-1ABC",
            id: "0a1b2c3d-aaaa",
        })
    );
    assert_eq!(stack_name_of_arn(arn), Some("app-Data-1ABC"));
    for bad in [
        "",
        "app-Data-1ABC",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/app",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/app/",
        "arn:aws:cloudformation:us-east-1:123456789012:stack//id",
        "arn:aws:cloudformation:us-east-1:1234:stack/app/id",
        "arn:aws:cloudformation::123456789012:stack/app/id",
        "arn:aws:s3:us-east-1:123456789012:stack/app/id",
        "arn:aws:cloudformation:us-east-1:123456789012:stackset/app/id",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/bad_name/id",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/app/id/more",
        "arn:other:cloudformation:us-east-1:123456789012:stack/app/id",
        "arn:aws:cloudformation:US-EAST-1:123456789012:stack/app/id",
    ] {
        assert_eq!(StackArn::parse(bad), None, "{bad}");
    }
    assert!(is_stack_name(&"a".repeat(128)));
    assert!(!is_stack_name(&"a".repeat(129)));
    assert!(!is_stack_name("1app"));
}

// ---------------------------------------------------------------------------------------
// Text

#[test]
fn a_huge_reason_is_cut_and_control_characters_are_kept() {
    let mut event = event("app", "Queue", QUEUE, "CREATE_FAILED", None, 11);
    event.reason = Some(format!("\u{1b}[31m\u{202e}{}", "x".repeat(100 * 1024)));
    event.logical_id = "L".repeat(1000);
    event.physical_id = Some("p".repeat(5000));
    let cut = event.cut();
    let reason = cut.reason.unwrap();
    assert_eq!(reason.chars().count(), REASON_CHARS);
    assert!(
        reason.starts_with("\u{1b}[31m\u{202e}x"),
        "escaping is the renderers' job"
    );
    assert_eq!(cut.logical_id.chars().count(), LOGICAL_ID_CHARS);
    assert_eq!(cut.physical_id.unwrap().len(), PHYSICAL_ID_CHARS);
    assert_eq!(cut.resource_type, QUEUE);
}

// ---------------------------------------------------------------------------------------
// Properties over random histories

const STATUSES: [&str; 12] = [
    "CREATE_IN_PROGRESS",
    "CREATE_COMPLETE",
    "CREATE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "DELETE_IN_PROGRESS",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "IMPORT_COMPLETE",
];

fn arbitrary_event(stack: String) -> impl Strategy<Value = StackEvent> {
    (
        prop_oneof![Just(stack.clone()), "[A-D]", Just("Nested".to_owned())],
        0usize..STATUSES.len(),
        prop::option::of(prop_oneof![
            Just(CANCELLED.to_owned()),
            Just("The following resource(s) failed to update: [A].".to_owned()),
            ".{0,40}",
        ]),
        0i64..30,
        any::<bool>(),
    )
        .prop_map(
            move |(logical_id, status, reason, minute, nested)| StackEvent {
                stack: stack.clone(),
                physical_id: nested.then(|| nested_arn(&format!("{logical_id}-1"))),
                resource_type: if nested {
                    STACK_TYPE.to_owned()
                } else {
                    QUEUE.to_owned()
                },
                logical_id,
                status: STATUSES[status].to_owned(),
                reason,
                time: at(minute),
            },
        )
}

fn arbitrary_history() -> impl Strategy<Value = StackHistory> {
    prop::collection::vec(
        (
            0u8..4,
            prop::collection::vec(arbitrary_event("s".into()), 0..40),
        ),
        0..4,
    )
    .prop_map(|stacks| {
        history(
            stacks
                .into_iter()
                .enumerate()
                .map(|(index, (depth, events))| {
                    let name = format!("s{index}");
                    let events = events
                        .into_iter()
                        .map(|event| StackEvent {
                            stack: name.clone(),
                            logical_id: if event.logical_id == "s" {
                                name.clone()
                            } else {
                                event.logical_id
                            },
                            ..event
                        })
                        .collect();
                    // The synced stack first.
                    stack(&name, if index == 0 { 0 } else { depth.max(1) }, events)
                })
                .collect(),
        )
    })
}

proptest! {
    #[test]
    fn the_root_cause_is_of_the_attempt_never_a_cascade_and_from_the_deepest_stack(history in arbitrary_history()) {
        let Some(cause) = root_cause(&history) else {
            // Nothing found: then no resource of the attempt failed without a cascade.
            let any = history.attempt_events().any(|(_, event)| {
                !event.is_stack_itself() && event.failed() && !event.reason.as_deref().is_some_and(is_cascade)
            });
            prop_assert!(!any);
            return Ok(());
        };
        prop_assert!(cause.time >= history.since);
        prop_assert!(cause.status.ends_with("_FAILED") || cause.status.ends_with("ROLLBACK_IN_PROGRESS"));
        prop_assert!(!cause.reason.as_deref().is_some_and(is_cascade));
        if cause.logical_id != cause.stack {
            let depth = history.stacks.iter().find(|stack| stack.name == cause.stack).map(|stack| stack.depth);
            let deeper = history.attempt_events().any(|(other, event)| {
                Some(other) > depth && !event.is_stack_itself() && event.failed() && !event.reason.as_deref().is_some_and(is_cascade)
            });
            prop_assert!(!deeper, "a deeper failure was passed over");
            let earlier = history.attempt_events().any(|(other, event)| {
                Some(other) == depth && event.time < cause.time && !event.is_stack_itself() && event.failed()
                    && !event.reason.as_deref().is_some_and(is_cascade)
            });
            prop_assert!(!earlier, "an earlier failure was passed over");
        }
    }

    #[test]
    fn changes_name_each_resource_of_the_attempt_once_within_the_limits(history in arbitrary_history()) {
        let changes = changes(&history);
        let listed: Vec<&ChangedResource> = changes.created.iter().chain(&changes.updated).chain(&changes.deleted).collect();
        let unique: HashSet<&str> = listed.iter().map(|resource| resource.logical_id.as_str()).collect();
        prop_assert_eq!(unique.len(), listed.len());
        prop_assert!(changes.created.len() <= CHANGES_LISTED && changes.updated.len() <= CHANGES_LISTED && changes.deleted.len() <= CHANGES_LISTED);
        let synced = history.stacks.iter().find(|stack| stack.depth == 0);
        for resource in listed {
            let touched = synced.is_some_and(|stack| stack.events.iter().any(|event| {
                event.logical_id == resource.logical_id && event.time >= history.since && !event.is_stack_itself()
            }));
            prop_assert!(touched, "{} was not touched by the attempt", resource.logical_id);
        }
    }

    #[test]
    fn nested_stacks_to_follow_are_failed_stack_arns_of_the_attempt(history in arbitrary_history()) {
        for stack in &history.stacks {
            for arn in nested_stacks_to_follow(&stack.events, history.since) {
                prop_assert!(StackArn::parse(&arn).is_some());
                let failed_here = stack.events.iter().any(|event| {
                    event.physical_id.as_deref() == Some(arn.as_str()) && event.failed() && event.time >= history.since
                });
                prop_assert!(failed_here, "{}", arn);
            }
        }
    }

    #[test]
    fn any_text_is_cut_without_panicking(text in ".{0,300}", limit in 0usize..50) {
        let event = StackEvent {
            reason: Some(text.repeat(20)),
            stack: text.clone(),
            logical_id: text.clone(),
            physical_id: Some(text.clone()),
            resource_type: text.clone(),
            status: text.clone(),
            time: at(limit as i64),
        }
        .cut();
        prop_assert!(event.reason.unwrap().chars().count() <= REASON_CHARS);
        let _ = StackArn::parse(&text);
        let _ = is_cascade(&text);
    }
}

#[test]
fn a_root_cause_reads_as_one_line_with_the_handler_s_own_message() {
    let cause = |reason: Option<&str>| RootCause {
        logical_id: "OrdersTable".into(),
        resource_type: "AWS::DynamoDB::Table".into(),
        status: "UPDATE_FAILED".into(),
        reason: reason.map(str::to_owned),
        stack: "orders-stack".into(),
        time: Timestamp::from_millis(0),
    };
    // (reason, line)
    let table = [
        (
            Some(
                "Resource handler returned message: \"Table already exists: orders-v2 (Service: DynamoDb, Status Code: 400, Request ID: X)\" (RequestToken: t, HandlerErrorCode: AlreadyExists)",
            ),
            "OrdersTable (AWS::DynamoDB::Table) UPDATE_FAILED — Table already exists: orders-v2",
        ),
        (
            Some("Properties validation failed for resource OrdersTable"),
            "OrdersTable (AWS::DynamoDB::Table) UPDATE_FAILED — Properties validation failed for resource OrdersTable",
        ),
        (
            Some("   "),
            "OrdersTable (AWS::DynamoDB::Table) UPDATE_FAILED",
        ),
        (None, "OrdersTable (AWS::DynamoDB::Table) UPDATE_FAILED"),
    ];
    for (reason, line) in table {
        assert_eq!(cause(reason).line(), line, "{reason:?}");
    }
}

#[test]
fn changes_read_as_counts_and_their_first_names() {
    let changed = |names: &[&str]| -> Vec<ChangedResource> {
        names
            .iter()
            .map(|name| ChangedResource {
                logical_id: (*name).into(),
                resource_type: "AWS::SQS::Queue".into(),
            })
            .collect()
    };
    let changes = Changes {
        created: changed(&["A", "B", "C", "D"]),
        updated: changed(&["E"]),
        deleted: Vec::new(),
        created_omitted: 46,
        updated_omitted: 0,
        deleted_omitted: 0,
    };
    assert_eq!(
        changes.line(3),
        "50 created (A, B, C, 47 more), 1 updated (E)"
    );
}
