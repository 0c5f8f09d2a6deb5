//! The ledger's promises, each as a property over random runs, then the small rules.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::domain::decide::Decision;
use crate::domain::samples::revision;
use crate::domain::{
    Filter, KindSet, Notification, NotificationKind, ResourceName, ResourceState, SyncAttempt,
    SyncEvent, SyncStatus, Timestamp,
};

const START: i64 = 1_795_680_000_000;
const HOUR: i64 = 3_600_000;

fn policy() -> Policy {
    Policy {
        retention: Duration::from_secs(24 * 3600),
        lease: Duration::from_secs(120),
        idle_ttl: Policy::DEFAULT_IDLE_TTL,
        vanished_ttl: Policy::DEFAULT_VANISHED_TTL,
    }
}

fn attempt(n: i64) -> SyncAttempt {
    SyncAttempt {
        started_at: Timestamp::from_millis(START + n * 60_000),
        status: SyncStatus::InProgress,
        target: "app".into(),
        initial_revision: revision("0"),
        target_revision: revision(&format!("sha-{n}")),
        events: Vec::new(),
        events_omitted: 0,
    }
}

/// Notification number `n` (its id says its order), decided at `now`.
fn notification(n: usize, kind: NotificationKind, now: Timestamp) -> Notification {
    Notification {
        id: format!("msg_{n:05}"),
        kind,
        resource: ResourceName::parse("app").unwrap(),
        location: None,
        account_name: None,
        attempt: attempt(n as i64),
        previous_status: None,
        desired_state: None,
        occurred_at: now,
        detected_at: now,
        note: None,
        blocker: None,
        replaced: None,
        reported_stuck: false,
        explanation: Default::default(),
        tags: Vec::new(),
        reminder: None,
        commit: None,
    }
}

fn decision(notifications: Vec<Notification>) -> Decision {
    Decision {
        state: ResourceState::baseline(&attempt(0)),
        notifications,
    }
}

static FAILED_ONLY: Filter = Filter::events(KindSet::of(&[NotificationKind::Failed]));
static ALL: Filter = Filter::ALL;

fn recipients() -> Vec<Recipient<'static>> {
    vec![
        Recipient {
            key: "slack:team",
            filter: &ALL,
            durable: true,
        },
        Recipient {
            key: "pagerduty:oncall",
            filter: &FAILED_ONLY,
            durable: true,
        },
        Recipient {
            key: "console",
            filter: &ALL,
            durable: false,
        },
    ]
}

/// One delivery's fate in a simulated run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Delivered,
    Refused,
    Failed,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        3 => Just(Fate::Delivered),
        1 => Just(Fate::Refused),
        2 => Just(Fate::Failed),
    ]
}

/// How a simulated run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    /// It records each delivery as it is done and releases its claim.
    Releases,
    /// It dies right after its claim is written: its lease stays until it lapses.
    DiesAfterClaim,
    /// It dies during its n-th delivery (from 0): the destination got it (if its fate
    /// says so), the record never says so, and the lease stays until it lapses.
    DiesInFlight(usize),
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        5 => Just(End::Releases),
        1 => Just(End::DiesAfterClaim),
        2 => (0usize..4).prop_map(End::DiesInFlight),
    ]
}

/// One run over the stack: how it ends, the fate of each delivery it tries, and whether
/// another run (of a second invocation) goes through the stack while this one holds it.
#[derive(Debug, Clone)]
struct Run {
    end: End,
    fates: Vec<Fate>,
    /// After this many deliveries (or before its release), the other run, in full.
    overlapped: Option<(usize, Vec<Fate>)>,
}

fn run() -> impl Strategy<Value = Run> {
    (
        end(),
        prop::collection::vec(fate(), 0..12),
        proptest::option::of((0usize..4, prop::collection::vec(fate(), 0..6))),
    )
        .prop_map(|(end, fates, overlapped)| Run {
            end,
            fates,
            overlapped,
        })
}

/// A simulated tick: how many new notifications (and whether failures), how much time
/// passed (none, less or more than a lease, or hours), and its runs, one after another.
#[derive(Debug, Clone)]
struct Step {
    new: Vec<bool>,
    advance: i64,
    runs: Vec<Run>,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let lease = policy().lease.as_millis() as i64;
    let advance = prop_oneof![
        Just(0),
        0..2 * lease,
        (1i64..10).prop_map(|hours| hours * HOUR),
    ];
    prop::collection::vec(
        (
            prop::collection::vec(any::<bool>(), 0..3),
            advance,
            prop::collection::vec(run(), 1..3),
        )
            .prop_map(|(new, advance, runs)| Step { new, advance, runs }),
        1..20,
    )
}

/// Everything a simulation saw.
#[derive(Default)]
struct Seen {
    /// Deliveries per (destination, id), repeats included.
    delivered: HashMap<(String, String), usize>,
    /// (destination, id) the destination got from a run that died before recording it.
    lost: HashMap<(String, String), usize>,
    /// Each notification the store took in: id → when it was decided.
    decided: HashMap<String, Timestamp>,
    /// Ids dropped from the stored record, and when.
    gone: HashMap<String, Timestamp>,
    /// Per destination, the ids in the order the destination got them.
    delivered_order: HashMap<String, Vec<String>>,
    /// (destination, id) recorded in the store as delivered or refused for good.
    settled: std::collections::HashSet<(String, String)>,
    /// The kind of each notification.
    kinds: HashMap<String, NotificationKind>,
    /// A destination got a notification again after the store recorded it as done.
    again: Vec<String>,
    /// Claims refused because another run held the stack, runs that died, and claims
    /// taken over from a run that died.
    held: usize,
    died: usize,
    taken_over: usize,
}

/// The ledger driven as runs drive it, over a store that writes conditionally on a
/// version (as both stores do): load, absorb, claim (one write), deliver in queue order
/// (a destination stops at its first failure), write each settlement at once, release.
/// Runs may die holding their claim, and a second run may go through the stack while the
/// first still holds it.
struct Simulation {
    recipients: Vec<Recipient<'static>>,
    record: Option<ResourceRecord>,
    version: u64,
    now: Timestamp,
    /// Decided, but not yet taken in by the store (a run that found the stack held
    /// records nothing; the next run decides them again).
    undecided: Vec<Notification>,
    runs: usize,
    seen: Seen,
}

fn pending_ids(record: Option<&ResourceRecord>) -> Vec<String> {
    record
        .iter()
        .flat_map(|record| {
            record
                .pending
                .iter()
                .map(|item| item.notification.id.clone())
        })
        .collect()
}

impl Simulation {
    /// A conditional write: it fails if another run wrote since `expected`.
    fn write(&mut self, expected: u64, record: &ResourceRecord) -> Option<u64> {
        if self.version != expected {
            return None;
        }
        let after = pending_ids(Some(record));
        for id in pending_ids(self.record.as_ref()) {
            if !after.contains(&id) {
                self.seen.gone.entry(id).or_insert(self.now);
            }
        }
        for item in &record.pending {
            self.seen
                .decided
                .entry(item.notification.id.clone())
                .or_insert(item.notification.detected_at);
        }
        self.record = Some(record.clone());
        self.version += 1;
        Some(self.version)
    }

    fn deliver(&mut self, key: &str, id: &str) {
        let pair = (key.to_owned(), id.to_owned());
        if self.seen.settled.contains(&pair) {
            self.seen.again.push(format!("{key} got {id} again"));
        }
        *self.seen.delivered.entry(pair).or_default() += 1;
        self.seen
            .delivered_order
            .entry(key.to_owned())
            .or_default()
            .push(id.to_owned());
    }

    fn run(&mut self, run: &Run) {
        self.runs += 1;
        let owner = format!("run-{}", self.runs);
        let loaded = self.version;
        let now = self.now;
        let decided = self
            .undecided
            .iter()
            .cloned()
            .map(|mut notification| {
                notification.detected_at = now;
                notification
            })
            .collect();
        let absorbed = absorb(
            self.record.as_ref(),
            Some(decision(decided)),
            &self.recipients,
            KindSet::ALL,
            now,
            &policy(),
        )
        .expect("a decision always gives a record");
        let mut current = absorbed.record;
        if current.pending.is_empty() {
            current.lease = None;
            if self.write(loaded, &current).is_some() {
                self.undecided.clear();
            }
            return;
        }
        let lapsed = current
            .lease
            .as_ref()
            .is_some_and(|lease| lease.owner != owner && lease.until <= now);
        current = match claim(&current, &owner, now, policy().lease) {
            Claim::Claimed(claimed) => claimed,
            Claim::Held { .. } => {
                self.seen.held += 1;
                return;
            }
            Claim::Nothing => unreachable!("something is pending"),
        };
        let Some(mut version) = self.write(loaded, &current) else {
            return;
        };
        self.undecided.clear();
        self.seen.taken_over += usize::from(lapsed);
        if run.end == End::DiesAfterClaim {
            self.seen.died += 1;
            return;
        }
        let mut overlapped = run.overlapped.clone();
        let mut fates = run.fates.iter().copied().cycle();
        let working = current.clone();
        let mut deliveries = 0;
        for (index, items) in queues(&working, &self.recipients) {
            let key = self.recipients[index].key;
            for item in items {
                if let Some((_, fates)) = overlapped.take_if(|(after, _)| *after == deliveries) {
                    self.overlap(fates);
                }
                let id = working.pending[item].notification.id.clone();
                let fate = fates.next().unwrap_or(Fate::Delivered);
                if fate == Fate::Delivered {
                    self.deliver(key, &id);
                }
                if run.end == End::DiesInFlight(deliveries) {
                    self.seen.died += 1;
                    if fate == Fate::Delivered {
                        *self.seen.lost.entry((key.to_owned(), id)).or_default() += 1;
                    }
                    return;
                }
                deliveries += 1;
                let outcome = match fate {
                    Fate::Delivered => Settled::Delivered { thread: None },
                    Fate::Refused => Settled::Refused,
                    Fate::Failed => break,
                };
                settle(&mut current, key, &id, outcome);
                // Another run took the record: this one stops.
                let Some(next) = self.write(version, &current) else {
                    return;
                };
                version = next;
                self.seen.settled.insert((key.to_owned(), id));
            }
        }
        if let Some((_, fates)) = overlapped {
            self.overlap(fates);
        }
        release(&mut current, &self.recipients);
        self.write(version, &current);
    }

    /// Another run, in full, while the current one holds the stack.
    fn overlap(&mut self, fates: Vec<Fate>) {
        self.run(&Run {
            end: End::Releases,
            fates,
            overlapped: None,
        });
    }
}

fn simulate(steps: &[Step]) -> (Seen, Option<ResourceRecord>) {
    let mut simulation = Simulation {
        recipients: recipients(),
        record: None,
        version: 0,
        now: Timestamp::from_millis(START),
        undecided: Vec::new(),
        runs: 0,
        seen: Seen::default(),
    };
    let mut next = 0;
    for step in steps {
        simulation.now = simulation.now.plus_millis(step.advance);
        for failed in &step.new {
            next += 1;
            let kind = if *failed {
                NotificationKind::Failed
            } else {
                NotificationKind::Started
            };
            let notification = notification(next, kind, simulation.now);
            simulation.seen.kinds.insert(notification.id.clone(), kind);
            simulation.undecided.push(notification);
        }
        for run in &step.runs {
            simulation.run(run);
        }
    }
    (simulation.seen, simulation.record)
}

proptest! {
    #[test]
    fn nothing_is_delivered_twice_to_a_destination_that_succeeded(steps in steps()) {
        let (seen, _) = simulate(&steps);
        prop_assert!(seen.again.is_empty(), "{:?}", seen.again);
        // A run that died between a delivery and its record repeats that one, once.
        for (pair, count) in &seen.delivered {
            let lost = seen.lost.get(pair).copied().unwrap_or(0);
            prop_assert!(*count <= 1 + lost, "{:?} delivered {} times, {} of them lost in a crash", pair, count, lost);
        }
    }

    #[test]
    fn nothing_is_dropped_before_its_retention_unless_every_destination_has_it(steps in steps()) {
        let (seen, _) = simulate(&steps);
        let retention = policy().retention.as_millis() as i64;
        for (id, gone_at) in &seen.gone {
            let decided = seen.decided[id];
            let expired = gone_at.as_millis() - decided.as_millis() > retention;
            // Done everywhere it was owed: Slack and the console always, PagerDuty for a
            // failure.
            let settled = |key: &str| seen.settled.contains(&(key.to_owned(), id.clone()));
            let failed = seen.kinds[id] == NotificationKind::Failed;
            let complete = settled("slack:team") && settled("console") && (!failed || settled("pagerduty:oncall"));
            prop_assert!(expired || complete, "{} dropped {} ms after it was decided", id, gone_at.as_millis() - decided.as_millis());
        }
    }

    #[test]
    fn each_destination_gets_a_stacks_notifications_in_the_order_they_were_decided(steps in steps()) {
        let (seen, _) = simulate(&steps);
        for (destination, delivered) in &seen.delivered_order {
            // A repeat after a crash comes right after the first copy; apart from that,
            // strictly in order.
            let mut firsts = delivered.clone();
            firsts.dedup();
            let in_order = firsts.windows(2).all(|pair| pair[0] < pair[1]);
            prop_assert!(in_order, "{}: {:?}", destination, delivered);
        }
    }

    #[test]
    fn a_lease_blocks_a_second_claimant_until_it_lapses(held_for in 0i64..300_000, asked_after in 0i64..300_000) {
        let mut record = ResourceRecord::new(ResourceState::baseline(&attempt(0)));
        record.pending.push(Pending {
            notification: notification(1, NotificationKind::Started, Timestamp::from_millis(START)),
            done: Vec::new(),
            targets: vec!["slack:team".into()],
        });
        let at = Timestamp::from_millis(START);
        let Claim::Claimed(claimed) = claim(&record, "first", at, Duration::from_millis(held_for as u64)) else {
            panic!("the first claimant gets it");
        };
        let later = at.plus_millis(asked_after);
        let second = claim(&claimed, "second", later, policy().lease);
        if asked_after < held_for {
            prop_assert_eq!(second, Claim::Held { until: at.plus_millis(held_for) });
        } else {
            prop_assert!(matches!(second, Claim::Claimed(_)));
        }
    }
}

#[test]
fn the_simulated_runs_hold_claims_die_and_take_over_lapsed_leases() {
    // The properties above are only as good as the runs they see.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut totals = [0; 4];
    for _ in 0..64 {
        let steps = steps().new_tree(&mut runner).unwrap().current();
        let (seen, _) = simulate(&steps);
        let lost: usize = seen.lost.values().sum();
        for (total, count) in totals
            .iter_mut()
            .zip([seen.held, seen.died, seen.taken_over, lost])
        {
            *total += count;
        }
    }
    let [held, died, taken_over, lost] = totals;
    assert!(
        held > 0 && died > 0 && taken_over > 0 && lost > 0,
        "held {held}, died {died}, taken over {taken_over}, lost in flight {lost}"
    );
}

#[test]
fn a_run_that_dies_in_flight_holds_the_stack_until_its_lease_lapses_then_only_that_is_repeated() {
    let lease = policy().lease.as_millis() as i64;
    let run = |end: End| Run {
        end,
        fates: Vec::new(),
        overlapped: None,
    };
    let (seen, record) = simulate(&[
        // A failure, for Slack, PagerDuty and the console: Slack gets it and it is
        // recorded; PagerDuty gets it, and the run dies before recording that.
        Step {
            new: vec![true],
            advance: 0,
            runs: vec![run(End::DiesInFlight(1))],
        },
        // Its lease holds: nothing is sent.
        Step {
            new: Vec::new(),
            advance: lease - 1,
            runs: vec![run(End::Releases)],
        },
        // It has lapsed: PagerDuty gets it again (it was in flight), Slack does not.
        Step {
            new: Vec::new(),
            advance: 1,
            runs: vec![run(End::Releases)],
        },
    ]);
    assert_eq!((seen.died, seen.held, seen.taken_over), (1, 1, 1));
    let delivered = |key: &str| seen.delivered[&(key.to_owned(), "msg_00001".to_owned())];
    assert_eq!(delivered("slack:team"), 1);
    assert_eq!(delivered("pagerduty:oncall"), 2);
    assert_eq!(delivered("console"), 1);
    let record = record.unwrap();
    assert!(
        record.pending.is_empty() && record.lease.is_none(),
        "{record:?}"
    );
}

#[test]
fn a_notification_is_pending_for_the_durable_destinations_that_want_it() {
    let now = Timestamp::from_millis(START);
    let absorbed = absorb(
        None,
        Some(decision(vec![
            notification(1, NotificationKind::Started, now),
            notification(2, NotificationKind::Failed, now),
        ])),
        &recipients(),
        KindSet::ALL,
        now,
        &policy(),
    )
    .unwrap();
    let targets: Vec<&Vec<String>> = absorbed
        .record
        .pending
        .iter()
        .map(|item| &item.targets)
        .collect();
    assert_eq!(
        targets,
        [
            &vec!["slack:team".to_owned()],
            &vec!["slack:team".to_owned(), "pagerduty:oncall".to_owned()]
        ]
    );
    let queued: Vec<(usize, Vec<usize>)> = queues(&absorbed.record, &recipients());
    assert_eq!(queued, vec![(0, vec![0, 1]), (1, vec![1]), (2, vec![0, 1])]);
}

#[test]
fn notify_on_records_a_transition_without_making_it_pending() {
    let now = Timestamp::from_millis(START);
    let absorbed = absorb(
        None,
        Some(decision(vec![notification(
            1,
            NotificationKind::Started,
            now,
        )])),
        &recipients(),
        KindSet::of(&[NotificationKind::Failed]),
        now,
        &policy(),
    )
    .unwrap();
    assert!(absorbed.record.pending.is_empty());
    assert_eq!(absorbed.transitions.len(), 1);
    assert!(!absorbed.transitions[0].notify);
}

#[test]
fn a_notification_a_destination_of_another_process_is_owed_is_kept_for_it() {
    // Decided by the function for Slack; a `check` without the secret has only the console.
    let now = Timestamp::from_millis(START);
    let mut record = ResourceRecord::new(ResourceState::baseline(&attempt(0)));
    record.pending.push(Pending {
        notification: notification(1, NotificationKind::Started, now),
        done: vec!["console".into()],
        targets: vec!["slack:team".into()],
    });
    let console_only = [Recipient {
        key: "console",
        filter: &ALL,
        durable: false,
    }];
    let absorbed = absorb(
        Some(&record),
        None,
        &console_only,
        KindSet::ALL,
        now,
        &policy(),
    )
    .unwrap();
    assert_eq!(absorbed.record.pending.len(), 1, "still owed to slack:team");
}

#[test]
fn retention_expires_what_is_older_and_keeps_what_is_not() {
    let decided = Timestamp::from_millis(START);
    let mut record = ResourceRecord::new(ResourceState::baseline(&attempt(0)));
    record.pending.push(Pending {
        notification: notification(1, NotificationKind::Started, decided),
        done: Vec::new(),
        targets: vec!["slack:team".into()],
    });
    let just_in = decided.plus_millis(24 * HOUR);
    let kept = absorb(
        Some(&record),
        None,
        &recipients(),
        KindSet::ALL,
        just_in,
        &policy(),
    )
    .unwrap();
    assert!(kept.expired.is_empty());
    let past = decided.plus_millis(24 * HOUR + 1);
    let dropped = absorb(
        Some(&record),
        None,
        &recipients(),
        KindSet::ALL,
        past,
        &policy(),
    )
    .unwrap();
    assert_eq!(dropped.expired.len(), 1);
    assert!(dropped.record.pending.is_empty());
}

#[test]
fn the_ttl_is_renewed_only_when_a_third_is_left_and_a_vanished_stack_expires_once() {
    let now = Timestamp::from_millis(START);
    let policy = policy();
    let fresh = renewed_expiry(None, now, &policy);
    assert_eq!(fresh, now.plus_millis(90 * 24 * HOUR));
    assert_eq!(
        renewed_expiry(Some(fresh), now.plus_millis(59 * 24 * HOUR), &policy),
        fresh
    );
    assert!(renewed_expiry(Some(fresh), now.plus_millis(61 * 24 * HOUR), &policy) > fresh);

    let mut record = ResourceRecord::new(ResourceState::baseline(&attempt(0)));
    record.expires_at = Some(fresh);
    let Vanish::Expiring {
        until,
        write: Some(expiring),
    } = vanish(&record, now, &policy)
    else {
        panic!("a vanished stack's expiry is written");
    };
    assert_eq!(until, now.plus_millis(30 * 24 * HOUR));
    assert_eq!(
        vanish(&expiring, now.plus_millis(HOUR), &policy),
        Vanish::Expiring { until, write: None },
        "written once"
    );
    record.lease = Some(Lease {
        owner: "other".into(),
        until: now.plus_millis(60_000),
    });
    assert_eq!(vanish(&record, now, &policy), Vanish::AfterDelivery);
}

#[test]
fn rule_8_a_failed_check_reports_vanishes_or_still_delivers_what_is_pending() {
    let now = Timestamp::from_millis(START);
    let quiet = ResourceRecord::new(ResourceState::baseline(&attempt(0)));
    let mut owing = quiet.clone();
    owing.pending.push(Pending {
        notification: notification(1, NotificationKind::Failed, now),
        done: Vec::new(),
        targets: vec!["webhook:audit".into()],
    });
    // (recorded, not found, choice)
    let table = [
        (None, false, AfterFailedCheck::Report),
        (None, true, AfterFailedCheck::Report),
        (Some(&quiet), false, AfterFailedCheck::Report),
        (Some(&quiet), true, AfterFailedCheck::Vanish),
        (Some(&owing), false, AfterFailedCheck::DeliverPending),
        (Some(&owing), true, AfterFailedCheck::DeliverPending),
    ];
    for (index, (recorded, not_found, choice)) in table.into_iter().enumerate() {
        assert_eq!(
            after_failed_check(recorded, not_found),
            choice,
            "row {index}"
        );
    }
}

#[test]
fn settling_records_threads_and_release_drops_what_is_complete() {
    let now = Timestamp::from_millis(START);
    let absorbed = absorb(
        None,
        Some(decision(vec![notification(
            1,
            NotificationKind::Started,
            now,
        )])),
        &recipients()[..1],
        KindSet::ALL,
        now,
        &policy(),
    )
    .unwrap();
    let mut record = absorbed.record;
    record.state.told.push(crate::domain::Told {
        attempt: attempt(1).id(),
        kinds: vec![NotificationKind::Started],
    });
    let thread = Thread {
        destination: "slack:team".into(),
        attempt: attempt(1).id(),
        channel: "C0123".into(),
        ts: "1795680060.000100".into(),
    };
    settle(
        &mut record,
        "slack:team",
        "msg_00001",
        Settled::Delivered {
            thread: Some(thread.clone()),
        },
    );
    assert_eq!(record.thread("slack:team", &attempt(1).id()), Some(&thread));
    release(&mut record, &recipients()[..1]);
    assert!(record.pending.is_empty());
    assert!(record.lease.is_none());
}

#[test]
fn stored_events_keep_the_newest_within_the_budget_and_count_the_rest() {
    let mut attempt = attempt(1);
    attempt.events = (0..120)
        .map(|index| SyncEvent {
            event: format!("{index:03} {}", "x".repeat(2000)),
            event_type: "INFO".into(),
            time: Timestamp::from_millis(START + index * 1000),
            external_id: None,
        })
        .collect();
    keep_newest_events(&mut attempt, EVENTS_KEPT, EVENT_BYTES_KEPT);
    assert!(attempt.events.len() < 20, "{}", attempt.events.len());
    assert_eq!(attempt.events.len() + attempt.events_omitted, 120);
    assert!(
        attempt.events.last().unwrap().event.starts_with("119"),
        "the newest is kept"
    );
    assert!(
        attempt
            .events
            .iter()
            .all(|event| event.event.chars().count() <= EVENT_TEXT_KEPT)
    );
    let bytes: usize = attempt
        .events
        .iter()
        .map(|event| event.event.len() + 4)
        .sum();
    assert!(bytes <= EVENT_BYTES_KEPT);
}

#[test]
fn fit_shrinks_events_first_and_hands_back_only_what_cannot_be_kept() {
    let now = Timestamp::from_millis(START);
    let mut record = ResourceRecord::new(ResourceState::baseline(&attempt(0)));
    for n in 0..5 {
        let mut item = notification(n, NotificationKind::Failed, now);
        item.attempt.events = (0..40)
            .map(|index| SyncEvent {
                event: "y".repeat(300),
                event_type: "ERROR".into(),
                time: Timestamp::from_millis(START + index),
                external_id: None,
            })
            .collect();
        record.pending.push(Pending {
            notification: item,
            done: Vec::new(),
            targets: vec!["slack:team".into()],
        });
    }
    let events = |record: &ResourceRecord| -> usize {
        record
            .pending
            .iter()
            .map(|item| item.notification.attempt.events.len())
            .sum()
    };
    // Fits once fewer events are kept: nothing handed back.
    let overflow = fit(&mut record, |record| events(record) <= 60);
    assert!(overflow.is_empty());
    assert!(events(&record) <= 60);
    assert_eq!(record.pending.len(), 5);
    // Fits only with two notifications: the oldest are handed back to be sent now.
    let overflow = fit(&mut record, |record| record.pending.len() <= 2);
    assert_eq!(overflow.len(), 3);
    assert_eq!(overflow[0].notification.id, "msg_00000");
}

#[test]
fn a_stack_in_another_account_is_filtered_by_its_own_name() {
    // A hub's notification about `app` in a member account: a destination's stack
    // patterns match the stack's own name (not ACCOUNT/REGION/NAME), and its account
    // patterns match the stack's account.
    use crate::domain::{AccountId, Glob, Location, Region};
    let glob = |pattern: &str| Some(vec![Glob::parse(pattern).unwrap()]);
    let by_name = Filter {
        resources: glob("ap?"),
        ..Filter::ALL
    };
    let other_name = Filter {
        resources: glob("billing-*"),
        ..Filter::ALL
    };
    let its_account = Filter {
        accounts: glob("2222*"),
        resources: glob("app"),
        ..Filter::ALL
    };
    let other_account = Filter {
        accounts: glob("3333*"),
        ..Filter::ALL
    };
    let recipients = [
        ("slack:by-name", &by_name),
        ("slack:other-name", &other_name),
        ("slack:its-account", &its_account),
        ("slack:other-account", &other_account),
    ]
    .map(|(key, filter)| Recipient {
        key,
        filter,
        durable: true,
    });
    let now = Timestamp::from_millis(START);
    let mut failed = notification(1, NotificationKind::Failed, now);
    failed.location = Some(Location {
        account: AccountId::parse("222233334444").unwrap(),
        region: Region::parse("eu-west-1").unwrap(),
    });
    let absorbed = absorb(
        None,
        Some(decision(vec![failed])),
        &recipients,
        KindSet::ALL,
        now,
        &policy(),
    )
    .unwrap();
    let targets: Vec<&str> = absorbed
        .record
        .pending
        .iter()
        .flat_map(|item| item.targets.iter().map(String::as_str))
        .collect();
    assert_eq!(targets, ["slack:by-name", "slack:its-account"]);
    let queued: Vec<&str> = queues(&absorbed.record, &recipients)
        .into_iter()
        .map(|(index, _)| recipients[index].key)
        .collect();
    assert_eq!(queued, ["slack:by-name", "slack:its-account"]);
}
