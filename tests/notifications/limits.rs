//! Whatever AWS or Git send, no payload breaks a service's limits and no value escapes
//! its escaping. The limits are restated here from the services' documentation, not
//! taken from the code under test.

use proptest::prelude::*;
use serde_json::Value;
use sync_notifier::domain::Region;
use sync_notifier::domain::{
    AccountId, Blocker, BlockerStatus, Location, Notification, NotificationKind, Replaced,
    ResourceName, Revision, SyncAttempt, SyncEvent, SyncStatus, Timestamp,
};
use sync_notifier::notify::{
    ENTRY_LIMIT, discord_message, eventbridge_entry, google_chat_message, pagerduty_event,
    q_developer_message, slack_message, slack_thread_reply, teams_message,
};

fn units(value: &Value) -> usize {
    value.as_str().unwrap_or_default().encode_utf16().count()
}

/// Any text, weighted towards what breaks things: markup, mentions, emoji, line breaks,
/// and very long runs (a token repeated up to `max` times, cheap to generate).
fn text(max: usize) -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("<!channel>".to_owned()),
        Just("<@U024BE7LH>".to_owned()),
        Just("@everyone".to_owned()),
        Just("&amp;".to_owned()),
        Just("<b>".to_owned()),
        Just("[x](https://evil)".to_owned()),
        Just("\\".to_owned()),
        Just("🔄".to_owned()),
        Just("\n".to_owned()),
        Just("*_~`|#-".to_owned()),
        Just("lorem ipsum dolor sit amet ".to_owned()),
        any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        3 => proptest::collection::vec(token.clone(), 0..24).prop_map(|parts| parts.concat()),
        1 => (token, 0..max).prop_map(move |(token, count)| {
            let mut long = token.repeat(count);
            // Cut at `max` characters, on a character boundary.
            if let Some((index, _)) = long.char_indices().nth(max) {
                long.truncate(index);
            }
            long
        }),
    ]
}

fn revision() -> impl Strategy<Value = Revision> {
    (
        prop_oneof![
            Just("GitHub".to_owned()),
            Just("GitLab".to_owned()),
            Just("Bitbucket".to_owned()),
            text(20)
        ],
        prop_oneof![Just("acme".to_owned()), text(300)],
        prop_oneof![Just("infra".to_owned()), text(300)],
        text(600),
        text(600),
        prop_oneof!["[0-9a-f]{40}", text(60)],
    )
        .prop_map(
            |(provider_type, owner_id, repository_name, branch, directory, sha)| Revision {
                provider_type,
                owner_id,
                repository_name,
                branch,
                directory,
                sha,
            },
        )
}

/// A blocker whose every text tries to break things.
fn blocker() -> impl Strategy<Value = Blocker> {
    (
        text(60),
        text(3000),
        proptest::collection::vec((text(100), text(600)), 0..8),
        proptest::option::of(text(300)),
    )
        .prop_map(|(id, created_reason, contexts, resolved_reason)| Blocker {
            id,
            blocker_type: "AUTOMATED".into(),
            status: BlockerStatus::Active,
            created_reason,
            created_at: Timestamp::from_millis(1_795_687_400_000),
            contexts,
            resolved_reason,
            resolved_at: None,
        })
}

fn notification() -> impl Strategy<Value = Notification> {
    let events = proptest::collection::vec(
        (
            -10_000_000_000_000i64..10_000_000_000_000,
            prop_oneof![Just("ERROR".to_owned()), Just("INFO".to_owned()), text(60)],
            text(3000),
            proptest::option::of(text(200)),
        )
            .prop_map(|(time, event_type, event, external_id)| SyncEvent {
                event,
                event_type,
                time: Timestamp::from_millis(time),
                external_id,
            }),
        0..120,
    );
    (
        "[A-Za-z0-9][A-Za-z0-9_-]{0,99}",
        prop_oneof![
            Just(NotificationKind::Started),
            Just(NotificationKind::Succeeded),
            Just(NotificationKind::Failed),
            Just(NotificationKind::Blocked),
            Just(NotificationKind::Unblocked),
            Just(NotificationKind::Stuck),
            Just(NotificationKind::Test)
        ],
        revision(),
        proptest::option::of(revision()),
        events,
        proptest::option::of(text(3000)),
        -10_000_000_000_000i64..10_000_000_000_000,
        (blocker(), any::<bool>(), proptest::option::of(text(120))),
    )
        .prop_map(
            |(name, kind, target, desired, events, note, started, (blocker, hub, account_name))| {
                let resource = ResourceName::parse(&name).unwrap();
                let status = match kind {
                    NotificationKind::Started | NotificationKind::Stuck => SyncStatus::InProgress,
                    NotificationKind::Succeeded | NotificationKind::Test => SyncStatus::Succeeded,
                    _ => SyncStatus::Failed,
                };
                Notification {
                    id: "msg_test".into(),
                    kind,
                    resource: resource.clone(),
                    location: hub.then(|| Location {
                        account: AccountId::parse("123456789012").unwrap(),
                        region: Region::parse("eu-west-1").unwrap(),
                    }),
                    account_name,
                    attempt: SyncAttempt {
                        started_at: Timestamp::from_millis(started),
                        status,
                        target: resource.to_string(),
                        initial_revision: target.clone(),
                        target_revision: target.clone(),
                        events,
                        events_omitted: 0,
                    },
                    previous_status: Some(SyncStatus::Unknown("<!channel>".into())),
                    desired_state: desired,
                    occurred_at: Timestamp::from_millis(started),
                    detected_at: Timestamp::from_millis(started),
                    note,
                    blocker: matches!(
                        kind,
                        NotificationKind::Blocked | NotificationKind::Unblocked
                    )
                    .then_some(blocker),
                    replaced: hub.then(|| Replaced {
                        started_at: Timestamp::from_millis(started),
                        sha: target.sha.clone(),
                    }),
                    reported_stuck: hub,
                }
            },
        )
}

/// Removes the markup the renderer itself writes (links to known URLs, date tokens), so
/// what is left must hold no `<` or `>` at all.
fn without_own_markup(text: &str) -> String {
    let mut rest = text.to_owned();
    for prefix in ["<!date^", "<https://"] {
        while let Some(start) = rest.find(prefix) {
            let Some(end) = rest[start..].find('>') else {
                break;
            };
            rest.replace_range(start..start + end + 1, "");
        }
    }
    rest
}

fn check_slack(message: &Value) -> Result<(), TestCaseError> {
    let blocks = message["blocks"].as_array().unwrap();
    prop_assert!(blocks.len() <= 50);
    prop_assert!(units(&message["text"]) <= 3000);
    let mut mrkdwn = vec![message["text"].as_str().unwrap().to_owned()];
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => prop_assert!(units(&block["text"]["text"]) <= 150),
            "section" => {
                if let Some(text) = block.get("text") {
                    prop_assert!(units(&text["text"]) <= 3000);
                    mrkdwn.push(text["text"].as_str().unwrap().to_owned());
                }
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().unwrap();
                    prop_assert!(fields.len() <= 10);
                    for field in fields {
                        prop_assert!(units(&field["text"]) <= 2000);
                        mrkdwn.push(field["text"].as_str().unwrap().to_owned());
                    }
                }
            }
            "context" => {
                let elements = block["elements"].as_array().unwrap();
                prop_assert!(elements.len() <= 10);
                for element in elements {
                    prop_assert!(units(&element["text"]) <= 3000);
                    mrkdwn.push(element["text"].as_str().unwrap().to_owned());
                }
            }
            "actions" => {
                for button in block["elements"].as_array().unwrap() {
                    prop_assert!(units(&button["text"]["text"]) <= 75);
                    prop_assert!(units(&button["url"]) <= 3000);
                }
            }
            other => prop_assert!(false, "unexpected block {other}"),
        }
    }
    for text in mrkdwn {
        let rest = without_own_markup(&text);
        prop_assert!(
            !rest.contains('<') && !rest.contains('>'),
            "unescaped markup in {text:?}"
        );
    }
    Ok(())
}

fn check_discord(message: &Value) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        &message["allowed_mentions"]["parse"],
        &serde_json::json!([])
    );
    prop_assert!(units(&message["content"]) <= 2000);
    let embeds = message["embeds"].as_array().unwrap();
    prop_assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    let fields = embed["fields"].as_array().unwrap();
    prop_assert!(units(&embed["title"]) <= 256);
    prop_assert!(units(&embed["description"]) <= 4096);
    prop_assert!(fields.len() <= 25);
    prop_assert!(units(&embed["footer"]["text"]) <= 2048);
    let mut total =
        units(&embed["title"]) + units(&embed["description"]) + units(&embed["footer"]["text"]);
    for field in fields {
        prop_assert!(units(&field["name"]) <= 256);
        prop_assert!(units(&field["value"]) <= 1024);
        total += units(&field["name"]) + units(&field["value"]);
    }
    prop_assert!(total <= 6000, "{total}");
    // Mentions only ever appear escaped.
    let all = format!(
        "{} {} {}",
        embed["title"], embed["description"], embed["fields"]
    );
    for (index, _) in all.match_indices('@') {
        prop_assert!(all[..index].ends_with('\\'), "an unescaped @ in {all}");
    }
    Ok(())
}

fn check_teams(message: &Value) -> Result<(), TestCaseError> {
    let size = serde_json::to_vec(message).unwrap().len();
    prop_assert!(
        size <= 20_000,
        "{size} bytes, over our ceiling (Teams refuses ~28 KB)"
    );
    let body = message["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap();
    for block in body {
        if block["type"] == "TextBlock" {
            prop_assert_eq!(&block["text"], "What happened (newest first)");
        }
    }
    Ok(())
}

/// Amazon Q Developer: our ceilings (Slack's, the tightest platform), SNS's 256 KB, and
/// no markup but ours.
fn check_q_developer(message: &Value) -> Result<(), TestCaseError> {
    let content = &message["content"];
    let metadata = &message["metadata"];
    prop_assert!(units(&content["title"]) <= 150);
    prop_assert!(units(&content["description"]) <= 3000);
    prop_assert!(units(&metadata["summary"]) <= 300);
    prop_assert!(serde_json::to_vec(message).unwrap().len() <= 256 * 1024);
    let mut markdown = vec![
        content["title"].as_str().unwrap().to_owned(),
        content["description"].as_str().unwrap().to_owned(),
        metadata["summary"].as_str().unwrap().to_owned(),
    ];
    for keyword in content["keywords"].as_array().unwrap() {
        markdown.push(keyword.as_str().unwrap().to_owned());
    }
    for text in &markdown {
        let rest = without_own_markup(text);
        prop_assert!(
            !rest.contains('<') && !rest.contains('>'),
            "unescaped markup in {text:?}"
        );
        prop_assert!(!text.contains('`') && !text.contains("]("), "{text:?}");
    }
    for step in content["nextSteps"].as_array().unwrap() {
        let rest = without_own_markup(step.as_str().unwrap());
        prop_assert!(!rest.contains('<') && !rest.contains('>'), "{step}");
    }
    for value in metadata["additionalContext"].as_object().unwrap().values() {
        let value = value.as_str().unwrap();
        prop_assert!(
            (1..=1024).contains(&value.len())
                && value.bytes().all(|byte| (0x21..=0x7e).contains(&byte)),
            "{value:?}"
        );
    }
    Ok(())
}

/// Removes the tags the Google Chat renderer writes itself (bold, italics, links to the
/// commit), so what is left must hold no `<` or `>` at all.
fn without_own_tags(text: &str) -> String {
    let mut rest = text.to_owned();
    for tag in ["<b>", "</b>", "<i>", "</i>", "</a>"] {
        rest = rest.replace(tag, "");
    }
    while let Some(start) = rest.find("<a href=\"https://") {
        let Some(end) = rest[start..].find("\">") else {
            break;
        };
        rest.replace_range(start..start + end + 2, "");
    }
    rest
}

fn check_google_chat(message: &Value) -> Result<(), TestCaseError> {
    let size = serde_json::to_vec(message).unwrap().len();
    prop_assert!(size <= 32_000, "{size} bytes, over Google Chat's 32,000");
    let cards = message["cardsV2"].as_array().unwrap();
    prop_assert_eq!(cards.len(), 1);
    let card = &cards[0]["card"];
    let sections = card["sections"].as_array().unwrap();
    let widgets: usize = sections
        .iter()
        .map(|section| section["widgets"].as_array().unwrap().len())
        .sum();
    prop_assert!(widgets <= 100, "{widgets} widgets");
    let text = message["text"].as_str().unwrap();
    prop_assert!(
        !text.contains('<') && !text.contains('>'),
        "link or mention syntax in {text:?}"
    );
    let title = card["header"]["title"].as_str().unwrap();
    prop_assert!(!title.contains('<') && !title.contains('&'), "{title:?}");
    for section in sections {
        let widgets = section["widgets"].as_array().unwrap();
        prop_assert!(!widgets.is_empty(), "a section needs a widget");
        for widget in widgets {
            for html in [
                &widget["decoratedText"]["text"],
                &widget["textParagraph"]["text"],
            ] {
                if let Some(html) = html.as_str() {
                    let rest = without_own_tags(html);
                    prop_assert!(
                        !rest.contains('<') && !rest.contains('>'),
                        "unescaped markup in {html:?}"
                    );
                }
            }
        }
    }
    Ok(())
}

/// EventBridge: every entry is under 256 KB, its detail is a JSON object, and every
/// event left out is counted.
fn check_eventbridge(
    notification: &Notification,
    region: Option<&Region>,
) -> Result<(), TestCaseError> {
    let entry = eventbridge_entry(notification, region, "default").unwrap();
    let detail = entry.detail().unwrap();
    let size = entry.source().unwrap().len()
        + entry.detail_type().unwrap().len()
        + detail.len()
        + entry.resources().iter().map(String::len).sum::<usize>();
    prop_assert!(size < ENTRY_LIMIT, "{size}");
    let detail: Value = serde_json::from_str(detail).unwrap();
    let data = &detail["data"];
    let kept = data["events"].as_array().unwrap().len();
    let omitted = data["eventsOmitted"].as_u64().unwrap_or(0) as usize;
    prop_assert_eq!(kept + omitted, notification.attempt.events.len());
    Ok(())
}

fn check_pagerduty(notification: &Notification, event: &Value) -> Result<(), TestCaseError> {
    let size = serde_json::to_vec(event).unwrap().len();
    prop_assert!(size <= 512 * 1024, "{size} bytes, over PagerDuty's 512 KB");
    if let Some(key) = event["dedup_key"].as_str() {
        prop_assert!(key.chars().count() <= 255, "{key}");
    }
    let payload = &event["payload"];
    if let Some(summary) = payload["summary"].as_str() {
        prop_assert!(summary.chars().count() <= 1024);
        prop_assert!(!summary.contains('\n'));
        prop_assert!(!payload["source"].as_str().unwrap_or_default().is_empty());
    }
    let severity = payload["severity"].as_str();
    prop_assert!(
        severity.is_none_or(|severity| ["critical", "error", "warning"].contains(&severity))
    );
    prop_assert_eq!(
        event["event_action"].as_str(),
        match notification.kind {
            NotificationKind::Failed | NotificationKind::Blocked | NotificationKind::Stuck =>
                Some("trigger"),
            NotificationKind::Succeeded | NotificationKind::Unblocked => Some("resolve"),
            _ => None,
        }
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_input_breaks_a_limit_or_escapes_its_escaping(notification in notification(), with_region in any::<bool>()) {
        let region = Region::parse("eu-west-1").ok();
        let region = if with_region { region.as_ref() } else { None };
        check_slack(&slack_message(&notification, region))?;
        check_slack(&slack_thread_reply(&notification, region))?;
        check_discord(&discord_message(&notification, region))?;
        check_teams(&teams_message(&notification, region))?;
        check_q_developer(&q_developer_message(&notification, region))?;
        check_eventbridge(&notification, region)?;
        check_google_chat(&google_chat_message(&notification, region))?;
        check_pagerduty(&notification, &pagerduty_event(&notification, region).1)?;
    }
}
