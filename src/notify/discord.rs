//! Discord webhooks: one embed with the same facts as Slack, a colour *and* the status
//! in words, and `"allowed_mentions": {"parse": []}` so nothing ever pings.
//!
//! Embed text is Discord markdown: every value from AWS or Git is backslash-escaped by
//! [`escape`] so it cannot format, link or mention. Discord's limits (title 256,
//! description 4096, 25 fields of 256/1024, footer 2048, 6000 in all, content 2000)
//! hold whatever the input: events are listed newest first until the room runs out.

use serde_json::{Value, json};

use super::hook::chat_webhook;
use super::layout::{Markup, Message};
use crate::domain::{Notification, NotificationKind, Region, SyncEvent, Timestamp};
use crate::text::{clip, cut_mended, fit_lines, single_line, units};

/// Discord's limits (characters): an embed's title and description, its fields.
const TITLE_LIMIT: usize = 256;
const DESCRIPTION_LIMIT: usize = 4096;
const FIELDS_LIMIT: usize = 25;

/// Backslash-escapes Discord's markdown, mention and masked-link characters (without
/// `[` and `]` no `[text](url)` can form; `<` stops `<@id>`, `<#id>` and `<t:…>` tags); a
/// leading `-` (a list) is escaped too.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for (index, c) in text.chars().enumerate() {
        if "\\*_~`|<>[]#@".contains(c) || (index == 0 && c == '-') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A raw value made safe for an embed: cut, on one line, escaped.
fn value(raw: &str, limit: usize) -> String {
    MARKDOWN.value(raw, limit)
}

/// Cuts escaped text to `limit`, never leaving a lone escaping backslash at the end.
fn cut(text: &str, limit: usize) -> String {
    cut_mended(text, limit, |cut| {
        let trailing = cut.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            cut.pop();
        }
    })
}

/// Discord's own timestamp markup, shown in the reader's time zone.
fn date(at: Timestamp, style: char) -> String {
    format!("<t:{}:{style}>", at.as_millis().div_euclid(1000))
}

/// Discord's markdown.
const MARKDOWN: Markup = Markup {
    escape,
    link: |text, url| format!("[{text}]({url})"),
    date: |at| date(at, 'f'),
};

fn event_line(event: &SyncEvent) -> String {
    format!(
        "• {} **{}** {}",
        date(event.time, 'T'),
        value(&event.event_type, 30),
        value(&event.event, 400) // an event is cut at 400 characters
    )
}

/// Red, green, blue (Discord's palette): always beside the status in words.
fn colour(kind: NotificationKind) -> u32 {
    match kind {
        NotificationKind::Started | NotificationKind::Test | NotificationKind::Digest => 0x5865F2,
        NotificationKind::Succeeded | NotificationKind::Unblocked => 0x57F287,
        NotificationKind::Failed | NotificationKind::Blocked => 0xED4245,
        NotificationKind::Stuck | NotificationKind::Reminder => 0xFEE75C,
    }
}

chat_webhook!(
    Discord,
    DiscordFormat,
    "discord",
    "DISCORD_WEBHOOK_URL",
    discord_message
);

/// More of Discord's limits: a field's name and value.
const FIELD_NAME_LIMIT: usize = 256;
const FIELD_VALUE_LIMIT: usize = 1024;

/// The embed's description, within `room`: the notes, the command to run, and the events
/// that fit.
fn description(message: &Message, room: usize) -> String {
    let mut description = message
        .notes
        .iter()
        .map(|note| format!("*{}*", value(note, 1000)))
        .collect::<Vec<_>>()
        .join("\n");
    if let Some((purpose, command)) = &message.command {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        // In a code block nothing formats or pings; only a fence could end it early.
        let command = single_line(command).replace("```", "'''");
        description.push_str(&format!("**{purpose}**\n```\n{command}\n```"));
    }
    let (shown, _) = message.shown_events();
    if !shown.is_empty() {
        let lines: Vec<String> = shown.iter().map(|event| event_line(event)).collect();
        let heading = if description.is_empty() {
            "**What happened** (newest first)".to_owned()
        } else {
            format!("{description}\n\n**What happened** (newest first)")
        };
        description = fit_lines(&heading, &lines, message.events_total, room);
    }
    cut(&description, room)
}

pub fn discord_message(notification: &Notification, region: Option<&Region>) -> Value {
    // And the footer, the whole embed, the message's content.
    const FOOTER_LIMIT: usize = 2048;
    const EMBED_TOTAL_LIMIT: usize = 6000;
    const CONTENT_LIMIT: usize = 2000;
    let message = Message::of(notification, region);
    let facts = &message.facts;

    let fields: Vec<(String, String, bool)> = message
        .fields
        .iter()
        .take(FIELDS_LIMIT)
        .map(|field| {
            (
                clip(field.label, FIELD_NAME_LIMIT),
                cut(&MARKDOWN.parts(&field.parts), FIELD_VALUE_LIMIT),
                !field.wide,
            )
        })
        .collect();

    let title = cut(
        &format!(
            "{} {}: {}",
            facts.emoji,
            facts.headline,
            escape(facts.resource)
        ),
        TITLE_LIMIT,
    );
    let mut footer = message.kind.event_type().to_owned();
    if facts.console_url.is_some() {
        footer.push_str(
            " · every sync of this stack is on its Git sync tab in the CloudFormation console",
        );
    }
    let footer = clip(&footer, FOOTER_LIMIT);

    // What is left of the 6000 for the description.
    let used = units(&title)
        + units(&footer)
        + fields
            .iter()
            .map(|(name, text, _)| units(name) + units(text))
            .sum::<usize>();
    let room = DESCRIPTION_LIMIT.min(EMBED_TOTAL_LIMIT.saturating_sub(used));

    let description = description(&message, room);

    let mut embed = json!({
        "title": title,
        "color": colour(message.kind),
        "fields": fields
            .iter()
            .map(|(name, text, inline)| json!({"name": name, "value": text, "inline": inline}))
            .collect::<Vec<_>>(),
        "footer": {"text": footer},
        "timestamp": notification.occurred_at.to_rfc3339(),
    });
    if !description.is_empty() {
        embed["description"] = json!(description);
    }
    if let Some(url) = &facts.console_url {
        embed["url"] = json!(url);
    }
    let content = cut(
        &format!(
            "{} **{}**: {}",
            facts.emoji,
            facts.headline,
            escape(facts.resource)
        ),
        CONTENT_LIMIT,
    );
    json!({
        "content": content,
        "embeds": [embed],
        "allowed_mentions": {"parse": []}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markdown_mentions_and_links() {
        assert_eq!(escape("@everyone"), "\\@everyone");
        assert_eq!(escape("<@123>"), "\\<\\@123\\>");
        assert_eq!(escape("[x](https://evil)"), "\\[x\\](https://evil)");
        assert_eq!(escape("**bold** _i_"), "\\*\\*bold\\*\\* \\_i\\_");
        assert_eq!(escape("- item - not"), "\\- item - not");
    }

    #[test]
    fn cut_never_ends_on_an_escaping_backslash() {
        let text = format!("{}\\*tail", "x".repeat(8));
        assert_eq!(cut(&text, 11), format!("{}…", "x".repeat(8)));
    }
}
