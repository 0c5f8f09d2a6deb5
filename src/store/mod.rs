//! The state store port: what the function remembers between runs, per stack.
//!
//! One record per stack (keyed by [`StackRef::key`](crate::domain::StackRef::key)) holds
//! the ledger's [`ResourceRecord`]; one more, [`DESTINATIONS_KEY`], holds what applies to a
//! destination across stacks (the quiet period a `Retry-After` asked for). Every write is
//! conditional on the version that was read, so two overlapping runs can never both claim
//! the same notifications (ARCHITECTURE §7).
//!
//! Two adapters keep that contract: [`DynamoStore`] (a DynamoDB table, selected by
//! `STATE_TABLE`) and [`LocalStore`] (memory or a JSON file, for local runs). Both store
//! the record as the JSON of [`record`]. [`AnyStore`] is whichever one the configuration
//! chose.

mod dynamo;
mod local;
pub mod record;

use std::collections::HashMap;
use std::future::Future;

use crate::domain::ledger::{Quiet, ResourceRecord};

pub use dynamo::{
    DynamoError, DynamoStore, KEY, RECORD_ATTRIBUTE, SCHEMA, SCHEMA_ATTRIBUTE, TTL_ATTRIBUTE,
    UnprocessedRetry, UnreadableItem, VERSION_ATTRIBUTE,
};
pub use local::LocalStore;

/// The key of the destinations record (`@` cannot start a stack name).
pub const DESTINATIONS_KEY: &str = "@destinations";

/// What a read found for one key.
// One of these lives per stack for the length of a batch; boxing the record would only
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
    /// An item that is not ours or not of a schema this build reads: reported, never
    /// overwritten.
    Unreadable { reason: String },
}

/// The destinations record, with the version it was read at (`None`: not written yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationState {
    pub version: Option<u64>,
    pub quiet: Vec<Quiet>,
}

/// The store could not be used. It says what failed in words; the adapter's own error,
/// when there is one, is its `source`.
#[derive(Debug, thiserror::Error)]
#[error("state store unavailable: {message}")]
pub struct StoreError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            source: None,
        }
    }

    /// An adapter's error, kept as the source.
    pub fn from_adapter(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError {
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
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
    /// Reads the records of `keys`; every key gets an answer.
    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Loaded>, StoreError>> + Send;

    /// Writes `record` if the stored version is still `expected` (`None`: no record yet),
    /// returning the new version.
    fn save(
        &self,
        key: &str,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> impl Future<Output = Result<u64, SaveError>> + Send;

    /// Whether `record` can be saved at all (DynamoDB's 400 KB item limit).
    fn fits(&self, _record: &ResourceRecord) -> bool {
        true
    }

    /// Reads the destinations record.
    fn load_destinations(
        &self,
    ) -> impl Future<Output = Result<DestinationState, StoreError>> + Send;

    /// Writes the destinations record if it is still at `state.version`.
    fn save_destinations(
        &self,
        state: &DestinationState,
    ) -> impl Future<Output = Result<u64, SaveError>> + Send;

    /// The end of a tick: a store that buffers writes makes them durable now.
    fn finish(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }
}

/// Several runners (overlapping ticks in tests, or the CLI and a bench) can share one store.
impl<T: StateStore> StateStore for std::sync::Arc<T> {
    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Loaded>, StoreError>> + Send {
        (**self).load(keys)
    }

    fn save(
        &self,
        key: &str,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> impl Future<Output = Result<u64, SaveError>> + Send {
        (**self).save(key, expected, record)
    }

    fn fits(&self, record: &ResourceRecord) -> bool {
        (**self).fits(record)
    }

    fn load_destinations(
        &self,
    ) -> impl Future<Output = Result<DestinationState, StoreError>> + Send {
        (**self).load_destinations()
    }

    fn save_destinations(
        &self,
        state: &DestinationState,
    ) -> impl Future<Output = Result<u64, SaveError>> + Send {
        (**self).save_destinations(state)
    }

    fn finish(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).finish()
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
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Loaded>, StoreError> {
        match self {
            AnyStore::Local(store) => store.load(keys).await,
            AnyStore::Dynamo(store) => store.load(keys).await,
        }
    }

    async fn save(
        &self,
        key: &str,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> Result<u64, SaveError> {
        match self {
            AnyStore::Local(store) => store.save(key, expected, record).await,
            AnyStore::Dynamo(store) => store.save(key, expected, record).await,
        }
    }

    fn fits(&self, record: &ResourceRecord) -> bool {
        match self {
            AnyStore::Local(store) => store.fits(record),
            AnyStore::Dynamo(store) => store.fits(record),
        }
    }

    async fn load_destinations(&self) -> Result<DestinationState, StoreError> {
        match self {
            AnyStore::Local(store) => store.load_destinations().await,
            AnyStore::Dynamo(store) => store.load_destinations().await,
        }
    }

    async fn save_destinations(&self, state: &DestinationState) -> Result<u64, SaveError> {
        match self {
            AnyStore::Local(store) => store.save_destinations(state).await,
            AnyStore::Dynamo(store) => store.save_destinations(state).await,
        }
    }

    async fn finish(&self) -> Result<(), StoreError> {
        match self {
            AnyStore::Local(store) => store.finish().await,
            AnyStore::Dynamo(store) => store.finish().await,
        }
    }
}
