//! One tick: resolve → fetch → load → decide → deliver → save (ARCHITECTURE §2).
//!
//! [`Runner::run`] tells a tick's story in its steps: plan the tick (its clock, the stacks
//! the last tick left unfinished, the hourly sweep), run the pipeline until it is done or
//! the deadline comes, hand back what was left unfinished, and close (quiet periods kept,
//! the summary sorted, buffered writes made durable).
//!
//! - `pipeline.rs`: the tick is a pipeline, so it runs at the speed of its slowest
//!   dependency rather than the sum of them: discovery runs ahead into a bounded queue;
//!   status calls start as soon as its first page arrives, and on a warm invocation at
//!   once, for the first stacks the last tick found (each decided only once discovery
//!   names it again); stacks are read from the store in batches of up to 100 (one
//!   `BatchGetItem` each); a stack is decided and delivered the moment its status and
//!   record are in. How stacks become batches, and the warm tick's guesses, are in
//!   `feed.rs`. At most `FETCH_CONCURRENCY` AWS calls are in flight, and at most
//!   [`BATCHES_IN_FLIGHT`] batches (and the guesses) are held in memory.
//! - `stack.rs`: one stack: its optional reads (`optional.rs`: they fail soft, §13), the
//!   decision and the ledger's plan (both pure, in `domain`), the claim, delivery
//!   (`deliver.rs`), and rule 8's vanish.
//!
//! The same [`Runner`] serves the Lambda handler, `check` and `replay`; only the adapters
//! it is built with differ.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

mod deliver;
mod feed;
mod optional;
mod pipeline;
mod stack;
mod summary;
mod tick;

pub use optional::OptionalReads;
use summary::push_listed;
pub use summary::{
    DeliveryCounts, OptionalReadFailure, ResourceProblem, Summary, TransitionSummary,
};
use tick::TickState;

use crate::config::{Config, Watch};
use crate::domain::ledger::{self, Policy, Recipient};
use crate::domain::schedule::{SWEEP_PERIOD, SweepWindow};
use crate::domain::{KindSet, ResourceName, Rules, StackRef, Timestamp};
use crate::notify::Destination;
use crate::source::{SourceError, StatusSource};
use crate::store::{Loaded, SaveError, StateStore, StoreError};

/// Stacks per state read (DynamoDB's `BatchGetItem` limit).
pub const BATCH: usize = 100;
/// Batches a tick works on at once: enough to keep every status call slot busy while a
/// batch's last stacks finish, few enough that memory stays flat as the fleet grows.
pub const BATCHES_IN_FLIGHT: usize = 3;

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
    /// Optional reads that failed, said once an hour each (§13).
    optional: OptionalReads,
}

/// What a tick starts from.
struct Plan {
    now: Timestamp,
    owner: String,
    sweep: Option<SweepWindow>,
    /// Stacks the last tick left unfinished, served first.
    first: Vec<StackRef>,
    /// A warm tick's guesses: the first stacks the last discovery found.
    guessed: Vec<StackRef>,
    /// The stacks above: discovery naming one again does not check it twice.
    seen: HashSet<StackRef>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere: the data is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            optional: OptionalReads::default(),
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
        let plan = self.plan(&tick);
        let recipients = self.recipients();
        let state = TickState::new(
            &plan,
            tick.deadline,
            self.settings.fetch_concurrency,
            &recipients,
        );
        let stacks = self.stacks(&state, tick.scope, plan.first, plan.seen);
        let pipeline = self.pipeline(&state, stacks, plan.guessed);
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
        if !finished {
            self.release_claims(&state).await;
        }
        self.hand_back(&state, finished);
        if finished && let Some(sweep) = plan.sweep {
            *lock(&self.last_sweep) = Some(Timestamp::from_millis(sweep.to * 1000));
        }
        self.close(state).await
    }

    /// The tick's clock, owner, hourly sweep window (scheduled ticks only), and the stacks
    /// it starts on: those the last tick left unfinished, then a warm tick's guesses.
    fn plan(&self, tick: &Tick) -> Plan {
        let now = tick.now.unwrap_or_else(Timestamp::now);
        let tick_number = self.ticks.fetch_add(1, Ordering::Relaxed);
        let watched = tick.scope == Scope::Watched;
        let sweep = watched.then(|| {
            let first_window = self.settings.first_sweep_window.as_secs() as i64;
            SweepWindow::since(*lock(&self.last_sweep), now, first_window)
        });
        let first: Vec<StackRef> = match watched {
            true => std::mem::take(&mut *lock(&self.deferred)),
            false => Vec::new(),
        };
        let discovering = watched && matches!(self.settings.watch, Watch::Discover);
        let mut seen: HashSet<StackRef> = first.iter().cloned().collect();
        let guessed = match discovering {
            true => std::mem::take(&mut *lock(&self.first_found))
                .into_iter()
                .filter(|stack| seen.insert(stack.clone()))
                .collect(),
            false => Vec::new(),
        };
        Plan {
            now,
            owner: format!("{:016x}-{tick_number}", self.process_tag),
            sweep,
            first,
            guessed,
            seen,
        }
    }

    /// Every destination as the ledger sees it.
    fn recipients(&self) -> Vec<Recipient<'_>> {
        self.destinations
            .iter()
            .map(|destination| Recipient {
                key: destination.key(),
                filter: destination.filter(),
                durable: destination.is_durable(),
            })
            .collect()
    }

    /// The stacks still being worked on when the tick stopped are the next tick's to
    /// finish first (a guess discovery never named is not).
    fn hand_back(&self, state: &TickState<'_>, finished: bool) {
        let abandoned = state.abandoned();
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
        *lock(&self.deferred) = abandoned;
    }

    /// The tick was cut at its deadline: every claim it still holds is released at once
    /// (its requests in flight recorded as in doubt), so the next tick, in any process,
    /// delivers what is left without waiting for the lease to lapse. Bounded by
    /// [`tick::RELEASE_TIME`]; a claim left over lapses with its lease, as it would if the
    /// process had died.
    async fn release_claims(&self, state: &TickState<'_>) {
        let releases = state.take_held().into_iter().map(|(stack, held)| async move {
            let mut record = held.record;
            for (key, id) in &held.sending {
                ledger::doubt(&mut record, key, id);
            }
            ledger::release(&mut record, state.recipients);
            let key = stack.key();
            match self.store.save(&key, Some(held.version), &record).await {
                Ok(_) => {}
                // A write of this tick's may have landed as the tick was cut: release what
                // it wrote, if the claim is still ours.
                Err(SaveError::Conflict) => self.release_if_ours(state, &key, &held.sending).await,
                Err(SaveError::Store(error)) => {
                    tracing::warn!(resource = %stack, %error, "could not release the claim of a stack left unfinished; it lapses with its lease");
                }
            }
        });
        let all = futures_util::future::join_all(releases);
        if tokio::time::timeout(tick::RELEASE_TIME, all).await.is_err() {
            tracing::warn!(
                "the claims of the stacks left unfinished could not all be released in time; they lapse with their leases"
            );
        }
    }

    /// Releases `key`'s claim as stored, if this tick holds it.
    async fn release_if_ours(
        &self,
        state: &TickState<'_>,
        key: &str,
        sending: &[(String, String)],
    ) {
        let Ok(mut loaded) = self.store.load(&[key.to_owned()]).await else {
            return;
        };
        let Some(Loaded::Found {
            version,
            mut record,
        }) = loaded.remove(key)
        else {
            return;
        };
        if record
            .lease
            .as_ref()
            .is_none_or(|lease| lease.owner != state.owner)
        {
            return;
        }
        for (destination, id) in sending {
            ledger::doubt(&mut record, destination, id);
        }
        ledger::release(&mut record, state.recipients);
        let _ = self.store.save(key, Some(version), &record).await;
    }

    /// The end of a tick: the quiet periods destinations asked for are kept, the summary
    /// is sorted, the store's buffered writes are made durable, and a failure of the whole
    /// tick is said.
    async fn close(&self, state: TickState<'_>) -> Result<Summary, RunError> {
        self.keep_quiet_periods(&state).await;
        let finish = self.store.finish().await;
        let (summary, error) = state.into_summary();
        if let Some(error) = error {
            return Err(error);
        }
        finish?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests;
