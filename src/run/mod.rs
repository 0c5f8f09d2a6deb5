//! One tick: resolve → fetch → load → decide → deliver → save (ARCHITECTURE §2).
//!
//! The tick is a pipeline, so it runs at the speed of its slowest dependency rather than
//! the sum of them: discovery runs ahead into a bounded queue; status calls start as soon
//! as its first page arrives, and on a warm invocation at once, for the first stacks the
//! last tick found (each decided only once discovery names it again); stacks are read
//! from the store in batches of up to 100 (one `BatchGetItem` each; a shorter batch only
//! when the status calls would otherwise wait); each batch's read runs alongside its
//! status calls; a stack is decided and delivered the moment both are in. How stacks
//! become batches, and the warm tick's guesses, are in `feed.rs`. At most
//! `FETCH_CONCURRENCY` status calls are in flight, and at most [`BATCHES_IN_FLIGHT`]
//! batches (and the guesses) are held in memory, whatever the size of the fleet.
//!
//! What to do with each stack is decided by the pure core ([`decide`], then the
//! [`ledger`]); this file only sequences the I/O: load, decide and plan, claim, send,
//! settle each delivery as it succeeds, release. The same [`Runner`] serves the Lambda
//! handler, `check` and `replay`; only the adapters it is built with differ.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::stream::{BoxStream, FuturesUnordered};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{OnceCell, Semaphore};
use tokio::time::Instant;

mod deliver;
mod feed;
mod summary;

pub use summary::{DeliveryCounts, ResourceProblem, Summary, TransitionSummary};
use summary::{Outcome, push_listed};

use crate::config::{Config, Watch};
use crate::domain::ledger::{self, Claim, Pending, Policy, Recipient, ResourceRecord, Vanish};
use crate::domain::{
    Blocker, Decision, KindSet, ResourceName, ResourceStatus, Rules, StackRef, SyncStatus,
    Timestamp, decide,
};
use crate::notify::{Destination, Gate};
use crate::source::{Discovered, SourceError, SourceErrorKind, StatusSource};
use crate::store::{Loaded, SaveError, StateStore, StoreError};

/// Stacks per state read (DynamoDB's `BatchGetItem` limit).
pub const BATCH: usize = 100;
/// Batches a tick works on at once: enough to keep every status call slot busy while a
/// batch's last stacks finish, few enough that memory stays flat as the fleet grows.
pub const BATCHES_IN_FLIGHT: usize = 3;
/// Every stack's blockers are read at least this often (rule 9).
const SWEEP_PERIOD: i64 = 3600;

/// The parts of the configuration a tick uses.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub watch: Watch,
    pub notify_on: KindSet,
    pub fetch_concurrency: usize,
    pub policy: Policy,
    pub rules: Rules,
    /// How far back a process's first scheduled tick looks for stacks due their hourly
    /// blocker read (later ticks look back to the previous one). Each stack has its own
    /// second of the hour, so with ticks this far apart every stack is read once an hour,
    /// spread over the ticks; an hour reads every stack at once.
    pub first_sweep_window: Duration,
}

impl RunSettings {
    /// A tick and a half of the schedule, so a slightly late tick misses no stack; an hour
    /// (every stack at once) when the schedule is unknown, as for a one-off `check`.
    pub fn first_sweep_window(schedule_interval: Option<Duration>) -> Duration {
        let hour = Duration::from_secs(SWEEP_PERIOD as u64);
        schedule_interval.map_or(hour, |interval| (interval * 3 / 2).min(hour))
    }
}

impl From<&Config> for RunSettings {
    fn from(config: &Config) -> Self {
        RunSettings {
            watch: config.watch.clone(),
            notify_on: config.notify_on,
            fetch_concurrency: config.fetch_concurrency,
            policy: Policy {
                retention: config.retention,
                lease: config.lease,
                idle_ttl: Policy::DEFAULT_IDLE_TTL,
                vanished_ttl: Policy::DEFAULT_VANISHED_TTL,
            },
            rules: config.rules(),
            first_sweep_window: RunSettings::first_sweep_window(config.schedule_interval),
        }
    }
}

/// A failure of the whole tick (per-stack failures are in the [`Summary`] instead).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not discover the watched resources: {0}")]
    Discovery(SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a tick is asked to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every watched stack (the schedule): `WATCH_RESOURCES`, or discovery. Blockers are
    /// swept on these ticks.
    Watched,
    /// These stacks (an event, a manual check).
    Stacks(Vec<StackRef>),
}

/// One tick's request.
#[derive(Debug, Clone)]
pub struct Tick {
    pub scope: Scope,
    /// Abandon what is still in flight at this instant (its stacks keep their state).
    pub deadline: Option<Instant>,
    /// The tick's clock (stuck detection, retention, message times); the wall clock
    /// when `None`.
    pub now: Option<Timestamp>,
}

impl Tick {
    pub fn watched() -> Tick {
        Tick {
            scope: Scope::Watched,
            deadline: None,
            now: None,
        }
    }
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
    /// Stacks the last tick left unfinished: the next one serves them first.
    deferred: Mutex<Vec<StackRef>>,
    /// When this process last swept blockers: the next sweep covers the time since.
    last_sweep: Mutex<Option<Timestamp>>,
    /// The first [`BATCH`] stacks the last discovery found, in its order: the next one
    /// starts on them before discovery answers (see `feed.rs`).
    first_found: Mutex<Vec<StackRef>>,
}

/// One tick's shared state.
struct TickState<'t> {
    now: Timestamp,
    owner: String,
    deadline: Option<Instant>,
    sweep: Option<(i64, i64)>,
    permits: Semaphore,
    /// Stacks handed to the pipeline that wait for a status-call slot.
    waiting: feed::Waiting,
    /// Stacks started on before discovery named them.
    unconfirmed: feed::Unconfirmed,
    gates: OnceCell<HashMap<String, Gate>>,
    summary: Mutex<Summary>,
    /// Stacks being worked on, for the deadline to defer.
    in_flight: Mutex<HashSet<StackRef>>,
    store_error: Mutex<Option<StoreError>>,
    discovery_error: Mutex<Option<SourceError>>,
    recipients: &'t [Recipient<'t>],
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere: the data is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TickState<'_> {
    fn record(&self, stack: &StackRef, outcome: Outcome) {
        lock(&self.in_flight).remove(stack);
        let mut summary = lock(&self.summary);
        let resource = stack.key();
        summary.resources_checked += usize::from(outcome.checked);
        summary.baselines += usize::from(outcome.baseline);
        summary.transitions.extend(outcome.transitions);
        summary.deliveries.delivered += outcome.deliveries.delivered;
        summary.deliveries.retrying += outcome.deliveries.retrying;
        summary.deliveries.refused += outcome.deliveries.refused;
        summary.deliveries.expired += outcome.deliveries.expired;
        summary.state_writes += outcome.writes;
        summary.blocker_checks += outcome.blocker_checks;
        if let Some(reason) = outcome.failure {
            tracing::warn!(resource = %resource, %reason, "resource check failed; its recorded state is kept");
            summary.failure_count += 1;
            push_listed(&mut summary.failures, resource.clone(), reason);
        }
        if let Some(reason) = outcome.deferred {
            summary.deferred_count += 1;
            push_listed(&mut summary.deferred, resource.clone(), reason);
        }
        if let Some(reason) = outcome.vanished {
            push_listed(&mut summary.vanished, resource, reason);
        }
    }

    /// Whether a stack is due its hourly blocker read in this tick: each stack has its
    /// own second of the hour (from its key), so the reads spread over the ticks.
    fn sweep_due(&self, stack: &StackRef) -> bool {
        let Some((from, to)) = self.sweep else {
            return false;
        };
        if to - from >= SWEEP_PERIOD {
            return true;
        }
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(stack.key().as_bytes());
        let slot = i64::from(u16::from_be_bytes([digest[0], digest[1]])) % SWEEP_PERIOD;
        let (a, b) = (from.rem_euclid(SWEEP_PERIOD), to.rem_euclid(SWEEP_PERIOD));
        if a <= b {
            a < slot && slot <= b
        } else {
            slot > a || slot <= b
        }
    }

    fn near_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() + Duration::from_millis(500) >= deadline)
    }
}

impl<S: StatusSource, T: StateStore> Runner<S, T> {
    pub fn new(source: S, store: T, destinations: Vec<Destination>, settings: RunSettings) -> Self {
        Runner {
            source,
            store,
            destinations,
            settings,
            process_tag: fastrand::u64(..),
            ticks: AtomicU64::new(0),
            deferred: Mutex::new(Vec::new()),
            last_sweep: Mutex::new(None),
            first_found: Mutex::new(Vec::new()),
        }
    }

    pub fn store(&self) -> &T {
        &self.store
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    pub fn destination_count(&self) -> usize {
        self.destinations.len()
    }

    pub fn settings(&self) -> &RunSettings {
        &self.settings
    }

    /// Checks `resources` (or every watched stack) of this account once, with the wall
    /// clock. `deadline`: what is still in flight then is abandoned and left for the next
    /// tick.
    pub async fn tick(
        &self,
        resources: Option<Vec<ResourceName>>,
        deadline: Option<Instant>,
    ) -> Result<Summary, RunError> {
        let scope = match resources {
            Some(names) => Scope::Stacks(names.into_iter().map(StackRef::local).collect()),
            None => Scope::Watched,
        };
        self.run(Tick {
            scope,
            deadline,
            now: None,
        })
        .await
    }

    /// Runs one tick.
    #[tracing::instrument(level = "info", skip_all)]
    pub async fn run(&self, tick: Tick) -> Result<Summary, RunError> {
        let now = tick.now.unwrap_or_else(Timestamp::now);
        let tick_number = self.ticks.fetch_add(1, Ordering::Relaxed);
        let watched = tick.scope == Scope::Watched;
        let sweep = watched.then(|| {
            let to = now.as_epoch_seconds();
            let from = lock(&self.last_sweep)
                .map(Timestamp::as_epoch_seconds)
                .unwrap_or(to - self.settings.first_sweep_window.as_secs() as i64);
            (from.max(to - SWEEP_PERIOD), to)
        });
        let recipients: Vec<Recipient> = self
            .destinations
            .iter()
            .map(|destination| Recipient {
                key: destination.key(),
                filter: destination.filter(),
                durable: destination.is_durable(),
            })
            .collect();
        // Status calls allowed in flight at once.
        let slots = self.settings.fetch_concurrency.max(1);
        // Stacks the last tick left unfinished come first, so none starves.
        let first: Vec<StackRef> = if watched {
            std::mem::take(&mut *lock(&self.deferred))
        } else {
            Vec::new()
        };
        let discovering = watched && matches!(self.settings.watch, Watch::Discover);
        // A warm tick guesses that the first stacks found last time are still there.
        let mut seen: HashSet<StackRef> = first.iter().cloned().collect();
        let guessed: Vec<StackRef> = if discovering {
            std::mem::take(&mut *lock(&self.first_found))
                .into_iter()
                .filter(|stack| seen.insert(stack.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let state = TickState {
            now,
            owner: format!("{:016x}-{tick_number}", self.process_tag),
            deadline: tick.deadline,
            sweep,
            permits: Semaphore::new(slots),
            waiting: feed::Waiting::default(),
            unconfirmed: feed::Unconfirmed::new(guessed.iter().cloned()),
            gates: OnceCell::new(),
            summary: Mutex::new(Summary::default()),
            in_flight: Mutex::new(HashSet::new()),
            store_error: Mutex::new(None),
            discovery_error: Mutex::new(None),
            recipients: &recipients,
        };

        let stacks: BoxStream<'_, Discovered> = match tick.scope {
            Scope::Stacks(stacks) => {
                futures_util::stream::iter(stacks.into_iter().map(Discovered::Stack)).boxed()
            }
            Scope::Watched => match &self.settings.watch {
                Watch::Resources(names) => futures_util::stream::iter(
                    names
                        .iter()
                        .cloned()
                        .map(|name| Discovered::Stack(StackRef::local(name))),
                )
                .boxed(),
                Watch::Discover => {
                    let mut remembered = 0;
                    self.source
                        .discover()
                        .inspect(move |found| {
                            if let Discovered::Stack(stack) = found
                                && remembered < BATCH
                            {
                                remembered += 1;
                                lock(&self.first_found).push(stack.clone());
                            }
                        })
                        .boxed()
                }
            },
        };
        let stacks = futures_util::stream::iter(first.into_iter().map(Discovered::Stack))
            .chain(stacks)
            .filter_map(|found| {
                let keep = match found {
                    // A guess discovery names is already on its way.
                    Discovered::Stack(stack) if state.unconfirmed.confirm(&stack) => None,
                    // A stack named twice in one tick is checked once.
                    Discovered::Stack(stack) => seen.insert(stack.clone()).then_some(stack),
                    Discovered::Failure { scope, error } => {
                        self.discovery_failed(&state, scope, error);
                        None
                    }
                };
                std::future::ready(keep)
            });
        // Discovery runs ahead into a bounded queue; the pipeline cuts batches from it.
        let (queue, discovered) = tokio::sync::mpsc::channel(BATCH * BATCHES_IN_FLIGHT);
        let discovery = async {
            futures_util::pin_mut!(stacks);
            while let Some(stack) = stacks.next().await {
                if queue.send(stack).await.is_err() {
                    break;
                }
            }
            // Dropping the sender is what tells the feed that discovery has ended.
            drop(queue);
            state.unconfirmed.end();
        };
        let checks = feed::batches(discovered, &state.waiting, slots)
            .map(|batch| self.batch(&state, batch))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .for_each(|()| std::future::ready(()));
        // The guesses are a batch of their own beside the feed's: however late discovery
        // names them, they never hold up the batches that let it go on.
        state.waiting.added(guessed.len());
        let guesses = async {
            if !guessed.is_empty() {
                self.batch(&state, guessed).await;
            }
        };
        let pipeline = futures_util::future::join3(discovery, checks, guesses).map(|_| ());

        let finished = match tick.deadline {
            None => {
                pipeline.await;
                true
            }
            // The deadline first: a tick asked to run past it starts nothing.
            Some(deadline) => tokio::select! {
                biased;
                () = tokio::time::sleep_until(deadline) => false,
                () = pipeline => true,
            },
        };

        // A guess discovery never named is not the next tick's to finish.
        let abandoned: Vec<StackRef> = lock(&state.in_flight)
            .drain()
            .filter(|stack| !state.unconfirmed.holds(stack))
            .collect();
        {
            let mut summary = lock(&state.summary);
            for stack in &abandoned {
                summary.deferred_count += 1;
                push_listed(
                    &mut summary.deferred,
                    stack.key(),
                    "the invocation was about to time out; left as it was for the next tick".into(),
                );
            }
            if !finished {
                push_listed(
                    &mut summary.deferred,
                    "*".into(),
                    "the invocation was about to time out before every stack was reached; the next tick starts with the stacks left unfinished".into(),
                );
            }
        }
        *lock(&self.deferred) = abandoned;
        if finished && let Some((_, to)) = sweep {
            *lock(&self.last_sweep) = Some(Timestamp::from_millis(to * 1000));
        }

        self.keep_quiet_periods(&state).await;
        let mut summary = std::mem::take(&mut *lock(&state.summary));
        // Stacks finish in any order; the summary lists them by name (a stable sort keeps
        // each stack's notifications in their order).
        summary
            .transitions
            .sort_by(|a, b| a.resource.cmp(&b.resource));
        for list in [
            &mut summary.failures,
            &mut summary.deferred,
            &mut summary.vanished,
        ] {
            list.sort_by(|a, b| a.resource.cmp(&b.resource));
        }
        if let Some(gates) = state.gates.get() {
            for gate in gates.values() {
                if let Some(reason) = gate.paused() {
                    summary.paused.push(ResourceProblem {
                        resource: gate.key().to_owned(),
                        reason,
                    });
                }
            }
            summary.paused.sort_by(|a, b| a.resource.cmp(&b.resource));
        }
        let finish = self.store.finish().await;
        if let Some(error) = lock(&state.discovery_error).take() {
            return Err(RunError::Discovery(error));
        }
        if let Some(error) = lock(&state.store_error).take() {
            return Err(RunError::Store(error));
        }
        finish?;
        Ok(summary)
    }

    /// A scope discovery could not list. In a single account that is the whole run's
    /// failure (reported once the stacks already found are done); in hub mode, one entry
    /// (an account, an account and Region, or the organization) and one target failure.
    fn discovery_failed(&self, state: &TickState, scope: String, error: SourceError) {
        tracing::error!(%scope, %error, "discovery failed");
        if scope == "this account" {
            lock(&state.discovery_error).get_or_insert(error);
        } else {
            let mut summary = lock(&state.summary);
            summary.failure_count += 1;
            summary.target_failures += 1;
            push_listed(
                &mut summary.failures,
                scope,
                format!("discovery failed: {error}"),
            );
        }
    }

    /// One batch: its state read alongside its status calls, then each stack decided
    /// and delivered as soon as both are in.
    async fn batch(&self, state: &TickState<'_>, stacks: Vec<StackRef>) {
        let keys: Vec<String> = stacks.iter().map(StackRef::key).collect();
        lock(&state.in_flight).extend(stacks.iter().cloned());
        // Each status call's future (the SDK's, some 20 KB) is boxed when its slot is
        // free, so the batch's waiting stacks hold a few bytes each, not a call's state.
        let mut fetches: FuturesUnordered<_> = stacks
            .into_iter()
            .map(|stack| async move {
                let permit = state.permits.acquire().await;
                state.waiting.started();
                let status = match permit {
                    Ok(_permit) if !state.near_deadline() => {
                        Some(Box::pin(self.source.fetch(&stack)).await)
                    }
                    _ => None,
                };
                (stack, status)
            })
            .collect();

        let load = self.store.load(&keys).fuse();
        futures_util::pin_mut!(load);
        let mut early = Vec::new();
        let loaded = loop {
            tokio::select! {
                loaded = &mut load => break loaded,
                Some(done) = fetches.next() => early.push(done),
            }
        };
        let mut loaded = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::error!(%error, "could not read the state of a batch of stacks");
                let reason = error.to_string();
                lock(&state.store_error).get_or_insert(error);
                let mut rest: Vec<StackRef> = early.into_iter().map(|(stack, _)| stack).collect();
                while let Some((stack, _)) = fetches.next().await {
                    rest.push(stack);
                }
                for stack in rest {
                    state.record(
                        &stack,
                        Outcome {
                            failure: Some(reason.clone()),
                            ..Outcome::default()
                        },
                    );
                }
                return;
            }
        };

        let mut processing = FuturesUnordered::new();
        let mut start = |stack: StackRef, status: Option<Result<ResourceStatus, SourceError>>| {
            let record = loaded.remove(&stack.key()).unwrap_or(Loaded::Missing);
            async move {
                if !state.unconfirmed.confirmed(&stack).await {
                    // A guess discovery did not find: not watched (any more), not checked.
                    state.record(&stack, Outcome::default());
                    return;
                }
                let outcome = match status {
                    Some(status) if !state.near_deadline() => {
                        Box::pin(self.process(state, &stack, status, record)).await
                    }
                    _ => Outcome {
                        deferred: Some(
                            "the invocation is about to time out; left for the next tick".into(),
                        ),
                        ..Outcome::default()
                    },
                };
                state.record(&stack, outcome);
            }
        };
        for (stack, status) in early {
            processing.push(start(stack, status));
        }
        loop {
            tokio::select! {
                Some((stack, status)) = fetches.next() => processing.push(start(stack, status)),
                Some(()) = processing.next() => {}
                else => break,
            }
        }
    }

    /// Whether to read a stack's blockers this tick (rule 9): its latest attempt failed,
    /// a blocker was told active, it is seen for the first time, or its hourly sweep is
    /// due.
    fn needs_blockers(
        &self,
        state: &TickState,
        stack: &StackRef,
        current: &ResourceStatus,
        previous: Option<&ResourceRecord>,
    ) -> bool {
        current.latest_sync.status == SyncStatus::Failed
            || previous.is_none_or(|record| record.state.has_active_blocker())
            || state.sweep_due(stack)
    }

    /// One stack: what AWS says and what is recorded, decided, planned by the ledger,
    /// claimed, delivered.
    async fn process(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        status: Result<ResourceStatus, SourceError>,
        loaded: Loaded,
    ) -> Outcome {
        let (version, previous) = match loaded {
            // Foreign data: report, keep what is recorded, write nothing.
            Loaded::Unreadable { reason } => {
                return Outcome {
                    failure: Some(format!("{reason}; the stored item is left untouched")),
                    ..Outcome::default()
                };
            }
            Loaded::Missing => (None, None),
            Loaded::Found { version, record } => (Some(version), Some(record)),
        };
        let mut outcome = Outcome {
            checked: true,
            baseline: previous.is_none(),
            ..Outcome::default()
        };
        let decision = match self
            .observe(state, stack, status, previous.as_ref(), &mut outcome)
            .await
        {
            Ok((current, blockers)) => {
                Some(self.decide(state, stack, previous.as_ref(), &current, blockers))
            }
            Err(error) => {
                outcome.baseline = false;
                outcome.failure = Some(error.to_string());
                // Rule 8: the recorded state is kept, but what was decided before still goes
                // out; a stack no longer found gets its expiry once nothing is pending.
                if previous
                    .as_ref()
                    .is_none_or(|record| record.pending.is_empty())
                {
                    if let (SourceErrorKind::NotFound, Some(record)) = (error.kind, &previous) {
                        self.vanish(stack, version, record, state.now, &mut outcome)
                            .await;
                    }
                    return outcome;
                }
                None
            }
        };
        let Some(absorbed) = ledger::absorb(
            previous.as_ref(),
            decision,
            state.recipients,
            self.settings.notify_on,
            state.now,
            &self.settings.policy,
        ) else {
            return outcome;
        };
        outcome.transitions = transitions(stack, &absorbed.transitions);
        if let Some((claimed, overflow, version)) = self
            .claim(
                state,
                stack,
                version,
                previous.as_ref(),
                absorbed,
                &mut outcome,
            )
            .await
        {
            self.deliver(state, stack, claimed, overflow, version, &mut outcome)
                .await;
        }
        outcome
    }

    /// What AWS says of a stack: its status and, when rule 9 wants them, its blockers. A
    /// failed blocker read fails the check like a failed status call (rule 8).
    async fn observe(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        status: Result<ResourceStatus, SourceError>,
        previous: Option<&ResourceRecord>,
        outcome: &mut Outcome,
    ) -> Result<(ResourceStatus, Option<Vec<Blocker>>), SourceError> {
        let current = status?;
        if !self.needs_blockers(state, stack, &current, previous) {
            return Ok((current, None));
        }
        outcome.blocker_checks += 1;
        let blockers = match state.permits.acquire().await {
            Ok(_permit) => self.source.blockers(stack).await?,
            Err(_) => {
                return Err(SourceError::new(
                    SourceErrorKind::Unavailable,
                    "the run is ending",
                ));
            }
        };
        Ok((current, Some(blockers)))
    }

    /// Rules 1–7, 9 and 10, with the account's name on every notification (hub mode).
    fn decide(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        previous: Option<&ResourceRecord>,
        current: &ResourceStatus,
        blockers: Option<Vec<Blocker>>,
    ) -> Decision {
        let mut decision = decide(
            stack,
            previous.map(|record| &record.state),
            current,
            blockers.as_deref(),
            state.now,
            &self.settings.rules,
        );
        let account_name = self.source.account_name(stack);
        for notification in &mut decision.notifications {
            notification.account_name.clone_from(&account_name);
        }
        decision
    }

    /// Writes what the ledger planned. With nothing to deliver, only a change is written;
    /// otherwise the record is claimed (the conditional write that makes this run the one
    /// that delivers) and returned with its new version, and with what did not fit the
    /// store (delivered by this run, never kept).
    async fn claim(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        version: Option<u64>,
        previous: Option<&ResourceRecord>,
        absorbed: ledger::Absorbed,
        outcome: &mut Outcome,
    ) -> Option<(ResourceRecord, Vec<Pending>, u64)> {
        let mut record = absorbed.record;
        // Nothing to deliver, so nothing that could overflow: only a change is written (and
        // the steady tick, where nothing changed, encodes no record to measure it).
        if record.pending.is_empty() {
            record.lease = None;
            if previous != Some(&record) {
                match self.store.save(&stack.key(), version, &record).await {
                    Ok(_) => {
                        outcome.writes += 1;
                        report_expired(stack, &absorbed.expired, outcome);
                    }
                    Err(error) => lost_write(outcome, error),
                }
            }
            return None;
        }
        // Rather than lose what does not fit the store: deliver it now, keep less.
        let overflow = ledger::fit(&mut record, |record| self.store.fits(record));
        for item in &overflow {
            tracing::error!(resource = %stack, notification_id = %item.notification.id, "the stack's record is over the store's size limit: this notification is delivered in this run only, never retried");
        }
        let claimed = match ledger::claim(
            &record,
            &state.owner,
            Timestamp::now(),
            self.settings.policy.lease,
        ) {
            Claim::Claimed(claimed) => claimed,
            Claim::Held { until } => {
                outcome.transitions.clear();
                outcome.deferred = Some(format!(
                    "another run is delivering its notifications until {until}"
                ));
                return None;
            }
            // Only overflow to send: nothing to hold in the store.
            Claim::Nothing => record,
        };
        match self.store.save(&stack.key(), version, &claimed).await {
            Ok(version) => {
                outcome.writes += 1;
                report_expired(stack, &absorbed.expired, outcome);
                Some((claimed, overflow, version))
            }
            Err(error) => {
                outcome.transitions.clear();
                lost_write(outcome, error);
                None
            }
        }
    }

    /// A stack that is no longer found keeps its record with an expiry, written once.
    async fn vanish(
        &self,
        stack: &StackRef,
        version: Option<u64>,
        record: &ResourceRecord,
        now: Timestamp,
        outcome: &mut Outcome,
    ) {
        match ledger::vanish(record, now, &self.settings.policy) {
            Vanish::AfterDelivery => {
                outcome.vanished = Some(
                    "not found; its expiry is recorded once the run delivering its notifications is done"
                        .into(),
                );
            }
            Vanish::Expiring { until, write } => {
                if let Some(expiring) = write {
                    match self.store.save(&stack.key(), version, &expiring).await {
                        Ok(_) => {
                            outcome.writes += 1;
                            tracing::info!(resource = %stack, expires_at = %until, "resource not found; its record expires unless it comes back");
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
                }
                outcome.vanished = Some(format!(
                    "not found; its record is kept until {until} and revived if it comes back"
                ));
            }
        }
    }
}

/// The summary's lines for what the ledger took in.
fn transitions(stack: &StackRef, transitions: &[ledger::Transition]) -> Vec<TransitionSummary> {
    transitions
        .iter()
        .map(|transition| TransitionSummary {
            resource: stack.key(),
            event_type: transition.kind.event_type(),
            id: transition.id.clone(),
            notify: transition.notify,
        })
        .collect()
}

/// Notifications dropped at the retention, reported once the write that drops them
/// succeeded (a run that loses the write drops nothing).
fn report_expired(stack: &StackRef, expired: &[Pending], outcome: &mut Outcome) {
    for item in expired {
        tracing::error!(
            resource = %stack,
            notification_id = %item.notification.id,
            event_type = item.notification.kind.event_type(),
            delivered_to = ?item.done,
            "dropping a notification undelivered for longer than the retention"
        );
    }
    outcome.deliveries.expired += expired.len();
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

#[cfg(test)]
mod tests;
