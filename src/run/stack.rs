//! One stack in a tick: what AWS says and what is recorded, decided (pure, `domain`),
//! planned by the ledger (pure), claimed with a conditional write, delivered.

use super::Runner;
use super::summary::{Outcome, TransitionSummary};
use super::tick::TickState;
use crate::domain::ledger::{self, AfterFailedCheck, Claim, Pending, ResourceRecord, Vanish};
use crate::domain::schedule::blockers_due;
use crate::domain::{
    Blocker, Decision, Notification, NotificationKind, ResourceStatus, StackRef, Timestamp, decide,
    explain,
};
use crate::source::{OptionalRead, SourceError, SourceErrorKind, StatusSource};
use crate::store::{Loaded, SaveError, StateStore};

impl<S: StatusSource, T: StateStore> Runner<S, T> {
    /// One stack: what AWS says and what is recorded, decided, planned by the ledger,
    /// claimed, delivered.
    pub(super) async fn process(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        status: Result<ResourceStatus, SourceError>,
        loaded: Loaded,
    ) -> Outcome {
        let (version, previous) = match loaded {
            // Foreign data: report, keep what is recorded, write nothing.
            Loaded::Unreadable { reason } => {
                return Outcome::failed(format!("{reason}; the stored item is left untouched"));
            }
            Loaded::Missing => (None, None),
            Loaded::Found { version, record } => (Some(version), Some(record)),
        };
        let mut outcome = Outcome {
            checked: true,
            baseline: previous.is_none(),
            ..Outcome::default()
        };
        let decision = match status {
            Ok(current) => {
                let blockers = self
                    .blockers(state, stack, &current, previous.as_ref(), &mut outcome)
                    .await;
                let mut decision = self.decide(state, stack, previous.as_ref(), &current, blockers);
                self.explain(state, stack, &current, &mut decision.notifications)
                    .await;
                Some(decision)
            }
            Err(error) => {
                outcome.baseline = false;
                outcome.failure = Some(error.to_string());
                let not_found = error.kind == SourceErrorKind::NotFound;
                match (
                    ledger::after_failed_check(previous.as_ref(), not_found),
                    &previous,
                ) {
                    (AfterFailedCheck::DeliverPending, _) => None,
                    (AfterFailedCheck::Vanish, Some(record)) => {
                        self.vanish(stack, version, record, state.now, &mut outcome)
                            .await;
                        return outcome;
                    }
                    _ => return outcome,
                }
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
        let claimed = self
            .claim(
                state,
                stack,
                version,
                previous.as_ref(),
                absorbed,
                &mut outcome,
            )
            .await;
        if let Some((record, overflow, version)) = claimed {
            self.deliver(state, stack, record, overflow, version, &mut outcome)
                .await;
        }
        outcome
    }

    /// The stack's blockers, when rule 9's schedule wants them this tick: an optional
    /// read, so `None` (unknown this tick) when it is not due or fails.
    async fn blockers(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        current: &ResourceStatus,
        previous: Option<&ResourceRecord>,
        outcome: &mut Outcome,
    ) -> Option<Vec<Blocker>> {
        let previous = previous.map(|record| &record.state);
        if !blockers_due(stack, current, previous, state.sweep.as_ref()) {
            return None;
        }
        outcome.blocker_checks += 1;
        let read = self.source.blockers(stack);
        self.optional_read(state, stack, OptionalRead::Blockers, read)
            .await
    }

    /// Says why the latest attempt failed and what it changed (§14), from CloudFormation's
    /// events of the stack since the attempt started: an optional read, made only for a
    /// failure or a success about to be told, so a steady tick reads nothing.
    async fn explain(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        current: &ResourceStatus,
        notifications: &mut [Notification],
    ) {
        let latest = current.latest_sync.id();
        let Some(ending) = notifications.iter_mut().find(|notification| {
            notification.kind.is_ending()
                && notification.attempt.id() == latest
                && self.settings.notify_on.contains(notification.kind)
        }) else {
            return;
        };
        let read = self.source.stack_history(stack, ending.attempt.started_at);
        let Some(history) = self
            .optional_read(state, stack, OptionalRead::StackEvents, read)
            .await
        else {
            return;
        };
        if !history.gaps.is_empty() {
            tracing::info!(resource = %stack, gaps = ?history.gaps, "part of the stack's events could not be read; the message says what was");
        }
        if ending.kind == NotificationKind::Failed {
            ending.explanation.root_cause = explain::root_cause(&history);
        }
        ending.explanation.changes =
            Some(explain::changes(&history)).filter(|changes| !changes.is_empty());
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
        let lease = self.settings.policy.lease;
        let claimed = match ledger::claim(&record, &state.owner, state.clock.now(), lease) {
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
        let (until, write) = match ledger::vanish(record, now, &self.settings.policy) {
            Vanish::AfterDelivery => {
                outcome.vanished = Some(
                    "not found; its expiry is recorded once the run delivering its notifications is done"
                        .into(),
                );
                return;
            }
            Vanish::Expiring { until, write } => (until, write),
        };
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

pub(super) fn lost_write(outcome: &mut Outcome, error: SaveError) {
    match error {
        SaveError::Conflict => {
            outcome.deferred =
                Some("another run changed this resource first; it handles the change".into());
        }
        SaveError::Store(error) => outcome.failure = Some(error.to_string()),
    }
}
