//! The local embedded store: state in memory, optionally kept in a JSON file between runs.
//!
//! Used by `replay`, `check` and local Lambda runs when `STATE_TABLE` is unset. It keeps
//! the same contract as DynamoDB (versions, conditional writes), so the run behaves the
//! same on a laptop and in production.

use std::collections::HashMap;
use std::path::PathBuf;

use tokio::sync::Mutex;

use super::{Loaded, ResourceRecord, SaveError, StateStore, StoreError};
use crate::domain::ResourceName;

#[derive(Debug, Default)]
pub struct LocalStore {
    records: Mutex<HashMap<ResourceName, (u64, serde_json::Value)>>,
    file: Option<PathBuf>,
}

impl LocalStore {
    /// An empty store that lives as long as the process.
    pub fn in_memory() -> Self {
        LocalStore::default()
    }

    /// A store kept in `path` (created on first write). A file that cannot be read as a
    /// state file is an error: it is never overwritten.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let records = match std::fs::read(&path) {
            Ok(bytes) => {
                let stored: HashMap<ResourceName, (u64, serde_json::Value)> = serde_json::from_slice(&bytes)
                    .map_err(|error| {
                        StoreError::Unavailable(format!(
                            "{} is not a sync-notifier state file ({error}); move it away or pass another --state path",
                            path.display()
                        ))
                    })?;
                stored
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(error) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        };
        Ok(LocalStore {
            records: Mutex::new(records),
            file: Some(path),
        })
    }

    async fn persist(
        &self,
        records: &HashMap<ResourceName, (u64, serde_json::Value)>,
    ) -> Result<(), StoreError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(records)
            .map_err(|error| StoreError::Unavailable(format!("cannot encode state: {error}")))?;
        // Write then rename, so a crash never leaves half a file.
        let temporary = path.with_extension("tmp");
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            tokio::fs::create_dir_all(parent).await.map_err(|error| {
                StoreError::Unavailable(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        tokio::fs::write(&temporary, bytes).await.map_err(|error| {
            StoreError::Unavailable(format!("cannot write {}: {error}", temporary.display()))
        })?;
        tokio::fs::rename(&temporary, path).await.map_err(|error| {
            StoreError::Unavailable(format!("cannot write {}: {error}", path.display()))
        })
    }
}

impl StateStore for LocalStore {
    async fn load(
        &self,
        names: &[ResourceName],
    ) -> Result<HashMap<ResourceName, Loaded>, StoreError> {
        let records = self.records.lock().await;
        Ok(names
            .iter()
            .map(|name| {
                let loaded = match records.get(name) {
                    None => Loaded::Missing,
                    Some((version, value)) => {
                        match serde_json::from_value::<ResourceRecord>(value.clone()) {
                            Ok(record) => Loaded::Found {
                                version: *version,
                                record,
                            },
                            Err(error) => Loaded::Unreadable {
                                reason: format!("stored record does not parse: {error}"),
                            },
                        }
                    }
                };
                (name.clone(), loaded)
            })
            .collect())
    }

    async fn save(
        &self,
        name: &ResourceName,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> Result<u64, SaveError> {
        let mut records = self.records.lock().await;
        let stored = records.get(name).map(|(version, _)| *version);
        if stored != expected {
            return Err(SaveError::Conflict);
        }
        let version = expected.unwrap_or(0) + 1;
        let value = serde_json::to_value(record)
            .map_err(|error| StoreError::Unavailable(format!("cannot encode state: {error}")))?;
        let previous = records.insert(name.clone(), (version, value));
        if let Err(error) = self.persist(&records).await {
            // Keep memory and file in step: undo the write the file did not take.
            match previous {
                Some(previous) => records.insert(name.clone(), previous),
                None => records.remove(name),
            };
            return Err(error.into());
        }
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Revision, SyncAttempt, SyncStatus, Timestamp};
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
        ResourceRecord {
            state: crate::domain::ResourceState {
                attempt: SyncAttempt {
                    started_at: Timestamp::from_millis(1),
                    status,
                    target: "a".into(),
                    initial_revision: revision.clone(),
                    target_revision: revision,
                    events: Vec::new(),
                },
                notified: Vec::new(),
            },
            pending: Vec::new(),
            lease: None,
            expires_at: None,
        }
    }

    fn name() -> ResourceName {
        ResourceName::parse("a").unwrap()
    }

    #[tokio::test]
    async fn writes_are_conditional_on_the_version_read() {
        let store = LocalStore::in_memory();
        assert_eq!(
            store.load(&[name()]).await.unwrap()[&name()],
            Loaded::Missing
        );
        assert_eq!(
            store
                .save(&name(), None, &record(SyncStatus::Initiated))
                .await
                .unwrap(),
            1
        );
        assert!(matches!(
            store.save(&name(), None, &record(SyncStatus::Failed)).await,
            Err(SaveError::Conflict)
        ));
        assert_eq!(
            store
                .save(&name(), Some(1), &record(SyncStatus::InProgress))
                .await
                .unwrap(),
            2
        );
        assert!(matches!(
            store
                .save(&name(), Some(1), &record(SyncStatus::Failed))
                .await,
            Err(SaveError::Conflict)
        ));
        let Loaded::Found { version, record } = &store.load(&[name()]).await.unwrap()[&name()]
        else {
            panic!()
        };
        assert_eq!(
            (*version, &record.state.attempt.status),
            (2, &SyncStatus::InProgress)
        );
    }

    #[tokio::test]
    async fn a_state_file_survives_the_process_and_a_foreign_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.json");
        LocalStore::open(&path)
            .unwrap()
            .save(&name(), None, &record(SyncStatus::Succeeded))
            .await
            .unwrap();
        let reopened = LocalStore::open(&path).unwrap();
        assert!(matches!(
            reopened.load(&[name()]).await.unwrap()[&name()],
            Loaded::Found { version: 1, .. }
        ));

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
        let loaded = store.load(&[name()]).await.unwrap();
        assert!(
            matches!(&loaded[&name()], Loaded::Unreadable { reason } if reason.contains("does not parse")),
            "{loaded:?}"
        );
    }
}
