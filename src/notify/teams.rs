//! Microsoft Teams through a Workflows webhook ("When a Teams webhook request is
//! received"): a message carrying one Adaptive Card with the same facts as Slack.
//!
//! ```json
//! {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
//!   "content": {"type": "AdaptiveCard", "version": "1.4", "body": [...], "actions": [...]}}]}
//! ```
//!
//! Adaptive Card `TextBlock`s are markdown, and Teams clients disagree on backslash
//! escapes, so every value from AWS or Git goes in a `RichTextBlock` `TextRun`, which
//! is never parsed as markdown; HTML is not rendered and no `<at>` mention entity is
//! ever sent, so nothing can ping or inject formatting. Teams refuses messages over about
//! 28 KB: events are dropped, oldest first, until the payload is under [`TEAMS_LIMIT`].

use serde_json::{Value, json};

use super::facts::Facts;
use super::{DeliveryError, Notifier, Target, http_notifier_basics};
use crate::domain::Region;
use crate::domain::{Notification, NotificationKind};
use crate::text::{clip, more, single_line};

/// Our ceiling for the whole JSON payload, in bytes: well under Teams' ~28 KB, since
/// Teams adds its own envelope to what we send.
pub const TEAMS_LIMIT: usize = 20_000;
const EVENTS_SHOWN: usize = 10;
const VALUE_LIMIT: usize = 200;
const EVENT_LIMIT: usize = 600;

#[derive(Debug)]
pub struct TeamsNotifier {
    target: Target,
}

impl TeamsNotifier {
    pub fn new(target: Target) -> Self {
        TeamsNotifier { target }
    }
}

impl Notifier for TeamsNotifier {
    http_notifier_basics!();

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let message = teams_message(notification, self.target.region.as_ref());
        self.target.post_message(&message).await
    }
}

/// A value as plain text: cut and on one line (a `TextRun` needs no escaping).
fn value(raw: &str, limit: usize) -> String {
    single_line(&clip(raw, limit))
}

fn run(text: impl Into<String>) -> Value {
    json!({"type": "TextRun", "text": text.into()})
}

fn label(text: &str) -> Value {
    json!({"type": "TextRun", "text": format!("{text}: "), "weight": "Bolder"})
}

/// One fact as a line: **Label:** value.
fn fact(name: &str, inlines: Vec<Value>) -> Value {
    let mut all = vec![label(name)];
    all.extend(inlines);
    json!({"type": "RichTextBlock", "inlines": all, "spacing": "Small"})
}

fn linked(text: String, url: Option<&String>) -> Value {
    match url {
        Some(url) => json!({
            "type": "TextRun",
            "text": text,
            "selectAction": {"type": "Action.OpenUrl", "url": url}
        }),
        None => run(text),
    }
}

/// The card's colour, always next to the status in words.
fn colours(kind: NotificationKind) -> (&'static str, &'static str) {
    match kind {
        NotificationKind::Started => ("accent", "Accent"),
        NotificationKind::Succeeded => ("good", "Good"),
        NotificationKind::Failed => ("attention", "Attention"),
    }
}

pub fn teams_message(notification: &Notification, region: Option<&Region>) -> Value {
    let facts = Facts::of(notification, region);
    let shown = facts.events.len().min(EVENTS_SHOWN);
    let mut message = card(&facts, shown);
    for fewer in (0..shown).rev() {
        if serde_json::to_vec(&message).map_or(0, |bytes| bytes.len()) <= TEAMS_LIMIT {
            break;
        }
        message = card(&facts, fewer);
    }
    message
}

fn card(facts: &Facts, events_shown: usize) -> Value {
    let (style, colour) = colours(facts.kind);
    let mut status = format!("{} {}", facts.emoji, facts.status);
    if let Some(previous) = &facts.previous_status {
        status.push_str(&format!(" (was {})", value(previous, 40)));
    }
    let mut body = vec![json!({
        "type": "Container",
        "style": style,
        "bleed": true,
        "items": [{
            "type": "RichTextBlock",
            "inlines": [{
                "type": "TextRun",
                "text": format!("{} {}: {}", facts.emoji, facts.headline, facts.resource),
                "size": "Large",
                "weight": "Bolder",
                "color": colour
            }]
        }]
    })];
    body.push(fact("Status", vec![run(status)]));
    body.push(fact("Stack", vec![run(value(facts.resource, 100))]));
    body.push(fact(
        "Repository",
        vec![run(format!(
            "{} ({})",
            value(&facts.repository, VALUE_LIMIT),
            value(facts.provider, 40)
        ))],
    ));
    body.push(fact("Branch", vec![run(value(facts.branch, VALUE_LIMIT))]));
    body.push(fact(
        "Commit",
        vec![linked(
            value(&facts.commit.short_sha, 40),
            facts.commit.url.as_ref(),
        )],
    ));
    body.push(fact(
        "Started",
        vec![run(facts
            .started_at
            .to_rfc3339()
            .replace('T', " ")
            .replace('Z', " UTC"))],
    ));
    if let Some(duration) = &facts.duration {
        body.push(fact("Duration", vec![run(duration.clone())]));
    }
    if let Some(desired) = &facts.desired {
        body.push(fact(
            "Desired commit",
            vec![
                linked(value(&desired.short_sha, 40), desired.url.as_ref()),
                run(" (newer, not deployed by this sync)"),
            ],
        ));
    }
    if !facts.directory.is_empty() {
        body.push(fact(
            "Deployment file",
            vec![run(value(facts.directory, VALUE_LIMIT))],
        ));
    }

    if facts.kind == NotificationKind::Failed && !facts.events.is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": "What happened (newest first)",
            "weight": "Bolder",
            "separator": true,
            "wrap": true
        }));
        for event in facts.events.iter().take(events_shown) {
            body.push(json!({
                "type": "RichTextBlock",
                "spacing": "Small",
                "inlines": [
                    {"type": "TextRun", "text": format!("{} ", event.time.time_of_day()), "isSubtle": true},
                    {"type": "TextRun", "text": format!("{} ", value(&event.event_type, 30)), "weight": "Bolder"},
                    run(value(&event.event, EVENT_LIMIT))
                ]
            }));
        }
        if facts.events.len() > events_shown {
            body.push(json!({
                "type": "RichTextBlock",
                "inlines": [{"type": "TextRun", "text": more(facts.events.len() - events_shown), "isSubtle": true}]
            }));
        }
    }
    if let Some(note) = facts.note {
        body.push(json!({
            "type": "RichTextBlock",
            "separator": true,
            "inlines": [{"type": "TextRun", "text": value(note, 1000), "italic": true}]
        }));
    }
    body.push(json!({
        "type": "RichTextBlock",
        "inlines": [{
            "type": "TextRun",
            "text": format!("{} · every sync of this stack is on its Git sync tab in the CloudFormation console", facts.kind.event_type()),
            "isSubtle": true,
            "size": "Small"
        }]
    }));

    let mut actions = Vec::new();
    if let Some(url) = &facts.console_url {
        actions.push(
            json!({"type": "Action.OpenUrl", "title": "Open stack in CloudFormation", "url": url}),
        );
    }
    if let Some(url) = &facts.commit.url {
        actions.push(json!({"type": "Action.OpenUrl", "title": format!("View commit {}", facts.commit.short_sha), "url": url}));
    }

    let summary = facts.one_line(value);
    json!({
        "type": "message",
        "summary": summary,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "fallbackText": summary,
                "msteams": {"width": "Full"},
                "body": body,
                "actions": actions
            }
        }]
    })
}
