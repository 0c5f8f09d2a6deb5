//! [`decide`]: ARCHITECTURE §6 as one pure function.
//!
//! Given what we recorded about a stack and what AWS reports now, it returns the state to
//! record and the notifications to send: first about attempts, in the order they happened
//! (rules 1–7 and 10), then about blockers (rule 9). Rule 8 (a failed check keeps the
//! recorded state) lives in the run: a failed check never reaches this function.
//!
//! What makes "at most once" hold whatever the order of AWS's answers: a read of an attempt
//! that started before the recorded one is stale by its start alone; among attempts that
//! share the recorded one's start, the record remembers every commit seen (a fixed-size
//! [`ShaDigest`], however many there are), and a read of one of those that is not the
//! recorded attempt is stale too. [`Told`] keeps, for recent attempts, every kind already
//! told (or deliberately left untold, as a baseline is), so no kind is told twice of the
//! recorded attempt either.
//!
//! Rule 6's note about a replaced attempt whose outcome is unknown waits in the record
//! ([`ReplacedNote`]) until the attempt that replaced it is first told of, in whatever
//! tick that comes.

use std::time::Duration;

use super::seen::ShaDigest;
use super::{
    AttemptId, Blocker, BlockerStatus, Explanation, Notification, NotificationKind, Replaced,
    ResourceStatus, StackRef, SyncAttempt, SyncStatus, Timestamp, blocker_notification_id,
    notification_id,
};

/// How many attempts the record remembers what it told about (the latest one included).
/// "Never twice" does not depend on it (see the module's doc); it bounds the record.
pub const TOLD_KEPT: usize = 16;
/// How many resolved blockers the record remembers (active ones are always kept).
pub const RESOLVED_BLOCKERS_KEPT: usize = 10;

/// Shown when rule 6 infers a failure: AWS only keeps the latest attempt's events.
pub const REPLACED_ATTEMPT_NOTE: &str = "A newer sync started before this one was seen ending, and it is not the latest successful sync, so it is reported as failed. AWS no longer reports its events; see the stack's events in the CloudFormation console.";

/// The settings the rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Rule 10: an attempt still running this long after its start is told stuck, once.
    /// `None` never tells it (`STUCK_AFTER_MINUTES=0`).
    pub stuck_after: Option<Duration>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            stuck_after: Some(Duration::from_secs(60 * 60)),
        }
    }
}

/// What we remember about a stack between checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    /// The latest attempt as last seen, without its events (rule 6 needs the rest).
    pub attempt: SyncAttempt,
    /// Recent attempts, oldest first, each with what was told about it; the recorded
    /// attempt always has an entry.
    pub told: Vec<Told>,
    /// Blockers told as blocked, and whether they were since told unblocked.
    pub blockers: Vec<KnownBlocker>,
    /// Every commit seen starting at the recorded attempt's start, when there was more than
    /// one (`None`: only the recorded attempt's).
    pub seen_at_start: Option<ShaDigest>,
    /// Rule 6: a replaced attempt whose outcome is unknown, to be said in the first
    /// notification about the attempt that replaced it.
    pub replaced_note: Option<ReplacedNote>,
    /// The latest successful attempt seen: the compare link's base for the next success.
    pub last_success: Option<AttemptId>,
}

/// Rule 6's note, waiting for the first notification about `for_attempt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacedNote {
    pub for_attempt: AttemptId,
    pub replaced: Replaced,
}

/// An attempt, and the kinds told about it (or recorded as known without telling, like a
/// baseline's ending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    pub attempt: AttemptId,
    pub kinds: Vec<NotificationKind>,
}

impl Told {
    fn ended(&self) -> bool {
        self.kinds.iter().any(|kind| kind.is_ending())
    }
}

/// A blocker told as blocked (with what it said then, for the unblocked message if it
/// disappears), and whether it was told unblocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBlocker {
    pub blocker: Blocker,
    pub unblocked: bool,
}

impl ResourceState {
    /// A first sighting (rule 1): the attempt as it is, its ending (if any) counted as
    /// known, so it is never announced later.
    pub fn baseline(attempt: &SyncAttempt) -> ResourceState {
        ResourceState {
            attempt: attempt.without_events(),
            told: vec![Told {
                attempt: attempt.id(),
                kinds: attempt.status.terminal_kind().into_iter().collect(),
            }],
            blockers: Vec::new(),
            seen_at_start: None,
            replaced_note: None,
            last_success: None,
        }
    }

    fn entry(&self, id: &AttemptId) -> Option<&Told> {
        self.told.iter().find(|told| told.attempt == *id)
    }

    /// The entry of `id`, made if missing.
    fn entry_mut(&mut self, id: &AttemptId) -> &mut Told {
        let index = match self.told.iter().position(|told| told.attempt == *id) {
            Some(index) => index,
            None => {
                self.told.push(Told {
                    attempt: id.clone(),
                    kinds: Vec::new(),
                });
                self.told.len() - 1
            }
        };
        &mut self.told[index]
    }

    /// Whether a read of `id` is stale (rule 7): it started before the recorded attempt,
    /// or it is an attempt already seen that is not the recorded one.
    fn is_stale(&self, id: &AttemptId) -> bool {
        let recorded = &self.attempt;
        if id.started_at != recorded.started_at {
            return id.started_at < recorded.started_at;
        }
        id.sha != recorded.target_revision.sha
            && (self.entry(id).is_some()
                || self
                    .seen_at_start
                    .as_ref()
                    .is_some_and(|digest| digest.contains(&id.sha)))
    }

    /// Makes `latest` the recorded attempt, remembering the commits seen at its start.
    fn record_latest(&mut self, latest: &SyncAttempt) {
        let recorded = &self.attempt;
        if latest.started_at == recorded.started_at
            && latest.target_revision.sha != recorded.target_revision.sha
        {
            let start = recorded.started_at;
            let told = &self.told;
            let digest = self.seen_at_start.get_or_insert_with(|| {
                ShaDigest::of(
                    told.iter()
                        .filter(|told| told.attempt.started_at == start)
                        .map(|told| told.attempt.sha.as_str())
                        .chain([recorded.target_revision.sha.as_str()]),
                )
            });
            digest.insert(&latest.target_revision.sha);
        } else if latest.started_at != recorded.started_at {
            self.seen_at_start = None;
        }
        self.attempt = latest.without_events();
    }

    /// Gives `notification` rule 6's waiting note, if it is about its attempt.
    fn attach_replaced_note(&mut self, notification: &mut Notification) {
        if self
            .replaced_note
            .as_ref()
            .is_some_and(|note| note.for_attempt == notification.attempt.id())
        {
            notification.replaced = self.replaced_note.take().map(|note| note.replaced);
        }
    }

    /// Whether a blocker was told active and not yet told unblocked (rule 9 reads blockers
    /// every tick then).
    pub fn has_active_blocker(&self) -> bool {
        self.blockers.iter().any(|known| !known.unblocked)
    }

    fn trim(&mut self) {
        let excess = self.told.len().saturating_sub(TOLD_KEPT);
        self.told.drain(..excess);
        let resolved = self.blockers.iter().filter(|known| known.unblocked).count();
        let mut drop = resolved.saturating_sub(RESOLVED_BLOCKERS_KEPT);
        self.blockers.retain(|known| {
            let gone = known.unblocked && drop > 0;
            drop -= usize::from(gone);
            !gone
        });
    }
}

/// What [`decide`] concluded for one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The state to record (equal to the previous one when nothing changed).
    pub state: ResourceState,
    /// Notifications: attempts oldest first, then blockers.
    pub notifications: Vec<Notification>,
}

/// Builds the notifications of one decision.
struct Teller<'a> {
    stack: &'a StackRef,
    current: &'a ResourceStatus,
    now: Timestamp,
    /// The last success the record knew of before this decision.
    last_success: Option<AttemptId>,
    notifications: Vec<Notification>,
}

impl Teller<'_> {
    fn tell(
        &mut self,
        kind: NotificationKind,
        attempt: &SyncAttempt,
        previous_status: Option<SyncStatus>,
    ) -> &mut Notification {
        let occurred_at = match kind {
            NotificationKind::Started => attempt.started_at,
            NotificationKind::Stuck => self.now,
            _ => attempt.ended_at().unwrap_or(self.now),
        };
        self.notifications.push(Notification {
            id: notification_id(self.stack, &attempt.id(), kind),
            kind,
            resource: self.stack.name.clone(),
            location: self.stack.location.clone(),
            account_name: None,
            attempt: attempt.clone(),
            previous_status,
            desired_state: self.current.desired_state.clone(),
            occurred_at,
            detected_at: self.now,
            note: None,
            blocker: None,
            replaced: None,
            reported_stuck: false,
            explanation: Explanation {
                compare_from: self.compare_from(attempt),
                ..Explanation::default()
            },
            tags: Vec::new(),
            reminder: None,
            commit: None,
        });
        let last = self.notifications.len() - 1;
        &mut self.notifications[last]
    }

    fn tell_blocker(&mut self, kind: NotificationKind, blocker: &Blocker) {
        let latest = &self.current.latest_sync;
        let occurred_at = match kind {
            NotificationKind::Blocked => blocker.created_at,
            _ => blocker.resolved_at.unwrap_or(self.now),
        };
        self.notifications.push(Notification {
            id: blocker_notification_id(self.stack, &blocker.id, kind),
            kind,
            resource: self.stack.name.clone(),
            location: self.stack.location.clone(),
            account_name: None,
            attempt: latest.clone(),
            previous_status: None,
            desired_state: self.current.desired_state.clone(),
            occurred_at,
            detected_at: self.now,
            note: None,
            blocker: Some(blocker.clone()),
            replaced: None,
            reported_stuck: false,
            explanation: Explanation::default(),
            tags: Vec::new(),
            reminder: None,
            commit: None,
        });
    }

    /// The commit of the last success before `attempt`: AWS's `LatestSuccessfulSync`, or
    /// the one recorded before it (a success's own `LatestSuccessfulSync` is itself).
    fn compare_from(&self, attempt: &SyncAttempt) -> Option<String> {
        let reported = self
            .current
            .latest_successful_sync
            .as_ref()
            .map(SyncAttempt::id);
        [reported, self.last_success.clone()]
            .into_iter()
            .flatten()
            .filter(|success| success.started_at < attempt.started_at && !success.sha.is_empty())
            .max()
            .map(|success| success.sha)
    }
}

pub fn decide(
    stack: &StackRef,
    previous: Option<&ResourceState>,
    current: &ResourceStatus,
    blockers: Option<&[Blocker]>,
    now: Timestamp,
    rules: &Rules,
) -> Decision {
    let mut teller = Teller {
        stack,
        current,
        now,
        last_success: previous.and_then(|previous| previous.last_success.clone()),
        notifications: Vec::new(),
    };
    let mut state = match previous {
        // Rule 1: the first sighting is a baseline.
        None => ResourceState::baseline(&current.latest_sync),
        Some(previous) => attempts(previous, current, now, rules, &mut teller),
    };
    let reported = current.latest_successful_sync.as_ref().map(SyncAttempt::id);
    state.last_success = state.last_success.take().max(reported);
    if let Some(seen) = blockers {
        tell_blockers(&mut state, seen, &mut teller);
    }
    state.trim();
    Decision {
        state,
        notifications: teller.notifications,
    }
}

/// Rules 2–7 and 10, for a stack we had recorded.
fn attempts(
    previous: &ResourceState,
    current: &ResourceStatus,
    now: Timestamp,
    rules: &Rules,
    teller: &mut Teller,
) -> ResourceState {
    let latest = &current.latest_sync;
    if latest.id() == previous.attempt.id() {
        return same_attempt(previous, latest, now, rules, teller);
    }
    // A stale read (rule 7): never go backwards, never tell twice.
    if previous.is_stale(&latest.id()) {
        return previous.clone();
    }
    let mut state = previous.clone();
    let replaced = replaced_attempt_ends(&mut state, previous, current, teller);
    new_attempt(&mut state, latest, replaced, now, rules, teller);
    state
}

/// Whether `attempt` has run `rules.stuck_after` or longer at `now` (rule 10).
fn is_stuck(attempt: &SyncAttempt, now: Timestamp, rules: &Rules) -> bool {
    attempt.status.is_running()
        && rules.stuck_after.is_some_and(|after| {
            let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
            now.as_millis()
                .saturating_sub(attempt.started_at.as_millis())
                >= after
        })
}

/// Rules 2, 3 and 10: the recorded attempt again; only an ending not yet told is news, or
/// that it has now run too long. One recorded as ended and read running again changes
/// nothing.
fn same_attempt(
    previous: &ResourceState,
    latest: &SyncAttempt,
    now: Timestamp,
    rules: &Rules,
    teller: &mut Teller,
) -> ResourceState {
    let latest_id = latest.id();
    if previous.entry(&latest_id).is_some_and(Told::ended) {
        return previous.clone();
    }
    let mut state = previous.clone();
    let previous_status = previous.attempt.status.clone();
    state.record_latest(latest);
    let entry = state.entry_mut(&latest_id);
    let reported_stuck = entry.kinds.contains(&NotificationKind::Stuck);
    let kind = match latest.status.terminal_kind() {
        Some(kind) => kind,
        None if is_stuck(latest, now, rules) && !reported_stuck => NotificationKind::Stuck,
        None => return state,
    };
    entry.kinds.push(kind);
    let notification = match kind {
        NotificationKind::Stuck => teller.tell(kind, latest, None),
        _ => {
            let notification = teller.tell(kind, latest, Some(previous_status));
            notification.reported_stuck = reported_stuck;
            notification
        }
    };
    state.attach_replaced_note(notification);
    state
}

/// Rule 6: the recorded attempt was never seen ending and a newer one is latest: say how
/// it ended first, if known. An attempt last seen in a status we do not know counts as
/// running here. Returns the replaced attempt when its outcome is unknown.
fn replaced_attempt_ends(
    state: &mut ResourceState,
    previous: &ResourceState,
    current: &ResourceStatus,
    teller: &mut Teller,
) -> Option<Replaced> {
    let previous_id = previous.attempt.id();
    let previous_entry = state.entry_mut(&previous_id);
    if previous_entry.ended() {
        return None;
    }
    let reported_stuck = previous_entry.kinds.contains(&NotificationKind::Stuck);
    let previous_status = Some(previous.attempt.status.clone());
    let notification = match current.latest_successful_sync.as_ref() {
        Some(success) if success.id() == previous_id => {
            previous_entry.kinds.push(NotificationKind::Succeeded);
            teller.tell(NotificationKind::Succeeded, success, previous_status)
        }
        // No success since before it started: it did not succeed.
        None => {
            previous_entry.kinds.push(NotificationKind::Failed);
            infer_failure(previous, previous_status, teller)
        }
        Some(success) if success.started_at < previous.attempt.started_at => {
            previous_entry.kinds.push(NotificationKind::Failed);
            infer_failure(previous, previous_status, teller)
        }
        // A newer attempt succeeded since (or one of the same start with another commit):
        // whether this one did is no longer known.
        Some(_) => {
            return Some(Replaced {
                started_at: previous.attempt.started_at,
                sha: previous_id.sha,
            });
        }
    };
    notification.reported_stuck = reported_stuck;
    state.attach_replaced_note(notification);
    None
}

/// Rules 4 and 5 (and 10): the new attempt is announced as started if it is still
/// running, or only by its ending if it already ended. An unknown status is recorded, not
/// told; rule 6's note about `replaced` then waits for its first notification.
fn new_attempt(
    state: &mut ResourceState,
    latest: &SyncAttempt,
    replaced: Option<Replaced>,
    now: Timestamp,
    rules: &Rules,
    teller: &mut Teller,
) {
    let latest_id = latest.id();
    if let Some(replaced) = replaced {
        state.replaced_note = Some(ReplacedNote {
            for_attempt: latest_id.clone(),
            replaced,
        });
    }
    let mut kinds = Vec::new();
    if latest.status.is_running() {
        kinds.push(NotificationKind::Started);
        if is_stuck(latest, now, rules) {
            kinds.push(NotificationKind::Stuck);
        }
    } else if let Some(kind) = latest.status.terminal_kind() {
        kinds.push(kind);
    }
    for kind in &kinds {
        let notification = teller.tell(*kind, latest, None);
        state.attach_replaced_note(notification);
    }
    state.told.push(Told {
        attempt: latest_id,
        kinds,
    });
    state.record_latest(latest);
}

/// Rule 6 when the replaced attempt did not succeed: a failure, without its events (AWS
/// only keeps the latest attempt's).
fn infer_failure<'t>(
    previous: &ResourceState,
    previous_status: Option<SyncStatus>,
    teller: &'t mut Teller,
) -> &'t mut Notification {
    let mut failed = previous.attempt.without_events();
    failed.status = SyncStatus::Failed;
    let now = teller.now;
    let notification = teller.tell(NotificationKind::Failed, &failed, previous_status);
    notification.occurred_at = now;
    notification.note = Some(REPLACED_ATTEMPT_NOTE.to_owned());
    notification
}

/// Rule 9: a blocker seen active for the first time is told blocked (even at a stack's
/// first sighting: it needs action); one told blocked and now resolved, or gone, is told
/// unblocked. Each at most once per blocker id.
fn tell_blockers(state: &mut ResourceState, seen: &[Blocker], teller: &mut Teller) {
    for blocker in seen {
        let known = state
            .blockers
            .iter()
            .any(|known| known.blocker.id == blocker.id);
        if blocker.status == BlockerStatus::Active && !known {
            teller.tell_blocker(NotificationKind::Blocked, blocker);
            state.blockers.push(KnownBlocker {
                blocker: blocker.clone(),
                unblocked: false,
            });
        }
    }
    for known in state.blockers.iter_mut().filter(|known| !known.unblocked) {
        let now_seen = seen.iter().find(|blocker| blocker.id == known.blocker.id);
        let ended = match now_seen {
            Some(blocker) if blocker.status == BlockerStatus::Resolved => blocker.clone(),
            Some(_) => continue,
            // No longer listed: resolved, though AWS does not say how.
            None => Blocker {
                status: BlockerStatus::Resolved,
                ..known.blocker.clone()
            },
        };
        teller.tell_blocker(NotificationKind::Unblocked, &ended);
        known.unblocked = true;
    }
}

#[cfg(test)]
mod tests;
