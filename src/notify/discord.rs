//! Discord webhooks: one embed with the same facts as Slack, a colour *and* the status
//! in words, and `"allowed_mentions": {"parse": []}` so nothing ever pings.
//!
//! Embed text is Discord markdown: every value from AWS or Git is backslash-escaped by
//! [`escape`] so it cannot format, link or mention. Discord's limits (title 256,
//! description 4096, 25 fields of 256/1024, footer 2048, 6000 in all, content 2000)
//! hold whatever the input: events are listed newest first until the room runs out.

use serde_json::{Value, json};

use super::facts::{Commit, Facts};
use super::{DeliveryError, Notifier, Target, http_notifier_basics};
use crate::domain::Region;
use crate::domain::{Notification, NotificationKind, SyncEvent, Timestamp};
use crate::text::{clip, fit_lines, single_line, units};

pub const TITLE_LIMIT: usize = 256;
pub const DESCRIPTION_LIMIT: usize = 4096;
pub const FIELDS_LIMIT: usize = 25;
pub const FIELD_NAME_LIMIT: usize = 256;
pub const FIELD_VALUE_LIMIT: usize = 1024;
pub const FOOTER_LIMIT: usize = 2048;
pub const EMBED_TOTAL_LIMIT: usize = 6000;
pub const CONTENT_LIMIT: usize = 2000;
const EVENTS_SHOWN: usize = 10;
const VALUE_LIMIT: usize = 200;
const EVENT_LIMIT: usize = 400;

#[derive(Debug)]
pub struct DiscordNotifier {
    target: Target,
}

impl DiscordNotifier {
    pub fn new(target: Target) -> Self {
        DiscordNotifier { target }
    }
}

impl Notifier for DiscordNotifier {
    http_notifier_basics!();

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let message = discord_message(notification, self.target.region.as_ref());
        self.target.post_message(&message).await
    }
}

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
    escape(&single_line(&clip(raw, limit)))
}

/// Cuts escaped text to `limit`, never leaving a lone escaping backslash at the end.
fn cut(text: &str, limit: usize) -> String {
    if units(text) <= limit {
        return text.to_owned();
    }
    let mut cut = clip(text, limit.saturating_sub(1));
    cut.pop();
    let trailing = cut.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        cut.pop();
    }
    cut.push('…');
    cut
}

/// Discord's own timestamp markup, shown in the reader's time zone.
fn date(at: Timestamp, style: char) -> String {
    format!("<t:{}:{style}>", at.as_millis().div_euclid(1000))
}

fn commit_link(commit: &Commit) -> String {
    let sha = value(&commit.short_sha, 40);
    match &commit.url {
        Some(url) => format!("[{sha}]({url})"),
        None => sha,
    }
}

fn event_line(event: &SyncEvent) -> String {
    format!(
        "• {} **{}** {}",
        date(event.time, 'T'),
        value(&event.event_type, 30),
        value(&event.event, EVENT_LIMIT)
    )
}

/// Red, green, blue (Discord's palette): always beside the status in words.
fn colour(kind: NotificationKind) -> u32 {
    match kind {
        NotificationKind::Started => 0x5865F2,
        NotificationKind::Succeeded => 0x57F287,
        NotificationKind::Failed => 0xED4245,
    }
}

pub fn discord_message(notification: &Notification, region: Option<&Region>) -> Value {
    let facts = Facts::of(notification, region);

    let mut status = format!("{} {}", facts.emoji, facts.status);
    if let Some(previous) = &facts.previous_status {
        status.push_str(&format!(" (was {})", value(previous, 40)));
    }
    let mut fields: Vec<(&str, String, bool)> = vec![
        ("Status", status, true),
        ("Stack", value(facts.resource, 100), true),
        (
            "Repository",
            format!(
                "{} ({})",
                value(&facts.repository, VALUE_LIMIT),
                value(facts.provider, 40)
            ),
            true,
        ),
        ("Branch", value(facts.branch, VALUE_LIMIT), true),
        ("Commit", commit_link(&facts.commit), true),
        ("Started", date(facts.started_at, 'f'), true),
    ];
    if let Some(duration) = &facts.duration {
        fields.push(("Duration", duration.clone(), true));
    }
    if let Some(desired) = &facts.desired {
        fields.push((
            "Desired commit",
            format!(
                "{} (newer, not deployed by this sync)",
                commit_link(desired)
            ),
            true,
        ));
    }
    if !facts.directory.is_empty() {
        fields.push((
            "Deployment file",
            value(facts.directory, VALUE_LIMIT),
            false,
        ));
    }
    fields.truncate(FIELDS_LIMIT);
    let fields: Vec<(String, String, bool)> = fields
        .into_iter()
        .map(|(name, text, inline)| {
            (
                clip(name, FIELD_NAME_LIMIT),
                cut(&text, FIELD_VALUE_LIMIT),
                inline,
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
    let mut footer = notification.kind.event_type().to_owned();
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

    let mut description = String::new();
    if let Some(note) = facts.note {
        description.push_str(&format!("*{}*", value(note, 1000)));
    }
    if facts.kind == NotificationKind::Failed && !facts.events.is_empty() {
        let lines: Vec<String> = facts
            .events
            .iter()
            .take(EVENTS_SHOWN)
            .map(|event| event_line(event))
            .collect();
        let heading = if description.is_empty() {
            "**What happened** (newest first)".to_owned()
        } else {
            format!("{description}\n\n**What happened** (newest first)")
        };
        description = fit_lines(&heading, &lines, facts.events.len(), room);
    }
    let description = cut(&description, room);

    let mut embed = json!({
        "title": title,
        "color": colour(facts.kind),
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
