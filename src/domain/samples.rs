//! Sync attempts and statuses for tests across the crate (the rules' tests and the tick's),
//! one way: attempt number `n` starts at minute `n` and deploys commit `sha-n`.

use super::{ResourceStatus, Revision, SyncAttempt, SyncEvent, SyncStatus, Timestamp};

pub(crate) fn revision(sha: &str) -> Revision {
    Revision {
        provider_type: "GitHub".into(),
        owner_id: "acme".into(),
        repository_name: "infra".into(),
        branch: "main".into(),
        directory: "stacks/payments.yaml".into(),
        sha: sha.into(),
    }
}

/// Attempt number `n` starts at minute `n` and deploys commit `sha-n`.
pub(crate) fn attempt(n: i64, status: SyncStatus) -> SyncAttempt {
    let started_at = Timestamp::from_millis(1_795_680_000_000 + n * 60_000);
    let events = match status {
        SyncStatus::Failed => vec![SyncEvent {
            event: "Resource handler returned message: \"Bucket already exists\"".into(),
            event_type: "CREATE_FAILED".into(),
            time: started_at.plus_millis(30_000),
            external_id: None,
        }],
        SyncStatus::Succeeded => vec![SyncEvent {
            event: "Stack update complete".into(),
            event_type: "UPDATE_COMPLETE".into(),
            time: started_at.plus_millis(45_000),
            external_id: None,
        }],
        _ => Vec::new(),
    };
    SyncAttempt {
        started_at,
        status,
        target: "payments-stack".into(),
        initial_revision: revision(&format!("sha-{}", n - 1)),
        target_revision: revision(&format!("sha-{n}")),
        events,
        events_omitted: 0,
    }
}

pub(crate) fn status(
    latest: SyncAttempt,
    latest_successful: Option<SyncAttempt>,
) -> ResourceStatus {
    ResourceStatus {
        desired_state: Some(latest.target_revision.clone()),
        latest_sync: latest,
        latest_successful_sync: latest_successful,
    }
}
