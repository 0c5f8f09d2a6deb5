//! The local embedded store: state in memory, optionally kept in a JSON file between runs.
//!
//! Used by `replay`, `check` and local Lambda runs when `STATE_TABLE` is unset. It keeps
//! the same contract as DynamoDB (versions, conditional writes), so the run behaves the
//! same on a laptop and in production.
//!
//! A file is one JSON object, `{"stack-name": [version, record], …}`, as release 0.1.0
//! wrote it. While a store is open, it holds an exclusive lock on `FILE.lock`, so a second
//! process refuses to start ("state file in use") instead of delivering the same
//! notifications again; and since no other process can hold it, a lease found in the file
//! at open is a dead process's, and is dropped (so a killed `check` holds nothing back).
//!
//! The file keeps DynamoDB's promise: a write that claims notifications or records a
//! delivery (a record with pending notifications, or one that had some) goes to the file
//! at once, under the lock, so a process killed mid-delivery repeats only the deliveries
//! that were in flight. Other writes (baselines, a recorded attempt that moved on) stay in
//! memory until the tick ends ([`finish`]): losing them loses nothing owed, and a tick
//! over N stacks costs one write of N records, not N writes. Every write of the file is
//! atomic: a temporary file of its own, then renamed over it, so a run killed mid-write
//! never leaves a corrupt file.
//!
//! [`finish`]: crate::store::StateStore::finish

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::{
    DESTINATIONS_KEY, DestinationState, Loaded, SaveError, StateStore, StoreError, record,
};
use crate::domain::ledger::ResourceRecord;

#[derive(Debug, Default)]
struct Entries {
    records: HashMap<String, (u64, Value)>,
    /// Written since the file was last.
    dirty: bool,
}

#[derive(Debug)]
struct StateFile {
    path: PathBuf,
    /// Held (locked) for as long as the store is open.
    _lock: std::fs::File,
}

#[derive(Debug, Default)]
pub struct LocalStore {
    entries: Mutex<Entries>,
    file: Option<StateFile>,
}

fn unavailable(message: String) -> StoreError {
    StoreError::new(message)
}

impl LocalStore {
    /// An empty store that lives as long as the process.
    pub fn in_memory() -> Self {
        LocalStore::default()
    }

    /// A store kept in `path` (created on the first write), locked for this process. A
    /// file that cannot be read as a state file is an error: it is never overwritten.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                unavailable(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        let lock = lock(&path)?;
        let mut records = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<HashMap<String, (u64, Value)>>(&bytes)
                .map_err(|error| {
                    unavailable(format!(
                        "{} is not a sync-notifier state file ({error}); move it away or pass another --state path",
                        path.display()
                    ))
                })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(error) => {
                return Err(unavailable(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        };
        drop_leases(&mut records);
        Ok(LocalStore {
            entries: Mutex::new(Entries {
                records,
                dirty: false,
            }),
            file: Some(StateFile { path, _lock: lock }),
        })
    }

    fn entries(&self) -> Result<std::sync::MutexGuard<'_, Entries>, StoreError> {
        self.entries
            .lock()
            .map_err(|_| unavailable("the local store's lock was poisoned".into()))
    }

    /// A conditional write of `value` under `key`: in memory, and in the file at once when
    /// `durable_now` or when the record it replaces had pending notifications.
    fn put(
        &self,
        key: &str,
        expected: Option<u64>,
        value: Value,
        durable_now: bool,
    ) -> Result<u64, SaveError> {
        let mut entries = self.entries()?;
        let stored = entries.records.get(key);
        if stored.map(|(version, _)| *version) != expected {
            return Err(SaveError::Conflict);
        }
        let durable_now = durable_now || stored.is_some_and(|(_, value)| has_pending(value));
        let version = expected.unwrap_or(0) + 1;
        entries.records.insert(key.to_owned(), (version, value));
        entries.dirty = true;
        if durable_now {
            self.write_file(&mut entries)?;
        }
        Ok(version)
    }

    /// Writes every record to the file, if there is one and something changed.
    fn write_file(&self, entries: &mut Entries) -> Result<(), StoreError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if !entries.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&entries.records)
            .map_err(|error| unavailable(format!("cannot encode state: {error}")))?;
        write_atomically(&file.path, &bytes)?;
        entries.dirty = false;
        Ok(())
    }
}

/// Whether a stored record owes notifications.
fn has_pending(value: &Value) -> bool {
    value
        .get("pending")
        .and_then(Value::as_array)
        .is_some_and(|pending| !pending.is_empty())
}

/// Drops the leases of every record read from a file: the file lock proves that the
/// process that took them is gone.
fn drop_leases(records: &mut HashMap<String, (u64, Value)>) {
    for (_, record) in records.values_mut() {
        if let Some(record) = record.as_object_mut() {
            record.remove("lease");
        }
    }
}

/// Takes the exclusive lock of `path` (on `path.lock`), or says who has it.
fn lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|error| unavailable(format!("cannot open {}: {error}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(unavailable(format!(
            "state file in use: another sync-notifier process has {} open (it holds {}); wait for it to finish, or pass another --state path",
            path.display(),
            lock_path.display()
        ))),
        Err(std::fs::TryLockError::Error(error)) => Err(unavailable(format!(
            "cannot lock {}: {error}",
            lock_path.display()
        ))),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file of this process in the same
/// directory, flushed to disk, then renamed over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(
        ".{}.{:08x}.tmp",
        std::process::id(),
        fastrand::u32(..)
    ));
    let temporary = PathBuf::from(name);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        unavailable(format!("cannot write {}: {error}", path.display()))
    })
}

impl StateStore for LocalStore {
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Loaded>, StoreError> {
        let entries = self.entries()?;
        Ok(keys
            .iter()
            .map(|key| {
                let loaded = match entries.records.get(key) {
                    None => Loaded::Missing,
                    Some((version, value)) => match record::decode_value(value.clone()) {
                        Ok(record) => Loaded::Found {
                            version: *version,
                            record,
                        },
                        Err(error) => Loaded::Unreadable {
                            reason: error.to_string(),
                        },
                    },
                };
                (key.clone(), loaded)
            })
            .collect())
    }

    async fn save(
        &self,
        key: &str,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> Result<u64, SaveError> {
        let value = record::encode_value(record)
            .map_err(|error| unavailable(format!("cannot encode the state of {key}: {error}")))?;
        self.put(key, expected, value, !record.pending.is_empty())
    }

    async fn load_destinations(&self) -> Result<DestinationState, StoreError> {
        let entries = self.entries()?;
        match entries.records.get(DESTINATIONS_KEY) {
            None => Ok(DestinationState::default()),
            Some((version, value)) => Ok(DestinationState {
                version: Some(*version),
                quiet: record::decode_destinations(&value.to_string())
                    .map_err(StoreError::from_adapter)?,
            }),
        }
    }

    async fn save_destinations(&self, state: &DestinationState) -> Result<u64, SaveError> {
        let json = record::encode_destinations(&state.quiet).map_err(StoreError::from_adapter)?;
        let value: Value = serde_json::from_str(&json)
            .map_err(|error| unavailable(format!("cannot encode: {error}")))?;
        self.put(DESTINATIONS_KEY, state.version, value, false)
    }

    async fn finish(&self) -> Result<(), StoreError> {
        let mut entries = self.entries()?;
        self.write_file(&mut entries)
    }
}

#[cfg(test)]
mod tests;
