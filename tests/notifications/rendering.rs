//! Every rendered payload, as a snapshot, plus assertions on the parts that matter.

use serde_json::Value;
use sync_notifier::notify::{
    PagerDutyEndpoint, discord_message, google_chat_message, google_chat_thread_key,
    pagerduty_event, slack_message, slack_thread_reply, teams_message, webhook_body,
};

use crate::support::*;

fn texts(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(text) => into.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| texts(item, into)),
        Value::Object(map) => map.values().for_each(|item| texts(item, into)),
        _ => {}
    }
}

fn all_text(value: &Value) -> String {
    let mut found = Vec::new();
    texts(value, &mut found);
    found.join("\n")
}

// ------------------------------------------------------------------------- Slack

#[test]
fn slack_success() {
    let message = slack_message(&success(), Some(&region()));
    insta::assert_json_snapshot!("slack_success", message);
    assert_eq!(
        message["text"],
        "✅ Sync succeeded: payments-stack · c4f8a2e on acme/infra (main) · took 3m 18s"
    );
    let fields = all_text(&message["blocks"][1]);
    assert!(
        fields.contains("*Status*\n✅ Succeeded (was In progress)"),
        "{fields}"
    );
    assert!(fields.contains("*Commit*\n<https://github.com/acme/infra/commit/c4f8a2e6b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a2|c4f8a2e>"));
    assert!(fields.contains("*Duration*\n3m 18s"));
    assert!(
        fields.contains("*Desired commit*\n<https://github.com/acme/infra/commit/4e1d0c2a7b9f3e5d6c8a1b2c3d4e5f6a7b8c9d0e|4e1d0c2>"),
        "desired differs from deployed, so both are shown: {fields}"
    );
    let buttons = &message["blocks"][2]["elements"];
    assert_eq!(
        buttons[0]["url"],
        "https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/stackinfo?stackId=arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack%2Fpayments-stack%2F1b2c3d4e-aaaa-bbbb-cccc-123456789012"
    );
}

#[test]
fn slack_started_has_no_duration_and_no_events() {
    let message = slack_message(&started(), Some(&region()));
    insta::assert_json_snapshot!("slack_started", message);
    let text = all_text(&message);
    assert!(!text.contains("*Duration*") && !text.contains("What happened"));
    assert!(
        !text.contains("*Desired commit*"),
        "desired equals deployed"
    );
    assert_eq!(
        message["blocks"][2]["elements"][0]["url"],
        "https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks?filteringText=orders-stack&filteringStatus=active&viewNested=true",
        "without the stack's ARN, the stack list filtered by name"
    );
}

#[test]
fn slack_failure_with_many_long_events() {
    let message = slack_message(&failure_with_many_long_events(), Some(&region()));
    insta::assert_json_snapshot!("slack_failure_many_long_events", message);
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .ends_with("· Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state"),
        "the phone notification says why it failed: {}",
        message["text"]
    );
    let events = message["blocks"][2]["text"]["text"].as_str().unwrap();
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(lines[0], "*What happened* (newest first)");
    assert!(lines[1].ends_with("*ERROR* Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state"));
    assert!(lines[2].contains("The following resource(s) failed to update"));
    assert!(lines.last().unwrap().starts_with("…and "), "{events}");
    let shown = lines.len() - 2;
    assert_eq!(
        lines.last().unwrap(),
        &format!("…and {} more", 25 - shown),
        "the count is what was left out"
    );
    assert!(events.chars().count() <= 3000);
}

#[test]
fn slack_hostile_text_cannot_ping_link_or_inject() {
    let message = slack_message(&hostile(), Some(&region()));
    insta::assert_json_snapshot!("slack_hostile", message);
    let text = all_text(&message);
    for forbidden in ["<!channel>", "<!here>", "<@U", "<script", "<img", "<b>"] {
        assert!(!text.contains(forbidden), "{forbidden} survived: {text}");
    }
    assert!(text.contains("&lt;!channel&gt;"));
    assert!(
        text.contains("&amp;amp;"),
        "an & is escaped even before amp;"
    );
    assert!(
        !message["blocks"][1].to_string().contains("github.com"),
        "no link is built from unsafe owner/repository/sha"
    );
}

#[test]
fn slack_huge_event_list_is_trimmed() {
    let message = slack_message(&huge(), Some(&region()));
    insta::assert_json_snapshot!("slack_huge", message);
    let events = message["blocks"][2]["text"]["text"].as_str().unwrap();
    assert!(events.encode_utf16().count() <= 3000);
    assert!(
        events.lines().last().unwrap().starts_with("…and 39"),
        "{events}"
    );
    assert!(
        events.lines().nth(1).unwrap().contains("399 "),
        "newest first"
    );
}

#[test]
fn slack_note_of_a_replaced_sync_is_shown() {
    let mut notification = failure_with_many_long_events();
    notification.attempt.events.clear();
    notification.note = Some(
        "A newer sync started before this one was seen ending, so it is reported as failed."
            .to_owned(),
    );
    let message = slack_message(&notification, None);
    let text = all_text(&message);
    assert!(
        text.contains(":information_source: A newer sync started"),
        "{text}"
    );
    assert!(!text.contains("What happened"));
    assert!(!text.contains("console.aws"), "no Region, no console link");
}

// ------------------------------------------------------------------------- Slack app

#[test]
fn slack_app_renders_every_kind_and_a_failure_s_reply() {
    // What the app posts or updates is the webhook's Block Kit; only a failure's reply in
    // the thread is its own.
    for (name, notification) in every_kind() {
        let message = slack_message(&notification, Some(&region()));
        insta::assert_json_snapshot!(format!("slack_app_{name}"), message);
        let footer = all_text(message["blocks"].as_array().unwrap().last().unwrap());
        assert!(
            footer.contains(notification.kind.event_type()),
            "{name}: {footer}"
        );
    }
    let reply = slack_thread_reply(&failure_with_many_long_events(), Some(&region()));
    insta::assert_json_snapshot!("slack_app_failure_reply", reply);
    let blocks = reply["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["text"]["text"], "*❌ Sync failed: orders-stack*");
    assert!(
        blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*What happened* (newest first)\n• <!date^1795687427^{time_secs}|"),
        "{}",
        blocks[1]
    );
    assert!(
        !all_text(&reply).contains("Open stack in CloudFormation"),
        "the reply has no buttons: the message above has them"
    );
}

// ------------------------------------------------------------------------- Teams

fn card(message: &Value) -> &Value {
    &message["attachments"][0]["content"]
}

#[test]
fn teams_success() {
    let message = teams_message(&success(), Some(&region()));
    insta::assert_json_snapshot!("teams_success", message);
    assert_eq!(message["type"], "message");
    assert_eq!(
        message["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card(&message)["type"], "AdaptiveCard");
    let text = all_text(card(&message));
    assert!(text.contains("✅ Sync succeeded: payments-stack"));
    assert!(
        text.contains("✅ Succeeded (was In progress)"),
        "colour and words"
    );
    assert_eq!(card(&message)["body"][0]["style"], "good");
    assert!(text.contains("3m 18s"));
    assert!(
        text.contains(
            "https://github.com/acme/infra/commit/4e1d0c2a7b9f3e5d6c8a1b2c3d4e5f6a7b8c9d0e"
        ),
        "desired commit"
    );
    assert_eq!(
        card(&message)["actions"][0]["title"],
        "Open stack in CloudFormation"
    );
}

#[test]
fn teams_failure_with_many_long_events() {
    let message = teams_message(&failure_with_many_long_events(), Some(&region()));
    insta::assert_json_snapshot!("teams_failure_many_long_events", message);
    let text = all_text(card(&message));
    assert!(text.contains("What happened (newest first)"));
    assert!(text.contains("…and 15 more"), "{text}");
    assert!(serde_json::to_vec(&message).unwrap().len() <= 20_000);
}

#[test]
fn teams_hostile_text_is_never_markdown() {
    let message = teams_message(&hostile(), Some(&region()));
    insta::assert_json_snapshot!("teams_hostile", message);
    // Every TextBlock (which Teams parses as markdown) holds only our own words.
    let mut blocks = Vec::new();
    collect_typed(card(&message), "TextBlock", &mut blocks);
    for block in blocks {
        assert_eq!(block["text"], "What happened (newest first)", "{block}");
    }
    assert!(
        !message.to_string().contains("\"msteams\":{\"entities\""),
        "no mention entities"
    );
}

#[test]
fn teams_huge_event_list_stays_under_the_size_limit() {
    let message = teams_message(&huge(), Some(&region()));
    insta::assert_json_snapshot!("teams_huge", message);
    let size = serde_json::to_vec(&message).unwrap().len();
    assert!(size <= 20_000, "{size} bytes");
    assert!(all_text(card(&message)).contains("…and 390 more"));
}

fn collect_typed<'a>(value: &'a Value, kind: &str, into: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some(kind) {
                into.push(value);
            }
            map.values()
                .for_each(|item| collect_typed(item, kind, into));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_typed(item, kind, into)),
        _ => {}
    }
}

// ------------------------------------------------------------------------- Discord

#[test]
fn discord_success() {
    let message = discord_message(&success(), Some(&region()));
    insta::assert_json_snapshot!("discord_success", message);
    assert_eq!(message["allowed_mentions"]["parse"], serde_json::json!([]));
    let embed = &message["embeds"][0];
    assert_eq!(embed["color"], 0x57F287);
    assert_eq!(
        embed["fields"][0]["value"],
        "✅ Succeeded (was In progress)"
    );
    assert_eq!(embed["title"], "✅ Sync succeeded: payments-stack");
    assert!(
        embed["url"]
            .as_str()
            .unwrap()
            .contains("stackinfo?stackId=arn%3Aaws")
    );
}

#[test]
fn discord_failure_with_many_long_events() {
    let message = discord_message(&failure_with_many_long_events(), Some(&region()));
    insta::assert_json_snapshot!("discord_failure_many_long_events", message);
    let description = message["embeds"][0]["description"].as_str().unwrap();
    assert!(description.starts_with(
        "**What happened** (newest first)\n• <t:1795687427:T> **ERROR** Stack orders-stack"
    ));
    assert!(description.ends_with("…and 15 more"), "{description}");
    assert_eq!(message["embeds"][0]["color"], 0xED4245);
}

#[test]
fn discord_hostile_text_cannot_ping_or_format() {
    let message = discord_message(&hostile(), Some(&region()));
    insta::assert_json_snapshot!("discord_hostile", message);
    let text = all_text(&message["embeds"][0]);
    assert!(!text.contains(" @everyone"), "{text}");
    assert!(text.contains("\\@everyone"));
    assert!(
        text.contains("\\[click\\](https://evil.example)"),
        "no masked link can form"
    );
    assert!(
        text.contains("\\<t:0:R\\>"),
        "a forged timestamp tag is escaped"
    );
    assert_eq!(message["allowed_mentions"]["parse"], serde_json::json!([]));
}

#[test]
fn discord_huge_event_list_stays_inside_every_limit() {
    let message = discord_message(&huge(), Some(&region()));
    insta::assert_json_snapshot!("discord_huge", message);
    let embed = &message["embeds"][0];
    let units = |value: &Value| value.as_str().unwrap_or_default().encode_utf16().count();
    let total = units(&embed["title"])
        + units(&embed["description"])
        + units(&embed["footer"]["text"])
        + embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|field| units(&field["name"]) + units(&field["value"]))
            .sum::<usize>();
    assert!(total <= 6000, "{total}");
    assert!(units(&embed["description"]) <= 4096);
    assert!(embed["description"].as_str().unwrap().contains("…and 39"));
}

// ------------------------------------------------------------------------- Google Chat

fn sections(message: &Value) -> &Vec<Value> {
    message["cardsV2"][0]["card"]["sections"]
        .as_array()
        .unwrap()
}

/// Every widget's text, in order.
fn widget_texts(message: &Value) -> Vec<String> {
    sections(message)
        .iter()
        .flat_map(|section| section["widgets"].as_array().unwrap().iter())
        .filter_map(|widget| {
            widget["decoratedText"]["text"]
                .as_str()
                .or(widget["textParagraph"]["text"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// The events section's lines.
fn event_lines(message: &Value) -> Vec<String> {
    sections(message)
        .iter()
        .find(|section| section["header"] == "What happened (newest first)")
        .map(|section| {
            section["widgets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|widget| widget["textParagraph"]["text"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn google_chat_renders_every_kind() {
    for (name, notification) in every_kind() {
        let message = google_chat_message(&notification, Some(&region()));
        insta::assert_json_snapshot!(format!("google_chat_{name}"), message);
        let card = &message["cardsV2"][0]["card"];
        assert_eq!(card["header"]["title"], title_of(&notification), "{name}");
        let footer = widget_texts(&message).pop().unwrap();
        assert!(
            footer.starts_with(notification.kind.event_type()),
            "{name}: {footer}"
        );
        match name {
            "test" => assert!(message.get("thread").is_none(), "a test starts no thread"),
            _ => assert_eq!(
                message["thread"]["threadKey"],
                google_chat_thread_key(&notification),
                "{name}"
            ),
        }
    }
}

/// The title every chat destination shows.
fn title_of(notification: &sync_notifier::domain::Notification) -> String {
    sync_notifier::notify::layout::Message::of(notification, None).title
}

#[test]
fn google_chat_started_is_threaded_by_stack_and_attempt() {
    let message = google_chat_message(&started(), Some(&region()));
    assert_eq!(
        message["text"],
        "🔄 Sync started: orders-stack · c4f8a2e on acme/infra (main)"
    );
    let key = message["thread"]["threadKey"].as_str().unwrap();
    assert!(key.starts_with("sync-notifier-"), "{key}");
    assert_ne!(key, started().id, "per attempt, not per notification");
    let failed = failure_with_many_long_events();
    assert_eq!(
        google_chat_thread_key(&failed),
        key,
        "the ending of the same attempt joins its thread"
    );
    let mut other_stack = started();
    other_stack.resource = sync_notifier::domain::ResourceName::parse("payments-stack").unwrap();
    assert_ne!(google_chat_thread_key(&other_stack), key);
    let mut other_attempt = started();
    other_attempt.attempt.started_at = sync_notifier::domain::Timestamp::from_millis(1);
    assert_ne!(google_chat_thread_key(&other_attempt), key);
    let texts = widget_texts(&message);
    assert!(texts.contains(&"<a href=\"https://github.com/acme/infra/commit/c4f8a2e6b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a2\">c4f8a2e</a>".to_owned()), "{texts:?}");
    let buttons = &sections(&message)[1]["widgets"][0]["buttonList"]["buttons"];
    assert_eq!(buttons[0]["text"], "Open stack in CloudFormation");
    assert!(
        buttons[0]["onClick"]["openLink"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://us-east-1.console.aws.amazon.com/")
    );
}

#[test]
fn google_chat_failure_lists_the_newest_events_first() {
    let message = google_chat_message(&failure_with_many_long_events(), Some(&region()));
    let lines = event_lines(&message);
    assert_eq!(lines.len(), 11, "ten events and how many more");
    assert_eq!(
        lines[0],
        "10:03:47 <b>ERROR</b> Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state"
    );
    assert_eq!(lines[10], "<i>…and 15 more</i>");
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .ends_with("· Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state")
    );
}

#[test]
fn google_chat_hostile_text_cannot_link_format_or_mention() {
    let message = google_chat_message(&hostile(), Some(&region()));
    insta::assert_json_snapshot!("google_chat_hostile", message);
    let texts = widget_texts(&message).join("\n");
    for forbidden in ["<!channel>", "<script", "<img", "<b>bold", "<users/", "<@U"] {
        assert!(!texts.contains(forbidden), "{forbidden} survived: {texts}");
    }
    assert!(texts.contains("&lt;!channel&gt;"), "{texts}");
    assert!(
        texts.contains("&amp;amp;"),
        "an & is escaped even before amp;"
    );
    assert!(
        !texts.contains("<a href"),
        "no link is built from unsafe parts"
    );
    let text = message["text"].as_str().unwrap();
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    assert!(text.contains("‹!channel›"), "{text}");
}

#[test]
fn google_chat_huge_stays_inside_every_limit() {
    let message = google_chat_message(&huge(), Some(&region()));
    insta::assert_json_snapshot!("google_chat_huge", message);
    let lines = event_lines(&message);
    assert!(lines[0].contains(" 399 "), "newest first: {}", lines[0]);
    assert_eq!(lines.last().unwrap(), "<i>…and 390 more</i>");
    assert!(serde_json::to_vec(&message).unwrap().len() <= 32_000);
}

#[test]
fn google_chat_drops_the_oldest_events_first_to_stay_under_32000_bytes() {
    // Ten events of 400 escaped ampersands (2,000 bytes each), a long note and long
    // values: too much for one message.
    let mut crowded = failure_with_many_long_events();
    crowded.attempt.events = (0..12)
        .map(|index| {
            event(
                1_795_687_400 + index,
                "ERROR",
                &format!("{index:02} {}", "&".repeat(500)),
            )
        })
        .collect();
    crowded.note = Some("&".repeat(2000));
    for revision in [
        &mut crowded.attempt.target_revision,
        crowded.desired_state.as_mut().unwrap(),
    ] {
        revision.directory = "&".repeat(500);
        revision.branch = "&".repeat(500);
        revision.repository_name = "&".repeat(500);
    }
    let message = google_chat_message(&crowded, Some(&region()));
    let size = serde_json::to_vec(&message).unwrap().len();
    assert!(size <= 30_000, "{size} bytes");
    let lines = event_lines(&message);
    let shown = lines.len() - 1;
    assert!((1..10).contains(&shown), "some, not all: {shown}");
    for (index, line) in lines[..shown].iter().enumerate() {
        assert!(
            line.contains(&format!(" {:02} ", 11 - index)),
            "the newest, in order: {line}"
        );
    }
    assert_eq!(lines[shown], format!("<i>…and {} more</i>", 12 - shown));
}

// ------------------------------------------------------------------------- PagerDuty

#[test]
fn pagerduty_renders_every_kind() {
    for (name, notification) in every_kind() {
        let (endpoint, event) = pagerduty_event(&notification, Some(&region()));
        insta::assert_json_snapshot!(
            format!("pagerduty_{name}"),
            serde_json::json!({"endpoint": endpoint, "event": event})
        );
        assert!(event.get("routing_key").is_none(), "the adapter adds it");
        let (want_endpoint, action, severity) = match name {
            "failed" => (PagerDutyEndpoint::Events, "trigger", "error"),
            "blocked" => (PagerDutyEndpoint::Events, "trigger", "critical"),
            "stuck" => (PagerDutyEndpoint::Events, "trigger", "warning"),
            "succeeded" | "unblocked" => (PagerDutyEndpoint::Events, "resolve", ""),
            _ => (PagerDutyEndpoint::Change, "", ""),
        };
        assert_eq!(endpoint, want_endpoint, "{name}");
        assert_eq!(
            event["event_action"].as_str().unwrap_or_default(),
            action,
            "{name}"
        );
        assert_eq!(
            event["payload"]["severity"].as_str().unwrap_or_default(),
            severity,
            "{name}"
        );
        if action == "trigger" {
            assert_eq!(event["payload"]["class"], notification.kind.event_type());
        }
    }
}

#[test]
fn pagerduty_summary_is_one_line_of_at_most_1024_characters() {
    let (_, event) = pagerduty_event(&hostile(), Some(&region()));
    let summary = event["payload"]["summary"].as_str().unwrap();
    assert!(!summary.contains('\n'), "{summary}");
    let mut long = failure_with_many_long_events();
    long.attempt.events[2].event = "x".repeat(5000);
    long.attempt.target_revision.repository_name = "r".repeat(5000);
    let (_, event) = pagerduty_event(&long, None);
    assert!(
        event["payload"]["summary"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 1024
    );
    assert!(
        event.get("client_url").is_none(),
        "no Region, no console link"
    );
}

// ------------------------------------------------------------------------- Webhook

#[test]
fn webhook_bodies() {
    insta::assert_json_snapshot!("webhook_success", webhook_body(&success(), Some(&region())));
    insta::assert_json_snapshot!(
        "webhook_failure_many_long_events",
        webhook_body(&failure_with_many_long_events(), Some(&region()))
    );
    insta::assert_json_snapshot!("webhook_hostile", webhook_body(&hostile(), Some(&region())));
}

#[test]
fn webhook_body_keeps_the_contract_fields_and_the_newest_events() {
    let body = serde_json::to_value(webhook_body(&huge(), Some(&region()))).unwrap();
    assert_eq!(body["type"], "sync.failed");
    for field in [
        "resourceName",
        "syncType",
        "status",
        "previousStatus",
        "startedAt",
        "target",
        "targetRevision",
        "events",
    ] {
        assert!(body["data"].get(field).is_some(), "{field}");
    }
    // At most 50 events, the newest, in AWS's order; the rest are counted.
    let events = body["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 50, "a webhook gets the 50 newest events");
    assert_eq!(body["data"]["eventsOmitted"], 350);
    assert!(events[0]["event"].as_str().unwrap().starts_with("350 "));
    assert!(events[49]["event"].as_str().unwrap().starts_with("399 "));
    let success = serde_json::to_value(webhook_body(&success(), Some(&region()))).unwrap();
    assert_eq!(
        success["data"]["desiredRevision"]["sha"],
        "4e1d0c2a7b9f3e5d6c8a1b2c3d4e5f6a7b8c9d0e"
    );
    assert!(
        success["data"]["consoleUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://us-east-1.console.aws.amazon.com/")
    );
    assert_eq!(success["data"]["durationSeconds"], 198);
}

// ------------------------------------------- blocked, unblocked, stuck and test (rule 9, 10)

const RESOLVE_COMMAND: &str = "aws codeconnections update-sync-blocker --id 'a1b2c3d4-blocker' --sync-type CFN_STACK_SYNC --resource-name 'orders-stack' --resolved-reason 'Fixed the cause of the failed sync' --region us-east-1";

fn the_new_kinds() -> impl Iterator<Item = (&'static str, sync_notifier::domain::Notification)> {
    every_kind()
        .into_iter()
        .filter(|(name, _)| ["blocked", "unblocked", "stuck", "test"].contains(name))
}

#[test]
fn the_new_kinds_render_on_every_chat_destination_and_the_webhook() {
    for (name, notification) in the_new_kinds() {
        let region = Some(region());
        let slack = slack_message(&notification, region.as_ref());
        let teams = teams_message(&notification, region.as_ref());
        let discord = discord_message(&notification, region.as_ref());
        let webhook = serde_json::to_value(webhook_body(&notification, region.as_ref())).unwrap();
        insta::assert_json_snapshot!(format!("slack_{name}"), slack);
        insta::assert_json_snapshot!(format!("teams_{name}"), teams);
        insta::assert_json_snapshot!(format!("discord_{name}"), discord);
        insta::assert_json_snapshot!(format!("webhook_{name}"), webhook);
        assert_eq!(
            webhook["type"],
            format!("sync.{name}"),
            "the webhook body names the type"
        );
    }
}

#[test]
fn a_blocked_message_says_what_blocks_since_when_and_how_to_resolve_it() {
    let notification = blocked();
    let region = Some(region());
    let slack = all_text(&slack_message(&notification, region.as_ref()));
    let teams = all_text(&teams_message(&notification, region.as_ref()));
    let discord = all_text(&discord_message(&notification, region.as_ref()));
    for (destination, text) in [("slack", &slack), ("teams", &teams), ("discord", &discord)] {
        assert!(
            text.contains("Stack orders-stack failed to update; Git sync will not deploy until this is resolved"),
            "{destination}: the blocker's CreatedReason: {text}"
        );
        assert!(
            text.contains("StackName"),
            "{destination}: its Contexts: {text}"
        );
        assert!(
            text.contains(RESOLVE_COMMAND),
            "{destination}: the exact, quoted command: {text}"
        );
        assert!(
            text.contains("2026-11-26 10:03:50 UTC") || text.contains("<t:1795687430:"),
            "{destination}: since when: {text}"
        );
    }
    let webhook = serde_json::to_value(webhook_body(&notification, region.as_ref())).unwrap();
    assert_eq!(webhook["data"]["blocker"]["id"], "a1b2c3d4-blocker");
    assert_eq!(webhook["data"]["blocker"]["status"], "ACTIVE");
    assert_eq!(
        webhook["data"]["blocker"]["createdReason"],
        "Stack orders-stack failed to update; Git sync will not deploy until this is resolved"
    );
}

#[test]
fn a_stuck_message_says_how_long_it_has_run_and_the_body_counts_the_seconds() {
    let notification = stuck();
    let region = Some(region());
    let slack = slack_message(&notification, region.as_ref());
    assert!(
        slack["text"].as_str().unwrap().contains("1h 30m"),
        "the summary line tells how long: {}",
        slack["text"]
    );
    let webhook = serde_json::to_value(webhook_body(&notification, region.as_ref())).unwrap();
    assert_eq!(webhook["type"], "sync.stuck");
    assert_eq!(webhook["data"]["runningSeconds"], 90 * 60);
}

#[test]
fn a_test_message_is_labelled_as_a_test_everywhere() {
    let notification = test_message();
    let region = Some(region());
    for (destination, text) in [
        (
            "slack",
            all_text(&slack_message(&notification, region.as_ref())),
        ),
        (
            "teams",
            all_text(&teams_message(&notification, region.as_ref())),
        ),
        (
            "discord",
            all_text(&discord_message(&notification, region.as_ref())),
        ),
    ] {
        assert!(text.contains("Test message"), "{destination}: {text}");
    }
    let webhook = serde_json::to_value(webhook_body(&notification, region.as_ref())).unwrap();
    assert_eq!(webhook["type"], "sync.test");
    assert_eq!(webhook["data"]["test"], true);
}

// ------------------------------------------------------- invisible and control characters

/// Characters a person must never receive hidden in a chat message: a terminal escape
/// (ESC … BEL), a C1 control, DEL, a right-to-left override and a zero-width space.
const INVISIBLE: [char; 6] = [
    '\u{1b}', '\u{7}', '\u{85}', '\u{7f}', '\u{202e}', '\u{200b}',
];

#[test]
fn no_chat_message_carries_control_bidi_or_zero_width_characters_from_aws_or_git() {
    let notification = invisible();
    let region = region();
    let rendered = [
        ("slack", slack_message(&notification, Some(&region))),
        (
            "slack reply",
            slack_thread_reply(&notification, Some(&region)),
        ),
        ("teams", teams_message(&notification, Some(&region))),
        ("discord", discord_message(&notification, Some(&region))),
        (
            "google chat",
            google_chat_message(&notification, Some(&region)),
        ),
        (
            "q developer",
            sync_notifier::notify::q_developer_message(&notification, Some(&region)),
        ),
        (
            "pagerduty summary",
            pagerduty_event(&notification, Some(&region)).1["payload"]["summary"].clone(),
        ),
    ];
    for (name, message) in rendered {
        let text = all_text(&message);
        assert!(
            text.contains("pwned"),
            "{name}: the text itself is kept: {text}"
        );
        for character in INVISIBLE {
            assert!(
                !text.contains(character),
                "{name} carries U+{:04X}: {text:?}",
                character as u32
            );
        }
    }
}

// ------------------------------------------------------------ Why it failed (§14)

#[test]
fn every_chat_format_shows_why_a_sync_failed_first_and_what_it_changed() {
    let notification = failure_explained();
    let region = region();
    let why = "OrdersTable (AWS::DynamoDB::Table) CREATE_FAILED — Table already exists: orders-v2";
    let rendered = [
        ("slack", slack_message(&notification, Some(&region))),
        ("teams", teams_message(&notification, Some(&region))),
        ("discord", discord_message(&notification, Some(&region))),
        (
            "google_chat",
            google_chat_message(&notification, Some(&region)),
        ),
        (
            "q_developer",
            sync_notifier::notify::q_developer_message(&notification, Some(&region)),
        ),
        ("pagerduty", pagerduty_event(&notification, Some(&region)).1),
    ];
    for (format, message) in &rendered {
        insta::assert_json_snapshot!(format!("{format}_failure_explained"), message);
        // Markdown escapes (Discord's `\_`) aside, as people read it.
        let text = all_text(message).replace('\\', "");
        assert!(text.contains("Why"), "{format}: {text}");
        assert!(
            text.contains(why) || text.contains(&why.replace('—', "-")),
            "{format}: the why line, invisible characters removed: {text}"
        );
        if *format == "pagerduty" {
            // A machine's payload: its summary (the alert's title) says why.
            let summary = message["payload"]["summary"].as_str().unwrap();
            assert!(summary.contains(&format!("Why: {why}")), "{summary}");
            assert!(!summary.contains('\u{202e}') && !summary.contains('\u{200b}'));
            continue;
        }
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{200b}'),
            "{format}"
        );
        {
            assert!(
                text.contains(
                    "1 created (OrdersTable), 6 updated (OrdersQueue, DataStack, OrdersApi, 3 more)"
                ),
                "{format}: {text}"
            );
            assert!(
                text.contains("compare/7a3e5c1b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c...c4f8a2e"),
                "{format}: the compare link: {text}"
            );
        }
    }
    // Every chat format renders the shared layout's fields in order: the why is first.
    let layout = sync_notifier::notify::layout::Message::of(&notification, Some(&region));
    assert_eq!(layout.fields[0].label, "Why");
    assert_eq!(layout.fields[1].label, "Status");
    // In a terminal the invisible characters show as escapes.
    let pretty = sync_notifier::notify::pretty(&notification);
    assert!(
        pretty.contains("why: OrdersTable (AWS::DynamoDB::Table) CREATE_FAILED — Table already exists:\\u{202e} orders-v2\\u{200b}"),
        "{pretty}"
    );
    // The webhook body has it all, the nested stack it happened in included.
    let body = serde_json::to_value(webhook_body(&notification, Some(&region))).unwrap();
    insta::assert_json_snapshot!("webhook_failure_explained", body["data"]["rootCause"]);
    assert_eq!(
        body["data"]["rootCause"]["stack"],
        "orders-stack-DataStack-1R2T3Y4U5I6O"
    );
    assert_eq!(body["data"]["changes"]["updatedOmitted"], 2);
    assert_eq!(
        body["data"]["changes"]["updated"].as_array().unwrap().len(),
        4
    );
}
