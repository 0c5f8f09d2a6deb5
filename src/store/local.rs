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
