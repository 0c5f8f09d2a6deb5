//! Delivering a claimed stack's notifications: every destination at its own pace through
//! this tick's [`Gate`]s, each delivery written to the record as soon as it is done, and
//! the claim released by the last write, or by [`Runner::release_claims`] when the tick is
//! cut at its deadline: a claim outlives its run only when the process dies.

use std::collections::HashMap;

use super::Runner;
use super::stack::lost_write;
use super::summary::Outcome;
use super::tick::TickState;
use crate::domain::StackRef;
use crate::domain::ledger::{self, Pending, Quiet, ResourceRecord, Settled, Thread};
use crate::notify::{DeliveryError, Gate};
use crate::source::StatusSource;
use crate::store::{DestinationState, SaveError, StateStore};

impl<S: StatusSource, T: StateStore> Runner<S, T> {
    /// Sends what each destination is owed, oldest first, every destination at its own
    /// pace; each delivery is written to the record as soon as it is done (those that
    /// finish together share a write), so a crash repeats only what was in flight; the
    /// write after the last one releases the stack. A destination that fails stops there
    /// for this stack, so it never receives notifications out of order.
    pub(super) async fn deliver(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        mut record: ResourceRecord,
        overflow: Vec<Pending>,
        mut version: u64,
        outcome: &mut Outcome,
    ) {
        state.hold(stack, version, &record);
        let gates = self.gates(state).await;
        let mut working = record.clone();
        working.pending.extend(overflow);
        let queues = ledger::queues(&working, state.recipients);
        if queues.is_empty() {
            // Owed only to destinations this process does not have: nothing to hold.
            ledger::release(&mut record, state.recipients);
            match self.store.save(&stack.key(), Some(version), &record).await {
                Ok(_) => outcome.writes += 1,
                Err(error) => lost_write(outcome, error),
            }
            state.unhold(stack);
            return;
        }

        let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
        let mut senders_left = queues.len();
        let senders = queues.into_iter().map(|(index, items)| {
            self.send_queue(state, stack, gates, &working, index, items, reports.clone())
        });
        let sending = futures_util::future::join_all(senders);
        drop(reports);

        let recording = async {
            let mut recording = true;
            while let Some(first) = received.recv().await {
                let mut batch = vec![first];
                while let Ok(more) = received.try_recv() {
                    batch.push(more);
                }
                let mut changed = false;
                for report in batch {
                    match report {
                        Report::Done => senders_left -= 1,
                        Report::Sent(index, item, result) => {
                            let notification = &working.pending[item].notification;
                            let key = self.destinations[index].key();
                            changed |=
                                settle(&mut record, stack, key, notification, result, outcome);
                            state.sending(stack, key, &notification.id, false);
                        }
                    }
                }
                let last = senders_left == 0;
                if last {
                    ledger::release(&mut record, state.recipients);
                }
                if !recording || !(changed || last) {
                    continue;
                }
                // What the write records, in case the tick is cut while it is on its way.
                state.hold(stack, version, &record);
                match self.store.save(&stack.key(), Some(version), &record).await {
                    Ok(_) if last => {
                        outcome.writes += 1;
                        state.unhold(stack);
                    }
                    Ok(saved) => {
                        version = saved;
                        outcome.writes += 1;
                        state.hold(stack, version, &record);
                    }
                    Err(error) => {
                        // Our lease outlived itself and another run took over; it will redo
                        // what we could not record (a receiver may see one repeat, same id).
                        tracing::warn!(resource = %stack, %error, "could not record deliveries");
                        outcome.failure = Some(format!("could not record deliveries: {error}"));
                        recording = false;
                        state.unhold(stack);
                    }
                }
            }
        };
        futures_util::future::join(sending, recording).await;
    }

    /// Sends one destination's queue for a stack, in order, reporting each result as it
    /// comes and stopping at a failure worth retrying (the rest waits, in order).
    #[allow(clippy::too_many_arguments)]
    async fn send_queue(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        gates: &HashMap<String, Gate>,
        working: &ResourceRecord,
        index: usize,
        items: Vec<usize>,
        reports: tokio::sync::mpsc::UnboundedSender<Report>,
    ) {
        let destination = &self.destinations[index];
        if let Some(gate) = gates.get(destination.key()) {
            // Threads posted earlier in this run, for later messages of an attempt.
            let mut posted: Vec<Thread> = Vec::new();
            for item in items {
                let notification = &working.pending[item].notification;
                let attempt = notification.attempt.id();
                let thread = posted
                    .iter()
                    .rev()
                    .find(|thread| thread.attempt == attempt)
                    .or_else(|| working.thread(destination.key(), &attempt))
                    .cloned();
                if working.is_in_doubt(destination.key(), &notification.id) {
                    tracing::info!(resource = %stack, destination = destination.key(), notification_id = %notification.id, "sending again a notification whose last request was in flight when its run stopped (the receiver may see it twice, with the same id)");
                }
                state.sending(stack, destination.key(), &notification.id, true);
                let result = destination
                    .send(notification, gate, thread.as_ref())
                    .await
                    .map(|delivered| {
                        delivered.thread.map(|(channel, ts)| Thread {
                            destination: destination.key().to_owned(),
                            attempt,
                            channel,
                            ts,
                        })
                    });
                if let Ok(Some(thread)) = &result {
                    posted.push(thread.clone());
                }
                let stop = matches!(
                    result,
                    Err(DeliveryError::Retry(_) | DeliveryError::InDoubt(_))
                );
                let _ = reports.send(Report::Sent(index, item, result));
                if stop {
                    break;
                }
            }
        }
        let _ = reports.send(Report::Done);
    }

    /// The destinations' gates for this tick, made at its first delivery with the quiet
    /// periods kept in state.
    async fn gates<'s>(&self, state: &'s TickState<'_>) -> &'s HashMap<String, Gate> {
        state
            .gates
            .get_or_init(|| async {
                let quiet = match self.store.load_destinations().await {
                    Ok(kept) => kept.quiet,
                    Err(error) => {
                        tracing::warn!(%error, "could not read the destinations' quiet periods; every destination is tried");
                        Vec::new()
                    }
                };
                self.destinations
                    .iter()
                    .map(|destination| {
                        let until = quiet
                            .iter()
                            .filter(|quiet| quiet.destination == destination.key())
                            .map(|quiet| quiet.until)
                            .max();
                        (
                            destination.key().to_owned(),
                            Gate::new(destination.key(), destination.policy(), state.requests_end(), until)
                                .with_clock(state.clock),
                        )
                    })
                    .collect()
            })
            .await
    }

    /// Keeps the quiet periods destinations asked for in this tick, for every later run.
    pub(super) async fn keep_quiet_periods(&self, state: &TickState<'_>) {
        let Some(gates) = state.gates.get() else {
            return;
        };
        let asked: Vec<Quiet> = gates
            .values()
            .filter_map(|gate| {
                gate.asked_quiet().map(|until| Quiet {
                    destination: gate.key().to_owned(),
                    until,
                })
            })
            .collect();
        if asked.is_empty() {
            return;
        }
        for _ in 0..3 {
            let mut kept = match self.store.load_destinations().await {
                Ok(kept) => kept,
                Err(error) => {
                    tracing::warn!(%error, "could not keep the quiet periods destinations asked for");
                    return;
                }
            };
            let now = state.clock.now();
            kept.quiet.retain(|quiet| {
                quiet.until > now && !asked.iter().any(|new| new.destination == quiet.destination)
            });
            kept.quiet.extend(asked.iter().cloned());
            match self
                .store
                .save_destinations(&DestinationState { ..kept })
                .await
            {
                Ok(_) => return,
                Err(SaveError::Conflict) => continue,
                Err(SaveError::Store(error)) => {
                    tracing::warn!(%error, "could not keep the quiet periods destinations asked for");
                    return;
                }
            }
        }
    }
}

/// What a destination's sender tells the recorder.
enum Report {
    /// One delivery's result (with the thread it posted, if any), by destination index
    /// and pending index.
    Sent(usize, usize, Result<Option<Thread>, DeliveryError>),
    /// This destination has nothing more to send for the stack in this run.
    Done,
}

/// Takes one delivery's result into the record (and the counts and logs); whether the
/// record changed.
fn settle(
    record: &mut ResourceRecord,
    stack: &StackRef,
    key: &str,
    notification: &crate::domain::Notification,
    result: Result<Option<Thread>, DeliveryError>,
    outcome: &mut Outcome,
) -> bool {
    let id = &notification.id;
    let event_type = notification.kind.event_type();
    match result {
        Ok(thread) => {
            outcome.deliveries.delivered += 1;
            tracing::info!(resource = %stack, destination = key, notification_id = %id, event_type, "delivered");
            ledger::settle(record, key, id, Settled::Delivered { thread });
            true
        }
        Err(DeliveryError::Permanent(reason)) => {
            outcome.deliveries.refused += 1;
            tracing::error!(resource = %stack, destination = key, notification_id = %id, %reason, "destination refused the notification for good");
            ledger::settle(record, key, id, Settled::Refused);
            true
        }
        Err(DeliveryError::Retry(reason)) => {
            outcome.deliveries.retrying += 1;
            tracing::warn!(resource = %stack, destination = key, notification_id = %id, %reason, "delivery failed; will retry next tick");
            false
        }
        Err(DeliveryError::InDoubt(reason)) => {
            outcome.deliveries.retrying += 1;
            tracing::warn!(resource = %stack, destination = key, notification_id = %id, %reason, "delivery in doubt: the request timed out and may have arrived; it is sent again next tick with the same id");
            ledger::doubt(record, key, id);
            true
        }
    }
}
