//! The CLI's destination: notifications printed for people (`pretty`) or as exactly the
//! webhook body, one JSON object per line (`json`).

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::facts::Facts;
use super::{DeliveryError, Notifier, webhook_body};
use crate::domain::Notification;
use crate::domain::Region;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsoleFormat {
    /// One readable block per notification.
    Pretty,
    /// One webhook body per line.
    Json,
}

type Sink = Arc<Mutex<dyn Write + Send>>;

pub struct ConsoleNotifier {
    format: ConsoleFormat,
    sink: Sink,
    region: Option<Region>,
}

impl std::fmt::Debug for ConsoleNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleNotifier")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl ConsoleNotifier {
    pub fn new(format: ConsoleFormat, sink: Sink) -> Self {
        ConsoleNotifier {
            format,
            sink,
            region: None,
        }
    }

    /// Console links (in `json`, exactly as the webhook body has them) for this Region.
    pub fn with_region(mut self, region: Option<Region>) -> Self {
        self.region = region;
        self
    }

    pub fn stdout(format: ConsoleFormat) -> Self {
        ConsoleNotifier::new(format, Arc::new(Mutex::new(std::io::stdout())))
    }
}

impl Notifier for ConsoleNotifier {
    fn key(&self) -> &str {
        "console"
    }

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let text = match self.format {
            ConsoleFormat::Json => {
                let mut line =
                    serde_json::to_string(&webhook_body(notification, self.region.as_ref()))
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
        sink.write_all(text.as_bytes())
            .and_then(|()| sink.flush())
            .map_err(|error| DeliveryError::Retry(format!("console: {error}")))
    }
}

/// A short block a person reads in a terminal.
pub fn pretty(notification: &Notification) -> String {
    let facts = Facts::of(notification, None);
    let mut text = format!(
        "{} {:<14} {}  {}@{} {}\n",
        facts.emoji,
        notification.kind.event_type(),
        facts.resource,
        facts.repository,
        facts.branch,
        facts.commit.short_sha
    );
    let mut detail = format!("   started {}", notification.attempt.started_at);
    if let Some(duration) = &facts.duration {
        detail.push_str(&format!(", took {duration}"));
    }
    if let Some(previous) = &notification.previous_status {
        detail.push_str(&format!(", was {previous}"));
    }
    text.push_str(&detail);
    text.push('\n');
    if notification.kind == crate::domain::NotificationKind::Failed {
        for event in &facts.events {
            text.push_str(&format!("   {} {}\n", event.event_type, event.event));
        }
    }
    if let Some(note) = &notification.note {
        text.push_str(&format!("   note: {note}\n"));
    }
    text
}
