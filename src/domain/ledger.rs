//! The delivery ledger: ARCHITECTURE §7 as pure functions over a stack's record.
//!
//! A run loads the record, [`absorb`]s what [`decide`](super::decide) concluded (new
//! notifications become pending for the destinations that want them; what outlived the
//! retention expires; what every destination has is dropped; the TTL is renewed), then
//! [`claim`]s the record with a lease in one conditional write, delivers what [`queues`]
//! lists, [`settle`]s each delivery as soon as it is done (each one written at once) and
//! [`release`]s the lease. A stack that is no longer found gets its expiry from
//! [`vanish`]. A record that would not fit the store is made to by [`fit`].
//!
//! The promises, each a property test below:
//! - nothing is delivered twice to a destination that succeeded (or refused it for good);
//! - nothing is dropped before its retention, unless every destination has it;
//! - per stack, each destination gets notifications in the order they were decided;
//! - a lease blocks a second claimant until it lapses.

use std::time::Duration;

use super::decide::{Decision, ResourceState};
use super::{AttemptId, Filter, KindSet, Notification, NotificationKind, SyncAttempt, Timestamp};

/// Events a stored notification keeps, newest first: what any destination shows, and more.
pub const EVENTS_KEPT: usize = 50;
/// Characters kept of each event's text.
pub const EVENT_TEXT_KEPT: usize = 1000;
/// Bytes of event text a stored notification keeps in all.
pub const EVENT_BYTES_KEPT: usize = 16 * 1024;

/// Everything recorded about one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    pub state: ResourceState,
    /// Notifications not yet delivered to every destination, oldest first.
    pub pending: Vec<Pending>,
    /// Held while a run delivers `pending`; another run leaves the stack alone until it
    /// lapses.
    pub lease: Option<Lease>,
    /// When the store may delete the record (DynamoDB TTL): renewed while the stack is
    /// checked, short once it is no longer found.
    pub expires_at: Option<Timestamp>,
    /// Messages a destination posted and updates in place (a Slack app's `ts`), per
    /// attempt.
    pub threads: Vec<Thread>,
    /// Requests whose fate is unknown: in flight when their run stopped (a timeout, or the
    /// invocation's deadline). Sent again with the same id.
    pub in_doubt: Vec<InDoubt>,
}

/// A request that may or may not have reached its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InDoubt {
    pub destination: String,
    pub notification: String,
}

impl ResourceRecord {
    pub fn new(state: ResourceState) -> ResourceRecord {
        ResourceRecord {
            state,
            pending: Vec::new(),
            lease: None,
            expires_at: None,
            threads: Vec::new(),
            in_doubt: Vec::new(),
        }
    }

    /// Whether `destination`'s last request of notification `id` is in doubt.
    pub fn is_in_doubt(&self, destination: &str, id: &str) -> bool {
        self.in_doubt
            .iter()
            .any(|doubt| doubt.destination == destination && doubt.notification == id)
    }

    /// Forgets doubts about notifications no longer pending.
    fn forget_settled_doubts(&mut self) {
        let pending = &self.pending;
        self.in_doubt.retain(|doubt| {
            pending.iter().any(|item| {
                item.notification.id == doubt.notification && !item.is_done_for(&doubt.destination)
            })
        });
    }

    /// The thread `destination` keeps for `attempt`, if it posted one.
    pub fn thread(&self, destination: &str, attempt: &AttemptId) -> Option<&Thread> {
        self.threads
            .iter()
            .find(|thread| thread.destination == destination && thread.attempt == *attempt)
    }
}

/// A notification and the destinations that are done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub notification: Notification,
    /// Destination keys that received it, or refused it for good.
    pub done: Vec<String>,
    /// Destination keys it was decided for (the console excluded): it is complete only
    /// once all of these are done, even those this process does not have.
    pub targets: Vec<String>,
}

impl Pending {
    fn is_done_for(&self, key: &str) -> bool {
        self.done.iter().any(|done| done == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until: Timestamp,
}

/// A message a destination posted for an attempt, to update or reply to later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub destination: String,
    pub attempt: AttemptId,
    pub channel: String,
    pub ts: String,
}

/// A destination asked (with `Retry-After`) not to be called before `until`. Kept in state,
/// so every run, in any process, honours it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiet {
    pub destination: String,
    pub until: Timestamp,
}

/// A destination as the ledger sees it.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub key: &'a str,
    pub filter: &'a Filter,
    /// False for the console: it prints what this process decides, and is never owed
    /// anything by another.
    pub durable: bool,
}

impl Recipient<'_> {
    fn wants(&self, notification: &Notification) -> bool {
        self.filter.accepts(notification)
    }
}

/// The durations §7 is kept with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long an undelivered notification is retried before it is dropped.
    pub retention: Duration,
    /// How long a run may hold a stack's notifications while it delivers them.
    pub lease: Duration,
    /// How long the record of a stack nobody checks any more is kept: renewed when a
    /// third of it is left, so a quiet tick writes nothing.
    pub idle_ttl: Duration,
    /// How long the record of a stack that is no longer found is kept.
    pub vanished_ttl: Duration,
}

impl Policy {
    pub const DEFAULT_IDLE_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
    /// Long enough to outlast a sync configuration deleted and re-created, short enough
    /// that a stack deleted for good does not linger in the table.
    pub const DEFAULT_VANISHED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One decided notification, for the run's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub id: String,
    pub kind: NotificationKind,
    /// False when `NOTIFY_ON` leaves this kind out.
    pub notify: bool,
}

/// A record after [`absorb`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absorbed {
    pub record: ResourceRecord,
    pub transitions: Vec<Transition>,
    /// Dropped, undelivered for longer than the retention (to report once the write that
    /// drops them succeeds).
    pub expired: Vec<Pending>,
}

/// Takes a decision into the record: the new state, new notifications pending for the
/// recipients that want them (events kept to [`EVENTS_KEPT`]), expired and completed
/// notifications out, and the TTL renewed when the stack was checked. `decision` is
/// `None` when the check failed (rule 8): the record is kept, its pending notifications
/// still go out.
pub fn absorb(
    previous: Option<&ResourceRecord>,
    decision: Option<Decision>,
    recipients: &[Recipient],
    notify_on: KindSet,
    now: Timestamp,
    policy: &Policy,
) -> Option<Absorbed> {
    let checked = decision.is_some();
    let (mut record, notifications) = match (previous, decision) {
        (_, Some(decision)) => {
            let mut record = previous
                .cloned()
                .unwrap_or_else(|| ResourceRecord::new(decision.state.clone()));
            record.state = decision.state;
            (record, decision.notifications)
        }
        (Some(previous), None) => (previous.clone(), Vec::new()),
        (None, None) => return None,
    };

    let mut transitions = Vec::new();
    for mut notification in notifications {
        let notify = notify_on.contains(notification.kind);
        transitions.push(Transition {
            id: notification.id.clone(),
            kind: notification.kind,
            notify,
        });
        if notify {
            keep_newest_events(&mut notification.attempt, EVENTS_KEPT, EVENT_BYTES_KEPT);
            let targets = recipients
                .iter()
                .filter(|recipient| recipient.durable && recipient.wants(&notification))
                .map(|recipient| recipient.key.to_owned())
                .collect();
            record.pending.push(Pending {
                notification,
                done: Vec::new(),
                targets,
            });
        }
    }

    let retention = millis(policy.retention);
    let (expired, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut record.pending)
        .into_iter()
        .partition(|item| {
            now.as_millis()
                .saturating_sub(item.notification.detected_at.as_millis())
                > retention
        });
    record.pending = pending;
    record.pending.retain(|item| !is_complete(item, recipients));
    record.forget_settled_doubts();
    if checked {
        record.expires_at = Some(renewed_expiry(record.expires_at, now, policy));
    }
    // Threads of attempts the record no longer remembers are of no use.
    let remembered = &record.state.told;
    record
        .threads
        .retain(|thread| remembered.iter().any(|told| told.attempt == thread.attempt));
    Some(Absorbed {
        record,
        transitions,
        expired,
    })
}

/// Whether every destination owed `item` has it: each recipient here that wants it, and
/// every destination it was decided for (a `check` without the function's secret leaves
/// those to the function; a destination removed for good lets it run out at the
/// retention).
pub fn is_complete(item: &Pending, recipients: &[Recipient]) -> bool {
    recipients
        .iter()
        .filter(|recipient| recipient.wants(&item.notification))
        .all(|recipient| item.is_done_for(recipient.key))
        && item.targets.iter().all(|key| item.is_done_for(key))
}

/// The expiry of a checked stack's record: kept while more than a third of the idle TTL
/// (and more than the vanished TTL) is left, so a quiet tick writes nothing; renewed to
/// the whole of it otherwise. A vanished stack's shorter expiry is renewed once it is
/// found again.
pub fn renewed_expiry(previous: Option<Timestamp>, now: Timestamp, policy: &Policy) -> Timestamp {
    let renew_below = now.plus_millis(millis(policy.idle_ttl / 3).max(millis(policy.vanished_ttl)));
    match previous {
        Some(expiry) if expiry > renew_below => expiry,
        _ => now.plus_millis(millis(policy.idle_ttl)),
    }
}

/// What [`claim`] found.
// Short-lived, once per stack and tick: boxing the record would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nothing to deliver: no lease is needed.
    Nothing,
    /// Another run holds the lease until then.
    Held { until: Timestamp },
    /// The record to write (conditionally) to own its deliveries.
    Claimed(ResourceRecord),
}

/// Takes the lease on a record with pending notifications. The lease counts from `now`
/// (the claim itself), so a stack claimed late in a run gets all of it.
pub fn claim(record: &ResourceRecord, owner: &str, now: Timestamp, lease: Duration) -> Claim {
    if record.pending.is_empty() {
        return Claim::Nothing;
    }
    if let Some(held) = &record.lease
        && held.until > now
        && held.owner != owner
    {
        return Claim::Held { until: held.until };
    }
    let mut claimed = record.clone();
    claimed.lease = Some(Lease {
        owner: owner.to_owned(),
        until: now.plus_millis(millis(lease)),
    });
    Claim::Claimed(claimed)
}

/// What each recipient should be sent, in order: for each recipient (by index), the
/// indices in `record.pending` of what it wants and does not have.
pub fn queues(record: &ResourceRecord, recipients: &[Recipient]) -> Vec<(usize, Vec<usize>)> {
    recipients
        .iter()
        .enumerate()
        .map(|(index, recipient)| {
            let items = record
                .pending
                .iter()
                .enumerate()
                .filter(|(_, item)| {
                    recipient.wants(&item.notification) && !item.is_done_for(recipient.key)
                })
                .map(|(position, _)| position)
                .collect();
            (index, items)
        })
        .filter(|(_, items): &(usize, Vec<usize>)| !items.is_empty())
        .collect()
}

/// How one delivery ended, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Delivered; a destination that keeps a message per attempt says which.
    Delivered { thread: Option<Thread> },
    /// Refused for good (this message will never be accepted).
    Refused,
}

/// Records that `key` is done with notification `id` (a notification already gone from
/// the record, or already done, is left as it is).
pub fn settle(record: &mut ResourceRecord, key: &str, id: &str, outcome: Settled) {
    let Some(item) = record
        .pending
        .iter_mut()
        .find(|item| item.notification.id == id)
    else {
        return;
    };
    if !item.is_done_for(key) {
        item.done.push(key.to_owned());
    }
    record
        .in_doubt
        .retain(|doubt| !(doubt.destination == key && doubt.notification == id));
    if let Settled::Delivered {
        thread: Some(thread),
    } = outcome
    {
        record.threads.retain(|known| {
            !(known.destination == thread.destination && known.attempt == thread.attempt)
        });
        record.threads.push(thread);
    }
}

/// Records that `key`'s request of notification `id` may or may not have arrived (it was
/// in flight when its run stopped): it stays pending, to be sent again with its id.
pub fn doubt(record: &mut ResourceRecord, key: &str, id: &str) {
    let pending = record
        .pending
        .iter()
        .any(|item| item.notification.id == id && !item.is_done_for(key));
    if pending && !record.is_in_doubt(key, id) {
        record.in_doubt.push(InDoubt {
            destination: key.to_owned(),
            notification: id.to_owned(),
        });
    }
}

/// Ends a run's hold on the record: the lease goes, and so does every notification all
/// its destinations have.
pub fn release(record: &mut ResourceRecord, recipients: &[Recipient]) {
    record.lease = None;
    record.pending.retain(|item| !is_complete(item, recipients));
    record.forget_settled_doubts();
}

/// What a run does with a stack whose check failed (rule 8): its recorded state is kept
/// whatever happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailedCheck {
    /// Nothing to deliver and nothing to record: the failure is only reported.
    Report,
    /// The stack is no longer found and nothing is pending: its record gets an expiry
    /// ([`vanish`]).
    Vanish,
    /// Notifications decided before are still pending: they go out as usual (the record
    /// is absorbed without a decision).
    DeliverPending,
}

/// Rule 8's choice for a stack whose check failed; `not_found`: it failed because the
/// stack (its sync configuration) no longer exists.
pub fn after_failed_check(previous: Option<&ResourceRecord>, not_found: bool) -> AfterFailedCheck {
    match previous {
        Some(record) if !record.pending.is_empty() => AfterFailedCheck::DeliverPending,
        Some(_) if not_found => AfterFailedCheck::Vanish,
        _ => AfterFailedCheck::Report,
    }
}

/// What [`vanish`] decided for a stack that is no longer found.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vanish {
    /// Its record expires then; `write` is the record to save when that is news.
    Expiring {
        until: Timestamp,
        write: Option<ResourceRecord>,
    },
    /// A run is delivering its notifications: the expiry is written once it is done
    /// (writing now would take the record from under it).
    AfterDelivery,
}

/// A stack that is no longer found keeps its record (rule 8) with a short expiry, written
/// once: later ticks that still do not find it write nothing. (The long idle expiry of a
/// checked stack does not count as counting down.)
pub fn vanish(record: &ResourceRecord, now: Timestamp, policy: &Policy) -> Vanish {
    let ttl = millis(policy.vanished_ttl);
    if let Some(until) = record
        .expires_at
        .filter(|expires_at| *expires_at <= now.plus_millis(ttl))
    {
        return Vanish::Expiring { until, write: None };
    }
    if record.lease.as_ref().is_some_and(|lease| lease.until > now) {
        return Vanish::AfterDelivery;
    }
    let until = now.plus_millis(ttl);
    let mut expiring = record.clone();
    expiring.expires_at = Some(until);
    Vanish::Expiring {
        until,
        write: Some(expiring),
    }
}

/// Keeps the newest events (by time; AWS's order among equal times), at most `count` and
/// `bytes` of text, each cut to [`EVENT_TEXT_KEPT`] characters; how many were left out is
/// added to `events_omitted`. The kept events stay in their original order.
pub fn keep_newest_events(attempt: &mut SyncAttempt, count: usize, bytes: usize) {
    let mut order: Vec<usize> = (0..attempt.events.len()).collect();
    order.sort_by_key(|index| std::cmp::Reverse((attempt.events[*index].time, *index)));
    let mut keep = vec![false; attempt.events.len()];
    let mut used = 0;
    for index in order.into_iter().take(count) {
        let event = &mut attempt.events[index];
        if event.event.chars().count() > EVENT_TEXT_KEPT {
            event.event = crate::text::clip(&event.event, EVENT_TEXT_KEPT);
        }
        let size = event.event.len()
            + event.event_type.len()
            + event.external_id.as_ref().map_or(0, String::len);
        if used + size > bytes {
            break;
        }
        used += size;
        keep[index] = true;
    }
    let before = attempt.events.len();
    let mut flags = keep.into_iter();
    attempt.events.retain(|_| flags.next().unwrap_or(false));
    attempt.events_omitted += before - attempt.events.len();
}

/// Makes a record fit the store: first fewer events in its pending notifications (oldest
/// notifications first), then none, then no names of what they changed; what still does not fit is taken out, oldest first,
/// and returned, to be delivered by this run but not stored (rather than lose it unsent).
pub fn fit(record: &mut ResourceRecord, fits: impl Fn(&ResourceRecord) -> bool) -> Vec<Pending> {
    if fits(record) {
        return Vec::new();
    }
    for (count, bytes) in [(10, 4096), (3, 1024), (0, 0)] {
        for index in 0..record.pending.len() {
            keep_newest_events(
                &mut record.pending[index].notification.attempt,
                count,
                bytes,
            );
            if fits(record) {
                return Vec::new();
            }
        }
    }
    // Then the names of what each attempt changed (their counts stay).
    for index in 0..record.pending.len() {
        if let Some(changes) = &mut record.pending[index].notification.explanation.changes {
            changes.forget_names();
        }
        if fits(record) {
            return Vec::new();
        }
    }
    let mut overflow = Vec::new();
    while !record.pending.is_empty() && !fits(record) {
        overflow.push(record.pending.remove(0));
    }
    overflow
}

#[cfg(test)]
mod tests;
