//! Slack incoming webhooks: a Block Kit message with a plain `text` fallback that reads
//! well as a phone notification.
//!
//! Every value that comes from AWS or Git is cut to length, put on one line and passed
//! through [`escape_html`](crate::text::escape_html) (Slack's control characters are
//! `&`, `<` and `>`), so nothing in a commit or an event can ping `@channel` or a user,
//! or forge a link; the only `<…>` in a message are the links and dates written here.
//! Block Kit's limits (50 blocks, 3000 characters a section text, 10 fields of 2000, 150
//! for a header, 75 for a button) hold whatever the input.

use serde_json::{Value, json};

use super::hook::chat_webhook;
use super::layout::{Markup, Message};
use crate::domain::{Notification, Region, SyncEvent, Timestamp};
use crate::text::{clip, cut_mended, escape_html as escape, fit_lines, single_line};

/// Block Kit limits we stay inside, whatever the input: a header, a section's text, a
/// field, the fields of a section.
const HEADER_LIMIT: usize = 150;
const SECTION_LIMIT: usize = 3000;
const FIELD_LIMIT: usize = 2000;
const FIELDS_LIMIT: usize = 10;

/// A raw value made safe for mrkdwn: cut, on one line, escaped.
fn value(raw: &str, limit: usize) -> String {
    MRKDWN.value(raw, limit)
}

/// Cuts mrkdwn to `limit` without leaving half an entity (`&am`) or half a link (`<http…`).
pub(super) fn cut(text: &str, limit: usize) -> String {
    cut_mended(text, limit, |cut| {
        if let Some(amp) = cut.rfind('&')
            && !cut[amp..].contains(';')
        {
            cut.truncate(amp);
        }
        if let Some(open) = cut.rfind('<')
            && !cut[open..].contains('>')
        {
            cut.truncate(open);
        }
    })
}

/// A Slack date token: shown in the reader's time zone, with a UTC fallback.
fn date(at: Timestamp, format: &str) -> String {
    let fallback = at.to_rfc3339().replace('T', " ").replace('Z', " UTC");
    format!(
        "<!date^{}^{format}|{fallback}>",
        at.as_millis().div_euclid(1000)
    )
}

/// Slack's mrkdwn.
const MRKDWN: Markup = Markup {
    escape,
    link: |text, url| format!("<{url}|{text}>"),
    date: |at| date(at, "{date_short_pretty} at {time}"),
};

/// One line per event: `• 10:03:47 ERROR — what happened`.
fn event_line(event: &SyncEvent) -> String {
    let kind = if !event.event_type.is_empty()
        && event
            .event_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        format!("*{}* ", clip(&event.event_type, 30))
    } else if event.event_type.is_empty() {
        String::new()
    } else {
        format!("{} ", value(&event.event_type, 30))
    };
    format!(
        "• {} {kind}{}",
        date(event.time, "{time_secs}"),
        value(&event.event, 400) // an event is cut at 400 characters
    )
}

/// Slack truncates a longer `text`; a phone shows far less, so the fallback stays short.
const FALLBACK_LIMIT: usize = 300;

/// The fallback people see in a phone notification (see [`Message::phone_line`]).
fn fallback(message: &Message) -> String {
    cut(&message.phone_line(value), FALLBACK_LIMIT)
}

chat_webhook!(
    Slack,
    SlackFormat,
    "slack",
    "SLACK_WEBHOOK_URL",
    slack_message
);

pub fn slack_message(notification: &Notification, region: Option<&Region>) -> Value {
    let message = Message::of(notification, region);
    json!({"text": fallback(&message), "blocks": blocks(&message)})
}

/// Block Kit's limit on a button's label.
const BUTTON_LIMIT: usize = 75;

/// A reply in a message's thread: the title, the events and the notes, with the same
/// fallback (the Slack app posts a failure's events this way under the message it updated).
pub fn slack_thread_reply(notification: &Notification, region: Option<&Region>) -> Value {
    let message = Message::of(notification, region);
    json!({"text": fallback(&message), "blocks": reply_blocks(&message)})
}

/// The Block Kit blocks of a message.
fn blocks(message: &Message) -> Vec<Value> {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": clip(&message.title, HEADER_LIMIT),
            "emoji": true
        }
    })];
    let fields: Vec<String> = message
        .fields
        .iter()
        .map(|field| format!("*{}*\n{}", field.label, MRKDWN.parts(&field.parts)))
        .collect();
    for chunk in fields.chunks(FIELDS_LIMIT) {
        blocks.push(json!({
            "type": "section",
            "fields": chunk
                .iter()
                .map(|field| json!({"type": "mrkdwn", "text": cut(field, FIELD_LIMIT)}))
                .collect::<Vec<_>>()
        }));
    }

    blocks.extend(events_section(message));
    blocks.extend(notes(message));
    if let Some((purpose, command)) = &message.command {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&format!("*{purpose}*\n```{}```", escape(&single_line(command))), SECTION_LIMIT)}
        }));
    }

    let buttons: Vec<Value> = message
        .links
        .iter()
        .map(|link| {
            json!({
                "type": "button",
                "text": {"type": "plain_text", "text": clip(&link.label, BUTTON_LIMIT)},
                "url": link.url
            })
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.push(footer(message));
    blocks
}

/// What a reply in a message's thread says: the title, the events and the notes (the
/// Slack app's reply to the message it updated in place).
fn reply_blocks(message: &Message) -> Vec<Value> {
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut(&format!("*{}*", escape(&message.title)), SECTION_LIMIT)}
    })];
    blocks.extend(events_section(message));
    blocks.extend(notes(message));
    blocks.push(footer(message));
    blocks
}

/// The events, newest first, as one section (none when there are none to show).
fn events_section(message: &Message) -> Option<Value> {
    let (shown, _) = message.shown_events();
    if shown.is_empty() {
        return None;
    }
    let lines: Vec<String> = shown.iter().map(|event| event_line(event)).collect();
    let text = fit_lines(
        "*What happened* (newest first)",
        &lines,
        message.events_total,
        SECTION_LIMIT,
    );
    Some(json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut(&text, SECTION_LIMIT)}
    }))
}

fn notes(message: &Message) -> Vec<Value> {
    message
        .notes
        .iter()
        .map(|note| {
            json!({
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": cut(&format!(":information_source: {}", value(note, 1000)), SECTION_LIMIT)}]
            })
        })
        .collect()
}

/// The event type, and where every sync of the stack is listed.
fn footer(message: &Message) -> Value {
    let mut footer = format!("`{}`", message.kind.event_type());
    if message.facts.console_url.is_some() {
        footer.push_str(" · every sync of this stack: its *Git sync* tab in the console");
    }
    json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": footer}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_never_leaves_half_an_entity_or_link() {
        let text = format!("{}&amp;", "x".repeat(10));
        assert_eq!(cut(&text, 13), format!("{}…", "x".repeat(10)));
        let text = format!("{}<https://example.com|x>", "y".repeat(10));
        assert_eq!(cut(&text, 20), format!("{}…", "y".repeat(10)));
        assert_eq!(cut("short", 10), "short");
    }

    #[test]
    fn dates_have_a_readable_fallback() {
        assert_eq!(
            date(Timestamp::from_millis(1_795_687_330_000), "{time}"),
            "<!date^1795687330^{time}|2026-11-26 10:02:10 UTC>"
        );
    }
}
