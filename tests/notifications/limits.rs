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
        // A Slack link and an HTML link, as they would be if they slipped through.
        Just("<https://evil.example|click>".to_owned()),
        Just("<a href=\"https://evil.example\">".to_owned()),
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

/// A blocker whose every text tries to break things, as a notification of `kind` holds
/// it: active for `sync.blocked`; resolved for `sync.unblocked`, with how and when if AWS
/// said (a blocker no longer listed is resolved without either).
fn blocker(kind: NotificationKind) -> impl Strategy<Value = Blocker> {
    let resolved = kind == NotificationKind::Unblocked;
    (
        text(60),
        text(3000),
        proptest::collection::vec((text(100), text(600)), 0..8),
        proptest::option::of(text(300)),
        proptest::option::of(-10_000_000_000_000i64..10_000_000_000_000),
    )
        .prop_map(
            move |(id, created_reason, contexts, resolved_reason, resolved_at)| Blocker {
                id,
                blocker_type: "AUTOMATED".into(),
                status: if resolved {
                    BlockerStatus::Resolved
                } else {
                    BlockerStatus::Active
                },
                created_reason,
                created_at: Timestamp::from_millis(1_795_687_400_000),
                contexts,
                resolved_reason: resolved_reason.filter(|_| resolved),
                resolved_at: resolved_at.filter(|_| resolved).map(Timestamp::from_millis),
            },
        )
}

/// What §14 adds: a root cause of hostile text as long as the model allows, up to 60
/// changed resources, and a compare base (a commit, or text that is not one).
fn explanation() -> impl Strategy<Value = sync_notifier::domain::Explanation> {
    use sync_notifier::domain::{ChangedResource, Changes, Explanation, RootCause};
    (
        proptest::option::of((text(255), text(4096), text(300))),
        prop::collection::vec(text(255), 0..60),
        prop_oneof![
            Just(None),
            Just(Some("7a3e5c1b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c".to_owned())),
            text(60).prop_map(Some),
        ],
    )
        .prop_map(|(cause, names, compare_from)| Explanation {
            root_cause: cause.map(|(logical_id, reason, stack)| RootCause {
                logical_id,
                resource_type: "AWS::DynamoDB::Table".into(),
                status: "CREATE_FAILED".into(),
                reason: Some(reason),
                stack,
                time: Timestamp::from_millis(1_795_687_400_000),
            }),
            changes: (!names.is_empty()).then(|| {
                let listed: Vec<ChangedResource> = names
                    .into_iter()
                    .map(|logical_id| ChangedResource {
                        logical_id,
                        resource_type: "AWS::SQS::Queue".into(),
                    })
                    .collect();
                Changes {
                    created: listed.clone(),
                    updated: listed.clone(),
                    deleted: listed,
                    created_omitted: 3,
                    updated_omitted: 0,
                    deleted_omitted: 0,
                }
            }),
            compare_from,
        })
}

fn kind() -> impl Strategy<Value = NotificationKind> {
    prop_oneof![
        Just(NotificationKind::Started),
        Just(NotificationKind::Succeeded),
        Just(NotificationKind::Failed),
        Just(NotificationKind::Blocked),
        Just(NotificationKind::Unblocked),
        Just(NotificationKind::Stuck),
        Just(NotificationKind::Test)
    ]
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
    let kind_and_blocker = kind().prop_flat_map(|kind| (Just(kind), blocker(kind)));
    (
        "[A-Za-z0-9][A-Za-z0-9_-]{0,99}",
        kind_and_blocker,
        revision(),
        proptest::option::of(revision()),
        events,
        proptest::option::of(text(3000)),
        -10_000_000_000_000i64..10_000_000_000_000,
        (any::<bool>(), proptest::option::of(text(120))),
        explanation(),
    )
        .prop_map(
            |(
                name,
                (kind, blocker),
                target,
                desired,
                events,
                note,
                started,
                (hub, account_name),
                explanation,
            )| {
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
                    explanation: match kind {
                        NotificationKind::Test => Default::default(),
                        _ => explanation,
                    },
                    tags: Vec::new(),
                    reminder: None,
                    commit: None,
                }
            },
        )
}

/// What the renderers may link to, restated here: the commit pages of the notification's
/// own revisions (for the providers whose pages we know, from parts that need no
/// escaping), and the stack in the CloudFormation console of its Region.
struct Own {
    commits: Vec<String>,
    console: Option<String>,
}

impl Own {
    fn of(notification: &Notification, region: Option<&Region>) -> Own {
        let page = |revision: &Revision| {
            let safe = |part: &str| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            };
            let (owner, repository, sha) =
                (&revision.owner_id, &revision.repository_name, &revision.sha);
            if !safe(owner)
                || !safe(repository)
                || sha.is_empty()
                || !sha.chars().all(|c| c.is_ascii_hexdigit())
            {
                return None;
            }
            match revision.provider_type.as_str() {
                "GitHub" => Some(format!(
                    "https://github.com/{owner}/{repository}/commit/{sha}"
                )),
                "GitLab" => Some(format!(
                    "https://gitlab.com/{owner}/{repository}/-/commit/{sha}"
                )),
                "Bitbucket" => Some(format!(
                    "https://bitbucket.org/{owner}/{repository}/commits/{sha}"
                )),
                _ => None,
            }
        };
        let attempt = &notification.attempt;
        let mut commits: Vec<String> = [&attempt.target_revision, &attempt.initial_revision]
            .into_iter()
            .chain(notification.desired_state.as_ref())
            .filter_map(page)
            .collect();
        // The compare page, from the last success's commit to this one (§14).
        if let Some(from) = &notification.explanation.compare_from {
            let target = &attempt.target_revision;
            if let Some(to_page) = page(target)
                && from.chars().all(|c| c.is_ascii_hexdigit())
                && !from.is_empty()
                && *from != target.sha
            {
                let (owner, repository, to) =
                    (&target.owner_id, &target.repository_name, &target.sha);
                let base = to_page
                    .split("/commit")
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                commits.push(match target.provider_type.as_str() {
                    "GitLab" => {
                        format!("https://gitlab.com/{owner}/{repository}/-/compare/{from}...{to}")
                    }
                    "Bitbucket" => format!(
                        "https://bitbucket.org/{owner}/{repository}/branches/compare/{to}%0D{from}"
                    ),
                    _ => format!("{base}/compare/{from}...{to}"),
                });
            }
        }
        let region = notification
            .location
            .as_ref()
            .map(|location| &location.region)
            .or(region);
        let console = region.map(|region| {
            format!("https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks")
        });
        Own { commits, console }
    }

    /// `<URL|label>` to one of our URLs, with a label that holds no markup.
    fn is_link(&self, inner: &str) -> bool {
        let Some((url, label)) = inner.split_once('|') else {
            return false;
        };
        let console = self.console.as_ref().is_some_and(|console| {
            url.starts_with(console.as_str())
                && url
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !"<>|\"".contains(c))
        });
        (console || self.commits.iter().any(|commit| commit == url))
            && !label.is_empty()
            && !label.contains('<')
    }

    /// Slack's `<!date^SECONDS^{format}|fallback>`, the fallback a UTC time.
    fn is_date(inner: &str) -> bool {
        let Some(rest) = inner.strip_prefix("!date^") else {
            return false;
        };
        let Some((head, fallback)) = rest.split_once('|') else {
            return false;
        };
        let Some((seconds, format)) = head.split_once('^') else {
            return false;
        };
        seconds.parse::<i64>().is_ok()
            && !format.is_empty()
            && format
                .chars()
                .all(|c| c.is_ascii_lowercase() || "{}_ ".contains(c))
            && fallback.strip_suffix(" UTC").is_some_and(|time| {
                time.chars()
                    .all(|c| c.is_ascii_digit() || "-:. +".contains(c))
            })
    }

    /// `text` without our own markup (links to our URLs, date tokens): what is left must
    /// hold no `<` or `>` at all. A link to anywhere else is left in, to be seen.
    fn strip(&self, text: &str) -> String {
        let mut rest = String::with_capacity(text.len());
        let mut remaining = text;
        while let Some(start) = remaining.find('<') {
            rest.push_str(&remaining[..start]);
            let after = &remaining[start + 1..];
            match after.find('>') {
                Some(end) if Own::is_date(&after[..end]) || self.is_link(&after[..end]) => {
                    remaining = &after[end + 1..];
                }
                _ => {
                    rest.push('<');
                    remaining = after;
                }
            }
        }
        rest.push_str(remaining);
        rest
    }

    /// Google Chat's HTML: our tags (bold, italics, links to our URLs) taken out.
    fn strip_tags(&self, html: &str) -> String {
        let mut rest = html.to_owned();
        for tag in ["<b>", "</b>", "<i>", "</i>", "</a>"] {
            rest = rest.replace(tag, "");
        }
        let links: Vec<String> = self
            .commits
            .iter()
            .map(|url| format!("<a href=\"{url}\">"))
            .collect();
        for link in links {
            rest = rest.replace(&link, "");
        }
        if let Some(console) = &self.console {
            while let Some(start) = rest.find(&format!("<a href=\"{console}")) {
                let Some(end) = rest[start..].find("\">") else {
                    break;
                };
                let url = &rest[start + 9..start + end];
                if url
                    .chars()
                    .any(|c| !c.is_ascii_graphic() || "<>\"".contains(c))
                {
                    break;
                }
                rest.replace_range(start..start + end + 2, "");
            }
        }
        rest
    }
}

#[test]
fn only_our_own_links_and_dates_count_as_our_markup() {
    let own = Own {
        commits: vec!["https://github.com/acme/infra/commit/c4f8a2e".into()],
        console: Some(
            "https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks"
                .into(),
        ),
    };
    let ours = "<https://github.com/acme/infra/commit/c4f8a2e|c4f8a2e> \
                <https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks?filteringText=app|Open stack> \
                <!date^1795687330^{date_short_pretty} at {time}|2026-11-26 10:02:10 UTC>";
    assert_eq!(own.strip(ours).trim(), "");
    for slipped in [
        "<https://evil.example|click>",
        "<https://github.com/acme/infra/commit/c4f8a2e.evil|c4f8a2e>",
        "<https://github.com/acme/infra/commit/c4f8a2e|<!channel>",
        "<!date^1^{time}|<!here>",
        "<!channel>",
        "<@U024BE7LH>",
    ] {
        assert!(
            own.strip(slipped).contains('<'),
            "{slipped} counted as ours"
        );
    }
    assert_eq!(
        own.strip_tags(
            "<b>x</b> <a href=\"https://github.com/acme/infra/commit/c4f8a2e\">c4f8a2e</a>"
        ),
        "x c4f8a2e"
    );
    assert!(
        own.strip_tags("<a href=\"https://evil.example\">x</a>")
            .contains('<')
    );
}

fn check_slack(message: &Value, own: &Own) -> Result<(), TestCaseError> {
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
        let rest = own.strip(&text);
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
fn check_q_developer(message: &Value, own: &Own) -> Result<(), TestCaseError> {
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
        let rest = own.strip(text);
        prop_assert!(
            !rest.contains('<') && !rest.contains('>'),
            "unescaped markup in {text:?}"
        );
        prop_assert!(!text.contains('`') && !text.contains("]("), "{text:?}");
    }
    for step in content["nextSteps"].as_array().unwrap() {
        let rest = own.strip(step.as_str().unwrap());
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

fn check_google_chat(message: &Value, own: &Own) -> Result<(), TestCaseError> {
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
                    let rest = own.strip_tags(html);
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
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn no_input_breaks_a_limit_or_escapes_its_escaping(notification in notification(), with_region in any::<bool>()) {
        let region = Region::parse("eu-west-1").ok();
        let region = if with_region { region.as_ref() } else { None };
        let own = Own::of(&notification, region);
        check_slack(&slack_message(&notification, region), &own)?;
        check_slack(&slack_thread_reply(&notification, region), &own)?;
        check_discord(&discord_message(&notification, region))?;
        check_teams(&teams_message(&notification, region))?;
        check_q_developer(&q_developer_message(&notification, region), &own)?;
        check_eventbridge(&notification, region)?;
        check_google_chat(&google_chat_message(&notification, region), &own)?;
        check_pagerduty(&notification, &pagerduty_event(&notification, region).1)?;
    }
}
