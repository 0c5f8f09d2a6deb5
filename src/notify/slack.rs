//! Slack incoming webhooks: a Block Kit message with a plain-text fallback.
//!
//! Every value that comes from AWS or Git goes through [`escape`], so nothing in a commit
//! or an event can ping `@channel` or a user, and every text is cut to Block Kit's limits.

use serde_json::{Value, json};

use super::facts::Facts;
use super::http::post_json;
use super::{DeliveryError, Notifier};
use crate::config::SecretUrl;
use crate::domain::{Notification, NotificationKind};

/// Block Kit limits we stay inside, whatever the input.
const HEADER_LIMIT: usize = 150;
const SECTION_LIMIT: usize = 3000;
const FIELD_LIMIT: usize = 2000;
/// How many failure events a message shows before "…and N more".
const EVENTS_SHOWN: usize = 10;

#[derive(Debug)]
pub struct SlackNotifier {
    client: reqwest::Client,
    url: SecretUrl,
    key: String,
}

impl SlackNotifier {
    pub fn new(client: reqwest::Client, url: SecretUrl) -> Self {
        let key = format!("slack#{}", url.fingerprint());
        SlackNotifier { client, url, key }
    }
}

impl Notifier for SlackNotifier {
    fn key(&self) -> &str {
        &self.key
    }

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&slack_message(notification)).map_err(|error| {
            DeliveryError::Permanent(format!("{}: cannot encode: {error}", self.key))
        })?;
        post_json(&self.client, &self.key, &self.url, &[], body).await
    }
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts `text` to at most `limit` characters, marking the cut with an ellipsis.
fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    // Never leave half an escape sequence such as "&am".
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

pub fn slack_message(notification: &Notification) -> Value {
    let facts = Facts::of(notification);
    let resource = escape(facts.resource);
    let repository = escape(&facts.repository);
    let branch = escape(facts.branch);
    let sha = escape(facts.short_sha);
    let commit = match &facts.commit_url {
        Some(url) => format!("<{url}|{sha}>"),
        None => format!("`{sha}`"),
    };
    let started = notification.attempt.started_at;
    let started_text = format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        started.as_millis().div_euclid(1000),
        started.to_rfc3339()
    );

    let mut fields = vec![
        format!("*Stack*\n{resource}"),
        format!("*Repository*\n{repository} ({branch})"),
        format!("*Commit*\n{commit}"),
        format!("*Started*\n{started_text}"),
    ];
    if let Some(duration) = &facts.duration {
        fields.push(format!("*Duration*\n{duration}"));
    }
    if let Some(desired) = &notification.desired_state
        && desired.sha != notification.attempt.target_revision.sha
    {
        fields.push(format!(
            "*Desired commit*\n`{}`",
            escape(super::facts::short_sha(&desired.sha))
        ));
    }

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(&format!("{} {}: {}", facts.emoji, facts.headline, facts.resource), HEADER_LIMIT), "emoji": true}
        }),
        json!({
            "type": "section",
            "fields": fields.iter().map(|field| json!({"type": "mrkdwn", "text": truncate(field, FIELD_LIMIT)})).collect::<Vec<_>>()
        }),
    ];

    if notification.kind == NotificationKind::Failed && !facts.events.is_empty() {
        let mut lines: Vec<String> = facts
            .events
            .iter()
            .take(EVENTS_SHOWN)
            .map(|event| format!("• `{}` {}", escape(&event.event_type), escape(&event.event)))
            .collect();
        if facts.events.len() > EVENTS_SHOWN {
            lines.push(format!("…and {} more", facts.events.len() - EVENTS_SHOWN));
        }
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&format!("*What failed* (newest first)\n{}", lines.join("\n")), SECTION_LIMIT)}
        }));
    }
    if let Some(note) = &notification.note {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(&escape(note), SECTION_LIMIT)}]
        }));
    }

    let text = truncate(
        &format!(
            "{} {}: {} ({}@{} {})",
            facts.emoji, facts.headline, resource, repository, branch, sha
        ),
        SECTION_LIMIT,
    );
    json!({"text": text, "blocks": blocks})
}
