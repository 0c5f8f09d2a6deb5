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

use super::hook::chat_webhook;
use super::layout::{Message, Part};
use crate::domain::{Notification, NotificationKind, Region};
use crate::text::{clip, more, single_line};

/// Our ceiling for the whole JSON payload, in bytes: well under Teams' ~28 KB, since
/// Teams adds its own envelope to what we send.
pub const TEAMS_LIMIT: usize = 20_000;
const EVENT_LIMIT: usize = 600;

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

/// A field's value as text runs: neighbouring text in one run, a link in its own.
fn runs(parts: &[Part]) -> Vec<Value> {
    let mut inlines = Vec::new();
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Raw(raw, limit) => text.push_str(&value(raw, *limit)),
            Part::Fixed(fixed) => text.push_str(fixed),
            Part::Date(at) => text.push_str(&at.to_readable()),
            Part::Commit(commit) => {
                if !text.is_empty() {
                    inlines.push(run(std::mem::take(&mut text)));
                }
                inlines.push(linked(value(&commit.short_sha, 40), commit.url.as_ref()));
            }
        }
    }
    if !text.is_empty() {
        inlines.push(run(text));
    }
    inlines
}

/// One fact as a line: **Label:** value.
fn fact(name: &str, inlines: Vec<Value>) -> Value {
    let mut all = vec![label(name)];
    all.extend(inlines);
    json!({"type": "RichTextBlock", "inlines": all, "spacing": "Small"})
}

/// The card's colour, always next to the status in words.
fn colours(kind: NotificationKind) -> (&'static str, &'static str) {
    match kind {
        NotificationKind::Started => ("accent", "Accent"),
        NotificationKind::Succeeded | NotificationKind::Unblocked => ("good", "Good"),
        NotificationKind::Failed | NotificationKind::Blocked => ("attention", "Attention"),
        NotificationKind::Stuck | NotificationKind::Reminder => ("warning", "Warning"),
        NotificationKind::Test | NotificationKind::Digest => ("emphasis", "Default"),
    }
}

chat_webhook!(
    Teams,
    TeamsFormat,
    "teams",
    "TEAMS_WEBHOOK_URL",
    teams_message
);

pub fn teams_message(notification: &Notification, region: Option<&Region>) -> Value {
    let message = Message::of(notification, region);
    let (shown, _) = message.shown_events();
    let mut card = card(&message, shown.len());
    for fewer in (0..shown.len()).rev() {
        if serde_json::to_vec(&card).map_or(0, |bytes| bytes.len()) <= TEAMS_LIMIT {
            break;
        }
        card = self::card(&message, fewer);
    }
    card
}

fn card(message: &Message, events_shown: usize) -> Value {
    let (style, colour) = colours(message.kind);
    let mut body = vec![json!({
        "type": "Container",
        "style": style,
        "bleed": true,
        "items": [{
            "type": "RichTextBlock",
            "inlines": [{
                "type": "TextRun",
                "text": message.title,
                "size": "Large",
                "weight": "Bolder",
                "color": colour
            }]
        }]
    })];
    for field in &message.fields {
        body.push(fact(field.label, runs(&field.parts)));
    }

    if !message.events.is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": "What happened (newest first)",
            "weight": "Bolder",
            "separator": true,
            "wrap": true
        }));
        for event in message.events.iter().take(events_shown) {
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
        if message.events_total > events_shown {
            body.push(json!({
                "type": "RichTextBlock",
                "inlines": [{"type": "TextRun", "text": more(message.events_total - events_shown), "isSubtle": true}]
            }));
        }
    }
    for note in &message.notes {
        body.push(json!({
            "type": "RichTextBlock",
            "separator": true,
            "inlines": [{"type": "TextRun", "text": value(note, 1000), "italic": true}]
        }));
    }
    if let Some((purpose, command)) = &message.command {
        body.push(json!({
            "type": "RichTextBlock",
            "inlines": [
                {"type": "TextRun", "text": format!("{purpose}: "), "weight": "Bolder"},
                {"type": "TextRun", "text": value(command, 1000), "fontType": "Monospace"}
            ]
        }));
    }
    body.push(json!({
        "type": "RichTextBlock",
        "inlines": [{
            "type": "TextRun",
            "text": format!("{} · every sync of this stack is on its Git sync tab in the CloudFormation console", message.kind.event_type()),
            "isSubtle": true,
            "size": "Small"
        }]
    }));

    let actions: Vec<Value> = message
        .links
        .iter()
        .map(|link| json!({"type": "Action.OpenUrl", "title": link.label, "url": link.url}))
        .collect();

    let summary = message.summary(value);
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
