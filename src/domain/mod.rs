//! The pure core: what a Git sync attempt is, what we remember about a resource, and
//! [`decide`], which turns "what we recorded" × "what AWS says now" into notifications.
//!
//! Nothing in here performs I/O or knows about SDK types; adapters in `source`, `store`
//! and `notify` translate to and from these types at the edge.

mod decide;
mod name;
mod place;
mod time;

use serde::{Deserialize, Serialize};

pub use decide::{Decision, decide};
pub use name::{InvalidResourceName, ResourceName};
pub use place::{AccountId, Region};
pub use time::{Timestamp, human_duration};

/// The status of one sync attempt, as CodeConnections reports it.
///
/// `Unknown` keeps whatever new value AWS may add, so it can be recorded and logged
/// without ever being notified or crashing the run (ARCHITECTURE §6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum SyncStatus {
    Initiated,
    InProgress,
    Succeeded,
    Failed,
    Unknown(String),
}

impl SyncStatus {
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

impl From<String> for SyncStatus {
    fn from(value: String) -> Self {
        match value.as_str() {
            "INITIATED" => SyncStatus::Initiated,
            "IN_PROGRESS" => SyncStatus::InProgress,
            "SUCCEEDED" => SyncStatus::Succeeded,
            "FAILED" => SyncStatus::Failed,
            _ => SyncStatus::Unknown(value),
        }
    }
}

impl From<SyncStatus> for String {
    fn from(value: SyncStatus) -> Self {
        value.as_str().to_owned()
    }
}

impl std::fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Git revision: where a stack's template comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub provider_type: String,
    pub owner_id: String,
    pub repository_name: String,
    pub branch: String,
    pub directory: String,
    pub sha: String,
}

/// One line of an attempt's event log (for a failure, CloudFormation's reasons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncEvent {
    pub event: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// One sync attempt: `LatestSync` or `LatestSuccessfulSync` of `GetResourceSyncStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncAttempt {
    pub started_at: Timestamp,
    pub status: SyncStatus,
    pub target: String,
    pub initial_revision: Revision,
    pub target_revision: Revision,
    #[serde(default)]
    pub events: Vec<SyncEvent>,
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
}

/// What identifies an attempt across checks: its start time and the commit it deploys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// What we remember about a resource between checks (ARCHITECTURE §6 needs no more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    /// The latest attempt as last seen, without its events (rule 6 needs the rest).
    pub attempt: SyncAttempt,
    /// Which notifications this attempt has already produced, so none is produced twice.
    #[serde(default)]
    pub notified: Vec<NotificationKind>,
}

/// The three things a team is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NotificationKind {
    #[serde(rename = "sync.started")]
    Started,
    #[serde(rename = "sync.succeeded")]
    Succeeded,
    #[serde(rename = "sync.failed")]
    Failed,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 3] = [
        NotificationKind::Started,
        NotificationKind::Succeeded,
        NotificationKind::Failed,
    ];

    /// The event type on the wire: `sync.started`, `sync.succeeded`, `sync.failed`.
    pub fn event_type(self) -> &'static str {
        match self {
            NotificationKind::Started => "sync.started",
            NotificationKind::Succeeded => "sync.succeeded",
            NotificationKind::Failed => "sync.failed",
        }
    }

    /// The short word used in `NOTIFY_ON`.
    pub fn word(self) -> &'static str {
        match self {
            NotificationKind::Started => "started",
            NotificationKind::Succeeded => "succeeded",
            NotificationKind::Failed => "failed",
        }
    }
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.event_type())
    }
}

/// A notification decided by [`decide`]: everything any destination needs to render it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Stable per (resource, attempt, kind): the Standard Webhooks `webhook-id`.
    pub id: String,
    pub kind: NotificationKind,
    pub resource: ResourceName,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Notification {
    /// How long the attempt took, for an ending with a known end.
    pub fn duration_seconds(&self) -> Option<i64> {
        if self.kind == NotificationKind::Started {
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
}

/// The stable id of a notification: the same resource, attempt and kind always give the
/// same id, so receivers can drop a repeat (ARCHITECTURE §7).
pub fn notification_id(
    resource: &ResourceName,
    attempt: &AttemptId,
    kind: NotificationKind,
) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(resource.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(attempt.started_at.as_millis().to_be_bytes());
    hasher.update(attempt.sha.as_bytes());
    hasher.update([0]);
    hasher.update(kind.event_type().as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("msg_{hex}")
}
