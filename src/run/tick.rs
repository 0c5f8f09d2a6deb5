//! What one tick shares between its stacks: its clock and deadline, the status-call
//! slots, the destinations' gates, and the summary each stack adds its outcome to.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{OnceCell, Semaphore};
use tokio::time::Instant;

use super::summary::{Outcome, push_listed};
use super::{Plan, ResourceProblem, RunError, Summary, feed, lock};
use crate::clock::Clock;
use crate::domain::ledger::{Recipient, ResourceRecord};
use crate::domain::schedule::SweepWindow;
use crate::domain::{StackRef, Timestamp};
use crate::notify::Gate;
use crate::source::SourceError;
use crate::store::StoreError;

/// A stack is not started, or its work not begun, this close to the deadline.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// Requests to destinations end this long before the deadline, so that every stack this
/// tick claimed can record what it delivered and release its claim before the tick stops.
pub(super) const RELEASE_TIME: Duration = Duration::from_millis(500);

/// A stack this tick claimed and has not released yet: the record as last written (with
/// its version), and the requests on their way.
pub(super) struct Held {
    pub(super) version: u64,
    pub(super) record: ResourceRecord,
    /// (destination key, notification id) of each request in flight.
    pub(super) sending: Vec<(String, String)>,
}

pub(super) struct TickState<'t> {
    pub(super) now: Timestamp,
    /// This tick's name on the leases it takes.
    pub(super) owner: String,
    pub(super) deadline: Option<Instant>,
    pub(super) sweep: Option<SweepWindow>,
    /// One permit per AWS call in flight (status, and the optional reads).
    pub(super) permits: Semaphore,
    pub(super) slots: usize,
    /// Stacks handed to the pipeline that wait for a status-call slot.
    pub(super) waiting: feed::Waiting,
    /// Stacks started on before discovery named them.
    pub(super) unconfirmed: feed::Unconfirmed,
    pub(super) gates: OnceCell<HashMap<String, Gate>>,
    pub(super) summary: Mutex<Summary>,
    /// Stacks being worked on, for the deadline to defer.
    in_flight: Mutex<HashSet<StackRef>>,
    store_error: Mutex<Option<StoreError>>,
    discovery_error: Mutex<Option<SourceError>>,
    pub(super) recipients: &'t [Recipient<'t>],
    /// The tick's clock: leases, quiet periods and budgets read it.
    pub(super) clock: Clock,
    /// Stacks claimed and not yet released, for the deadline to release.
    held: Mutex<HashMap<StackRef, Held>>,
}

impl<'t> TickState<'t> {
    pub(super) fn new(
        plan: &Plan,
        deadline: Option<Instant>,
        fetch_concurrency: usize,
        recipients: &'t [Recipient<'t>],
    ) -> TickState<'t> {
        let slots = fetch_concurrency.max(1);
        TickState {
            now: plan.now,
            owner: plan.owner.clone(),
            deadline,
            sweep: plan.sweep,
            permits: Semaphore::new(slots),
            slots,
            waiting: feed::Waiting::default(),
            unconfirmed: feed::Unconfirmed::new(plan.guessed.iter().cloned()),
            gates: OnceCell::new(),
            summary: Mutex::new(Summary::default()),
            in_flight: Mutex::new(HashSet::new()),
            store_error: Mutex::new(None),
            discovery_error: Mutex::new(None),
            recipients,
            clock: Clock::starting_at(plan.now),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// This tick holds `stack`'s claim, and wrote `record` at `version`.
    pub(super) fn hold(&self, stack: &StackRef, version: u64, record: &ResourceRecord) {
        let mut held = lock(&self.held);
        let entry = held.entry(stack.clone()).or_insert_with(|| Held {
            version,
            record: record.clone(),
            sending: Vec::new(),
        });
        entry.version = version;
        entry.record = record.clone();
    }

    /// A request of `stack`'s notification `id` to `key` starts (`true`) or ends.
    pub(super) fn sending(&self, stack: &StackRef, key: &str, id: &str, started: bool) {
        if let Some(held) = lock(&self.held).get_mut(stack) {
            match started {
                true => held.sending.push((key.to_owned(), id.to_owned())),
                false => held.sending.retain(|(k, i)| !(k == key && i == id)),
            }
        }
    }

    /// `stack`'s claim is released (or no longer ours).
    pub(super) fn unhold(&self, stack: &StackRef) {
        lock(&self.held).remove(stack);
    }

    /// Every claim still held, taken.
    pub(super) fn take_held(&self) -> Vec<(StackRef, Held)> {
        lock(&self.held).drain().collect()
    }

    /// When requests to destinations must end (see [`RELEASE_TIME`]).
    pub(super) fn requests_end(&self) -> Option<Instant> {
        self.deadline
            .map(|deadline| deadline.checked_sub(RELEASE_TIME).unwrap_or(deadline))
    }

    pub(super) fn started(&self, stacks: &[StackRef]) {
        lock(&self.in_flight).extend(stacks.iter().cloned());
    }

    /// Adds one stack's outcome to the summary (and says a failure in the log).
    pub(super) fn record(&self, stack: &StackRef, outcome: Outcome) {
        lock(&self.in_flight).remove(stack);
        let resource = stack.key();
        if let Some(reason) = &outcome.failure {
            tracing::warn!(resource = %resource, %reason, "resource check failed; its recorded state is kept");
        }
        lock(&self.summary).add(resource, outcome);
    }

    pub(super) fn store_failed(&self, error: StoreError) {
        lock(&self.store_error).get_or_insert(error);
    }

    /// A scope discovery could not list. In a single account that is the whole run's
    /// failure (reported once the stacks already found are done); in hub mode, one entry
    /// (an account, an account and Region, or the organization) and one target failure.
    pub(super) fn discovery_failed(&self, scope: String, error: SourceError) {
        tracing::error!(%scope, %error, "discovery failed");
        if scope == "this account" {
            lock(&self.discovery_error).get_or_insert(error);
            return;
        }
        let mut summary = lock(&self.summary);
        summary.failure_count += 1;
        summary.target_failures += 1;
        push_listed(
            &mut summary.failures,
            scope,
            format!("discovery failed: {error}"),
        );
    }

    /// Whether it is too late to start a stack's work.
    pub(super) fn near_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() + DEADLINE_MARGIN >= deadline)
    }

    /// The stacks still being worked on, but guesses discovery never named.
    pub(super) fn abandoned(&self) -> Vec<StackRef> {
        lock(&self.in_flight)
            .drain()
            .filter(|stack| !self.unconfirmed.holds(stack))
            .collect()
    }

    /// The summary, sorted, with the destinations paused; and the failure of the whole
    /// tick, if there was one.
    pub(super) fn into_summary(self) -> (Summary, Option<RunError>) {
        let mut summary = self
            .summary
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        summary.sort();
        if let Some(gates) = self.gates.get() {
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
        let error = match (
            lock(&self.discovery_error).take(),
            lock(&self.store_error).take(),
        ) {
            (Some(error), _) => Some(RunError::Discovery(error)),
            (None, Some(error)) => Some(RunError::Store(error)),
            (None, None) => None,
        };
        (summary, error)
    }
}
