//! Amazon Q Developer in chat applications (through SNS) and EventBridge: through the real
//! `aws-sdk-sns` and `aws-sdk-eventbridge` clients to a loopback stand-in that speaks
//! their wire protocols (awsQuery XML, awsJson1.1). The documented schemas field by
//! field, threading, the Region each call is signed for, `FailedEntryCount`, how every
//! failure is sorted, start-up validation, and that every kind renders.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use sync_notifier::config::Config;
use sync_notifier::domain::{Notification, NotificationKind, SyncEvent, Timestamp};
use sync_notifier::notify::{
    Clients, DeliveryError, Destination, ENTRY_LIMIT, Gate, eventbridge_entry, http_client,
    q_developer_message, webhook_body,
};

use crate::shared::{AwsServices, Call, Fault, Service, entry_size};
use crate::support::*;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:ops-alerts";
const BUS: &str = "arn:aws:events:ap-southeast-2:210987654321:event-bus/central";
const STACK_ARN: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/payments-stack/1b2c3d4e-aaaa-bbbb-cccc-123456789012";

// ------------------------------------------------------------------------- helpers

/// One destination, built from `variables` with the stand-in's SDK configuration.
fn destination(services: &AwsServices, variables: &[(&str, &str)]) -> Destination {
    let config = config_of(variables).unwrap();
    let mut built = config.build_destinations(&Clients {
        http: http_client(),
        policy: fast_policy(),
        aws: Some(services.sdk_config()),
    });
    assert_eq!(built.len(), 1);
    built.remove(0)
}

fn config_of(variables: &[(&str, &str)]) -> Result<Config, String> {
    let map: HashMap<String, String> = variables
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .chain([("AWS_REGION".to_string(), "us-east-1".to_string())])
        .collect();
    Config::from_lookup(|name| map.get(name).cloned()).map_err(|error| error.to_string())
}

/// Sends `notification` once through a fresh gate.
async fn send(destination: &Destination, notification: &Notification) -> Result<(), DeliveryError> {
    let gate = Gate::new(destination.key(), destination.policy(), None, None);
    destination
        .send(notification, &gate, None)
        .await
        .map(|_| ())
}

fn q_developer(services: &AwsServices) -> Destination {
    destination(services, &[("Q_DEVELOPER_TOPIC_ARN", TOPIC)])
}

fn eventbridge(services: &AwsServices) -> Destination {
    destination(services, &[("EVENT_BUS", "default")])
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

// ------------------------------------------------------- Q Developer: the schema

/// Every field of the documented custom notification schema, and what we put in each.
fn assert_custom_notification(message: &Value, notification: &Notification) {
    let kind = notification.kind.event_type();
    assert_eq!(message["version"], "1.0");
    assert_eq!(message["source"], "custom");
    assert_eq!(message["id"], notification.id.as_str());
    let content = &message["content"];
    assert_eq!(content["textType"], "client-markdown");
    let title = content["title"].as_str().unwrap();
    assert!(
        title.ends_with(notification.resource.as_str()),
        "{kind}: {title}"
    );
    assert!(title.encode_utf16().count() <= 150);
    let description = content["description"].as_str().unwrap();
    assert!(
        description.starts_with("*Status:* "),
        "{kind}: {description}"
    );
    assert!(description.encode_utf16().count() <= 3000);
    assert!(content["nextSteps"].is_array(), "{kind}");
    let revision = &notification.attempt.target_revision;
    let repository = format!("{}/{}", revision.owner_id, revision.repository_name);
    assert_eq!(
        strings(&content["keywords"]),
        [kind, notification.resource.as_str(), repository.as_str()],
        "{kind}"
    );
    let metadata = &message["metadata"];
    let thread = metadata["threadId"].as_str().unwrap();
    assert!(
        thread.starts_with(&format!("{}-", notification.resource)) && thread.len() > 17,
        "{kind}: {thread}"
    );
    let summary = metadata["summary"].as_str().unwrap();
    if notification.kind == NotificationKind::Test {
        assert_eq!(summary, "🧪 Test message from sync-notifier");
    } else {
        assert!(
            summary.contains(notification.resource.as_str()),
            "{summary}"
        );
    }
    assert_eq!(metadata["eventType"], kind);
    assert_eq!(metadata["relatedResources"].as_array().unwrap().len(), 1);
    let context = metadata["additionalContext"].as_object().unwrap();
    assert_eq!(context["stack"], notification.resource.as_str());
    assert_eq!(context["eventType"], kind);
    assert_eq!(context["notificationId"], notification.id.as_str());
    for value in context.values() {
        let value = value.as_str().unwrap();
        assert!(
            !value.is_empty()
                && value.len() <= 1024
                && value.bytes().all(|byte| (0x21..=0x7e).contains(&byte)),
            "a custom action could not read {value:?}"
        );
    }
}

#[test]
fn q_developer_renders_every_kind_in_the_documented_schema() {
    for (_, notification) in every_kind() {
        let message = q_developer_message(&notification, Some(&region()));
        assert_custom_notification(&message, &notification);
        let steps = strings(&message["content"]["nextSteps"]);
        let description = message["content"]["description"].as_str().unwrap();
        match notification.kind {
            NotificationKind::Blocked => assert_eq!(
                steps[0],
                "Fix the cause, then resolve the blocker: `aws codeconnections update-sync-blocker --id 'a1b2c3d4-blocker' --sync-type CFN_STACK_SYNC --resource-name 'orders-stack' --resolved-reason 'Fixed the cause of the failed sync' --region us-east-1`"
            ),
            NotificationKind::Unblocked => {
                assert!(
                    description.contains("*Resolution:* Fixed the table name"),
                    "{description}"
                );
            }
            NotificationKind::Stuck => {
                assert!(
                    description.contains("*Running for:* 1h 30m"),
                    "{description}"
                );
            }
            NotificationKind::Test => {
                assert_eq!(steps, ["Nothing to do: this destination is set up."]);
                assert_eq!(
                    message["content"]["title"],
                    "🧪 Test message: sync-notifier-test"
                );
            }
            _ => {}
        }
        if notification.kind != NotificationKind::Test {
            assert!(
                steps.iter().any(|step| step.starts_with(
                    "<https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks"
                ) && step.ends_with("|Open stack in CloudFormation>")),
                "{steps:?}"
            );
        }
    }
}

#[test]
fn q_developer_failure_lists_events_newest_first_and_says_how_many_more() {
    let message = q_developer_message(&failure_with_many_long_events(), Some(&region()));
    insta::assert_json_snapshot!("q_developer_failure_many_long_events", message);
    let description = message["content"]["description"].as_str().unwrap();
    let lines: Vec<&str> = description.lines().collect();
    let heading = lines
        .iter()
        .position(|line| *line == "*What happened* (newest first)")
        .unwrap();
    assert_eq!(
        lines[heading + 1],
        "• 10:03:47 UTC · ERROR · Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state"
    );
    assert!(lines[heading + 2].contains("The following resource(s) failed to update"));
    let more = lines.iter().find(|line| line.starts_with("…and ")).unwrap();
    let shown = lines.iter().filter(|line| line.starts_with("• ")).count();
    assert_eq!(*more, format!("…and {} more", 25 - shown));
    assert!(description.contains("*Commit:* <https://github.com/acme/infra/commit/c4f8a2e6b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a2|c4f8a2e>"));
    assert!(description.contains("*Repository:* acme/infra (GitHub)"));
    assert!(description.contains("*Branch:* main"));
    assert_eq!(
        message["metadata"]["relatedResources"],
        json!(["orders-stack"]),
        "no event carries the stack's ARN: its name"
    );
}

#[test]
fn q_developer_success_relates_the_stack_arn_and_links_the_stack() {
    let message = q_developer_message(&success(), Some(&region()));
    insta::assert_json_snapshot!("q_developer_success", message);
    assert_eq!(message["metadata"]["relatedResources"], json!([STACK_ARN]));
    assert_eq!(
        message["metadata"]["additionalContext"]["stackArn"],
        STACK_ARN
    );
    let description = message["content"]["description"].as_str().unwrap();
    assert!(description.contains("*Duration:* 3m 18s"));
    assert!(description.contains("*Desired commit:* <https://github.com/acme/infra/commit/4e1d0c2a7b9f3e5d6c8a1b2c3d4e5f6a7b8c9d0e|4e1d0c2>"));
    assert_eq!(
        message["metadata"]["summary"],
        "✅ Sync succeeded: payments-stack · c4f8a2e on acme/infra (main)"
    );
}

#[test]
fn q_developer_hostile_text_cannot_mention_link_or_open_a_code_block() {
    let message = q_developer_message(&hostile(), Some(&region()));
    insta::assert_json_snapshot!("q_developer_hostile", message);
    let content = message["content"].to_string() + &message["metadata"]["summary"].to_string();
    for forbidden in [
        "<!channel>",
        "<!here>",
        "<@U",
        "<script",
        "<img",
        "<b>",
        "](",
        "`",
    ] {
        assert!(
            !content.contains(forbidden),
            "{forbidden} survived: {content}"
        );
    }
    assert!(content.contains("&lt;!channel&gt;"));
    let description = message["content"]["description"].as_str().unwrap();
    for line in description.lines() {
        assert!(
            line.is_empty()
                || line.starts_with('*')
                || line.starts_with("• ")
                || line.starts_with("ℹ️ ")
                || line.starts_with("…and "),
            "a value broke the layout: {line:?}"
        );
    }
    let context = message["metadata"]["additionalContext"]
        .as_object()
        .unwrap();
    for key in ["branch", "repository", "commit"] {
        assert!(
            !context.contains_key(key),
            "{key}: markup is no value for a custom action: {context:?}"
        );
    }
    assert_eq!(context["stack"], "prod-payments");
}

#[test]
fn q_developer_leaves_out_context_a_custom_action_could_not_read() {
    let mut notification = started();
    notification.attempt.target_revision.branch = "feature/new tables".into();
    notification.attempt.target_revision.repository_name = "infrastructure-ü".into();
    let message = q_developer_message(&notification, Some(&region()));
    let context = message["metadata"]["additionalContext"]
        .as_object()
        .unwrap();
    assert!(
        !context.contains_key("branch") && !context.contains_key("repository"),
        "a space or a non-ASCII letter: left out, {context:?}"
    );
    assert_eq!(
        context["commit"],
        "c4f8a2e6b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a2"
    );
    assert_eq!(context["status"], "IN_PROGRESS");
    assert_eq!(context["startedAt"], "2026-11-26T10:02:10Z");
}

#[test]
fn q_developer_threads_per_stack_and_attempt() {
    let started = started();
    let mut failed = started.clone();
    failed.kind = NotificationKind::Failed;
    failed.id = "msg_other".into();
    let thread = |notification: &Notification| {
        q_developer_message(notification, None)["metadata"]["threadId"].clone()
    };
    assert_eq!(thread(&started), thread(&failed), "one attempt, one thread");
    let mut next = started.clone();
    next.attempt.started_at = Timestamp::from_millis(1_795_690_000_000);
    assert_ne!(
        thread(&started),
        thread(&next),
        "a new attempt, a new thread"
    );
    let mut other_commit = started.clone();
    other_commit.attempt.target_revision.sha = "d".repeat(40);
    assert_ne!(thread(&started), thread(&other_commit));
    let mut other_account = started.clone();
    other_account.location = Some(sync_notifier::domain::Location {
        account: sync_notifier::domain::AccountId::parse("210987654321").unwrap(),
        region: region(),
    });
    assert_ne!(
        thread(&started),
        thread(&other_account),
        "the same stack name in another account is another stack"
    );
}

// ------------------------------------------------- Q Developer: through SNS

#[tokio::test]
async fn q_developer_publishes_to_the_topic_in_its_own_region() {
    let services = AwsServices::start().await.unwrap();
    let pipeline = Pipeline::with_aws(
        start_then_fail(&["orders-stack"]),
        &[("Q_DEVELOPER_TOPIC_ARN", TOPIC.to_owned())],
        services.sdk_config(),
    )
    .await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    let calls = services.delivered(Service::Sns);
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.action, "Publish");
        assert_eq!(call.field("Version"), Some("2010-03-31"));
        assert_eq!(call.field("TopicArn"), Some(TOPIC));
        assert!(
            call.content_type
                .starts_with("application/x-www-form-urlencoded")
        );
        assert_eq!(
            (call.signed_region.as_str(), call.signed_service.as_str()),
            ("eu-west-1", "sns"),
            "the topic's Region, not the function's"
        );
    }
    let (first, second) = (calls[0].message(), calls[1].message());
    assert_eq!(first["metadata"]["eventType"], "sync.started");
    assert_eq!(second["metadata"]["eventType"], "sync.failed");
    assert_eq!(
        first["metadata"]["threadId"], second["metadata"]["threadId"],
        "one sync, one thread"
    );
    assert_ne!(first["id"], second["id"]);
    assert_eq!(second["content"]["title"], "❌ Sync failed: orders-stack");
    insta::assert_json_snapshot!("q_developer_published_failure", second);
    assert!(pipeline.pending("orders-stack").await.is_empty());
}

#[tokio::test]
async fn q_developer_starts_a_new_thread_for_a_new_attempt() {
    let services = AwsServices::start().await.unwrap();
    let pipeline = Pipeline::with_aws(
        two_at_once("orders-stack"),
        &[("Q_DEVELOPER_TOPIC_ARN", TOPIC.to_owned())],
        services.sdk_config(),
    )
    .await;
    pipeline.tick(0).await;
    pipeline.tick(1).await;
    let messages: Vec<Value> = services
        .delivered(Service::Sns)
        .iter()
        .map(Call::message)
        .collect();
    let kinds: Vec<&Value> = messages
        .iter()
        .map(|m| &m["metadata"]["eventType"])
        .collect();
    assert_eq!(kinds, ["sync.failed", "sync.started"]);
    assert_ne!(
        messages[0]["metadata"]["threadId"], messages[1]["metadata"]["threadId"],
        "the replaced attempt and the new one are two threads"
    );
}

// ------------------------------------------------- EventBridge

#[tokio::test]
async fn eventbridge_puts_one_entry_per_notification_with_the_webhook_body() {
    let services = AwsServices::start().await.unwrap();
    let pipeline = Pipeline::with_aws(
        start_then_fail(&["orders-stack"]),
        &[("EVENT_BUS", "default".to_owned())],
        services.sdk_config(),
    )
    .await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    let calls = services.delivered(Service::EventBridge);
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.action, "PutEvents");
        assert_eq!(call.content_type, "application/x-amz-json-1.1");
        assert_eq!(
            (call.signed_region.as_str(), call.signed_service.as_str()),
            ("us-east-1", "events"),
            "a bus by name is in the function's Region"
        );
        assert_eq!(call.json["Entries"].as_array().unwrap().len(), 1);
        let entry = call.entry();
        assert_eq!(entry["Source"], "sync-notifier");
        assert_eq!(entry["EventBusName"], "default");
        assert!(
            entry.get("Resources").is_none(),
            "no event carries the stack's ARN"
        );
        assert!(
            entry.get("Time").is_none(),
            "EventBridge stamps the time it took it"
        );
        let detail = call.detail();
        assert_eq!(entry["DetailType"], detail["type"]);
        assert_eq!(detail["data"]["resourceName"], "orders-stack");
        assert_eq!(detail["data"]["syncType"], "CFN_STACK_SYNC");
    }
    let types: Vec<&Value> = calls
        .iter()
        .map(|call| &call.entry()["DetailType"])
        .collect();
    assert_eq!(types, ["sync.started", "sync.failed"]);
    insta::assert_json_snapshot!("eventbridge_put_failure", calls[1].json);
    assert!(pipeline.pending("orders-stack").await.is_empty());
}

#[tokio::test]
async fn eventbridge_sends_to_a_bus_arn_in_its_own_region_with_the_stack_arn() {
    let services = AwsServices::start().await.unwrap();
    let destination = destination(
        &services,
        &[(
            "DESTINATIONS",
            &json!([{"type": "eventbridge", "eventBus": BUS, "name": "central"}]).to_string(),
        )],
    );
    assert_eq!(destination.key(), "eventbridge:central");
    send(&destination, &success()).await.unwrap();
    let calls = services.delivered(Service::EventBridge);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].signed_region, "ap-southeast-2");
    let entry = calls[0].entry();
    assert_eq!(entry["EventBusName"], BUS);
    assert_eq!(entry["Resources"], json!([STACK_ARN]));
    assert_eq!(entry["DetailType"], "sync.succeeded");
}

#[test]
fn eventbridge_detail_is_the_webhook_body_for_every_kind() {
    for (_, notification) in every_kind() {
        let entry = eventbridge_entry(&notification, Some(&region()), "default").unwrap();
        let detail: Value = serde_json::from_str(entry.detail().unwrap()).unwrap();
        let body = serde_json::to_value(webhook_body(&notification, Some(&region()))).unwrap();
        assert_eq!(detail, body, "{}", notification.kind);
        assert_eq!(entry.detail_type(), Some(notification.kind.event_type()));
        assert_eq!(entry.source(), Some("sync-notifier"));
    }
}

#[test]
fn an_eventbridge_entry_too_large_loses_its_oldest_events_first() {
    // 50 events of 4,000 three-byte characters: about 600 KB of detail.
    let mut notification = huge();
    notification.attempt.events = (0..60)
        .map(|index| SyncEvent {
            event: format!("{index:02} {}", "€".repeat(4000)),
            event_type: "ERROR".into(),
            time: Timestamp::from_millis((1_795_687_330 + index) * 1000),
            external_id: None,
        })
        .collect();
    let entry = eventbridge_entry(&notification, Some(&region()), "default").unwrap();
    let wire = json!({
        "Source": entry.source(),
        "DetailType": entry.detail_type(),
        "Detail": entry.detail(),
    });
    let size = entry_size(&wire);
    assert!(size < ENTRY_LIMIT, "{size}");
    assert!(
        size > ENTRY_LIMIT - 13_000,
        "no more was cut than needed: {size}"
    );
    let detail: Value = serde_json::from_str(entry.detail().unwrap()).unwrap();
    let events = detail["data"]["events"].as_array().unwrap();
    assert!(!events.is_empty() && events.len() < 50);
    assert_eq!(
        detail["data"]["eventsOmitted"],
        60 - events.len(),
        "every event left out is counted"
    );
    assert!(
        events.last().unwrap()["event"]
            .as_str()
            .unwrap()
            .starts_with("59 "),
        "the newest is kept"
    );
    let first = events[0]["event"].as_str().unwrap()[..2]
        .parse::<usize>()
        .unwrap();
    assert_eq!(first, 60 - events.len(), "the oldest went first");
}

#[tokio::test]
async fn a_failed_entry_is_a_failed_delivery() {
    let services = AwsServices::start().await.unwrap();
    let destination = eventbridge(&services);

    // A transient entry error is retried in the run.
    services.fail_next(
        Service::EventBridge,
        [Fault::failed_entry("ThrottlingException", "Rate exceeded")],
    );
    send(&destination, &started()).await.unwrap();
    assert_eq!(services.calls().len(), 2);

    // One that will not pass is refused, with its code and message.
    services.fail_next(
        Service::EventBridge,
        [Fault::failed_entry(
            "NotAuthorizedForSourceException",
            "Not authorized for the source.",
        )],
    );
    let error = send(&destination, &started()).await.unwrap_err();
    let DeliveryError::Permanent(reason) = error else {
        panic!("{error:?}");
    };
    assert!(
        reason.contains("NotAuthorizedForSourceException: Not authorized for the source.")
            && reason.contains("allow the source sync-notifier")
            && reason.starts_with("eventbridge#"),
        "{reason}"
    );
    assert_eq!(services.calls().len(), 3, "a refusal is not retried");

    // A code we do not know may pass: retried, and said when the retries are spent.
    services.fail_next(
        Service::EventBridge,
        vec![Fault::failed_entry("SomethingNew", "A new failure."); 3],
    );
    let error = send(&destination, &started()).await.unwrap_err();
    let DeliveryError::Retry(reason) = error else {
        panic!("{error:?}");
    };
    assert!(reason.contains("SomethingNew: A new failure."), "{reason}");
    assert_eq!(services.calls().len(), 6);
}

// ------------------------------------------------- failures, both services

/// How each failure of either service ends, through the real SDK clients.
#[tokio::test]
async fn every_failure_is_sorted_into_retry_or_refusal() {
    struct Case {
        fault: Fault,
        /// `Ok` after a retry, or the error's kind and what it must say.
        sns: Result<(), (&'static str, &'static str)>,
        eventbridge: Result<(), (&'static str, &'static str)>,
    }
    let cases = [
        Case {
            fault: Fault::Throttling,
            sns: Ok(()),
            eventbridge: Ok(()),
        },
        Case {
            fault: Fault::ServerError,
            sns: Ok(()),
            eventbridge: Ok(()),
        },
        Case {
            fault: Fault::AccessDenied,
            sns: Err((
                "permanent",
                "the function's role needs sns:Publish on this topic",
            )),
            eventbridge: Err((
                "permanent",
                "the function's role needs events:PutEvents on this event bus",
            )),
        },
        Case {
            fault: Fault::NotFound,
            sns: Err((
                "permanent",
                "NotFound: Topic does not exist; the topic does not exist",
            )),
            eventbridge: Err((
                "permanent",
                "ResourceNotFoundException: Event bus ops does not exist.; the event bus does not exist",
            )),
        },
        Case {
            fault: Fault::Invalid,
            sns: Err(("permanent", "InvalidParameter: Invalid parameter: Message")),
            eventbridge: Err(("permanent", "ValidationException")),
        },
    ];
    for case in cases {
        for (service, expected) in [
            (Service::Sns, case.sns),
            (Service::EventBridge, case.eventbridge),
        ] {
            let services = AwsServices::start().await.unwrap();
            let destination = match service {
                Service::Sns => q_developer(&services),
                Service::EventBridge => eventbridge(&services),
            };
            services.fail_next(service, [case.fault.clone()]);
            let result = send(&destination, &failure_with_many_long_events()).await;
            let calls = services.calls().len();
            let label = format!("{service:?} {:?}", case.fault);
            match expected {
                Ok(()) => {
                    assert!(result.is_ok(), "{label}: {result:?}");
                    assert_eq!(calls, 2, "{label}: retried once, then taken");
                }
                Err((kind, says)) => {
                    let (found, reason) = match result {
                        Err(DeliveryError::Permanent(reason)) => ("permanent", reason),
                        Err(DeliveryError::Retry(reason)) => ("retry", reason),
                        Err(DeliveryError::InDoubt(reason)) => ("in doubt", reason),
                        Ok(()) => ("delivered", String::new()),
                    };
                    assert_eq!(found, kind, "{label}: {reason}");
                    assert!(reason.contains(says), "{label}: {reason}");
                    assert!(reason.starts_with(destination.key()), "{label}: {reason}");
                    assert_eq!(calls, 1, "{label}: a refusal is not retried");
                }
            }
        }
    }
}

#[tokio::test]
async fn failures_that_persist_are_retried_until_the_run_gives_up_and_say_why() {
    for service in [Service::Sns, Service::EventBridge] {
        let services = AwsServices::start().await.unwrap();
        let destination = match service {
            Service::Sns => q_developer(&services),
            Service::EventBridge => eventbridge(&services),
        };
        services.fail_next(service, vec![Fault::Throttling; 3]);
        let error = send(&destination, &started()).await.unwrap_err();
        let DeliveryError::Retry(reason) = error else {
            panic!("{service:?}: {error:?}");
        };
        assert!(
            reason.contains("Rate exceeded")
                && reason.contains("gave up for this run after 3 attempts"),
            "{service:?}: {reason}"
        );
        assert_eq!(services.calls().len(), 3, "{service:?}");
    }
}

#[tokio::test]
async fn a_call_is_cut_to_the_gate_timeout_and_pauses_the_destination() {
    for service in [Service::Sns, Service::EventBridge] {
        let services = AwsServices::start().await.unwrap();
        let destination = match service {
            Service::Sns => q_developer(&services),
            Service::EventBridge => eventbridge(&services),
        };
        // The right answer, a minute late: a call that is not cut gets it and succeeds;
        // one cut by the SDK's own timeouts (5 s) says so otherwise than the gate does.
        services.fail_next(service, [Fault::Slow(Duration::from_secs(60))]);
        let gate = Gate::new(destination.key(), destination.policy(), None, None);
        let error = destination.send(&started(), &gate, None).await.unwrap_err();
        let DeliveryError::InDoubt(reason) = error else {
            panic!("{service:?}: {error:?}");
        };
        let cut = format!(
            "{}: timed out after {}s without an answer",
            destination.key(),
            destination.policy().timeout.as_secs_f64()
        );
        assert!(reason.contains(&cut), "{service:?}: {reason}");
        assert!(
            services.calls().is_empty(),
            "{service:?}: never answered, never retried"
        );
        assert!(
            gate.paused().is_some(),
            "{service:?}: a slow destination waits for the next run"
        );
    }
}

#[tokio::test]
async fn without_an_aws_configuration_nothing_is_sent_and_the_reason_is_clear() {
    let config = config_of(&[("Q_DEVELOPER_TOPIC_ARN", TOPIC), ("EVENT_BUS", "default")]).unwrap();
    let destinations = config.build_destinations(&Clients::new(http_client()));
    assert_eq!(destinations.len(), 2);
    for destination in &destinations {
        let error = send(destination, &started()).await.unwrap_err();
        let DeliveryError::Permanent(reason) = error else {
            panic!("{error:?}");
        };
        assert!(
            reason.contains("not sent; this process has no AWS configuration"),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn no_error_or_log_shows_the_credentials() {
    let services = AwsServices::start().await.unwrap();
    let destinations = [q_developer(&services), eventbridge(&services)];
    let (reasons, logs) = logs_of(async {
        let mut reasons = Vec::new();
        for (destination, service) in destinations
            .iter()
            .zip([Service::Sns, Service::EventBridge])
        {
            for fault in [Fault::AccessDenied, Fault::Malformed, Fault::Invalid] {
                services.fail_next(service, [fault.clone(), fault.clone(), fault]);
                if let Err(error) = send(destination, &started()).await {
                    reasons.push(error.to_string());
                }
            }
        }
        reasons
    })
    .await;
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    let all = format!("{reasons:?}\n{logs}\n{destinations:?}");
    for secret in [
        "test-secret-never-shown",
        "Signature=",
        "AWS4-HMAC-SHA256 Credential",
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}

// ------------------------------------------------- start-up validation

#[test]
fn a_topic_arn_is_checked_at_start_up() {
    let cases = [
        (
            "arn:aws:sqs:eu-west-1:123456789012:ops-alerts",
            "Q_DEVELOPER_TOPIC_ARN: is the ARN of a \"sqs\" resource, not of an SNS topic; give the ARN of an SNS topic, like arn:aws:sns:us-east-1:123456789012:sync-notifier",
        ),
        (
            "arn:aws:sns:eu-west:123456789012:ops-alerts",
            "Q_DEVELOPER_TOPIC_ARN: \"eu-west\" is not a Region code",
        ),
        (
            "arn:aws:sns:eu-west-1:12345678901:ops-alerts",
            "Q_DEVELOPER_TOPIC_ARN: \"12345678901\" is not an account id (12 digits)",
        ),
        (
            "arn:aws-cn:sns:eu-west-1:123456789012:ops-alerts",
            "Q_DEVELOPER_TOPIC_ARN: the Region eu-west-1 is in the aws partition, not in aws-cn",
        ),
        (
            "arn:aws:sns:eu-west-1:123456789012:ops-alerts.fifo",
            "Q_DEVELOPER_TOPIC_ARN: names a FIFO topic, which Amazon Q Developer cannot subscribe to; use a standard topic",
        ),
        (
            "ops-alerts",
            "Q_DEVELOPER_TOPIC_ARN: \"ops-alerts\" is not an ARN; give the ARN of an SNS topic",
        ),
    ];
    for (value, expected) in cases {
        let error = config_of(&[("Q_DEVELOPER_TOPIC_ARN", value)]).unwrap_err();
        assert!(error.contains(expected), "{value}: {error}");
    }
}

#[test]
fn an_event_bus_is_checked_at_start_up() {
    let cases = [
        (
            "arn:aws:events:eu-west-1:123456789012:rule/sync",
            "EVENT_BUS: is not the ARN of an event bus (…:event-bus/NAME)",
        ),
        (
            "arn:aws:events:EU-WEST-1:123456789012:event-bus/central",
            "EVENT_BUS: \"EU-WEST-1\" is not a Region code",
        ),
        (
            "arn:aws:events:eu-west-1:acct:event-bus/central",
            "EVENT_BUS: \"acct\" is not an account id",
        ),
        (
            "sync events",
            "EVENT_BUS: \"sync events\" is neither \"default\"",
        ),
    ];
    for (value, expected) in cases {
        let error = config_of(&[("EVENT_BUS", value)]).unwrap_err();
        assert!(error.contains(expected), "{value}: {error}");
    }
    assert!(config_of(&[("EVENT_BUS", "default")]).is_ok());
    assert!(config_of(&[("EVENT_BUS", BUS)]).is_ok());
}

#[test]
fn destinations_entries_name_the_field_and_never_repeat_a_secret() {
    let slack = "https://hooks.slack.com/services/T0001/B0001/SecretPartOfTheUrl";
    let entries = json!([
        {"type": "q-developer"},
        {"type": "q-developer", "topicArn": slack},
        {"type": "eventbridge", "eventBus": slack},
        {"type": "eventbridge", "eventBus": 7},
        {"type": "slack", "url": slack, "topicArn": TOPIC},
        {"type": "q-developer", "topicArn": TOPIC, "eventBus": "default"},
    ]);
    let error = config_of(&[("DESTINATIONS", &entries.to_string())]).unwrap_err();
    for expected in [
        "DESTINATIONS[0].topicArn: missing; give the ARN of the SNS topic your Amazon Q Developer channel configuration is subscribed to",
        "DESTINATIONS[1].topicArn: (a value of 63 characters) is not an ARN",
        "DESTINATIONS[2].eventBus: (a value of 63 characters) is neither \"default\"",
        "DESTINATIONS[3].eventBus: expected a string (an event bus name or ARN); found a number",
        "DESTINATIONS[4].topicArn: only a q-developer destination takes \"topicArn\"",
        "DESTINATIONS[5].eventBus: only an eventbridge destination takes \"eventBus\"",
    ] {
        assert!(error.contains(expected), "{expected}\n in {error}");
    }
    assert!(!error.contains("SecretPartOfTheUrl"), "{error}");
}

#[test]
fn the_same_topic_twice_is_one_destination_too_many() {
    let entries = json!([
        {"type": "q-developer", "topicArn": TOPIC},
        {"type": "q-developer", "topicArn": TOPIC, "events": ["sync.failed"]},
    ]);
    let error = config_of(&[
        ("DESTINATIONS", &entries.to_string()),
        ("EVENT_BUS", "default"),
    ])
    .unwrap_err();
    assert!(
        error.contains("DESTINATIONS[1]: sends to the same q-developer topic as DESTINATIONS[0]"),
        "{error}"
    );
}

#[tokio::test]
async fn a_2xx_answer_that_cannot_be_read_is_delivered_once_with_a_warning() {
    // The service took the message (HTTP 200); only its answer is unreadable. Retrying
    // would publish it again (up to five copies a run before).
    for service in [Service::Sns, Service::EventBridge] {
        let services = AwsServices::start().await.unwrap();
        let destination = match service {
            Service::Sns => q_developer(&services),
            Service::EventBridge => eventbridge(&services),
        };
        services.fail_next(service, [Fault::Malformed, Fault::Malformed]);
        let (result, logs) = logs_of(send(&destination, &started())).await;
        assert!(result.is_ok(), "{service:?}: {result:?}");
        assert_eq!(services.calls().len(), 1, "{service:?}: sent once");
        assert!(
            logs.contains("its answer could not be read; counted as delivered"),
            "{service:?}: {logs}"
        );
    }
}
