//! The DynamoDB adapter of the state store: the Lambda's memory between runs.
//!
//! Selected by `STATE_TABLE` (the table `template.yaml` defines). It keeps the port's
//! contract exactly as the local store does: `load` answers for every name, `save` is
//! conditional on the version that was read, so overlapping runs can never both claim
//! the same notifications (ARCHITECTURE §7).
//!
//! # The item: one per resource
//!
//! | attribute    | type | holds |
//! | ------------ | ---- | ----- |
//! | `pk`         | S    | the stack's key (its name; `ACCOUNT/REGION/NAME` in hub mode), or `@destinations`; the table's only key |
//! | `schema`     | S    | `sync-notifier/2` (`sync-notifier/1` from release 0.1.0, still read): who wrote the item and in which layout |
//! | `version`    | N    | 1, 2, 3…: every write is conditional on the version read |
//! | `record`     | S    | the record as JSON ([`record`](super::record)): the recorded attempt and what was told of recent ones, the pending notifications with the destinations done with each, the lease, `expiresAt`, message threads |
//! | `expires_at` | N    | epoch seconds, the table's TTL attribute: renewed while the stack is checked, short once it vanished |
//!
//! **Why the record is JSON in one attribute** rather than native maps and lists: the
//! record is only ever read whole and written whole (a conditional `PutItem`); nothing
//! queries, filters or partly updates it. One attribute keeps one encoding for both
//! stores (the local store keeps the same JSON), so "does this parse?" has one answer
//! everywhere, old records parse through serde defaults, and there is no hand-written
//! `AttributeValue` mapping of nested notifications to get wrong. It is also smaller
//! than native attributes (no type tag per value), and the size is what DynamoDB bills.
//! What stays native is what DynamoDB itself must read: the key, the version in the
//! write condition, the schema marker, and the TTL attribute.
//!
//! **Reads** are `BatchGetItem`, 100 keys per call (DynamoDB's limit), strongly
//! consistent: a tick always decides from the latest state, so a push-triggered tick
//! seconds after a scheduled one sees what that one wrote instead of running into
//! conflicts; at one read unit per item (up to 4 KB) instead of half, the table still
//! costs a few dollars a month at 1,000 stacks (README). Keys DynamoDB leaves in
//! `UnprocessedKeys` (throttling, the 16 MB response limit) are asked again with
//! exponential backoff and jitter, a bounded number of times, then the load fails with
//! an error that says so; the next tick starts over.
//!
//! **Writes** are `PutItem` conditional on `attribute_not_exists(pk)` for a new record,
//! or on `version = :expected AND schema = :schema`; a failed condition is
//! [`SaveError::Conflict`]. Checking the schema too means even a caller that got the
//! version of a foreign item right could not overwrite it.
//!
//! **Foreign data**: an item without our schema marker, with a schema this build does not
//! read, or whose record does not parse, is [`Loaded::Unreadable`] with the reason. The
//! run reports it and never writes it. Items of `sync-notifier/1` (release 0.1.0) read as
//! they are and are written back as `sync-notifier/2`; a `sync-notifier/1` release reading
//! a `/2` item refuses it rather than lose what it cannot read.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use futures_util::StreamExt;

use super::record::{self, RecordError};
use super::{DESTINATIONS_KEY, DestinationState, Loaded, SaveError, StateStore, StoreError};
use crate::domain::ledger::ResourceRecord;

/// The schema marker this build writes.
pub const SCHEMA: &str = "sync-notifier/2";
/// Every marker this build reads (release 0.1.0 wrote `/1`; its record is a subset).
const READABLE: [&str; 2] = ["sync-notifier/1", SCHEMA];
/// Every marker this program ever writes starts with this.
const SCHEMA_PREFIX: &str = "sync-notifier/";

/// Attribute names (the key and TTL attribute are fixed by `template.yaml`).
pub const KEY: &str = "pk";
pub const SCHEMA_ATTRIBUTE: &str = "schema";
pub const VERSION_ATTRIBUTE: &str = "version";
pub const RECORD_ATTRIBUTE: &str = "record";
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// DynamoDB's limit of keys per `BatchGetItem`.
const BATCH_GET_LIMIT: usize = 100;
/// How many `BatchGetItem` calls a load runs at once.
const READ_CONCURRENCY: usize = 4;
/// DynamoDB refuses items over 400 KB (names and values); the other attributes of our
/// item are well under this margin.
const RECORD_LIMIT: usize = 399 * 1024;

type Item = HashMap<String, AttributeValue>;

/// How keys left in `UnprocessedKeys` are asked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnprocessedRetry {
    /// Calls per batch of 100 keys at most, the first one included.
    pub max_calls: u32,
    /// The wait before the second call; it doubles for each later one…
    pub first_delay: Duration,
    /// …up to this.
    pub max_delay: Duration,
}

impl Default for UnprocessedRetry {
    /// Eight calls over about 3.5 s at most: long enough to ride out a burst of
    /// throttling, short against the function's 50 s timeout.
    fn default() -> Self {
        UnprocessedRetry {
            max_calls: 8,
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl UnprocessedRetry {
    fn backoff(&self) -> crate::backoff::Backoff {
        crate::backoff::Backoff {
            first: self.first_delay,
            max: self.max_delay,
        }
    }
}

/// Why a DynamoDB call failed, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    #[error("DynamoDB {operation} on table {table} failed: {message}")]
    Call {
        operation: &'static str,
        table: String,
        /// The service's error code (`ResourceNotFoundException`, `AccessDeniedException`,
        /// `ProvisionedThroughputExceededException`…), when the service answered.
        code: Option<String>,
        message: String,
    },
    #[error(
        "DynamoDB left {left} of {requested} keys of table {table} unprocessed after {calls} BatchGetItem calls (the table is throttled or overloaded); the next tick tries again"
    )]
    Unprocessed {
        table: String,
        left: usize,
        requested: usize,
        calls: u32,
    },
    #[error(
        "the state of {resource} is {bytes} bytes of JSON, over DynamoDB's 400 KB item limit; it cannot be saved"
    )]
    TooLarge { resource: String, bytes: usize },
    #[error("the destinations record cannot be read: {0}")]
    Destinations(#[source] UnreadableItem),
    #[error("cannot build the DynamoDB request: {0}")]
    Request(String),
    #[error("cannot encode the state of {resource}: {source}")]
    Encode {
        resource: String,
        source: serde_json::Error,
    },
}

impl DynamoError {
    fn call<E>(
        operation: &'static str,
        table: &str,
        error: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        DynamoError::Call {
            operation,
            table: table.to_owned(),
            code: error.code().map(str::to_owned),
            message: crate::aws::describe(error),
        }
    }
}

/// State in a DynamoDB table. Built once per process from a client (which honours
/// `AWS_ENDPOINT_URL_DYNAMODB`) and the table name.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retry: UnprocessedRetry,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            retry: UnprocessedRetry::default(),
        }
    }

    /// Changes how unprocessed keys are retried.
    pub fn with_unprocessed_retry(mut self, retry: UnprocessedRetry) -> Self {
        self.retry = retry;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One `BatchGetItem` of at most 100 keys: the items found and the keys left
    /// unprocessed.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<(Vec<Item>, Vec<Item>), DynamoError> {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|error| DynamoError::Request(error.to_string()))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|error| DynamoError::call("BatchGetItem", &self.table, &error))?;
        let units: f64 = output
            .consumed_capacity()
            .iter()
            .filter_map(|capacity| capacity.capacity_units())
            .sum();
        let items = output
            .responses
            .and_then(|mut responses| responses.remove(&self.table))
            .unwrap_or_default();
        let unprocessed = output
            .unprocessed_keys
            .and_then(|mut unprocessed| unprocessed.remove(&self.table))
            .map(|request| request.keys)
            .unwrap_or_default();
        tracing::debug!(
            table = %self.table,
            items = items.len(),
            unprocessed = unprocessed.len(),
            read_units = units,
            "BatchGetItem"
        );
        Ok((items, unprocessed))
    }
}

/// Reads `keys` with `call` (one `BatchGetItem`), asking again for whatever comes back
/// unprocessed, with backoff, at most `retry.max_calls` calls in all.
async fn read_with_retries<F, Fut>(
    table: &str,
    keys: Vec<Item>,
    retry: UnprocessedRetry,
    mut call: F,
) -> Result<Vec<Item>, DynamoError>
where
    F: FnMut(Vec<Item>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<Item>, Vec<Item>), DynamoError>>,
{
    let requested = keys.len();
    let mut found = Vec::with_capacity(requested);
    let mut asking = keys;
    let mut calls = 0;
    while !asking.is_empty() {
        if calls >= retry.max_calls.max(1) {
            return Err(DynamoError::Unprocessed {
                table: table.to_owned(),
                left: asking.len(),
                requested,
                calls,
            });
        }
        calls += 1;
        if calls > 1 {
            // Call 2 is the first retry.
            let delay = retry.backoff().delay(calls - 1);
            tracing::debug!(
                %table,
                unprocessed = asking.len(),
                delay_ms = delay.as_millis() as u64,
                "asking DynamoDB again for unprocessed keys"
            );
            tokio::time::sleep(delay).await;
        }
        let (items, unprocessed) = call(asking).await?;
        found.extend(items);
        asking = unprocessed;
    }
    Ok(found)
}

fn key_of(key: &str) -> Item {
    HashMap::from([(KEY.to_owned(), AttributeValue::S(key.to_owned()))])
}

/// Why an item cannot be read as ours: it is another program's, another version's, or
/// lacks a member; or its record cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum UnreadableItem {
    #[error(
        "the stored item has schema {:?}, written by another version of sync-notifier; this one reads {}",
        shorten(.schema),
        READABLE.join(" and ")
    )]
    OtherVersion { schema: String },
    #[error(
        "the stored item was not written by sync-notifier (no \"{SCHEMA_ATTRIBUTE}\": {SCHEMA:?}; its attributes are {})",
        shorten(&.attributes.join(", "))
    )]
    Foreign {
        /// The item's attribute names, sorted.
        attributes: Vec<String>,
    },
    #[error("the stored item has no whole-number \"{VERSION_ATTRIBUTE}\"")]
    NoVersion,
    #[error("the stored item has no \"{RECORD_ATTRIBUTE}\" string")]
    NoRecord,
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Reads one item as ours (its version and record JSON), or says why it is not.
fn item_parts(item: &Item) -> Result<(u64, &str), UnreadableItem> {
    match item.get(SCHEMA_ATTRIBUTE) {
        Some(AttributeValue::S(schema)) if READABLE.contains(&schema.as_str()) => {}
        Some(AttributeValue::S(schema)) if schema.starts_with(SCHEMA_PREFIX) => {
            return Err(UnreadableItem::OtherVersion {
                schema: schema.clone(),
            });
        }
        _ => {
            let mut attributes: Vec<String> = item.keys().cloned().collect();
            attributes.sort_unstable();
            return Err(UnreadableItem::Foreign { attributes });
        }
    }
    let version = match item.get(VERSION_ATTRIBUTE) {
        Some(AttributeValue::N(number)) => number.parse::<u64>().ok(),
        _ => None,
    };
    let Some(version) = version else {
        return Err(UnreadableItem::NoVersion);
    };
    let Some(AttributeValue::S(json)) = item.get(RECORD_ATTRIBUTE) else {
        return Err(UnreadableItem::NoRecord);
    };
    Ok((version, json))
}

/// Reads one stack's item.
fn parse_item(item: &Item) -> Loaded {
    match item_parts(item).and_then(|(version, json)| Ok((version, record::decode(json)?))) {
        Ok((version, record)) => Loaded::Found { version, record },
        Err(error) => Loaded::Unreadable {
            reason: error.to_string(),
        },
    }
}

/// Keeps what a reason quotes from a foreign item short.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 120;
    if text.chars().count() <= LIMIT {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(LIMIT).collect();
    short.push('…');
    short
}

/// The item that stores `record` at `version`.
fn item_of(key: &str, version: u64, record: &ResourceRecord) -> Result<Item, DynamoError> {
    let json = record::encode(record).map_err(|source| DynamoError::Encode {
        resource: key.to_owned(),
        source,
    })?;
    if json.len() > RECORD_LIMIT {
        return Err(DynamoError::TooLarge {
            resource: key.to_owned(),
            bytes: json.len(),
        });
    }
    let mut item = key_of(key);
    item.insert(SCHEMA_ATTRIBUTE.into(), AttributeValue::S(SCHEMA.into()));
    item.insert(
        VERSION_ATTRIBUTE.into(),
        AttributeValue::N(version.to_string()),
    );
    item.insert(RECORD_ATTRIBUTE.into(), AttributeValue::S(json));
    if let Some(expires_at) = record.expires_at {
        // Whole seconds, rounded up: never expire before the record says.
        let seconds = expires_at.as_millis().div_euclid(1000)
            + i64::from(expires_at.as_millis().rem_euclid(1000) != 0);
        item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(seconds.to_string()));
    }
    Ok(item)
}

impl DynamoStore {
    /// Reads items by key, in batches of 100, four batches at a time.
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, Item>, DynamoError> {
        // BatchGetItem refuses a request that names a key twice.
        let mut seen = HashSet::with_capacity(keys.len());
        let unique: Vec<&String> = keys.iter().filter(|key| seen.insert(*key)).collect();
        let batches: Vec<Vec<Item>> = unique
            .chunks(BATCH_GET_LIMIT)
            .map(|chunk| chunk.iter().map(|key| key_of(key)).collect())
            .collect();
        let mut reads = futures_util::stream::iter(batches)
            .map(|keys| {
                read_with_retries(&self.table, keys, self.retry, |keys| self.batch_get(keys))
            })
            .buffer_unordered(READ_CONCURRENCY);
        let mut found = HashMap::with_capacity(unique.len());
        while let Some(items) = reads.next().await {
            for item in items? {
                match item.get(KEY) {
                    Some(AttributeValue::S(key)) if seen.contains(key) => {
                        found.insert(key.clone(), item);
                    }
                    _ => {
                        tracing::warn!(table = %self.table, "BatchGetItem returned an item that was not asked for; ignored")
                    }
                }
            }
        }
        Ok(found)
    }

    /// A conditional `PutItem` of `item` (which holds `version`): on a new key, or on the
    /// version read (and one of our schemas).
    async fn put(&self, key: &str, expected: Option<u64>, item: Item) -> Result<(), SaveError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let request = match expected {
            None => request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", KEY),
            Some(expected) => request
                .condition_expression("#version = :expected AND #schema IN (:old, :schema)")
                .expression_attribute_names("#version", VERSION_ATTRIBUTE)
                .expression_attribute_names("#schema", SCHEMA_ATTRIBUTE)
                .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
                .expression_attribute_values(":old", AttributeValue::S(READABLE[0].into()))
                .expression_attribute_values(":schema", AttributeValue::S(SCHEMA.into())),
        };
        match request.send().await {
            Ok(output) => {
                tracing::debug!(
                    key,
                    write_units = output
                        .consumed_capacity()
                        .and_then(|capacity| capacity.capacity_units()),
                    "PutItem"
                );
                Ok(())
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_conditional_check_failed_exception()) =>
            {
                Err(SaveError::Conflict)
            }
            Err(error) => {
                Err(
                    StoreError::from_adapter(DynamoError::call("PutItem", &self.table, &error))
                        .into(),
                )
            }
        }
    }
}

fn next_version(key: &str, expected: Option<u64>) -> Result<u64, SaveError> {
    match expected {
        None => Ok(1),
        Some(expected) => expected.checked_add(1).ok_or_else(|| {
            StoreError::from_adapter(DynamoError::Request(format!(
                "the version of {key} cannot go past {expected}"
            )))
            .into()
        }),
    }
}

impl StateStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table, keys = keys.len()))]
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Loaded>, StoreError> {
        let found = self.read(keys).await.map_err(StoreError::from_adapter)?;
        Ok(keys
            .iter()
            .map(|key| {
                let loaded = found.get(key).map_or(Loaded::Missing, parse_item);
                (key.clone(), loaded)
            })
            .collect())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table, key, expected = ?expected))]
    async fn save(
        &self,
        key: &str,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> Result<u64, SaveError> {
        let version = next_version(key, expected)?;
        let item = item_of(key, version, record).map_err(StoreError::from_adapter)?;
        self.put(key, expected, item).await?;
        Ok(version)
    }

    fn fits(&self, record: &ResourceRecord) -> bool {
        record::encode(record).is_ok_and(|json| json.len() <= RECORD_LIMIT)
    }

    async fn load_destinations(&self) -> Result<DestinationState, StoreError> {
        let keys = [DESTINATIONS_KEY.to_owned()];
        let found = self.read(&keys).await.map_err(StoreError::from_adapter)?;
        let Some(item) = found.get(DESTINATIONS_KEY) else {
            return Ok(DestinationState::default());
        };
        let unreadable =
            |error: UnreadableItem| StoreError::from_adapter(DynamoError::Destinations(error));
        let (version, json) = item_parts(item).map_err(unreadable)?;
        let quiet = record::decode_destinations(json).map_err(|error| unreadable(error.into()))?;
        Ok(DestinationState {
            version: Some(version),
            quiet,
        })
    }

    async fn save_destinations(&self, state: &DestinationState) -> Result<u64, SaveError> {
        let version = next_version(DESTINATIONS_KEY, state.version)?;
        let json = record::encode_destinations(&state.quiet).map_err(|source| {
            StoreError::from_adapter(DynamoError::Encode {
                resource: DESTINATIONS_KEY.into(),
                source,
            })
        })?;
        let mut item = key_of(DESTINATIONS_KEY);
        item.insert(SCHEMA_ATTRIBUTE.into(), AttributeValue::S(SCHEMA.into()));
        item.insert(
            VERSION_ATTRIBUTE.into(),
            AttributeValue::N(version.to_string()),
        );
        item.insert(RECORD_ATTRIBUTE.into(), AttributeValue::S(json));
        self.put(DESTINATIONS_KEY, state.version, item).await?;
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use std::sync::Mutex;

    fn keys(count: usize) -> Vec<Item> {
        (0..count)
            .map(|index| key_of(&format!("stack-{index}")))
            .collect()
    }

    fn quick(max_calls: u32) -> UnprocessedRetry {
        UnprocessedRetry {
            max_calls,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[test]
    fn unprocessed_keys_back_off_from_50_ms_to_1_s() {
        let backoff = UnprocessedRetry::default().backoff();
        let ceilings: Vec<u128> = (1..=7)
            .map(|retry| backoff.ceiling(retry).as_millis())
            .collect();
        assert_eq!(ceilings, [50, 100, 200, 400, 800, 1000, 1000]);
    }

    #[tokio::test]
    async fn unprocessed_keys_are_asked_again_until_none_is_left() {
        // Each call serves two keys and hands the rest back as unprocessed.
        let asked = Mutex::new(Vec::new());
        let found = read_with_retries("state", keys(5), quick(8), |keys: Vec<Item>| {
            asked.lock().unwrap().push(keys.len());
            let (served, left) = keys.split_at(keys.len().min(2));
            let result = Ok((served.to_vec(), left.to_vec()));
            async move { result }
        })
        .await
        .unwrap();
        assert_eq!(found.len(), 5);
        assert_eq!(*asked.lock().unwrap(), [5, 3, 1]);
    }

    #[tokio::test]
    async fn keys_still_unprocessed_after_the_last_call_are_a_clear_error() {
        let calls = Mutex::new(0);
        let error = read_with_retries("state", keys(3), quick(4), |keys: Vec<Item>| {
            *calls.lock().unwrap() += 1;
            // Serves one key the first time, then nothing: a table throttled for good.
            let first = *calls.lock().unwrap() == 1;
            let (served, left) = keys.split_at(usize::from(first));
            let result = Ok((served.to_vec(), left.to_vec()));
            async move { result }
        })
        .await
        .unwrap_err();
        assert_eq!(*calls.lock().unwrap(), 4);
        assert!(matches!(
            error,
            DynamoError::Unprocessed {
                left: 2,
                requested: 3,
                calls: 4,
                ..
            }
        ));
        let message = error.to_string();
        assert!(message.contains("2 of 3 keys of table state"), "{message}");
        assert!(message.contains("after 4 BatchGetItem calls"), "{message}");
    }

    #[tokio::test]
    async fn a_failed_call_ends_the_read_with_its_error() {
        let error = read_with_retries("state", keys(1), quick(8), |_keys: Vec<Item>| async {
            Err(DynamoError::Call {
                operation: "BatchGetItem",
                table: "state".into(),
                code: Some("AccessDeniedException".into()),
                message: "not allowed".into(),
            })
        })
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("BatchGetItem on table state failed")
        );
    }

    fn record() -> ResourceRecord {
        let json = serde_json::json!({
            "state": {
                "attempt": {
                    "startedAt": 1_795_687_800_000_i64,
                    "status": "SUCCEEDED",
                    "target": "app-stack",
                    "initialRevision": {"providerType": "GitHub", "ownerId": "acme", "repositoryName": "infra", "branch": "main", "directory": "app.yaml", "sha": "a1"},
                    "targetRevision": {"providerType": "GitHub", "ownerId": "acme", "repositoryName": "infra", "branch": "main", "directory": "app.yaml", "sha": "b2"}
                },
                "notified": ["sync.succeeded"]
            }
        });
        record::decode(&json.to_string()).unwrap()
    }

    #[test]
    fn an_item_round_trips_and_carries_the_ttl_in_seconds() {
        let name = "app-stack";
        let mut record = record();
        record.expires_at = Some(Timestamp::from_millis(1_795_687_800_001));
        let item = item_of(name, 7, &record).unwrap();
        assert_eq!(item[TTL_ATTRIBUTE], AttributeValue::N("1795687801".into()));
        assert_eq!(item[KEY], AttributeValue::S("app-stack".into()));
        assert_eq!(parse_item(&item), Loaded::Found { version: 7, record });
    }

    #[test]
    fn foreign_and_other_schema_items_are_unreadable_with_the_reason() {
        let name = "app-stack";
        let ours = item_of(name, 1, &record()).unwrap();
        let reason = |item: &Item| match parse_item(item) {
            Loaded::Unreadable { reason } => reason,
            other => panic!("expected unreadable, got {other:?}"),
        };

        let mut foreign = key_of(name);
        foreign.insert("owner".into(), AttributeValue::S("team-x".into()));
        let text = reason(&foreign);
        assert!(text.contains("not written by sync-notifier"), "{text}");
        assert!(text.contains("owner, pk"), "{text}");

        let mut newer = ours.clone();
        newer.insert(
            SCHEMA_ATTRIBUTE.into(),
            AttributeValue::S("sync-notifier/3".into()),
        );
        assert!(reason(&newer).contains("another version of sync-notifier"));

        let mut first_release = ours.clone();
        first_release.insert(
            SCHEMA_ATTRIBUTE.into(),
            AttributeValue::S("sync-notifier/1".into()),
        );
        assert!(matches!(parse_item(&first_release), Loaded::Found { .. }));

        let mut no_version = ours.clone();
        no_version.insert(VERSION_ATTRIBUTE.into(), AttributeValue::S("1".into()));
        assert!(reason(&no_version).contains("whole-number \"version\""));

        let mut garbled = ours.clone();
        garbled.insert(
            RECORD_ATTRIBUTE.into(),
            AttributeValue::S("{\"state\": 3}".into()),
        );
        assert!(reason(&garbled).contains("does not parse"));
    }

    #[test]
    fn a_record_over_the_item_limit_is_refused_with_its_size() {
        let name = "app-stack";
        let mut record = record();
        record.state.attempt.target = "x".repeat(400 * 1024);
        let error = item_of(name, 1, &record).unwrap_err();
        assert!(error.to_string().contains("400 KB item limit"), "{error}");
    }
}
