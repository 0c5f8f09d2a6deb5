//! The state store port: what the function remembers between runs, per resource.
//!
//! One record per resource holds the recorded attempt (for `decide`), the notifications
//! not yet delivered everywhere (with the destinations that have them), a lease that
//! says which run is delivering them, and a version for optimistic concurrency. Every
//! write is conditional on the version that was read, so two overlapping runs can never
//! both claim the same notifications (ARCHITECTURE §7).
//!
//! Two adapters keep that contract: [`DynamoStore`] (a DynamoDB table, selected by
//! `STATE_TABLE`) and [`LocalStore`] (memory or a JSON file, for local runs). [`AnyStore`]
//! is whichever one the configuration chose.

mod dynamo;
mod local;

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::domain::{Notification, ResourceName, ResourceState, Timestamp};

pub use dynamo::{
    DynamoError, DynamoStore, KEY, RECORD_ATTRIBUTE, SCHEMA, SCHEMA_ATTRIBUTE, TTL_ATTRIBUTE,
    UnprocessedRetry, VERSION_ATTRIBUTE,
};
pub use local::LocalStore;

/// Everything recorded about one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRecord {
    pub state: ResourceState,
    /// Notifications not yet delivered to every destination, oldest first.
    #[serde(default)]
    pub pending: Vec<PendingNotification>,
    /// Held while a run delivers `pending`; another run leaves the resource alone until
    /// it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Set when the resource vanished (its check says not found): the record may be
    /// deleted after this (DynamoDB TTL). Cleared when the resource comes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// A notification and the destinations that are done with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingNotification {
    pub notification: Notification,
    /// Destination keys that received it (or refused it for good).
    #[serde(default)]
    pub done: Vec<String>,
    /// Destination keys it was decided for (the console excluded): it is complete only
    /// once all of these are done too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub owner: String,
    pub until: Timestamp,
}

/// What a read found for one resource.
// One of these lives per resource for the length of a tick; boxing the record would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// Never seen: the next sighting is a baseline.
    Missing,
    Found {
        version: u64,
        record: ResourceRecord,
    },
    /// An item that is not ours or not of this schema: reported, never overwritten.
    Unreadable { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Dynamo(#[from] DynamoError),
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Someone else wrote the record since we read it: they own this change.
    #[error("the record changed since it was read (another run is handling it)")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub trait StateStore: Send + Sync {
    /// Reads the records of `names`; every name gets an answer.
    fn load(
        &self,
        names: &[ResourceName],
    ) -> impl Future<Output = Result<HashMap<ResourceName, Loaded>, StoreError>> + Send;

    /// Writes `record` if the stored version is still `expected` (`None`: no record yet),
    /// returning the new version.
    fn save(
        &self,
        name: &ResourceName,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> impl Future<Output = Result<u64, SaveError>> + Send;
}

/// Several runners (overlapping ticks in tests, or the CLI and a bench) can share one store.
impl<T: StateStore> StateStore for std::sync::Arc<T> {
    fn load(
        &self,
        names: &[ResourceName],
    ) -> impl Future<Output = Result<HashMap<ResourceName, Loaded>, StoreError>> + Send {
        (**self).load(names)
    }

    fn save(
        &self,
        name: &ResourceName,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> impl Future<Output = Result<u64, SaveError>> + Send {
        (**self).save(name, expected, record)
    }
}

/// The store the configuration chose: DynamoDB when `STATE_TABLE` is set, the local
/// embedded store otherwise.
#[derive(Debug)]
pub enum AnyStore {
    Local(LocalStore),
    Dynamo(DynamoStore),
}

impl StateStore for AnyStore {
    async fn load(
        &self,
        names: &[ResourceName],
    ) -> Result<HashMap<ResourceName, Loaded>, StoreError> {
        match self {
            AnyStore::Local(store) => store.load(names).await,
            AnyStore::Dynamo(store) => store.load(names).await,
        }
    }

    async fn save(
        &self,
        name: &ResourceName,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> Result<u64, SaveError> {
        match self {
            AnyStore::Local(store) => store.save(name, expected, record).await,
            AnyStore::Dynamo(store) => store.save(name, expected, record).await,
        }
    }
}
