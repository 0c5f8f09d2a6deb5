//! One tick: resolve → fetch → load → decide → deliver → save (ARCHITECTURE §2).
//!
//! The same [`Runner`] serves the Lambda handler, `check` and `replay`; only the
//! adapters it is built with differ.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::join_all;
use serde::Serialize;

use crate::config::{Config, KindSet, Watch};
use crate::domain::{Notification, ResourceName, ResourceStatus, Timestamp, decide};
use crate::notify::{DeliveryError, Destination, Notifier};
use crate::source::{SourceError, SourceErrorKind, StatusSource};
use crate::store::{
    Lease, Loaded, PendingNotification, ResourceRecord, SaveError, StateStore, StoreError,
};

/// The parts of the configuration a tick uses.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub watch: Watch,
    pub notify_on: KindSet,
    pub fetch_concurrency: usize,
    pub retention: Duration,
    pub lease: Duration,
    /// How long the record of a resource that is no longer found is kept (DynamoDB TTL).
    pub vanished_ttl: Duration,
}

impl RunSettings {
    /// Long enough to outlast a sync configuration deleted and re-created, short enough
    /// that a stack deleted for good does not linger in the table.
    pub const DEFAULT_VANISHED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

    /// How long the record of a stack that nobody checks any more is kept: a stack dropped
    /// from `WATCH_RESOURCES` or from discovery is never read again, so its record simply
    /// runs out (DynamoDB TTL). Checked stacks have theirs renewed when a third of it is
    /// left: one write per stack every 60 days, never on a tick that renews nothing.
    pub const IDLE_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
}

impl From<&Config> for RunSettings {
    fn from(config: &Config) -> Self {
        RunSettings {
            watch: config.watch.clone(),
            notify_on: config.notify_on,
            fetch_concurrency: config.fetch_concurrency,
            retention: config.retention,
            lease: config.lease,
            vanished_ttl: RunSettings::DEFAULT_VANISHED_TTL,
        }
    }
}

/// A failure of the whole tick (per-resource failures are in the [`Summary`] instead).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not discover the watched resources: {0}")]
    Discovery(SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a tick did, returned to the invoker and logged as one JSON line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub resources_checked: usize,
    /// Resources seen for the first time: a baseline was recorded, nothing was told.
    pub baselines: usize,
    pub transitions: Vec<TransitionSummary>,
    pub deliveries: DeliveryCounts,
    pub failures: Vec<ResourceProblem>,
    /// Resources left for a later tick: another run holds them, or time ran out.
    pub deferred: Vec<ResourceProblem>,
    /// Resources no longer found that have a record: it is kept until a TTL, and
    /// revived if they come back (they are also in `failures`).
    pub vanished: Vec<ResourceProblem>,
    pub state_writes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionSummary {
    pub resource: String,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub id: String,
    /// False when `NOTIFY_ON` leaves this kind out.
    pub notify: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryCounts {
    pub delivered: usize,
    /// Failed this time; kept pending for the next tick.
    pub retrying: usize,
    /// Refused for good by a destination (400/403/404/410).
    pub refused: usize,
    /// Undelivered for longer than the retention, and dropped.
    pub expired: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceProblem {
    pub resource: String,
    pub reason: String,
}

pub struct Runner<S, T> {
    source: S,
    store: T,
    destinations: Vec<Destination>,
    settings: RunSettings,
    /// Distinguishes this process's leases from every other's (processes in different
    /// Lambda sandboxes often share a pid).
    process_tag: u64,
    ticks: AtomicU64,
}

/// What happened to one resource in a tick.
#[derive(Default)]
struct Outcome {
    baseline: bool,
    transitions: Vec<TransitionSummary>,
    deliveries: DeliveryCounts,
    failure: Option<String>,
    deferred: Option<String>,
    vanished: Option<String>,
    writes: usize,
}

impl<S: StatusSource, T: StateStore> Runner<S, T> {
    pub fn new(source: S, store: T, destinations: Vec<Destination>, settings: RunSettings) -> Self {
        let process_tag = fastrand::u64(..);
        Runner {
            source,
            store,
            destinations,
            settings,
            process_tag,
            ticks: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &T {
        &self.store
    }

    pub fn destination_count(&self) -> usize {
        self.destinations.len()
    }

    /// Checks `resources` (or the configured ones) once. `deadline`: stop starting new
    /// work after it; what is left waits for the next tick.
    #[tracing::instrument(level = "info", skip_all)]
    pub async fn tick(
        &self,
        resources: Option<Vec<ResourceName>>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Summary, RunError> {
        let tick_number = self.ticks.fetch_add(1, Ordering::Relaxed);
        let owner = format!("{:016x}-{tick_number}", self.process_tag);
        for destination in &self.destinations {
            destination.begin_run(deadline);
        }

        let mut names = match resources {
            Some(names) => names,
            None => match &self.settings.watch {
                Watch::Resources(names) => names.clone(),
                Watch::Discover => self.source.discover().await.map_err(RunError::Discovery)?,
            },
        };
        // A name asked for twice is checked once.
        let mut seen = std::collections::HashSet::new();
        names.retain(|name| seen.insert(name.clone()));

        let concurrency = self.settings.fetch_concurrency.max(1);
        let past_deadline =
            || deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline);
        // A resource left out because time ran out has no entry: it is deferred below.
        let mut statuses: HashMap<ResourceName, Result<ResourceStatus, SourceError>> =
            futures_util::stream::iter(names.iter().cloned())
                .filter(|_| std::future::ready(!past_deadline()))
                .map(|name| async move {
                    let status = self.source.fetch(&name).await;
                    (name, status)
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;

        let mut loaded = self.store.load(&names).await?;
        let now = Timestamp::now();

        let outcomes: Vec<(ResourceName, Outcome)> =
            futures_util::stream::iter(names.iter().cloned())
                .map(|name| {
                    let status = statuses.remove(&name);
                    let record = loaded.remove(&name).unwrap_or(Loaded::Missing);
                    let owner = owner.as_str();
                    async move {
                        let outcome = match status {
                            Some(status) if !past_deadline() => {
                                self.process(&name, status, record, now, owner).await
                            }
                            _ => Outcome {
                                deferred: Some(
                                    "the invocation is about to time out; left for the next tick"
                                        .into(),
                                ),
                                ..Outcome::default()
                            },
                        };
                        (name, outcome)
                    }
                })
                .buffered(concurrency)
                .collect()
                .await;

        let mut summary = Summary {
            resources_checked: names.len(),
            ..Summary::default()
        };
        for (name, outcome) in outcomes {
            summary.transitions.extend(outcome.transitions);
            summary.deliveries.delivered += outcome.deliveries.delivered;
            summary.deliveries.retrying += outcome.deliveries.retrying;
            summary.deliveries.refused += outcome.deliveries.refused;
            summary.deliveries.expired += outcome.deliveries.expired;
            summary.state_writes += outcome.writes;
            summary.baselines += usize::from(outcome.baseline);
            if let Some(reason) = outcome.failure {
                tracing::warn!(resource = %name, %reason, "resource check failed; its recorded state is kept");
                summary.failures.push(ResourceProblem {
                    resource: name.to_string(),
                    reason,
                });
            }
            if let Some(reason) = outcome.deferred {
                summary.deferred.push(ResourceProblem {
                    resource: name.to_string(),
                    reason,
                });
            }
            if let Some(reason) = outcome.vanished {
                summary.vanished.push(ResourceProblem {
                    resource: name.to_string(),
                    reason,
                });
            }
        }
        Ok(summary)
    }

    async fn process(
        &self,
        name: &ResourceName,
        status: Result<ResourceStatus, SourceError>,
        loaded: Loaded,
        now: Timestamp,
        owner: &str,
    ) -> Outcome {
        let (version, previous) = match loaded {
            // Rule 8 and foreign data: report, keep what is recorded, write nothing.
            Loaded::Unreadable { reason } => {
                return Outcome {
                    failure: Some(format!("{reason}; the stored item is left untouched")),
                    ..Outcome::default()
                };
            }
            Loaded::Missing => (None, None),
            Loaded::Found { version, record } => (Some(version), Some(record)),
        };
        // The state to record and what is new to tell. A failed check (rule 8) keeps the
        // recorded state, but notifications already decided still go out: a destination
        // that was down must not wait for the stack's checks to work again.
        let (state, notifications, mut outcome) = match status {
            Ok(current) => {
                let decision = decide(
                    name,
                    previous.as_ref().map(|record| &record.state),
                    &current,
                    now,
                );
                let outcome = Outcome {
                    baseline: previous.is_none(),
                    ..Outcome::default()
                };
                (decision.state, decision.notifications, outcome)
            }
            Err(error) => {
                let mut outcome = Outcome {
                    failure: Some(error.to_string()),
                    ..Outcome::default()
                };
                match previous.as_ref() {
                    // Whatever the failure, even not found: what was decided before still
                    // goes out (a vanished stack gets its expiry once nothing is pending).
                    Some(record) if !record.pending.is_empty() => {
                        (record.state.clone(), Vec::new(), outcome)
                    }
                    _ => {
                        if let (SourceErrorKind::NotFound, Some(record)) = (error.kind, previous) {
                            self.expire(name, version, record, now, &mut outcome).await;
                        }
                        return outcome;
                    }
                }
            }
        };
        let checked = outcome.failure.is_none();

        let mut pending = previous
            .as_ref()
            .map(|record| record.pending.clone())
            .unwrap_or_default();
        for notification in notifications {
            let notify = self.settings.notify_on.contains(notification.kind);
            outcome.transitions.push(TransitionSummary {
                resource: name.to_string(),
                event_type: notification.kind.event_type(),
                id: notification.id.clone(),
                notify,
            });
            if notify {
                // The destinations it is for, so a process configured with fewer (a `check`
                // on the function's table) never counts it delivered on their behalf.
                let targets = self
                    .destinations
                    .iter()
                    .filter(|destination| {
                        destination.is_durable() && destination.accepts(&notification)
                    })
                    .map(|destination| destination.key().to_owned())
                    .collect();
                pending.push(PendingNotification {
                    notification,
                    done: Vec::new(),
                    targets,
                });
            }
        }
        let retention_ms = i64::try_from(self.settings.retention.as_millis()).unwrap_or(i64::MAX);
        // Reported only once a write has dropped them (a run that loses the write drops nothing).
        let (expired, mut pending): (Vec<_>, Vec<_>) = pending.into_iter().partition(|item| {
            now.as_millis() - item.notification.detected_at.as_millis() > retention_ms
        });
        let report_expired = |outcome: &mut Outcome| {
            for item in &expired {
                tracing::error!(
                    resource = %name,
                    notification_id = %item.notification.id,
                    event_type = item.notification.kind.event_type(),
                    delivered_to = ?item.done,
                    "dropping a notification undelivered for longer than the retention"
                );
            }
            outcome.deliveries.expired += expired.len();
        };
        pending.retain(|item| !self.is_complete(item));

        let previous_expiry = previous.as_ref().and_then(|record| record.expires_at);
        let mut record = ResourceRecord {
            state,
            pending,
            lease: previous.as_ref().and_then(|record| record.lease.clone()),
            expires_at: if checked {
                Some(self.renewed_expiry(previous_expiry, now))
            } else {
                previous_expiry
            },
        };

        if record.pending.is_empty() {
            record.lease = None;
            if previous.as_ref() != Some(&record) {
                match self.store.save(name, version, &record).await {
                    Ok(_) => {
                        outcome.writes += 1;
                        report_expired(&mut outcome);
                    }
                    Err(error) => Self::lost_write(&mut outcome, error),
                }
            }
            return outcome;
        }

        // Claim: only the run whose conditional write succeeds delivers. The lease counts
        // from now, not from the start of the tick: stacks claimed late get all of it.
        let claim_time = Timestamp::now();
        if let Some(lease) = &record.lease
            && lease.until > claim_time
        {
            outcome.transitions.clear();
            outcome.deferred = Some(format!(
                "another run is delivering its notifications until {}",
                lease.until
            ));
            return outcome;
        }
        let lease_ms = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        record.lease = Some(Lease {
            owner: owner.to_owned(),
            until: claim_time.plus_millis(lease_ms),
        });
        let claimed = match self.store.save(name, version, &record).await {
            Ok(claimed) => {
                report_expired(&mut outcome);
                claimed
            }
            Err(error) => {
                outcome.transitions.clear();
                Self::lost_write(&mut outcome, error);
                return outcome;
            }
        };
        outcome.writes += 1;

        self.deliver(name, &mut record.pending, &mut outcome.deliveries)
            .await;
        record.pending.retain(|item| !self.is_complete(item));
        record.lease = None;
        match self.store.save(name, Some(claimed), &record).await {
            Ok(_) => outcome.writes += 1,
            Err(error) => {
                // Our lease outlived itself and another run took over; it will redo
                // what we could not record (a receiver may see one repeat, same id).
                tracing::warn!(resource = %name, %error, "could not record deliveries");
                outcome.failure = Some(format!("could not record deliveries: {error}"));
            }
        }
        outcome
    }

    /// A resource that is no longer found keeps its record (rule 8) with a TTL, written
    /// once: later ticks that still do not find it write nothing.
    async fn expire(
        &self,
        name: &ResourceName,
        version: Option<u64>,
        mut record: ResourceRecord,
        now: Timestamp,
        outcome: &mut Outcome,
    ) {
        let ttl_ms = i64::try_from(self.settings.vanished_ttl.as_millis()).unwrap_or(i64::MAX);
        // Already counting down (the long idle expiry of a checked stack does not count).
        let counting_down = record
            .expires_at
            .filter(|expires_at| *expires_at <= now.plus_millis(ttl_ms));
        let expires_at = match counting_down {
            Some(expires_at) => expires_at,
            // Writing now would take the record from under the run delivering its
            // notifications (its final write would then fail, and they would go out again).
            None if record.lease.as_ref().is_some_and(|lease| lease.until > now) => {
                outcome.vanished = Some(
                    "not found; its expiry is recorded once the run delivering its notifications is done"
                        .into(),
                );
                return;
            }
            None => {
                let expires_at = now.plus_millis(ttl_ms);
                record.expires_at = Some(expires_at);
                match self.store.save(name, version, &record).await {
                    Ok(_) => {
                        outcome.writes += 1;
                        tracing::info!(resource = %name, %expires_at, "resource not found; its record expires unless it comes back");
                    }
                    // Another run got there first; the next tick sees what it wrote.
                    Err(SaveError::Conflict) => {}
                    Err(SaveError::Store(error)) => {
                        outcome.failure = outcome.failure.take().map(|failure| {
                            format!("{failure}; and its expiry could not be recorded: {error}")
                        });
                        return;
                    }
                }
                expires_at
            }
        };
        outcome.vanished = Some(format!(
            "not found; its record is kept until {expires_at} and revived if it comes back"
        ));
    }

    /// The expiry of a checked stack's record: kept while more than a third of
    /// [`RunSettings::IDLE_TTL`] is left (so a quiet tick writes nothing), renewed to the
    /// whole of it otherwise. A vanished stack's shorter expiry is always renewed once it
    /// is found again.
    fn renewed_expiry(&self, previous: Option<Timestamp>, now: Timestamp) -> Timestamp {
        let millis = |duration: Duration| i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        let renew_below = now
            .plus_millis(millis(RunSettings::IDLE_TTL / 3).max(millis(self.settings.vanished_ttl)));
        match previous {
            Some(expiry) if expiry > renew_below => expiry,
            _ => now.plus_millis(millis(RunSettings::IDLE_TTL)),
        }
    }

    fn lost_write(outcome: &mut Outcome, error: SaveError) {
        match error {
            SaveError::Conflict => {
                outcome.deferred =
                    Some("another run changed this resource first; it handles the change".into());
            }
            SaveError::Store(error) => outcome.failure = Some(error.to_string()),
        }
    }

    /// Done when every configured destination that wants it has it (or refused it for good).
    /// ...and every destination it was decided for has it too, even one this process does
    /// not have (a `check` without the function's secret leaves those to the function; a
    /// destination removed for good lets it run out at the retention, with an error).
    fn is_complete(&self, item: &PendingNotification) -> bool {
        let done = |key: &str| item.done.iter().any(|done| done == key);
        self.destinations
            .iter()
            .filter(|destination| destination.accepts(&item.notification))
            .all(|destination| done(destination.key()))
            && item.targets.iter().all(|key| done(key))
    }

    /// Sends pending notifications, oldest first. Each destination goes at its own pace;
    /// a destination that fails stops there, so it never receives them out of order.
    async fn deliver(
        &self,
        name: &ResourceName,
        pending: &mut [PendingNotification],
        counts: &mut DeliveryCounts,
    ) {
        let snapshot: Vec<(Notification, Vec<String>)> = pending
            .iter()
            .map(|item| (item.notification.clone(), item.done.clone()))
            .collect();
        let per_destination = join_all(self.destinations.iter().map(|destination| {
            let snapshot = &snapshot;
            async move {
                let mut results = Vec::new();
                for (index, (notification, done)) in snapshot.iter().enumerate() {
                    if !destination.accepts(notification)
                        || done.iter().any(|key| key == destination.key())
                    {
                        continue;
                    }
                    let result = destination.send(notification).await;
                    let stop = matches!(result, Err(DeliveryError::Retry(_)));
                    results.push((index, result));
                    if stop {
                        break;
                    }
                }
                (destination.key(), results)
            }
        }))
        .await;

        for (key, results) in per_destination {
            for (index, result) in results {
                let notification = &pending[index].notification;
                match result {
                    Ok(()) => {
                        counts.delivered += 1;
                        tracing::info!(resource = %name, destination = key, notification_id = %notification.id, event_type = notification.kind.event_type(), "delivered");
                        pending[index].done.push(key.to_owned());
                    }
                    Err(DeliveryError::Permanent(reason)) => {
                        counts.refused += 1;
                        tracing::error!(resource = %name, destination = key, notification_id = %notification.id, %reason, "destination refused the notification for good");
                        pending[index].done.push(key.to_owned());
                    }
                    Err(DeliveryError::Retry(reason)) => {
                        counts.retrying += 1;
                        tracing::warn!(resource = %name, destination = key, notification_id = %notification.id, %reason, "delivery failed; will retry next tick");
                    }
                }
            }
        }
    }
}
