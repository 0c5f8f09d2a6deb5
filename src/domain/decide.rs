//! [`decide`]: ARCHITECTURE §6 as one pure function.
//!
//! Given what we recorded about a resource and what AWS reports now, it returns the
//! state to record and the notifications to send, in the order the attempts happened.
//! Rule 8 (a failed check keeps the recorded state) lives in the run: a failed check
//! never reaches this function.

use super::{
    Notification, NotificationKind, ResourceName, ResourceState, ResourceStatus, SyncAttempt,
    SyncStatus, Timestamp, notification_id,
};

/// What [`decide`] concluded for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The state to record (equal to the previous one when nothing changed).
    pub state: ResourceState,
    /// Notifications, oldest attempt first.
    pub notifications: Vec<Notification>,
}

/// Shown when rule 6 has to infer a failure: AWS only keeps the latest attempt's events.
pub const REPLACED_ATTEMPT_NOTE: &str = "A newer sync started before this one was seen ending, and it is not the latest successful sync, so it is reported as failed. AWS no longer reports its events; see the stack's events in the CloudFormation console.";

pub fn decide(
    resource: &ResourceName,
    previous: Option<&ResourceState>,
    current: &ResourceStatus,
    now: Timestamp,
) -> Decision {
    let latest = &current.latest_sync;
    let notify =
        |kind: NotificationKind, attempt: &SyncAttempt, previous_status: Option<SyncStatus>| {
            Notification {
                id: notification_id(resource, &attempt.id(), kind),
                kind,
                resource: resource.clone(),
                occurred_at: match kind {
                    NotificationKind::Started => attempt.started_at,
                    _ => attempt.ended_at().unwrap_or(now),
                },
                attempt: attempt.clone(),
                previous_status,
                desired_state: current.desired_state.clone(),
                detected_at: now,
                note: None,
            }
        };

    // Rule 1: the first sighting is a baseline. A finished attempt counts as already told,
    // so it is never announced later.
    let Some(previous) = previous else {
        return Decision {
            state: record(latest, latest.status.terminal_kind().into_iter().collect()),
            notifications: Vec::new(),
        };
    };

    let previous_id = previous.attempt.id();
    let latest_id = latest.id();

    if latest_id == previous_id {
        // Rules 2 and 3: the same attempt; only an ending not yet told is news.
        let mut notified = previous.notified.clone();
        let mut notifications = Vec::new();
        if let Some(kind) = latest.status.terminal_kind()
            && !notified.contains(&kind)
        {
            notifications.push(notify(kind, latest, Some(previous.attempt.status.clone())));
            notified.push(kind);
        }
        return Decision {
            state: record(latest, notified),
            notifications,
        };
    }

    if latest_id.started_at < previous_id.started_at {
        // An older attempt than the one we recorded (a stale read): never go backwards.
        return Decision {
            state: previous.clone(),
            notifications: Vec::new(),
        };
    }

    let mut notifications = Vec::new();

    // Rule 6: the recorded attempt was never seen ending; say how it ended first.
    let previous_ending_told = previous
        .notified
        .iter()
        .any(|kind| *kind != NotificationKind::Started);
    if !previous_ending_told {
        let succeeded = current
            .latest_successful_sync
            .as_ref()
            .filter(|success| success.id() == previous_id);
        let previous_status = Some(previous.attempt.status.clone());
        notifications.push(match succeeded {
            Some(success) => notify(NotificationKind::Succeeded, success, previous_status),
            None => {
                let mut failed = previous.attempt.clone();
                failed.status = SyncStatus::Failed;
                failed.events.clear();
                let mut notification = notify(NotificationKind::Failed, &failed, previous_status);
                notification.occurred_at = now;
                notification.note = Some(REPLACED_ATTEMPT_NOTE.to_owned());
                notification
            }
        });
    }

    // Rules 4 and 5: the new attempt is announced as started if it is still running,
    // or only by its ending if it already ended. An unknown status is recorded, not told.
    let kind = if latest.status.is_running() {
        Some(NotificationKind::Started)
    } else {
        latest.status.terminal_kind()
    };
    let notified: Vec<NotificationKind> = kind.into_iter().collect();
    notifications.extend(kind.map(|kind| notify(kind, latest, None)));

    Decision {
        state: record(latest, notified),
        notifications,
    }
}

/// The state kept for an attempt: everything but its events, which can be long and
/// are fetched again whenever they are needed.
fn record(attempt: &SyncAttempt, notified: Vec<NotificationKind>) -> ResourceState {
    let mut attempt = attempt.clone();
    attempt.events.clear();
    ResourceState { attempt, notified }
}

#[cfg(test)]
mod tests;
