//! The pure core: what a Git sync attempt is, what we remember about a stack, and the
//! decisions made from them.
//!
//! - [`decide`] turns "what we recorded" × "what AWS says now" into notifications
//!   (ARCHITECTURE §6, rules 1–7, 9 and 10);
//! - [`ledger`] keeps the promises of §7 about those notifications: claims, which
//!   destination still needs what, retention, expiry;
//! - [`filter`] says which notifications a destination wants;
//! - [`explain`] says why an attempt failed and what it changed, from its CloudFormation
//!   events (§14).
//!
//! Nothing in here performs I/O, knows an SDK type, or has a serialized shape: adapters in
//! `source`, `store` and `notify` translate to and from these types at the edge.

mod decide;
pub mod digest;
pub mod explain;
pub mod filter;
pub mod ledger;
mod name;
mod place;
#[cfg(test)]
pub(crate) mod samples;
pub mod schedule;
mod seen;
mod time;

pub use decide::{
    Decision, KnownBlocker, REPLACED_ATTEMPT_NOTE, ReplacedNote, ResourceState, Rules, TOLD_KEPT,
    Told, decide,
};
pub use explain::{
    ChangedResource, Changes, Gap, RootCause, StackArn, StackEvent, StackEvents, StackHistory,
    changes, nested_stacks_to_follow, root_cause, stack_name_of_arn,
};
pub use filter::{Filter, Glob, InvalidGlob, KindSet};
pub use name::{InvalidResourceName, ResourceName};
pub use place::{AccountId, InvalidAccountId, InvalidRegion, Region};
pub use seen::{MalformedDigest, ShaDigest};
pub use time::{Timestamp, human_duration};

/// The status of one sync attempt, as CodeConnections reports it.
///
/// `Unknown` keeps whatever new value AWS may add, so it can be recorded and logged
/// without ever being notified or crashing the run (ARCHITECTURE §6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SyncStatus {
    Initiated,
    InProgress,
    Succeeded,
    Failed,
    Unknown(String),
}

impl SyncStatus {
    pub fn parse(value: &str) -> SyncStatus {
        match value {
            "INITIATED" => SyncStatus::Initiated,
            "IN_PROGRESS" => SyncStatus::InProgress,
            "SUCCEEDED" => SyncStatus::Succeeded,
            "FAILED" => SyncStatus::Failed,
            other => SyncStatus::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            SyncStatus::Initiated => "INITIATED",
            SyncStatus::InProgress => "IN_PROGRESS",
            SyncStatus::Succeeded => "SUCCEEDED",
            SyncStatus::Failed => "FAILED",
            SyncStatus::Unknown(other) => other,
        }
    }

    /// INITIATED or IN_PROGRESS: the attempt has not ended yet.
    pub fn is_running(&self) -> bool {
        matches!(self, SyncStatus::Initiated | SyncStatus::InProgress)
    }

    /// The notification this status ends an attempt with, if it is terminal.
    pub fn terminal_kind(&self) -> Option<NotificationKind> {
        match self {
            SyncStatus::Succeeded => Some(NotificationKind::Succeeded),
            SyncStatus::Failed => Some(NotificationKind::Failed),
            _ => None,
        }
    }
}

impl std::fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Git revision: where a stack's template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub provider_type: String,
    pub owner_id: String,
    pub repository_name: String,
    pub branch: String,
    pub directory: String,
    pub sha: String,
}

/// One line of an attempt's event log (for a failure, CloudFormation's reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEvent {
    pub event: String,
    pub event_type: String,
    pub time: Timestamp,
    pub external_id: Option<String>,
}

/// One sync attempt: `LatestSync` or `LatestSuccessfulSync` of `GetResourceSyncStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAttempt {
    pub started_at: Timestamp,
    pub status: SyncStatus,
    pub target: String,
    pub initial_revision: Revision,
    pub target_revision: Revision,
    /// The events as far as they are kept: a stored notification keeps the newest ones
    /// (see [`ledger::EVENTS_KEPT`]), and says how many it left out in `events_omitted`.
    pub events: Vec<SyncEvent>,
    pub events_omitted: usize,
}

impl SyncAttempt {
    pub fn id(&self) -> AttemptId {
        AttemptId {
            started_at: self.started_at,
            sha: self.target_revision.sha.clone(),
        }
    }

    /// When the attempt ended (its last event), if it has ended and logged anything.
    pub fn ended_at(&self) -> Option<Timestamp> {
        if self.status.is_running() {
            return None;
        }
        self.events.iter().map(|event| event.time).max()
    }

    /// The same attempt without its events (what a record keeps of the latest attempt).
    pub fn without_events(&self) -> SyncAttempt {
        SyncAttempt {
            events: Vec::new(),
            events_omitted: 0,
            ..self.clone()
        }
    }
}

/// What identifies an attempt across checks: its start time and the commit it deploys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId {
    pub started_at: Timestamp,
    pub sha: String,
}

/// Everything `GetResourceSyncStatus` told us about one resource, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceStatus {
    pub desired_state: Option<Revision>,
    pub latest_sync: SyncAttempt,
    pub latest_successful_sync: Option<SyncAttempt>,
}

/// Whether a sync blocker still stops Git sync from deploying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockerStatus {
    Active,
    Resolved,
}

impl BlockerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockerStatus::Active => "ACTIVE",
            BlockerStatus::Resolved => "RESOLVED",
        }
    }
}

/// A sync blocker (`GetSyncBlockerSummary`): while one is active, Git sync deploys nothing
/// to the stack until someone resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    pub id: String,
    /// `AUTOMATED` (the only type there is today).
    pub blocker_type: String,
    pub status: BlockerStatus,
    pub created_reason: String,
    pub created_at: Timestamp,
    /// The blocker's Key/Value pairs, in AWS's order.
    pub contexts: Vec<(String, String)>,
    pub resolved_reason: Option<String>,
    pub resolved_at: Option<Timestamp>,
}

/// Where a stack lives, in the org-wide (hub) mode; `None` in a single account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub account: AccountId,
    pub region: Region,
}

/// Why a text does not name a stack ([`StackRef::parse`]): its account, Region or name
/// part, or its shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStackRef {
    #[error(transparent)]
    Account(#[from] InvalidAccountId),
    #[error(transparent)]
    Region(#[from] InvalidRegion),
    #[error(transparent)]
    Name(#[from] InvalidResourceName),
    #[error(
        "{:?} is neither a stack name nor ACCOUNT/REGION/STACK (like 111122223333/us-east-1/payments-stack)",
        crate::text::preview(.text, 80)
    )]
    Shape {
        /// The text as given, trimmed.
        text: String,
    },
}

/// One watched stack: its name, and in hub mode its account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackRef {
    pub location: Option<Location>,
    pub name: ResourceName,
}

impl StackRef {
    /// A stack of this account and Region (single-account mode).
    pub fn local(name: ResourceName) -> StackRef {
        StackRef {
            location: None,
            name,
        }
    }

    /// Reads a stack as a person names it (a manual check, `check --resources`): `NAME`
    /// for a stack of this account, or `ACCOUNT/REGION/NAME` for a hub's, the same form
    /// as its [`key`](Self::key).
    pub fn parse(text: &str) -> Result<StackRef, InvalidStackRef> {
        let text = text.trim();
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [name] => Ok(StackRef::local(ResourceName::parse(name)?)),
            [account, region, name] => Ok(StackRef {
                location: Some(Location {
                    account: AccountId::parse(account)?,
                    region: Region::parse(region)?,
                }),
                name: ResourceName::parse(name)?,
            }),
            _ => Err(InvalidStackRef::Shape {
                text: text.to_owned(),
            }),
        }
    }

    /// Its key in the state store: the name, or `ACCOUNT/REGION/NAME` in hub mode (so the
    /// keys of a single-account table never change).
    pub fn key(&self) -> String {
        match &self.location {
            None => self.name.as_str().to_owned(),
            Some(location) => format!("{}/{}/{}", location.account, location.region, self.name),
        }
    }
}

impl std::fmt::Display for StackRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

/// What a team is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationKind {
    Started,
    Succeeded,
    Failed,
    Blocked,
    Unblocked,
    Stuck,
    /// Sent on request only (`send-test`), never decided.
    Test,
    /// A stack still failed, blocked or stuck, told again (rule 11).
    Reminder,
    /// The state of the whole fleet, on request or on its own schedule (§16): never about
    /// one stack, so never a [`Notification`] decided by the rules.
    Digest,
}

impl NotificationKind {
    /// Every kind `NOTIFY_ON` and `DESTINATIONS[].events` can choose (the digest only
    /// when asked for by name: see [`KindSet::ALL`]).
    pub const CHOOSABLE: [NotificationKind; 8] = [
        NotificationKind::Started,
        NotificationKind::Succeeded,
        NotificationKind::Failed,
        NotificationKind::Blocked,
        NotificationKind::Unblocked,
        NotificationKind::Stuck,
        NotificationKind::Reminder,
        NotificationKind::Digest,
    ];

    /// The event type on the wire: `sync.started`, `sync.failed`, `sync.blocked`…
    pub fn event_type(self) -> &'static str {
        match self {
            NotificationKind::Started => "sync.started",
            NotificationKind::Succeeded => "sync.succeeded",
            NotificationKind::Failed => "sync.failed",
            NotificationKind::Blocked => "sync.blocked",
            NotificationKind::Unblocked => "sync.unblocked",
            NotificationKind::Stuck => "sync.stuck",
            NotificationKind::Test => "sync.test",
            NotificationKind::Reminder => "sync.reminder",
            NotificationKind::Digest => "sync.digest",
        }
    }

    /// The short word used in `NOTIFY_ON`.
    pub fn word(self) -> &'static str {
        self.event_type().trim_start_matches("sync.")
    }

    /// Reads `started` or `sync.started` (and so on).
    pub fn from_word(word: &str) -> Option<NotificationKind> {
        let word = word.trim();
        let word = word.strip_prefix("sync.").unwrap_or(word);
        Self::CHOOSABLE
            .into_iter()
            .chain([NotificationKind::Test])
            .find(|kind| kind.word() == word)
    }

    /// Whether this kind ends an attempt.
    pub fn is_ending(self) -> bool {
        matches!(self, NotificationKind::Succeeded | NotificationKind::Failed)
    }
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.event_type())
    }
}

/// The attempt a new one replaced while we still saw it running, whose outcome AWS no
/// longer reports (rule 6, when `LatestSuccessfulSync` is newer than it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub started_at: Timestamp,
    pub sha: String,
}

/// A notification: everything any destination needs to render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Stable per (stack, attempt or blocker, kind): the Standard Webhooks `webhook-id`.
    pub id: String,
    pub kind: NotificationKind,
    pub resource: ResourceName,
    /// The account and Region of the stack, in hub mode.
    pub location: Option<Location>,
    /// The account's name, when Organizations told us.
    pub account_name: Option<String>,
    /// The attempt it is about (for a blocker: the latest attempt when it was seen).
    pub attempt: SyncAttempt,
    /// The status we had recorded for this attempt before, if we had seen it.
    pub previous_status: Option<SyncStatus>,
    pub desired_state: Option<Revision>,
    /// When it happened: the start for `sync.started`, the last event for an ending
    /// (or the moment we noticed, when the attempt logged nothing).
    pub occurred_at: Timestamp,
    /// When this run decided it; retention is counted from here.
    pub detected_at: Timestamp,
    /// Something the reader should know that the data cannot say by itself.
    pub note: Option<String>,
    /// The blocker, for `sync.blocked` and `sync.unblocked`.
    pub blocker: Option<Blocker>,
    /// The attempt this one replaced, when how that one ended is unknown (rule 6).
    pub replaced: Option<Replaced>,
    /// The attempt had been told stuck before this ending.
    pub reported_stuck: bool,
    /// Why it failed, what it changed, and where to compare it (ARCHITECTURE §14).
    pub explanation: Explanation,
    /// The stack's tags, as last read (§16): destinations route on them; the webhook body
    /// carries at most 50.
    pub tags: Vec<(String, String)>,
    /// `sync.reminder`: what is reminded of, and since when (rule 11).
    pub reminder: Option<Reminder>,
    /// The commit this notification's attempt deploys, as a story across stacks (§15): its
    /// key, and how many stacks it has reached so far.
    pub commit: Option<CommitRef>,
}

/// What a `sync.reminder` reminds of (rule 11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// `Failed`, `Blocked` or `Stuck`.
    pub reminds_of: NotificationKind,
    /// When the stack was first told so.
    pub since: Timestamp,
}

/// A commit's story across stacks, as a notification names it (`data.commit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRef {
    pub key: String,
    pub stacks: usize,
}

/// What explains a sync beyond Git sync's own answer (ARCHITECTURE §14): filled in by the
/// run from CloudFormation's stack events (an optional read) and the last success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The resource that made a sync fail.
    pub root_cause: Option<RootCause>,
    /// What the attempt created, updated and deleted (or tried to).
    pub changes: Option<Changes>,
    /// The commit of the last successful sync before this attempt: the compare link's
    /// base.
    pub compare_from: Option<String>,
}

impl Notification {
    /// The stack this is about.
    pub fn stack(&self) -> StackRef {
        StackRef {
            location: self.location.clone(),
            name: self.resource.clone(),
        }
    }

    /// How long the attempt took, for an ending with a known end.
    pub fn duration_seconds(&self) -> Option<i64> {
        if !self.kind.is_ending() {
            return None;
        }
        let ended = self.attempt.ended_at()?;
        Some(
            ended
                .as_millis()
                .saturating_sub(self.attempt.started_at.as_millis())
                .max(0)
                / 1000,
        )
    }

    /// How long the attempt had been running, for `sync.stuck`.
    pub fn running_seconds(&self) -> Option<i64> {
        (self.kind == NotificationKind::Stuck).then(|| {
            self.occurred_at
                .as_millis()
                .saturating_sub(self.attempt.started_at.as_millis())
                .max(0)
                / 1000
        })
    }
}

/// The stable id of a notification about an attempt: the same stack, attempt and kind
/// always give the same id, so receivers can drop a repeat (ARCHITECTURE §7). A stack of
/// this account hashes its bare name, as the first release did.
pub fn notification_id(stack: &StackRef, attempt: &AttemptId, kind: NotificationKind) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(stack.key().as_bytes());
    hasher.update([0]);
    hasher.update(attempt.started_at.as_millis().to_be_bytes());
    hasher.update(attempt.sha.as_bytes());
    hasher.update([0]);
    hasher.update(kind.event_type().as_bytes());
    id_of(hasher.finalize().as_slice())
}

/// The stable id of a notification about a blocker: per stack, blocker and kind.
pub fn blocker_notification_id(stack: &StackRef, blocker: &str, kind: NotificationKind) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(stack.key().as_bytes());
    hasher.update([0]);
    hasher.update(b"blocker");
    hasher.update([0]);
    hasher.update(blocker.as_bytes());
    hasher.update([0]);
    hasher.update(kind.event_type().as_bytes());
    id_of(hasher.finalize().as_slice())
}

fn id_of(digest: &[u8]) -> String {
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("msg_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_is_named_by_its_key_in_either_mode() {
        let local = StackRef::parse("payments-stack").unwrap();
        assert_eq!(local.location, None);
        assert_eq!(local.key(), "payments-stack");
        let hub = StackRef::parse(" 111122223333/eu-west-1/payments-stack ").unwrap();
        assert_eq!(hub.key(), "111122223333/eu-west-1/payments-stack");
        assert_eq!(StackRef::parse(&hub.key()).unwrap(), hub);
    }

    #[test]
    fn a_malformed_stack_key_says_which_part_is_wrong() {
        let error = StackRef::parse("1111/eu-west-1/app")
            .unwrap_err()
            .to_string();
        assert!(error.contains("12 digits"), "{error}");
        let error = StackRef::parse("111122223333/eu west/app")
            .unwrap_err()
            .to_string();
        assert!(error.contains("like us-east-1"), "{error}");
        let error = StackRef::parse("111122223333/eu-west-1/bad name")
            .unwrap_err()
            .to_string();
        assert!(error.contains("contains ' '"), "{error}");
        for bad in ["eu-west-1/app", "a/b/c/d"] {
            let error = StackRef::parse(bad).unwrap_err().to_string();
            assert!(error.contains("ACCOUNT/REGION/STACK"), "{error}");
        }
    }
}
