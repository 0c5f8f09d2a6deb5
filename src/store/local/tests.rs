use super::*;
use crate::domain::{ResourceState, Revision, SyncAttempt, SyncStatus, Timestamp};
use crate::store::SaveError;

fn record(status: SyncStatus) -> ResourceRecord {
    let revision = Revision {
        provider_type: "GitHub".into(),
        owner_id: "acme".into(),
        repository_name: "infra".into(),
        branch: "main".into(),
        directory: "a.yaml".into(),
        sha: "abc".into(),
    };
    ResourceRecord::new(ResourceState::baseline(&SyncAttempt {
        started_at: Timestamp::from_millis(1),
        status,
        target: "a".into(),
        initial_revision: revision.clone(),
        target_revision: revision,
        events: Vec::new(),
        events_omitted: 0,
    }))
}

fn key() -> String {
    "a".to_owned()
}

fn keys() -> Vec<String> {
    vec![key()]
}

#[tokio::test]
async fn writes_are_conditional_on_the_version_read() {
    let store = LocalStore::in_memory();
    assert_eq!(store.load(&keys()).await.unwrap()[&key()], Loaded::Missing);
    assert_eq!(
        store
            .save(&key(), None, &record(SyncStatus::Initiated))
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        store.save(&key(), None, &record(SyncStatus::Failed)).await,
        Err(SaveError::Conflict)
    ));
    assert_eq!(
        store
            .save(&key(), Some(1), &record(SyncStatus::InProgress))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store
            .save(&key(), Some(1), &record(SyncStatus::Failed))
            .await,
        Err(SaveError::Conflict)
    ));
    let Loaded::Found { version, record } = &store.load(&keys()).await.unwrap()[&key()] else {
        panic!()
    };
    assert_eq!(
        (*version, &record.state.attempt.status),
        (2, &SyncStatus::InProgress)
    );
}

/// The file's inode: every write renames a new file over it, so each write changes it.
fn inode(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|metadata| metadata.ino())
}

/// A record that owes `webhook:a` a notification.
fn owing() -> ResourceRecord {
    let mut owing = record(SyncStatus::Failed);
    let attempt = owing.state.attempt.clone();
    owing.pending.push(crate::domain::ledger::Pending {
        notification: crate::domain::Notification {
            id: "msg_1".into(),
            kind: crate::domain::NotificationKind::Failed,
            resource: crate::domain::ResourceName::parse("a").unwrap(),
            location: None,
            account_name: None,
            attempt,
            previous_status: None,
            desired_state: None,
            occurred_at: Timestamp::from_millis(1),
            detected_at: Timestamp::from_millis(1),
            note: None,
            blocker: None,
            replaced: None,
            reported_stuck: false,
            explanation: Default::default(),
            tags: Vec::new(),
            reminder: None,
            commit: None,
        },
        done: Vec::new(),
        targets: vec!["webhook:a".into()],
    });
    owing
}

#[tokio::test]
async fn a_state_file_is_written_once_per_tick_and_survives_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/state.json");
    {
        let store = LocalStore::open(&path).unwrap();
        store
            .save("first", None, &record(SyncStatus::Succeeded))
            .await
            .unwrap();
        store.finish().await.unwrap();
        let before = inode(&path).expect("written at the end of the tick");
        for index in 0..50 {
            store
                .save(
                    &format!("stack-{index}"),
                    None,
                    &record(SyncStatus::Succeeded),
                )
                .await
                .unwrap();
            assert_eq!(
                inode(&path),
                Some(before),
                "baseline {index} is not written yet"
            );
        }
        store.finish().await.unwrap();
        let after = inode(&path).unwrap();
        assert_ne!(after, before, "the tick's end writes them");
        store.finish().await.unwrap();
        assert_eq!(
            inode(&path),
            Some(after),
            "nothing changed, nothing written"
        );
    }
    let reopened = LocalStore::open(&path).unwrap();
    assert!(matches!(
        reopened.load(&["stack-7".to_owned()]).await.unwrap()["stack-7"],
        Loaded::Found { version: 1, .. }
    ));
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("nested"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_claim_and_each_delivery_are_in_the_file_as_soon_as_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = LocalStore::open(&path).unwrap();
    let read_back = || {
        let file: HashMap<String, (u64, Value)> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        file
    };
    // The claim: a record that owes a notification.
    let mut claimed = owing();
    claimed.lease = Some(crate::domain::ledger::Lease {
        owner: "this-run".into(),
        until: Timestamp::from_millis(i64::MAX / 2),
    });
    let version = store.save(&key(), None, &claimed).await.unwrap();
    assert_eq!(read_back()[&key()].0, 1, "the claim is in the file at once");
    // A delivery recorded.
    let mut settled = claimed.clone();
    settled.pending[0].done.push("webhook:a".into());
    let version = store.save(&key(), Some(version), &settled).await.unwrap();
    assert_eq!(read_back()[&key()].1["pending"][0]["done"][0], "webhook:a");
    // The release: nothing pending any more, and that too is written at once.
    let mut released = settled.clone();
    released.pending.clear();
    released.lease = None;
    store.save(&key(), Some(version), &released).await.unwrap();
    let stored = &read_back()[&key()];
    assert_eq!(stored.0, 3);
    assert!(
        stored
            .1
            .get("pending")
            .is_none_or(|pending| pending == &serde_json::json!([]))
    );
}

#[tokio::test]
async fn a_lease_left_in_the_file_by_a_killed_process_is_dropped_when_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    {
        let store = LocalStore::open(&path).unwrap();
        let mut claimed = owing();
        claimed.lease = Some(crate::domain::ledger::Lease {
            owner: "a-killed-run".into(),
            until: Timestamp::from_millis(i64::MAX / 2),
        });
        store.save(&key(), None, &claimed).await.unwrap();
        // The process dies here: no finish, no release.
    }
    let reopened = LocalStore::open(&path).unwrap();
    let Loaded::Found { record, .. } = &reopened.load(&keys()).await.unwrap()[&key()] else {
        panic!("the claim was kept")
    };
    assert_eq!(record.lease, None);
    assert_eq!(record.pending.len(), 1, "what is owed is kept");
}

#[tokio::test]
async fn a_foreign_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, "not a state file").unwrap();
    let error = LocalStore::open(&path).unwrap_err().to_string();
    assert!(
        error.contains("is not a sync-notifier state file"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a state file");
}

#[tokio::test]
async fn a_record_of_another_schema_is_reported_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, r#"{"a": [3, {"something": "else"}]}"#).unwrap();
    let store = LocalStore::open(&path).unwrap();
    let loaded = store.load(&keys()).await.unwrap();
    assert!(
        matches!(&loaded[&key()], Loaded::Unreadable { reason } if reason.contains("does not parse")),
        "{loaded:?}"
    );
}

#[tokio::test]
async fn a_second_process_on_the_same_file_is_refused_while_the_first_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let first = LocalStore::open(&path).unwrap();
    let error = LocalStore::open(&path).unwrap_err().to_string();
    assert!(error.contains("state file in use"), "{error}");
    assert!(error.contains("pass another --state path"), "{error}");
    drop(first);
    LocalStore::open(&path).expect("free again once the first is done");
}

#[tokio::test]
async fn the_destinations_record_is_kept_with_a_version() {
    let store = LocalStore::in_memory();
    assert_eq!(
        store.load_destinations().await.unwrap(),
        DestinationState::default()
    );
    let quiet = vec![crate::domain::ledger::Quiet {
        destination: "slack#1a2b3c4d".into(),
        until: Timestamp::from_millis(1_795_690_000_000),
    }];
    let state = DestinationState {
        version: None,
        quiet: quiet.clone(),
    };
    assert_eq!(store.save_destinations(&state).await.unwrap(), 1);
    assert!(matches!(
        store.save_destinations(&state).await,
        Err(SaveError::Conflict)
    ));
    assert_eq!(
        store.load_destinations().await.unwrap(),
        DestinationState {
            version: Some(1),
            quiet
        }
    );
}
