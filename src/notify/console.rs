//! The CLI's destination: notifications printed for people (`pretty`) or as exactly the
//! webhook body, one JSON object per line (`json`).
//!
//! Pretty output goes to a terminal, so every value from AWS or Git is made
//! [`visible`](crate::text::visible) (no escape sequence, bell or bidirectional override
//! reaches it), each event is cut to one line, and at most [`EVENTS_SHOWN`] events are
//! listed.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::layout::{EVENTS_SHOWN, Message};
use super::{Context, Delivered, DeliveryError, webhook_body};
use crate::domain::{Notification, NotificationKind};
use crate::text::{clip, more, visible};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsoleFormat {
    /// One readable block per notification.
    Pretty,
    /// One webhook body per line.
    Json,
}

pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// Longest event line printed.
const EVENT_LIMIT: usize = 200;

pub struct Console {
    format: ConsoleFormat,
    sink: Sink,
}

impl Console {
    pub fn new(format: ConsoleFormat, sink: Sink) -> Self {
        Console { format, sink }
    }

    pub async fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let text = match self.format {
            ConsoleFormat::Json => {
                let mut line =
                    serde_json::to_string(&webhook_body(notification, context.region))
                        .map_err(|error| DeliveryError::Permanent(format!("console: {error}")))?;
                line.push('\n');
                line
            }
            ConsoleFormat::Pretty => pretty(notification),
        };
        let mut sink = self
            .sink
            .lock()
            .map_err(|_| DeliveryError::Permanent("console: output lock poisoned".into()))?;
        match sink.write_all(text.as_bytes()).and_then(|()| sink.flush()) {
            Ok(()) => Ok(Delivered::default()),
            // The reader has gone (`replay … | head`): there is no one left to tell, and
            // the other destinations must not be held up by a closed pipe.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(Delivered::default())
            }
            Err(error) => Err(DeliveryError::Retry(format!("console: {error}"))),
        }
    }
}

/// A value from AWS or Git, safe for a terminal and on one line: every control
/// character (a line break too) shown as an escape.
fn safe(raw: &str, limit: usize) -> String {
    visible(&clip(raw, limit)).replace('\t', " ")
}

/// A short block a person reads in a terminal.
pub fn pretty(notification: &Notification) -> String {
    let message = Message::of(notification, None);
    let facts = &message.facts;
    if message.kind == NotificationKind::Test {
        return format!(
            "{} {:<14} a test message\n",
            facts.emoji,
            message.kind.event_type()
        );
    }
    let mut text = format!(
        "{} {:<14} {}  {}@{} {}\n",
        facts.emoji,
        message.kind.event_type(),
        facts.resource,
        safe(&facts.repository, 200),
        safe(facts.branch, 200),
        safe(&facts.commit.short_sha, 40)
    );
    if let Some(why) = &facts.why {
        text.push_str(&format!("   why: {}\n", safe(why, EVENT_LIMIT)));
    }
    if let Some(account) = &facts.account {
        text.push_str(&format!(
            "   account {}, region {}\n",
            safe(account, 120),
            facts.region.unwrap_or_default()
        ));
    }
    let mut detail = format!("   started {}", notification.attempt.started_at);
    if let Some(duration) = &facts.duration {
        detail.push_str(&format!(", took {duration}"));
    }
    if let Some(running) = &facts.running {
        detail.push_str(&format!(", running for {running}"));
    }
    if let Some(previous) = &notification.previous_status {
        detail.push_str(&format!(", was {}", safe(previous.as_str(), 40)));
    }
    text.push_str(&detail);
    text.push('\n');
    if let Some(blocker) = &notification.blocker {
        text.push_str(&format!(
            "   blocker {} since {}: {}\n",
            safe(&blocker.id, 50),
            blocker.created_at,
            safe(&blocker.created_reason, EVENT_LIMIT)
        ));
        if let Some(reason) = &blocker.resolved_reason {
            text.push_str(&format!("   resolved: {}\n", safe(reason, EVENT_LIMIT)));
        }
    }
    if let Some(changes) = &facts.changes {
        text.push_str(&format!("   changes: {}\n", safe(changes, EVENT_LIMIT)));
    }
    if let Some(compare) = &facts.compare {
        text.push_str(&format!("   compare: {}\n", safe(&compare.url, 300)));
    }
    let (shown, left) = message.shown_events();
    for event in shown.iter().take(EVENTS_SHOWN) {
        text.push_str(&format!(
            "   {} {}\n",
            safe(&event.event_type, 30),
            safe(&event.event, EVENT_LIMIT)
        ));
    }
    if left > 0 {
        text.push_str(&format!("   {}\n", more(left)));
    }
    for note in &message.notes {
        text.push_str(&format!("   note: {}\n", safe(note, 1000)));
    }
    if let Some((purpose, command)) = &message.command {
        text.push_str(&format!(
            "   {}: {}\n",
            purpose.to_lowercase(),
            safe(command, 1000)
        ));
    }
    text
}
