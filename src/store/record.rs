//! The stored shape of a stack's record: JSON, the same in both stores (DynamoDB keeps it
//! in one attribute; the local file in one entry per stack).
//!
//! This is an interface of its own (users upgrade in place), so it is written out here
//! rather than derived from the domain types: a change to the domain cannot change what
//! is stored without a change to this file. Every field added since release 0.1.0 is
//! optional, so a record written by 0.1.0 reads as it is (its `state.notified`, the kinds
//! told of its recorded attempt, becomes that attempt's entry in `told`), pending
//! notifications, leases and expiries included (`tests/upgrade` proves it on state 0.1.0
//! wrote). Anything this build cannot read is reported as unreadable, never guessed at.

use serde::{Deserialize, Serialize};

use crate::domain::ledger::{InDoubt, Lease, Pending, Quiet, ResourceRecord, Thread};
use crate::domain::{
    AccountId, AttemptId, Blocker, BlockerStatus, ChangedResource, Changes, CommitRef, Explanation,
    InvalidAccountId, InvalidRegion, InvalidResourceName, KnownBlocker, Location, MalformedDigest,
    Notification, NotificationKind, Region, Reminder, Replaced, ReplacedNote, ResourceName,
    ResourceState, Revision, RootCause, ShaDigest, SyncAttempt, SyncEvent, SyncStatus, Timestamp,
    Told,
};

/// Why a stored record cannot be read: its JSON does not parse, or what it holds does not
/// make sense (a kind, a status, a name, an account, a Region or a digest this build does
/// not know).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the stored record does not parse: {0}")]
    Parse(#[source] serde_json::Error),
    #[error(
        "the stored record does not make sense: unknown notification kind {:?}",
        crate::text::preview(.0, 40)
    )]
    UnknownKind(String),
    #[error(
        "the stored record does not make sense: unknown blocker status {:?}",
        crate::text::preview(.0, 40)
    )]
    UnknownBlockerStatus(String),
    #[error("the stored record does not make sense: {0}")]
    Name(#[from] InvalidResourceName),
    #[error("the stored record does not make sense: {0}")]
    Account(#[from] InvalidAccountId),
    #[error("the stored record does not make sense: {0}")]
    Region(#[from] InvalidRegion),
    #[error("the stored record does not make sense: {0}")]
    Digest(#[from] MalformedDigest),
    #[error("the destinations record does not parse: {0}")]
    Destinations(#[source] serde_json::Error),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRecord {
    state: StoredState,
    #[serde(default)]
    pending: Vec<StoredPending>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<StoredLease>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    threads: Vec<StoredThread>,
    /// Requests in flight when their run stopped (since 0.2.0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    in_doubt: Vec<StoredInDoubt>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredInDoubt {
    destination: String,
    notification: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredState {
    attempt: StoredAttempt,
    /// Release 0.1.0: the kinds told of `attempt` (now its entry in `told`).
    #[serde(default, skip_serializing)]
    notified: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    told: Vec<StoredTold>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    blockers: Vec<StoredKnownBlocker>,
    /// Every commit seen starting at `attempt`'s start, when there was more than one: a
    /// fixed-size digest, base64 (since 0.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seen_at_start: Option<String>,
    /// Rule 6's note waiting for the first notification about `forAttempt` (since 0.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaced_note: Option<StoredReplacedNote>,
    /// The latest successful attempt seen (since 0.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_success: Option<StoredAttemptId>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredReplacedNote {
    for_attempt: StoredAttemptId,
    replaced: StoredAttemptId,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredTold {
    attempt: StoredAttemptId,
    kinds: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAttemptId {
    started_at: i64,
    sha: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredKnownBlocker {
    blocker: StoredBlocker,
    #[serde(default)]
    unblocked: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredBlocker {
    id: String,
    #[serde(rename = "type")]
    blocker_type: String,
    status: String,
    created_reason: String,
    created_at: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    contexts: Vec<StoredContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredContext {
    key: String,
    value: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAttempt {
    started_at: i64,
    status: String,
    target: String,
    initial_revision: StoredRevision,
    target_revision: StoredRevision,
    #[serde(default)]
    events: Vec<StoredEvent>,
    #[serde(default, skip_serializing_if = "is_zero")]
    events_omitted: usize,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRevision {
    provider_type: String,
    owner_id: String,
    repository_name: String,
    branch: String,
    directory: String,
    sha: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredEvent {
    event: String,
    #[serde(rename = "type")]
    event_type: String,
    time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredPending {
    notification: StoredNotification,
    #[serde(default)]
    done: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    targets: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredNotification {
    id: String,
    kind: String,
    resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<StoredLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_name: Option<String>,
    attempt: StoredAttempt,
    #[serde(default)]
    previous_status: Option<String>,
    #[serde(default)]
    desired_state: Option<StoredRevision>,
    occurred_at: i64,
    detected_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blocker: Option<StoredBlocker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaced: Option<StoredAttemptId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    reported_stuck: bool,
    /// ARCHITECTURE §14 (since 0.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root_cause: Option<StoredRootCause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changes: Option<StoredChanges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compare_from: Option<String>,
    /// §16 and §15 (since 0.2.0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<StoredContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reminder: Option<StoredReminder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commit: Option<StoredCommitRef>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredReminder {
    reminds_of: String,
    since: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredCommitRef {
    key: String,
    stacks: usize,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRootCause {
    logical_id: String,
    resource_type: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    stack: String,
    time: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredChanges {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    created: Vec<StoredChanged>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    updated: Vec<StoredChanged>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    deleted: Vec<StoredChanged>,
    #[serde(default, skip_serializing_if = "is_zero")]
    created_omitted: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    updated_omitted: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    deleted_omitted: usize,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredChanged {
    logical_id: String,
    #[serde(rename = "type")]
    resource_type: String,
}

fn stored_changed(list: &[ChangedResource]) -> Vec<StoredChanged> {
    list.iter()
        .map(|changed| StoredChanged {
            logical_id: changed.logical_id.clone(),
            resource_type: changed.resource_type.clone(),
        })
        .collect()
}

fn changed(list: Vec<StoredChanged>) -> Vec<ChangedResource> {
    list.into_iter()
        .map(|changed| ChangedResource {
            logical_id: changed.logical_id,
            resource_type: changed.resource_type,
        })
        .collect()
}

fn stored_root_cause(explanation: &Explanation) -> Option<StoredRootCause> {
    explanation
        .root_cause
        .as_ref()
        .map(|cause| StoredRootCause {
            logical_id: cause.logical_id.clone(),
            resource_type: cause.resource_type.clone(),
            status: cause.status.clone(),
            reason: cause.reason.clone(),
            stack: cause.stack.clone(),
            time: cause.time.as_millis(),
        })
}

fn stored_changes(explanation: &Explanation) -> Option<StoredChanges> {
    explanation.changes.as_ref().map(|changes| StoredChanges {
        created: stored_changed(&changes.created),
        updated: stored_changed(&changes.updated),
        deleted: stored_changed(&changes.deleted),
        created_omitted: changes.created_omitted,
        updated_omitted: changes.updated_omitted,
        deleted_omitted: changes.deleted_omitted,
    })
}

/// The explanation a stored notification carries.
fn explanation(
    root_cause: Option<StoredRootCause>,
    changes: Option<StoredChanges>,
    compare_from: Option<String>,
) -> Explanation {
    Explanation {
        root_cause: root_cause.map(|cause| RootCause {
            logical_id: cause.logical_id,
            resource_type: cause.resource_type,
            status: cause.status,
            reason: cause.reason,
            stack: cause.stack,
            time: Timestamp::from_millis(cause.time),
        }),
        changes: changes.map(|changes| Changes {
            created: changed(changes.created),
            updated: changed(changes.updated),
            deleted: changed(changes.deleted),
            created_omitted: changes.created_omitted,
            updated_omitted: changes.updated_omitted,
            deleted_omitted: changes.deleted_omitted,
        }),
        compare_from,
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredLocation {
    account: String,
    region: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredLease {
    owner: String,
    until: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredThread {
    destination: String,
    attempt: StoredAttemptId,
    channel: String,
    ts: String,
}

/// The record of destination-wide state (quiet periods a destination asked for).
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredDestinations {
    #[serde(default)]
    quiet: Vec<StoredQuiet>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredQuiet {
    destination: String,
    until: i64,
}

/// The record as stored JSON.
pub fn encode(record: &ResourceRecord) -> Result<String, serde_json::Error> {
    serde_json::to_string(&StoredRecord::from(record))
}

/// The record as a JSON value (the local file nests it as an object).
pub fn encode_value(record: &ResourceRecord) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(StoredRecord::from(record))
}

/// A stored record, or why it cannot be read.
pub fn decode(json: &str) -> Result<ResourceRecord, RecordError> {
    let stored: StoredRecord = serde_json::from_str(json).map_err(RecordError::Parse)?;
    stored.try_into()
}

/// [`decode`] from a JSON value.
pub fn decode_value(value: serde_json::Value) -> Result<ResourceRecord, RecordError> {
    let stored: StoredRecord = serde_json::from_value(value).map_err(RecordError::Parse)?;
    stored.try_into()
}

/// Destination-wide state as stored JSON.
pub fn encode_destinations(quiet: &[Quiet]) -> Result<String, serde_json::Error> {
    let stored = StoredDestinations {
        quiet: quiet
            .iter()
            .map(|quiet| StoredQuiet {
                destination: quiet.destination.clone(),
                until: quiet.until.as_millis(),
            })
            .collect(),
    };
    serde_json::to_string(&stored)
}

pub fn decode_destinations(json: &str) -> Result<Vec<Quiet>, RecordError> {
    let stored: StoredDestinations =
        serde_json::from_str(json).map_err(RecordError::Destinations)?;
    Ok(stored
        .quiet
        .into_iter()
        .map(|quiet| Quiet {
            destination: quiet.destination,
            until: Timestamp::from_millis(quiet.until),
        })
        .collect())
}

// ---------------------------------------------------------------- domain → stored

impl From<&ResourceRecord> for StoredRecord {
    fn from(record: &ResourceRecord) -> Self {
        StoredRecord {
            state: StoredState {
                attempt: (&record.state.attempt).into(),
                notified: Vec::new(),
                told: record
                    .state
                    .told
                    .iter()
                    .map(|told| StoredTold {
                        attempt: (&told.attempt).into(),
                        kinds: told
                            .kinds
                            .iter()
                            .map(|kind| kind.event_type().to_owned())
                            .collect(),
                    })
                    .collect(),
                blockers: record
                    .state
                    .blockers
                    .iter()
                    .map(|known| StoredKnownBlocker {
                        blocker: (&known.blocker).into(),
                        unblocked: known.unblocked,
                    })
                    .collect(),
                seen_at_start: record.state.seen_at_start.as_ref().map(ShaDigest::encode),
                last_success: record.state.last_success.as_ref().map(Into::into),
                replaced_note: record
                    .state
                    .replaced_note
                    .as_ref()
                    .map(|note| StoredReplacedNote {
                        for_attempt: (&note.for_attempt).into(),
                        replaced: StoredAttemptId {
                            started_at: note.replaced.started_at.as_millis(),
                            sha: note.replaced.sha.clone(),
                        },
                    }),
            },
            pending: record
                .pending
                .iter()
                .map(|item| StoredPending {
                    notification: (&item.notification).into(),
                    done: item.done.clone(),
                    targets: item.targets.clone(),
                })
                .collect(),
            lease: record.lease.as_ref().map(|lease| StoredLease {
                owner: lease.owner.clone(),
                until: lease.until.as_millis(),
            }),
            expires_at: record.expires_at.map(Timestamp::as_millis),
            threads: record
                .threads
                .iter()
                .map(|thread| StoredThread {
                    destination: thread.destination.clone(),
                    attempt: (&thread.attempt).into(),
                    channel: thread.channel.clone(),
                    ts: thread.ts.clone(),
                })
                .collect(),
            in_doubt: record
                .in_doubt
                .iter()
                .map(|doubt| StoredInDoubt {
                    destination: doubt.destination.clone(),
                    notification: doubt.notification.clone(),
                })
                .collect(),
        }
    }
}

impl From<&AttemptId> for StoredAttemptId {
    fn from(id: &AttemptId) -> Self {
        StoredAttemptId {
            started_at: id.started_at.as_millis(),
            sha: id.sha.clone(),
        }
    }
}

impl From<&Revision> for StoredRevision {
    fn from(revision: &Revision) -> Self {
        StoredRevision {
            provider_type: revision.provider_type.clone(),
            owner_id: revision.owner_id.clone(),
            repository_name: revision.repository_name.clone(),
            branch: revision.branch.clone(),
            directory: revision.directory.clone(),
            sha: revision.sha.clone(),
        }
    }
}

impl From<&SyncAttempt> for StoredAttempt {
    fn from(attempt: &SyncAttempt) -> Self {
        StoredAttempt {
            started_at: attempt.started_at.as_millis(),
            status: attempt.status.as_str().to_owned(),
            target: attempt.target.clone(),
            initial_revision: (&attempt.initial_revision).into(),
            target_revision: (&attempt.target_revision).into(),
            events: attempt
                .events
                .iter()
                .map(|event| StoredEvent {
                    event: event.event.clone(),
                    event_type: event.event_type.clone(),
                    time: event.time.as_millis(),
                    external_id: event.external_id.clone(),
                })
                .collect(),
            events_omitted: attempt.events_omitted,
        }
    }
}

impl From<&Blocker> for StoredBlocker {
    fn from(blocker: &Blocker) -> Self {
        StoredBlocker {
            id: blocker.id.clone(),
            blocker_type: blocker.blocker_type.clone(),
            status: blocker.status.as_str().to_owned(),
            created_reason: blocker.created_reason.clone(),
            created_at: blocker.created_at.as_millis(),
            contexts: blocker
                .contexts
                .iter()
                .map(|(key, value)| StoredContext {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            resolved_reason: blocker.resolved_reason.clone(),
            resolved_at: blocker.resolved_at.map(Timestamp::as_millis),
        }
    }
}

impl From<&Notification> for StoredNotification {
    fn from(notification: &Notification) -> Self {
        StoredNotification {
            id: notification.id.clone(),
            kind: notification.kind.event_type().to_owned(),
            resource: notification.resource.as_str().to_owned(),
            location: notification
                .location
                .as_ref()
                .map(|location| StoredLocation {
                    account: location.account.as_str().to_owned(),
                    region: location.region.as_str().to_owned(),
                }),
            account_name: notification.account_name.clone(),
            attempt: (&notification.attempt).into(),
            previous_status: notification
                .previous_status
                .as_ref()
                .map(|status| status.as_str().to_owned()),
            desired_state: notification.desired_state.as_ref().map(Into::into),
            occurred_at: notification.occurred_at.as_millis(),
            detected_at: notification.detected_at.as_millis(),
            note: notification.note.clone(),
            blocker: notification.blocker.as_ref().map(Into::into),
            replaced: notification
                .replaced
                .as_ref()
                .map(|replaced| StoredAttemptId {
                    started_at: replaced.started_at.as_millis(),
                    sha: replaced.sha.clone(),
                }),
            reported_stuck: notification.reported_stuck,
            root_cause: stored_root_cause(&notification.explanation),
            changes: stored_changes(&notification.explanation),
            compare_from: notification.explanation.compare_from.clone(),
            tags: notification
                .tags
                .iter()
                .map(|(key, value)| StoredContext {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            reminder: notification
                .reminder
                .as_ref()
                .map(|reminder| StoredReminder {
                    reminds_of: reminder.reminds_of.event_type().to_owned(),
                    since: reminder.since.as_millis(),
                }),
            commit: notification.commit.as_ref().map(|commit| StoredCommitRef {
                key: commit.key.clone(),
                stacks: commit.stacks,
            }),
        }
    }
}

// ---------------------------------------------------------------- stored → domain

fn kind(word: &str) -> Result<NotificationKind, RecordError> {
    NotificationKind::from_word(word)
        .filter(|_| word.starts_with("sync."))
        .ok_or_else(|| RecordError::UnknownKind(word.to_owned()))
}

impl From<StoredAttemptId> for AttemptId {
    fn from(id: StoredAttemptId) -> Self {
        AttemptId {
            started_at: Timestamp::from_millis(id.started_at),
            sha: id.sha,
        }
    }
}

impl From<StoredRevision> for Revision {
    fn from(revision: StoredRevision) -> Self {
        Revision {
            provider_type: revision.provider_type,
            owner_id: revision.owner_id,
            repository_name: revision.repository_name,
            branch: revision.branch,
            directory: revision.directory,
            sha: revision.sha,
        }
    }
}

impl From<StoredAttempt> for SyncAttempt {
    fn from(attempt: StoredAttempt) -> Self {
        SyncAttempt {
            started_at: Timestamp::from_millis(attempt.started_at),
            status: SyncStatus::parse(&attempt.status),
            target: attempt.target,
            initial_revision: attempt.initial_revision.into(),
            target_revision: attempt.target_revision.into(),
            events: attempt
                .events
                .into_iter()
                .map(|event| SyncEvent {
                    event: event.event,
                    event_type: event.event_type,
                    time: Timestamp::from_millis(event.time),
                    external_id: event.external_id,
                })
                .collect(),
            events_omitted: attempt.events_omitted,
        }
    }
}

impl TryFrom<StoredBlocker> for Blocker {
    type Error = RecordError;
    fn try_from(blocker: StoredBlocker) -> Result<Self, RecordError> {
        let status = match blocker.status.as_str() {
            "ACTIVE" => BlockerStatus::Active,
            "RESOLVED" => BlockerStatus::Resolved,
            other => return Err(RecordError::UnknownBlockerStatus(other.to_owned())),
        };
        Ok(Blocker {
            id: blocker.id,
            blocker_type: blocker.blocker_type,
            status,
            created_reason: blocker.created_reason,
            created_at: Timestamp::from_millis(blocker.created_at),
            contexts: blocker
                .contexts
                .into_iter()
                .map(|context| (context.key, context.value))
                .collect(),
            resolved_reason: blocker.resolved_reason,
            resolved_at: blocker.resolved_at.map(Timestamp::from_millis),
        })
    }
}

impl TryFrom<StoredNotification> for Notification {
    type Error = RecordError;
    fn try_from(stored: StoredNotification) -> Result<Self, RecordError> {
        let location = match stored.location {
            None => None,
            Some(location) => Some(Location {
                account: AccountId::parse(&location.account)?,
                region: Region::parse(&location.region)?,
            }),
        };
        Ok(Notification {
            kind: kind(&stored.kind)?,
            resource: ResourceName::parse(&stored.resource)?,
            location,
            account_name: stored.account_name,
            attempt: stored.attempt.into(),
            previous_status: stored.previous_status.as_deref().map(SyncStatus::parse),
            desired_state: stored.desired_state.map(Into::into),
            occurred_at: Timestamp::from_millis(stored.occurred_at),
            detected_at: Timestamp::from_millis(stored.detected_at),
            note: stored.note,
            blocker: stored.blocker.map(TryInto::try_into).transpose()?,
            replaced: stored.replaced.map(|replaced| Replaced {
                started_at: Timestamp::from_millis(replaced.started_at),
                sha: replaced.sha,
            }),
            reported_stuck: stored.reported_stuck,
            explanation: explanation(stored.root_cause, stored.changes, stored.compare_from),
            tags: stored
                .tags
                .into_iter()
                .map(|tag| (tag.key, tag.value))
                .collect(),
            reminder: stored
                .reminder
                .map(|reminder| {
                    Ok::<_, RecordError>(Reminder {
                        reminds_of: kind(&reminder.reminds_of)?,
                        since: Timestamp::from_millis(reminder.since),
                    })
                })
                .transpose()?,
            commit: stored.commit.map(|commit| CommitRef {
                key: commit.key,
                stacks: commit.stacks,
            }),
            id: stored.id,
        })
    }
}

impl TryFrom<StoredRecord> for ResourceRecord {
    type Error = RecordError;
    fn try_from(stored: StoredRecord) -> Result<Self, RecordError> {
        let attempt: SyncAttempt = stored.state.attempt.into();
        let kinds = |words: Vec<String>| {
            words
                .iter()
                .map(|word| kind(word))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut told = stored
            .state
            .told
            .into_iter()
            .map(|told| {
                Ok(Told {
                    attempt: told.attempt.into(),
                    kinds: kinds(told.kinds)?,
                })
            })
            .collect::<Result<Vec<_>, RecordError>>()?;
        if !told.iter().any(|entry| entry.attempt == attempt.id()) {
            // Release 0.1.0 kept only the recorded attempt's kinds, in `notified`.
            told.push(Told {
                attempt: attempt.id(),
                kinds: kinds(stored.state.notified)?,
            });
        }
        let blockers = stored
            .state
            .blockers
            .into_iter()
            .map(|known| {
                Ok(KnownBlocker {
                    blocker: known.blocker.try_into()?,
                    unblocked: known.unblocked,
                })
            })
            .collect::<Result<Vec<_>, RecordError>>()?;
        let pending = stored
            .pending
            .into_iter()
            .map(|item| {
                Ok(Pending {
                    notification: item.notification.try_into()?,
                    done: item.done,
                    targets: item.targets,
                })
            })
            .collect::<Result<Vec<_>, RecordError>>()?;
        Ok(ResourceRecord {
            state: ResourceState {
                attempt,
                told,
                blockers,
                seen_at_start: stored
                    .state
                    .seen_at_start
                    .as_deref()
                    .map(ShaDigest::decode)
                    .transpose()?,
                last_success: stored.state.last_success.map(Into::into),
                replaced_note: stored.state.replaced_note.map(|note| ReplacedNote {
                    for_attempt: note.for_attempt.into(),
                    replaced: Replaced {
                        started_at: Timestamp::from_millis(note.replaced.started_at),
                        sha: note.replaced.sha,
                    },
                }),
            },
            pending,
            lease: stored.lease.map(|lease| Lease {
                owner: lease.owner,
                until: Timestamp::from_millis(lease.until),
            }),
            expires_at: stored.expires_at.map(Timestamp::from_millis),
            threads: stored
                .threads
                .into_iter()
                .map(|thread| Thread {
                    destination: thread.destination,
                    attempt: thread.attempt.into(),
                    channel: thread.channel,
                    ts: thread.ts,
                })
                .collect(),
            in_doubt: stored
                .in_doubt
                .into_iter()
                .map(|doubt| InDoubt {
                    destination: doubt.destination,
                    notification: doubt.notification,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::samples::attempt;

    #[test]
    fn the_commits_seen_at_a_start_and_a_waiting_note_round_trip_and_older_records_have_none() {
        let mut state = ResourceState::baseline(&attempt(2, SyncStatus::Succeeded));
        state.seen_at_start = Some(ShaDigest::of(["sha-2", "other"]));
        state.replaced_note = Some(ReplacedNote {
            for_attempt: attempt(2, SyncStatus::Succeeded).id(),
            replaced: Replaced {
                started_at: attempt(1, SyncStatus::InProgress).started_at,
                sha: "sha-1".into(),
            },
        });
        let record = ResourceRecord::new(state);
        let json = encode(&record).unwrap();
        assert!(json.contains("\"seenAtStart\":"), "{json}");
        assert!(json.contains("\"replacedNote\":{\"forAttempt\":"), "{json}");
        assert_eq!(decode(&json).unwrap(), record);

        // What 0.1.x wrote (no such members) reads as none of either.
        let older =
            ResourceRecord::new(ResourceState::baseline(&attempt(2, SyncStatus::Succeeded)));
        let json = encode(&older).unwrap();
        assert!(!json.contains("seenAtStart") && !json.contains("replacedNote"));
        let read = decode(&json).unwrap();
        assert_eq!(read.state.seen_at_start, None);
        assert_eq!(read.state.replaced_note, None);

        // A notification's explanation (§14) and the last success round-trip; a record
        // without them (0.1.x) reads as none.
        let mut explained = record.clone();
        explained.state.last_success = Some(attempt(2, SyncStatus::Succeeded).id());
        let mut told = crate::domain::samples::attempt(3, SyncStatus::Failed);
        told.events.clear();
        explained.pending.push(Pending {
            notification: Notification {
                id: "msg_1".into(),
                kind: NotificationKind::Failed,
                resource: ResourceName::parse("payments-stack").unwrap(),
                location: None,
                account_name: None,
                attempt: told,
                previous_status: None,
                desired_state: None,
                occurred_at: Timestamp::from_millis(1),
                detected_at: Timestamp::from_millis(1),
                note: None,
                blocker: None,
                replaced: None,
                reported_stuck: false,
                explanation: Explanation {
                    root_cause: Some(RootCause {
                        logical_id: "OrdersTable".into(),
                        resource_type: "AWS::DynamoDB::Table".into(),
                        status: "CREATE_FAILED".into(),
                        reason: Some("Table already exists".into()),
                        stack: "orders-stack-DataStack-1".into(),
                        time: Timestamp::from_millis(2_000),
                    }),
                    changes: Some(Changes {
                        created: vec![ChangedResource {
                            logical_id: "OrdersQueue".into(),
                            resource_type: "AWS::SQS::Queue".into(),
                        }],
                        updated: Vec::new(),
                        deleted: Vec::new(),
                        created_omitted: 0,
                        updated_omitted: 4,
                        deleted_omitted: 0,
                    }),
                    compare_from: Some("sha-2".into()),
                },
                tags: vec![("team".into(), "payments".into())],
                reminder: Some(crate::domain::Reminder {
                    reminds_of: NotificationKind::Failed,
                    since: Timestamp::from_millis(3_000),
                }),
                commit: Some(crate::domain::CommitRef {
                    key: "c0ffee".into(),
                    stacks: 3,
                }),
            },
            done: Vec::new(),
            targets: vec!["webhook:audit".into()],
        });
        let json = encode(&explained).unwrap();
        assert!(
            json.contains("\"rootCause\":{\"logicalId\":\"OrdersTable\""),
            "{json}"
        );
        assert!(json.contains("\"lastSuccess\":"), "{json}");
        assert_eq!(decode(&json).unwrap(), explained);

        // A digest that is not one makes the record unreadable, never guessed at.
        let bad = encode(&record)
            .unwrap()
            .replace("\"seenAtStart\":\"", "\"seenAtStart\":\"!!");
        assert!(
            decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("commit digest")
        );
    }
}
