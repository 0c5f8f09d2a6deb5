//! `send-test`: one `sync.test` message to each destination, and how each took it. The
//! CLI's `send-test` and the Lambda's `{"sendTest": true}` both come here.

use serde::Serialize;

use super::{DeliveryError, Destination, Gate};
use crate::domain::{NotificationKind, ResourceName, Revision, SyncAttempt, SyncStatus, Timestamp};

/// How one destination took the test message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// The destination, by its masked name.
    pub destination: String,
    /// `delivered`, `refused` (it answered, and said no) or `unreachable`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A `sync.test` notification: clearly a test, about no real stack.
pub fn test_notification(now: Timestamp) -> crate::domain::Notification {
    let resource = ResourceName::test_stack();
    let revision = Revision {
        provider_type: "GitHub".into(),
        owner_id: "sync-notifier".into(),
        repository_name: "test".into(),
        branch: "main".into(),
        directory: "test.yaml".into(),
        sha: "0000000000000000000000000000000000000000".into(),
    };
    crate::domain::Notification {
        id: format!("msg_test_{:016x}", fastrand::u64(..)),
        kind: NotificationKind::Test,
        resource,
        location: None,
        account_name: None,
        attempt: SyncAttempt {
            started_at: now,
            status: SyncStatus::Succeeded,
            target: "sync-notifier-test".into(),
            initial_revision: revision.clone(),
            target_revision: revision,
            events: Vec::new(),
            events_omitted: 0,
        },
        previous_status: None,
        desired_state: None,
        occurred_at: now,
        detected_at: now,
        note: Some("This is a test message from sync-notifier: this destination is set up.".into()),
        blocker: None,
        replaced: None,
        reported_stuck: false,
        explanation: Default::default(),
        tags: Vec::new(),
        reminder: None,
        commit: None,
    }
}

/// Sends one `sync.test` message to each durable destination (filters do not apply) and
/// says how each answered.
pub async fn send_test_to(
    destinations: &[Destination],
    deadline: Option<tokio::time::Instant>,
) -> Vec<TestResult> {
    let notification = test_notification(Timestamp::now());
    let sends = destinations
        .iter()
        .filter(|destination| destination.is_durable())
        .map(|destination| {
            let notification = &notification;
            async move {
                let gate = Gate::new(destination.key(), destination.policy(), deadline, None);
                let (result, reason) = match destination.send(notification, &gate, None).await {
                    Ok(_) => ("delivered", None),
                    Err(DeliveryError::Permanent(reason)) => ("refused", Some(reason)),
                    Err(DeliveryError::Retry(reason) | DeliveryError::InDoubt(reason)) => {
                        ("unreachable", Some(reason))
                    }
                };
                // The line already names the destination: keep only why.
                let prefix = format!("{}: ", destination.key());
                let detail = reason.map(|reason| match reason.strip_prefix(&prefix) {
                    Some(why) => why.to_owned(),
                    None => reason,
                });
                TestResult {
                    destination: destination.label().to_owned(),
                    result,
                    detail,
                }
            }
        });
    futures_util::future::join_all(sends).await
}
