//! One chat layout for every destination: a [`Message`] built once from a notification's
//! [`Facts`] — the title, the status, ordered fields, the events, notes, a command to run,
//! and links — which each chat adapter (Slack, Teams, Discord, Google Chat, the console)
//! only renders: escaping, markup and its service's limits. The webhook body is not a chat
//! message and keeps its own shape.
//!
//! Values from AWS or Git stay raw here ([`Part::Raw`], with the length they are cut to);
//! text written by this program is [`Part::Fixed`]. An adapter must escape every `Raw`
//! part and may pass `Fixed` ones as they are.

use super::facts::{Commit, Facts};
use crate::domain::{Blocker, Notification, NotificationKind, Region, SyncEvent, Timestamp};
use crate::text::{clip, single_line};

/// How many events a chat message lists before "…and N more".
pub const EVENTS_SHOWN: usize = 10;
/// The longest raw value (repository, branch, path) a field shows.
pub const VALUE_LIMIT: usize = 200;

/// A piece of a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A value from AWS or Git: cut to the limit, put on one line and escaped by the
    /// adapter.
    Raw(String, usize),
    /// Text this program wrote: safe as it is.
    Fixed(String),
    /// A commit, linked when its URL is known (also any short text with a link we built,
    /// like the compare link: the same escaping and linking).
    Commit(Commit),
    /// An instant, shown as the destination shows dates.
    Date(Timestamp),
}

/// How a destination writes a field's pieces: its escaping, its links, its dates.
pub struct Markup {
    /// Makes text from AWS or Git safe in the format.
    pub escape: fn(&str) -> String,
    /// `text` (already safe) linked to a URL.
    pub link: fn(&str, &str) -> String,
    pub date: fn(Timestamp) -> String,
}

impl Markup {
    /// A value from AWS or Git, made safe: cut to `limit`, on one line, escaped.
    pub fn value(&self, raw: &str, limit: usize) -> String {
        (self.escape)(&single_line(&clip(raw, limit)))
    }

    /// A commit: its short id, linked when its page is known.
    pub fn commit(&self, commit: &Commit) -> String {
        let sha = self.value(&commit.short_sha, 40);
        match &commit.url {
            Some(url) => (self.link)(&sha, url),
            None => sha,
        }
    }

    /// A field's value.
    pub fn parts(&self, parts: &[Part]) -> String {
        parts
            .iter()
            .map(|part| match part {
                Part::Raw(raw, limit) => self.value(raw, *limit),
                Part::Fixed(text) => text.clone(),
                Part::Commit(commit) => self.commit(commit),
                Part::Date(at) => (self.date)(*at),
            })
            .collect()
    }
}

/// A labelled value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    pub parts: Vec<Part>,
    /// Needs a whole row (where the destination lays fields side by side).
    pub wide: bool,
}

impl Field {
    fn new(label: &'static str, parts: Vec<Part>) -> Field {
        Field {
            label,
            parts,
            wide: false,
        }
    }

    fn wide(mut self) -> Field {
        self.wide = true;
        self
    }
}

/// A link, as a button or an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// The destination-neutral message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub facts: Facts<'a>,
    pub kind: NotificationKind,
    /// "❌ Sync failed: orders-stack": emoji, headline and the stack (always safe: a
    /// validated name).
    pub title: String,
    /// The fields, in order; the status comes first.
    pub fields: Vec<Field>,
    /// For a failure or a stuck sync: the events, newest first…
    pub events: Vec<&'a SyncEvent>,
    /// …and how many there are in all (events a stored notification left out included).
    pub events_total: usize,
    /// What the reader should know that the fields cannot say (raw text).
    pub notes: Vec<String>,
    /// A command to run (raw text), with what it is for.
    pub command: Option<(String, String)>,
    pub links: Vec<Link>,
}

/// The status field's value: emoji and words, and what it was before.
fn status(facts: &Facts) -> Vec<Part> {
    let mut parts = vec![Part::Fixed(format!("{} {}", facts.emoji, facts.status))];
    if let Some(previous) = &facts.previous_status {
        parts.push(Part::Fixed(" (was ".into()));
        parts.push(Part::Raw(previous.clone(), 40));
        parts.push(Part::Fixed(")".into()));
    }
    parts
}

/// `'it'\''s'`: a value quoted for a POSIX shell.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The fields every message about a sync has: status first, then the stack, where it
/// lives, where its template comes from, the commit, when, and how long.
fn fields(facts: &Facts) -> Vec<Field> {
    // Why it failed comes first: it is what the reader wants (§14).
    let mut fields: Vec<Field> = facts
        .why
        .iter()
        .map(|why| Field::new("Why", vec![Part::Raw(why.clone(), WHY_LIMIT)]).wide())
        .collect();
    fields.extend([
        Field::new("Status", status(facts)),
        Field::new("Stack", vec![Part::Raw(facts.resource.to_owned(), 100)]),
    ]);
    if let Some(account) = &facts.account {
        fields.push(Field::new("Account", vec![Part::Raw(account.clone(), 120)]));
    }
    if let Some(region) = facts.region {
        fields.push(Field::new("Region", vec![Part::Raw(region.to_owned(), 40)]));
    }
    fields.extend([
        Field::new(
            "Repository",
            vec![
                Part::Raw(facts.repository.clone(), VALUE_LIMIT),
                Part::Fixed(" (".into()),
                Part::Raw(facts.provider.to_owned(), 40),
                Part::Fixed(")".into()),
            ],
        ),
        Field::new(
            "Branch",
            vec![Part::Raw(facts.branch.to_owned(), VALUE_LIMIT)],
        ),
        Field::new("Commit", commit(facts)),
        Field::new("Started", vec![Part::Date(facts.started_at)]),
    ]);
    if let Some(duration) = &facts.duration {
        fields.push(Field::new("Duration", vec![Part::Fixed(duration.clone())]));
    }
    if let Some(running) = &facts.running {
        fields.push(Field::new(
            "Running for",
            vec![Part::Fixed(running.clone())],
        ));
    }
    if let Some(desired) = &facts.desired {
        fields.push(Field::new(
            "Desired commit",
            vec![
                Part::Commit(desired.clone()),
                Part::Fixed(" (newer, not deployed by this sync)".into()),
            ],
        ));
    }
    if !facts.directory.is_empty() {
        fields.push(
            Field::new(
                "Deployment file",
                vec![Part::Raw(facts.directory.to_owned(), VALUE_LIMIT)],
            )
            .wide(),
        );
    }
    if let Some(changes) = &facts.changes {
        fields.push(Field::new("Changes", vec![Part::Raw(changes.clone(), VALUE_LIMIT)]).wide());
    }
    fields
}

/// The commit, linked, and what it is compared with when there was an earlier success.
fn commit(facts: &Facts) -> Vec<Part> {
    let mut parts = vec![Part::Commit(facts.commit.clone())];
    if let Some(compare) = &facts.compare {
        parts.push(Part::Fixed(" · ".into()));
        parts.push(Part::Commit(Commit {
            short_sha: format!(
                "compare {}…{}",
                compare.from_short_sha, facts.commit.short_sha
            ),
            url: Some(compare.url.clone()),
        }));
    }
    parts
}

/// The longest "Why" line shown (the webhook body has the whole reason, up to the model's
/// length).
const WHY_LIMIT: usize = 500;

/// What a blocked or unblocked message adds: the blocker's fields, what it means, and for
/// a blocker the command that resolves it.
struct Blocked {
    fields: Vec<Field>,
    note: String,
    command: Option<(String, String)>,
}

impl Blocked {
    fn of(
        kind: NotificationKind,
        blocker: &Blocker,
        facts: &Facts,
        region: Option<&Region>,
    ) -> Blocked {
        let mut fields = vec![Field::new(
            "Blocker",
            vec![Part::Raw(blocker.id.clone(), 50)],
        )];
        if kind != NotificationKind::Blocked {
            if let Some(at) = blocker.resolved_at {
                fields.push(Field::new("Resolved", vec![Part::Date(at)]));
            }
            if let Some(reason) = &blocker.resolved_reason {
                fields.push(Field::new("Resolution", vec![Part::Raw(reason.clone(), 250)]).wide());
            }
            return Blocked {
                fields,
                note: "Git sync deploys from Git to this stack again.".into(),
                command: None,
            };
        }
        fields.push(Field::new("Since", vec![Part::Date(blocker.created_at)]));
        fields.push(
            Field::new(
                "Reason",
                vec![Part::Raw(blocker.created_reason.clone(), 500)],
            )
            .wide(),
        );
        if !blocker.contexts.is_empty() {
            let details = blocker
                .contexts
                .iter()
                .map(|(key, value)| format!("{key}: {value}"))
                .collect::<Vec<_>>()
                .join("; ");
            fields.push(Field::new("Details", vec![Part::Raw(details, 600)]).wide());
        }
        let plain = !blocker.id.is_empty()
            && blocker
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !plain {
            return Blocked {
                fields,
                note: "Git sync deploys nothing to this stack until the blocker is resolved: merged commits are not live. Fix the cause, then resolve the blocker in the console (the stack's Git sync tab).".into(),
                command: None,
            };
        }
        let mut resolve = format!(
            "aws codeconnections update-sync-blocker --id {} --sync-type CFN_STACK_SYNC --resource-name {} --resolved-reason {}",
            shell_quote(&blocker.id),
            shell_quote(facts.resource),
            shell_quote("Fixed the cause of the failed sync")
        );
        if let Some(region) = facts
            .region
            .map(str::to_owned)
            .or(region.map(|region| region.to_string()))
        {
            resolve.push_str(&format!(" --region {region}"));
        }
        Blocked {
            fields,
            note: "Git sync deploys nothing to this stack until the blocker is resolved: merged commits are not live. Fix the cause, then resolve the blocker in the console (the stack's Git sync tab) or with the command below.".into(),
            command: Some(("To resolve it".to_owned(), resolve)),
        }
    }
}

/// What the reader should know about the attempt that the fields cannot say: it is
/// stuck, it replaced one whose ending is unknown, it had been told stuck.
fn attempt_notes(notification: &Notification, facts: &Facts) -> Vec<String> {
    let mut notes = Vec::new();
    if notification.kind == NotificationKind::Stuck {
        notes.push(format!(
            "This sync has been running for {}. Git sync deploys nothing newer to this stack while it runs; check the stack's events in the CloudFormation console.",
            facts.running.as_deref().unwrap_or("a long time")
        ));
    }
    if let Some(replaced) = &notification.replaced {
        notes.push(format!(
            "It replaced the sync of commit {} (started {}), which was still running when last seen; AWS no longer reports how that one ended.",
            super::facts::short_sha(&replaced.sha),
            replaced.started_at.to_readable()
        ));
    }
    if notification.reported_stuck {
        notes.push("This sync had been reported stuck.".into());
    }
    notes
}

/// The stack in the console, and the commit.
fn links(facts: &Facts) -> Vec<Link> {
    let mut links = Vec::new();
    if let Some(url) = &facts.console_url {
        links.push(Link {
            label: "Open stack in CloudFormation".into(),
            url: url.clone(),
        });
    }
    if let Some(url) = &facts.commit.url {
        links.push(Link {
            label: format!("View commit {}", facts.commit.short_sha),
            url: url.clone(),
        });
    }
    links
}

impl<'a> Message<'a> {
    pub fn of(notification: &'a Notification, region: Option<&Region>) -> Message<'a> {
        let facts = Facts::of(notification, region);
        let title = format!("{} {}: {}", facts.emoji, facts.headline, facts.resource);
        if notification.kind == NotificationKind::Test {
            return Message::test(facts, title);
        }
        let mut fields = fields(&facts);
        let mut notes: Vec<String> = facts.note.map(str::to_owned).into_iter().collect();
        let mut command = None;
        if let Some(blocker) = &notification.blocker {
            let told = Blocked::of(notification.kind, blocker, &facts, region);
            fields.extend(told.fields);
            notes.push(told.note);
            command = told.command;
        }
        notes.extend(attempt_notes(notification, &facts));
        let show_events = matches!(
            notification.kind,
            NotificationKind::Failed | NotificationKind::Stuck
        );
        let (events, events_total) = match show_events {
            true => (
                facts.events.clone(),
                facts.events.len() + facts.events_omitted,
            ),
            false => (Vec::new(), 0),
        };
        Message {
            kind: notification.kind,
            title,
            fields,
            events,
            events_total,
            notes,
            command,
            links: links(&facts),
            facts,
        }
    }

    /// A `sync.test` message: clearly a test, and nothing else.
    fn test(facts: Facts<'a>, title: String) -> Message<'a> {
        Message {
            kind: NotificationKind::Test,
            title,
            fields: vec![Field::new("Status", status(&facts))],
            events: Vec::new(),
            events_total: 0,
            notes: vec!["This is a test message from sync-notifier, sent by `send-test`: this destination is set up. Real notifications name the stack, the commit and what happened when a Git sync starts, fails or succeeds.".into()],
            command: None,
            links: Vec::new(),
            facts,
        }
    }

    /// The one line a phone notification shows:
    /// `❌ Sync failed: orders-stack · c4f8a2e on acme/infra (main)`. `value(text, limit)`
    /// makes each Git value safe and short for the destination's format.
    pub fn summary(&self, value: impl Fn(&str, usize) -> String) -> String {
        if self.kind == NotificationKind::Test {
            return format!("{} Test message from sync-notifier", self.facts.emoji);
        }
        self.facts.one_line(value)
    }

    /// The line a phone notification shows: the [`summary`](Self::summary), and for a
    /// failure its root cause (or else the newest error), for a success how long it took,
    /// for a stuck sync how long it has run. `value(text, limit)` as for `summary`.
    pub fn phone_line(&self, value: impl Fn(&str, usize) -> String) -> String {
        let facts = &self.facts;
        let mut text = self.summary(&value);
        match self.kind {
            NotificationKind::Failed if facts.why.is_some() => {
                if let Some(why) = &facts.why {
                    text.push_str(" · Why: ");
                    text.push_str(&value(why, 200));
                }
            }
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
            NotificationKind::Stuck => {
                if let Some(running) = &facts.running {
                    text.push_str(&format!(" · running for {running}"));
                }
            }
            _ => {}
        }
        text
    }

    /// The events shown, newest first, and how many are left out.
    pub fn shown_events(&self) -> (&[&'a SyncEvent], usize) {
        let shown = &self.events[..self.events.len().min(EVENTS_SHOWN)];
        (shown, self.events_total - shown.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
