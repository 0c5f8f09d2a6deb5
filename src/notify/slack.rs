//! Slack incoming webhooks: a Block Kit message with a plain `text` fallback that reads
//! well as a phone notification.
//!
//! Every value that comes from AWS or Git is cut to length, put on one line and passed
//! through [`escape`], so nothing in a commit or an event can ping `@channel` or a user,
//! or forge a link; the only `<…>` in a message are the links and dates written here.
//! Block Kit's limits (50 blocks, 3000 characters a section text, 10 fields of 2000, 150
//! for a header, 75 for a button) hold whatever the input.

use serde_json::{Value, json};

use super::facts::{Commit, Facts};
use super::{DeliveryError, Notifier, Target, http_notifier_basics};
use crate::domain::Region;
use crate::domain::{Notification, NotificationKind, SyncEvent, Timestamp};
use crate::text::{clip, fit_lines, single_line, units};

/// Block Kit limits we stay inside, whatever the input.
pub const HEADER_LIMIT: usize = 150;
pub const SECTION_LIMIT: usize = 3000;
pub const FIELD_LIMIT: usize = 2000;
pub const FIELDS_LIMIT: usize = 10;
pub const BUTTON_LIMIT: usize = 75;
/// Slack truncates longer `text`; a phone shows far less, so the fallback stays short.
pub const FALLBACK_LIMIT: usize = 300;
/// How many failure events a message lists before "…and N more".
const EVENTS_SHOWN: usize = 10;
/// Longest raw value (repository, branch, path) and event text shown.
const VALUE_LIMIT: usize = 200;
const EVENT_LIMIT: usize = 400;

#[derive(Debug)]
pub struct SlackNotifier {
    target: Target,
}

impl SlackNotifier {
    pub fn new(target: Target) -> Self {
        SlackNotifier { target }
    }
}

impl Notifier for SlackNotifier {
    http_notifier_basics!();

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let message = slack_message(notification, self.target.region.as_ref());
        self.target.post_message(&message).await
    }
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A raw value made safe for mrkdwn: cut, on one line, escaped.
fn value(raw: &str, limit: usize) -> String {
    escape(&single_line(&clip(raw, limit)))
}

/// Cuts mrkdwn to `limit` without leaving half an entity (`&am`) or half a link (`<http…`).
fn cut(text: &str, limit: usize) -> String {
    if units(text) <= limit {
        return text.to_owned();
    }
    let mut cut = clip(text, limit.saturating_sub(1));
    cut.pop();
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
    cut.push('…');
    cut
}

/// A Slack date token: shown in the reader's time zone, with a UTC fallback.
fn date(at: Timestamp, format: &str) -> String {
    let fallback = at.to_rfc3339().replace('T', " ").replace('Z', " UTC");
    format!(
        "<!date^{}^{format}|{fallback}>",
        at.as_millis().div_euclid(1000)
    )
}

fn commit_link(commit: &Commit) -> String {
    let sha = value(&commit.short_sha, 40);
    match &commit.url {
        Some(url) => format!("<{url}|{sha}>"),
        None => sha,
    }
}

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
        value(&event.event, EVENT_LIMIT)
    )
}

/// The fallback people see in a phone notification: what, which stack, which commit,
/// and for a failure the newest error.
fn fallback(facts: &Facts) -> String {
    let mut text = facts.one_line(value);
    match facts.kind {
        NotificationKind::Failed => {
            let reason = facts
                .events
                .iter()
                .find(|event| event.event_type.eq_ignore_ascii_case("ERROR"))
                .or(facts.events.first());
            if let Some(event) = reason {
                text.push_str(" · ");
                text.push_str(&value(&event.event, 150));
            }
        }
        NotificationKind::Succeeded => {
            if let Some(duration) = &facts.duration {
                text.push_str(&format!(" · took {duration}"));
            }
        }
        NotificationKind::Started => {}
    }
    cut(&text, FALLBACK_LIMIT)
}

pub fn slack_message(notification: &Notification, region: Option<&Region>) -> Value {
    let facts = Facts::of(notification, region);

    let mut status = format!("{} {}", facts.emoji, facts.status);
    if let Some(previous) = &facts.previous_status {
        status.push_str(&format!(" (was {})", value(previous, 40)));
    }
    let mut fields = vec![
        format!("*Status*\n{status}"),
        format!("*Stack*\n{}", value(facts.resource, 100)),
        format!(
            "*Repository*\n{} ({})",
            value(&facts.repository, VALUE_LIMIT),
            value(facts.provider, 40)
        ),
        format!("*Branch*\n{}", value(facts.branch, VALUE_LIMIT)),
        format!("*Commit*\n{}", commit_link(&facts.commit)),
        format!(
            "*Started*\n{}",
            date(facts.started_at, "{date_short_pretty} at {time}")
        ),
    ];
    if let Some(duration) = &facts.duration {
        fields.push(format!("*Duration*\n{duration}"));
    }
    if let Some(desired) = &facts.desired {
        fields.push(format!(
            "*Desired commit*\n{} (newer, not deployed by this sync)",
            commit_link(desired)
        ));
    }
    if !facts.directory.is_empty() {
        fields.push(format!(
            "*Deployment file*\n{}",
            value(facts.directory, VALUE_LIMIT)
        ));
    }
    fields.truncate(FIELDS_LIMIT);

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(&format!("{} {}: {}", facts.emoji, facts.headline, facts.resource), HEADER_LIMIT),
                "emoji": true
            }
        }),
        json!({
            "type": "section",
            "fields": fields
                .iter()
                .map(|field| json!({"type": "mrkdwn", "text": cut(field, FIELD_LIMIT)}))
                .collect::<Vec<_>>()
        }),
    ];

    if facts.kind == NotificationKind::Failed && !facts.events.is_empty() {
        let lines: Vec<String> = facts
            .events
            .iter()
            .take(EVENTS_SHOWN)
            .map(|event| event_line(event))
            .collect();
        let text = fit_lines(
            "*What happened* (newest first)",
            &lines,
            facts.events.len(),
            SECTION_LIMIT,
        );
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&text, SECTION_LIMIT)}
        }));
    }
    if let Some(note) = facts.note {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": cut(&format!(":information_source: {}", value(note, 1000)), SECTION_LIMIT)}]
        }));
    }

    let mut buttons = Vec::new();
    if let Some(url) = &facts.console_url {
        buttons.push(json!({
            "type": "button",
            "text": {"type": "plain_text", "text": clip("Open stack in CloudFormation", BUTTON_LIMIT)},
            "url": url
        }));
    }
    if let Some(url) = &facts.commit.url {
        buttons.push(json!({
            "type": "button",
            "text": {"type": "plain_text", "text": clip(&format!("View commit {}", facts.commit.short_sha), BUTTON_LIMIT)},
            "url": url
        }));
    }
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    let mut footer = format!("`{}`", notification.kind.event_type());
    if facts.console_url.is_some() {
        footer.push_str(" · every sync of this stack: its *Git sync* tab in the console");
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": footer}]
    }));

    json!({"text": fallback(&facts), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_mentions_and_links() {
        assert_eq!(
            escape("<!channel> & <@U123|x>"),
            "&lt;!channel&gt; &amp; &lt;@U123|x&gt;"
        );
    }

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
