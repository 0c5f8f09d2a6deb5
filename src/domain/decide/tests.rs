//! One test per rule of ARCHITECTURE §6, then property tests over random histories.

use super::*;
use crate::domain::samples::{attempt, status};
use crate::domain::{AttemptId, ResourceName};
use proptest::prelude::*;

const NOW: Timestamp = Timestamp::from_millis(1_795_688_100_000);

fn stack() -> StackRef {
    StackRef::local(ResourceName::parse("payments-stack").unwrap())
}

/// Rules 1–7 alone (stuck detection, rule 10, is off: `NOW` is hours after the attempts).
const ATTEMPT_RULES: Rules = Rules { stuck_after: None };

/// `decide` as a tick sees it: no blockers read, at `NOW`.
fn decide_at(previous: Option<&ResourceState>, current: &ResourceStatus) -> Decision {
    decide(&stack(), previous, current, None, NOW, &ATTEMPT_RULES)
}

/// Runs `decide` over a series of observations, as successive ticks would.
fn run(observations: &[ResourceStatus]) -> Vec<Vec<Notification>> {
    let mut state: Option<ResourceState> = None;
    observations
        .iter()
        .map(|current| {
            let decision = decide_at(state.as_ref(), current);
            state = Some(decision.state);
            decision.notifications
        })
        .collect()
}

fn kinds(notifications: &[Notification]) -> Vec<(AttemptId, NotificationKind)> {
    notifications
        .iter()
        .map(|n| (n.attempt.id(), n.kind))
        .collect()
}

use NotificationKind::{Failed, Started, Succeeded};
use SyncStatus::{
    Failed as FAILED, InProgress as IN_PROGRESS, Initiated as INITIATED, Succeeded as SUCCEEDED,
};

#[test]
fn rule_1_first_sighting_records_a_baseline_and_notifies_nothing() {
    for first in [
        INITIATED,
        IN_PROGRESS,
        SUCCEEDED,
        FAILED,
        SyncStatus::Unknown("QUEUED".into()),
    ] {
        let decision = decide_at(None, &status(attempt(1, first.clone()), None));
        assert!(decision.notifications.is_empty(), "{first}");
        assert_eq!(decision.state.attempt.status, first);
        assert!(
            decision.state.attempt.events.is_empty(),
            "events are not recorded"
        );
    }
}

#[test]
fn rule_1_a_baseline_that_already_ended_is_never_announced_later() {
    let ticks = run(&[
        status(attempt(1, FAILED), None),
        status(attempt(1, FAILED), None),
    ]);
    assert!(ticks.concat().is_empty());
}

#[test]
fn rule_2_unchanged_or_initiated_to_in_progress_is_silent() {
    let ticks = run(&[
        status(attempt(1, INITIATED), None),
        status(attempt(1, INITIATED), None),
        status(attempt(1, IN_PROGRESS), None),
        status(attempt(1, IN_PROGRESS), None),
    ]);
    assert!(ticks.concat().is_empty());
}

#[test]
fn rule_3_the_same_attempt_reaching_succeeded_or_failed_is_notified_once() {
    for (end, kind) in [(SUCCEEDED, Succeeded), (FAILED, Failed)] {
        let ticks = run(&[
            status(attempt(1, IN_PROGRESS), None),
            status(attempt(1, end.clone()), None),
            status(attempt(1, end.clone()), None),
        ]);
        assert_eq!(kinds(&ticks[1]), vec![(attempt(1, end.clone()).id(), kind)]);
        assert!(ticks[2].is_empty(), "told twice");
        let told = &ticks[1][0];
        assert_eq!(told.previous_status, Some(IN_PROGRESS));
        assert_eq!(told.attempt.status, end);
        assert_eq!(
            told.attempt.events.len(),
            1,
            "the ending carries its events"
        );
        assert_eq!(told.occurred_at, told.attempt.events[0].time);
    }
}

#[test]
fn rule_4_a_new_attempt_seen_running_is_started() {
    for running in [INITIATED, IN_PROGRESS] {
        let ticks = run(&[
            status(attempt(1, SUCCEEDED), Some(attempt(1, SUCCEEDED))),
            status(attempt(2, running), Some(attempt(1, SUCCEEDED))),
        ]);
        assert_eq!(
            kinds(&ticks[1]),
            vec![(attempt(2, INITIATED).id(), Started)]
        );
        assert_eq!(ticks[1][0].occurred_at, attempt(2, INITIATED).started_at);
        assert_eq!(ticks[1][0].previous_status, None);
    }
}

#[test]
fn rule_5_a_new_attempt_seen_already_ended_gets_only_its_ending() {
    for (end, kind) in [(SUCCEEDED, Succeeded), (FAILED, Failed)] {
        let success = (end == SUCCEEDED).then(|| attempt(2, SUCCEEDED));
        let ticks = run(&[
            status(attempt(1, SUCCEEDED), Some(attempt(1, SUCCEEDED))),
            status(attempt(2, end), success),
        ]);
        assert_eq!(kinds(&ticks[1]), vec![(attempt(2, INITIATED).id(), kind)]);
    }
}

#[test]
fn rule_6_a_replaced_running_attempt_that_succeeded_is_reported_succeeded_first() {
    let ticks = run(&[
        status(attempt(1, IN_PROGRESS), None),
        status(attempt(2, IN_PROGRESS), Some(attempt(1, SUCCEEDED))),
    ]);
    assert_eq!(
        kinds(&ticks[1]),
        vec![
            (attempt(1, SUCCEEDED).id(), Succeeded),
            (attempt(2, INITIATED).id(), Started)
        ]
    );
    let old = &ticks[1][0];
    assert_eq!(old.attempt.status, SUCCEEDED);
    assert_eq!(old.previous_status, Some(IN_PROGRESS));
    assert!(old.note.is_none());
}

#[test]
fn rule_6_a_replaced_running_attempt_that_did_not_succeed_is_reported_failed_and_says_its_events_are_gone()
 {
    let ticks = run(&[
        status(attempt(1, IN_PROGRESS), Some(attempt(0, SUCCEEDED))),
        status(attempt(2, FAILED), Some(attempt(0, SUCCEEDED))),
    ]);
    assert_eq!(
        kinds(&ticks[1]),
        vec![
            (attempt(1, INITIATED).id(), Failed),
            (attempt(2, INITIATED).id(), Failed)
        ]
    );
    let old = &ticks[1][0];
    assert_eq!(old.attempt.status, FAILED);
    assert!(old.attempt.events.is_empty());
    assert_eq!(old.note.as_deref(), Some(REPLACED_ATTEMPT_NOTE));
    assert_ne!(ticks[1][0].id, ticks[1][1].id);
}

#[test]
fn rule_6_a_replaced_attempt_whose_outcome_aws_no_longer_reports_is_not_told_as_failed() {
    // Attempt 1 was running; since then attempt 2 succeeded and attempt 3 started, so
    // LatestSuccessfulSync (2) is newer than 1: how 1 ended is unknown.
    let ticks = run(&[
        status(attempt(1, IN_PROGRESS), Some(attempt(0, SUCCEEDED))),
        status(attempt(3, IN_PROGRESS), Some(attempt(2, SUCCEEDED))),
    ]);
    assert_eq!(
        kinds(&ticks[1]),
        vec![(attempt(3, INITIATED).id(), Started)]
    );
    assert_eq!(
        ticks[1][0].replaced,
        Some(Replaced {
            started_at: attempt(1, INITIATED).started_at,
            sha: "sha-1".into()
        })
    );
}

#[test]
fn rule_6_does_not_repeat_an_ending_already_told() {
    let ticks = run(&[
        status(attempt(1, IN_PROGRESS), None),
        status(attempt(1, FAILED), None),
        status(attempt(2, IN_PROGRESS), None),
    ]);
    assert_eq!(
        kinds(&ticks[2]),
        vec![(attempt(2, INITIATED).id(), Started)]
    );
}

#[test]
fn rule_7_notifications_follow_the_order_of_attempts() {
    // One tick tells two attempts: the replaced one's ending (rule 6) comes before the
    // new one's start, and a tick that ends one and starts the next does the same.
    let ticks = run(&[
        status(attempt(1, INITIATED), None),
        status(attempt(3, IN_PROGRESS), Some(attempt(1, SUCCEEDED))),
        status(attempt(4, FAILED), Some(attempt(1, SUCCEEDED))),
    ]);
    assert_eq!(
        kinds(&ticks[1]),
        vec![
            (attempt(1, INITIATED).id(), Succeeded),
            (attempt(3, INITIATED).id(), Started)
        ]
    );
    assert_eq!(
        kinds(&ticks[2]),
        vec![
            (attempt(3, INITIATED).id(), Failed),
            (attempt(4, INITIATED).id(), Failed)
        ]
    );
}

#[test]
fn rule_7_ids_are_stable_per_resource_attempt_and_kind() {
    let one = notification_id(&stack(), &attempt(1, FAILED).id(), Failed);
    assert_eq!(
        one,
        notification_id(&stack(), &attempt(1, IN_PROGRESS).id(), Failed)
    );
    assert_ne!(
        one,
        notification_id(&stack(), &attempt(1, FAILED).id(), Succeeded)
    );
    assert_ne!(
        one,
        notification_id(&stack(), &attempt(2, FAILED).id(), Failed)
    );
    let other = StackRef::local(ResourceName::parse("orders-stack").unwrap());
    assert_ne!(
        one,
        notification_id(&other, &attempt(1, FAILED).id(), Failed)
    );
}

#[test]
fn unknown_statuses_are_recorded_never_notified() {
    let unknown = SyncStatus::Unknown("QUEUED".into());
    let ticks = run(&[
        status(attempt(1, SUCCEEDED), None),
        status(attempt(2, unknown.clone()), None),
        status(attempt(2, unknown.clone()), None),
    ]);
    assert!(ticks.concat().is_empty());
    let decision = decide_at(
        Some(&ResourceState::baseline(&attempt(2, unknown.clone()))),
        &status(attempt(2, SUCCEEDED), Some(attempt(2, SUCCEEDED))),
    );
    assert_eq!(
        kinds(&decision.notifications),
        vec![(attempt(2, SUCCEEDED).id(), Succeeded)]
    );
}

#[test]
fn a_stale_read_of_an_older_attempt_changes_nothing() {
    let previous = decide_at(None, &status(attempt(5, IN_PROGRESS), None)).state;
    let decision = decide_at(Some(&previous), &status(attempt(4, FAILED), None));
    assert!(decision.notifications.is_empty());
    assert_eq!(decision.state, previous);
}

// ---------------------------------------------------------------------------------------
// Property tests: random but realistic histories of one resource, observed at random moments.

/// One observation: whether a newer attempt started since the last one, and how far the
/// latest attempt has got (0 initiated, 1 in progress, 2 ended).
#[derive(Debug, Clone)]
struct Step {
    new_attempts: u8,
    phase: u8,
    succeeds: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0u8..3, 0u8..3, any::<bool>()).prop_map(|(new_attempts, phase, succeeds)| Step {
            new_attempts,
            phase,
            succeeds,
        }),
        1..25,
    )
}

/// Turns steps into what `GetResourceSyncStatus` would return at each observation.
/// Returns the observations and, per attempt number, whether it succeeded.
fn history(steps: &[Step]) -> (Vec<ResourceStatus>, std::collections::HashMap<i64, bool>) {
    let mut outcome = std::collections::HashMap::new();
    let mut current = 1i64;
    let mut phase = 0u8;
    let mut last_success: Option<i64> = None;
    let mut observations = Vec::new();
    for step in steps {
        if step.new_attempts > 0 && !observations.is_empty() {
            // Every attempt between the observed ones ran to completion unseen.
            for finished in current..current + i64::from(step.new_attempts) {
                let succeeded = *outcome.entry(finished).or_insert(step.succeeds);
                if succeeded {
                    last_success = Some(finished);
                }
            }
            current += i64::from(step.new_attempts);
            phase = 0;
        }
        phase = phase.max(step.phase);
        let succeeds = *outcome.entry(current).or_insert(step.succeeds);
        let status = match (phase, succeeds) {
            (0, _) => INITIATED,
            (1, _) => IN_PROGRESS,
            (_, true) => SUCCEEDED,
            (_, false) => FAILED,
        };
        if status == SUCCEEDED {
            last_success = Some(current);
        }
        observations.push(status_of(current, status, last_success));
    }
    (observations, outcome)
}

fn status_of(n: i64, status: SyncStatus, last_success: Option<i64>) -> ResourceStatus {
    ResourceStatus {
        desired_state: None,
        latest_sync: attempt(n, status),
        latest_successful_sync: last_success.map(|n| attempt(n, SUCCEEDED)),
    }
}

proptest! {
    #[test]
    fn first_sight_is_silent(steps in steps()) {
        let (observations, _) = history(&steps);
        prop_assert!(run(&observations)[0].is_empty());
    }

    #[test]
    fn no_attempt_and_kind_is_ever_notified_twice(steps in steps()) {
        let (observations, _) = history(&steps);
        let told = kinds(&run(&observations).concat());
        let unique: std::collections::HashSet<_> = told.iter().cloned().collect();
        prop_assert_eq!(unique.len(), told.len(), "{:?}", told);
    }

    #[test]
    fn every_attempt_seen_ended_is_told_its_ending_exactly_once(steps in steps()) {
        let (observations, outcome) = history(&steps);
        let told = kinds(&run(&observations).concat());
        let baseline = &observations[0].latest_sync;
        for seen in &observations {
            let attempt = &seen.latest_sync;
            let ended_at_baseline = attempt.id() == baseline.id() && !baseline.status.is_running();
            if attempt.status.is_running() || ended_at_baseline {
                continue;
            }
            let endings: Vec<_> = told.iter().filter(|(id, kind)| *id == attempt.id() && *kind != Started).collect();
            prop_assert_eq!(endings.len(), 1, "{:?} in {:?}", attempt.id(), told);
            let succeeded = outcome[&((attempt.started_at.as_millis() - 1_795_680_000_000) / 60_000)];
            prop_assert_eq!(endings[0].1 == Succeeded, succeeded);
        }
    }

    #[test]
    fn a_running_attempt_seen_replaced_is_told_its_ending_once_when_known_and_never_when_not(steps in steps()) {
        let (observations, outcome) = history(&steps);
        let ticks = run(&observations);
        let told = kinds(&ticks.concat());
        for (index, pair) in observations.windows(2).enumerate() {
            let (before, after) = (&pair[0].latest_sync, &pair[1].latest_sync);
            if !(before.status.is_running() && before.id() != after.id()) {
                continue;
            }
            let endings: Vec<_> = told.iter().filter(|(id, kind)| *id == before.id() && *kind != Started).collect();
            let success = pair[1].latest_successful_sync.as_ref();
            let known = success.is_none_or(|success| success.started_at <= before.started_at);
            if known {
                prop_assert_eq!(endings.len(), 1);
                let succeeded = outcome[&((before.started_at.as_millis() - 1_795_680_000_000) / 60_000)];
                prop_assert_eq!(endings[0].1 == Succeeded, succeeded, "the ending told is the true one");
            } else {
                prop_assert!(endings.is_empty(), "an unknown outcome is never told: {:?}", endings);
                let first = ticks[index + 1].first();
                prop_assert!(first.is_none_or(|first| first.replaced.as_ref().is_some_and(|replaced| replaced.started_at == before.started_at)));
            }
        }
    }

    #[test]
    fn notifications_follow_the_order_of_attempts(steps in steps()) {
        let (observations, _) = history(&steps);
        let told = kinds(&run(&observations).concat());
        for pair in told.windows(2) {
            let ((first, first_kind), (second, second_kind)) = (&pair[0], &pair[1]);
            prop_assert!(first <= second, "{:?}", told);
            if first == second {
                prop_assert!(*first_kind == Started && *second_kind != Started, "{:?}", told);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rule 7 under any read order: stale and alternating reads never tell anything twice.

/// An attempt that starts at minute `start` and deploys `sha`.
fn attempt_at(start: i64, sha: &str, status: SyncStatus) -> SyncAttempt {
    let mut attempt = attempt(start, status);
    attempt.target_revision.sha = sha.into();
    attempt
}

#[test]
fn rule_7_reads_alternating_between_attempts_of_the_same_start_tell_nothing_twice() {
    // The two examples: IN_PROGRESS a, FAILED b, FAILED a (all starting at T); and
    // IN_PROGRESS a, b, a, b.
    let a = |status| attempt_at(1, "a", status);
    let b = |status| attempt_at(1, "b", status);
    let ticks = run(&[
        status(a(IN_PROGRESS), None),
        status(b(FAILED), None),
        status(a(FAILED), None),
    ]);
    let told = kinds(&ticks.concat());
    assert_eq!(
        told,
        vec![(a(FAILED).id(), Failed), (b(FAILED).id(), Failed)],
        "failed(a) is not told again"
    );
    let ticks = run(&[
        status(a(IN_PROGRESS), None),
        status(b(IN_PROGRESS), None),
        status(a(IN_PROGRESS), None),
        status(b(IN_PROGRESS), None),
    ]);
    let told = kinds(&ticks.concat());
    assert_eq!(
        told,
        vec![(a(FAILED).id(), Failed), (b(IN_PROGRESS).id(), Started)]
    );
}

proptest! {
    #[test]
    fn the_replaced_note_survives_any_number_of_unknown_status_reads(
        unknown_reads in 1usize..40,
        running_reads in 0usize..3,
        ending in prop::sample::select(vec![SUCCEEDED, FAILED]),
    ) {
        let mut reads = replaced_by_an_attempt_first_seen_unknown(unknown_reads);
        // Read running (nothing to tell yet), then ended.
        for _ in 0..running_reads {
            reads.push(status_of_attempt(attempt_at(3, "b", IN_PROGRESS), Some(attempt_at(2, "c", SUCCEEDED))));
        }
        let b = attempt_at(3, "b", ending.clone());
        let success = (ending == SUCCEEDED).then(|| b.clone()).or(Some(attempt_at(2, "c", SUCCEEDED)));
        reads.push(status_of_attempt(b, success));
        let ticks = run(&reads);
        let told = ticks.concat();
        prop_assert_eq!(told.len(), 1, "{:?}", told_ids(&ticks));
        prop_assert_eq!(told[0].replaced.as_ref().map(|r| r.sha.as_str()), Some("a"));
    }

    #[test]
    fn never_twice_whatever_the_read_order_of_many_attempts_sharing_a_start(
        reads in prop::collection::vec((0usize..24, 0u8..4, any::<bool>()), 20..120)
    ) {
        // 24 attempts share one start (more than the 16 whose kinds the record keeps),
        // read in any order, in any status.
        let observations: Vec<ResourceStatus> = reads
            .iter()
            .map(|(which, phase, success)| {
                let sha = format!("s{which:02}");
                let status = [INITIATED, IN_PROGRESS, SUCCEEDED, FAILED][usize::from(*phase)].clone();
                let latest_success = success.then(|| attempt_at(1, &sha, SUCCEEDED));
                status_of_attempt(attempt_at(1, &sha, status), latest_success)
            })
            .collect();
        let told = told_ids(&run(&observations));
        let unique: std::collections::HashSet<_> = told.iter().cloned().collect();
        prop_assert_eq!(unique.len(), told.len(), "{:?}", told);
        for (sha, kind) in &told {
            if kind.is_ending() {
                prop_assert_eq!(told.iter().filter(|(other, k)| other == sha && k.is_ending()).count(), 1);
            }
        }
    }

    #[test]
    fn no_read_order_tells_an_attempt_and_kind_twice(
        reads in prop::collection::vec((0usize..4, 0u8..4, any::<bool>()), 1..30)
    ) {
        // Four attempts, two of them starting at the same minute; any status, any order,
        // with or without a latest success.
        let pool = [(1, "a"), (1, "b"), (2, "c"), (3, "d")];
        let observations: Vec<ResourceStatus> = reads
            .iter()
            .map(|(which, phase, success)| {
                let (start, sha) = pool[*which];
                let status = [INITIATED, IN_PROGRESS, SUCCEEDED, FAILED][usize::from(*phase)].clone();
                let latest_success = success.then(|| attempt_at(start, sha, SUCCEEDED));
                status_of_attempt(attempt_at(start, sha, status), latest_success)
            })
            .collect();
        let told = kinds(&run(&observations).concat());
        let unique: std::collections::HashSet<_> = told.iter().cloned().collect();
        prop_assert_eq!(unique.len(), told.len(), "{:?}", told);
        // And never two different endings for one attempt.
        for (id, kind) in &told {
            if kind.is_ending() {
                prop_assert_eq!(told.iter().filter(|(other, k)| other == id && k.is_ending()).count(), 1);
            }
        }
    }
}

fn status_of_attempt(latest: SyncAttempt, success: Option<SyncAttempt>) -> ResourceStatus {
    ResourceStatus {
        desired_state: None,
        latest_sync: latest,
        latest_successful_sync: success,
    }
}

/// An attempt that starts at minute `start`, deploys `sha`, and is told its notification
/// ids from (the ids of `attempt_at` attempts).
fn told_ids(ticks: &[Vec<Notification>]) -> Vec<(String, NotificationKind)> {
    ticks
        .concat()
        .iter()
        .map(|n| (n.attempt.target_revision.sha.clone(), n.kind))
        .collect()
}

#[test]
fn rule_7_never_twice_for_more_attempts_sharing_a_start_than_the_record_keeps() {
    // A baseline, then 17 attempts s01…s17 sharing one start, each ending SUCCEEDED, then
    // s01 read again: the record keeps the kinds of 16 attempts, but knows all 17 commits.
    let shas: Vec<String> = (1..=17).map(|n| format!("s{n:02}")).collect();
    let mut reads = vec![status_of_attempt(attempt_at(1, "base", SUCCEEDED), None)];
    for sha in &shas {
        let ended = attempt_at(2, sha, SUCCEEDED);
        reads.push(status_of_attempt(ended.clone(), Some(ended)));
    }
    let first = attempt_at(2, "s01", SUCCEEDED);
    reads.push(status_of_attempt(first.clone(), Some(first)));
    let ticks = run(&reads);
    let told = told_ids(&ticks);
    assert_eq!(told.len(), 17, "{told:?}");
    assert!(
        ticks.last().unwrap().is_empty(),
        "succeeded(s01) told twice"
    );
    // And the record stays bounded: 16 attempts' kinds and a fixed-size digest.
    let mut state = None;
    for read in &reads {
        state = Some(decide_at(state.as_ref(), read).state);
    }
    let state = state.unwrap();
    assert!(state.told.len() <= TOLD_KEPT);
    assert!(state.seen_at_start.is_some());
}

#[test]
fn rule_7_a_read_of_an_attempt_already_replaced_at_the_same_start_is_stale() {
    // a SUCCEEDED@x → b INITIATED@x → a SUCCEEDED@x tells only started(b).
    let a = attempt_at(1, "a", SUCCEEDED);
    let ticks = run(&[
        status_of_attempt(a.clone(), Some(a.clone())),
        status_of_attempt(attempt_at(1, "b", INITIATED), Some(a.clone())),
        status_of_attempt(a.clone(), Some(a)),
    ]);
    assert_eq!(told_ids(&ticks), vec![("b".to_owned(), Started)]);
}

#[test]
fn rule_6_a_latest_success_of_the_same_start_but_another_commit_leaves_the_outcome_unknown() {
    // a IN_PROGRESS@x → b SUCCEEDED@x (LatestSuccessfulSync = b): succeeded(b), carrying
    // that a's outcome is unknown.
    let b = attempt_at(1, "b", SUCCEEDED);
    let ticks = run(&[
        status_of_attempt(attempt_at(1, "a", IN_PROGRESS), None),
        status_of_attempt(b.clone(), Some(b)),
    ]);
    assert_eq!(told_ids(&ticks), vec![("b".to_owned(), Succeeded)]);
    assert_eq!(
        ticks[1][0].replaced,
        Some(Replaced {
            started_at: attempt_at(1, "a", IN_PROGRESS).started_at,
            sha: "a".into()
        })
    );
}

#[test]
fn an_attempt_recorded_as_ended_and_read_running_again_changes_nothing() {
    for recorded in [
        // A baseline that had ended.
        decide_at(None, &status(attempt(1, FAILED), None)).state,
        // An ending told.
        run_states(&[
            status(attempt(1, IN_PROGRESS), None),
            status(attempt(1, SUCCEEDED), Some(attempt(1, SUCCEEDED))),
        ]),
    ] {
        for running in [INITIATED, IN_PROGRESS] {
            let decision = decide_at(Some(&recorded), &status(attempt(1, running), None));
            assert!(decision.notifications.is_empty());
            assert_eq!(decision.state, recorded);
        }
    }
}

/// The state after a series of observations.
fn run_states(observations: &[ResourceStatus]) -> ResourceState {
    let mut state: Option<ResourceState> = None;
    for current in observations {
        state = Some(decide_at(state.as_ref(), current).state);
    }
    state.expect("at least one observation")
}

/// The sequence: `a` running; replaced by `b`, first read in a status we do not
/// know, while `LatestSuccessfulSync` is a newer `c`; then `b` ends.
fn replaced_by_an_attempt_first_seen_unknown(unknown_reads: usize) -> Vec<ResourceStatus> {
    let c = attempt_at(2, "c", SUCCEEDED);
    let paused = SyncStatus::Unknown("PAUSED".into());
    let mut reads = vec![status_of_attempt(attempt_at(1, "a", INITIATED), None)];
    for _ in 0..unknown_reads {
        reads.push(status_of_attempt(
            attempt_at(3, "b", paused.clone()),
            Some(c.clone()),
        ));
    }
    reads
}

#[test]
fn rule_6_the_note_waits_for_an_attempt_first_seen_in_a_status_we_do_not_know() {
    let mut reads = replaced_by_an_attempt_first_seen_unknown(1);
    let b = attempt_at(3, "b", SUCCEEDED);
    reads.push(status_of_attempt(b.clone(), Some(b)));
    let ticks = run(&reads);
    assert_eq!(told_ids(&ticks), vec![("b".to_owned(), Succeeded)]);
    let replaced = ticks[2][0].replaced.as_ref().expect("data.replaced");
    assert_eq!(replaced.sha, "a");
    assert_eq!(
        replaced.started_at,
        attempt_at(1, "a", INITIATED).started_at
    );
}

#[test]
fn rule_6_the_note_rides_on_the_new_attempts_own_rule_6_ending() {
    // b is never seen ending: d replaces it, and b's inferred ending is its first message.
    let mut reads = replaced_by_an_attempt_first_seen_unknown(1);
    let c = attempt_at(2, "c", SUCCEEDED);
    reads.push(status_of_attempt(attempt_at(4, "d", IN_PROGRESS), Some(c)));
    let ticks = run(&reads);
    assert_eq!(
        told_ids(&ticks),
        vec![("b".to_owned(), Failed), ("d".to_owned(), Started)]
    );
    assert_eq!(
        ticks[2][0].replaced.as_ref().map(|r| r.sha.as_str()),
        Some("a")
    );
    assert_eq!(ticks[2][1].replaced, None, "said once");
}

// ---------------------------------------------------------------------------------------
// Rule 9: blockers.

fn blocker(id: &str, status: BlockerStatus) -> Blocker {
    Blocker {
        id: id.into(),
        blocker_type: "AUTOMATED".into(),
        status,
        created_reason: "Stack update failed and rolled back".into(),
        created_at: Timestamp::from_millis(1_795_687_400_000),
        contexts: vec![("StackName".into(), "payments-stack".into())],
        resolved_reason: (status == BlockerStatus::Resolved).then(|| "fixed the template".into()),
        resolved_at: (status == BlockerStatus::Resolved)
            .then(|| Timestamp::from_millis(1_795_688_000_000)),
    }
}

/// Runs observations with the blockers read in each tick (`None`: not read).
fn run_with_blockers(
    observations: &[(ResourceStatus, Option<Vec<Blocker>>)],
) -> Vec<Vec<Notification>> {
    let mut state: Option<ResourceState> = None;
    observations
        .iter()
        .map(|(current, blockers)| {
            let decision = decide(
                &stack(),
                state.as_ref(),
                current,
                blockers.as_deref(),
                NOW,
                &ATTEMPT_RULES,
            );
            state = Some(decision.state);
            decision.notifications
        })
        .collect()
}

fn kinds_only(notifications: &[Notification]) -> Vec<NotificationKind> {
    notifications.iter().map(|n| n.kind).collect()
}

#[test]
fn rule_9_a_blocker_is_told_blocked_once_and_unblocked_once() {
    use BlockerStatus::{Active, Resolved};
    let failed = status(attempt(1, FAILED), None);
    let ticks = run_with_blockers(&[
        (failed.clone(), Some(vec![])),
        (failed.clone(), Some(vec![blocker("b1", Active)])),
        (failed.clone(), Some(vec![blocker("b1", Active)])),
        (failed.clone(), None),
        (failed.clone(), Some(vec![blocker("b1", Resolved)])),
        (failed.clone(), Some(vec![blocker("b1", Resolved)])),
        (failed.clone(), Some(vec![])),
    ]);
    let told: Vec<Vec<NotificationKind>> = ticks.iter().map(|tick| kinds_only(tick)).collect();
    assert_eq!(
        told,
        vec![
            vec![],
            vec![NotificationKind::Blocked],
            vec![],
            vec![],
            vec![NotificationKind::Unblocked],
            vec![],
            vec![]
        ]
    );
    let blocked = &ticks[1][0];
    assert_eq!(blocked.blocker.as_ref().unwrap().id, "b1");
    assert_eq!(blocked.occurred_at, blocker("b1", Active).created_at);
    let unblocked = &ticks[4][0];
    assert_eq!(
        unblocked
            .blocker
            .as_ref()
            .unwrap()
            .resolved_reason
            .as_deref(),
        Some("fixed the template")
    );
    assert_ne!(blocked.id, unblocked.id);
}

#[test]
fn rule_9_a_blocker_active_at_first_sight_is_told_unlike_rule_1() {
    let ticks = run_with_blockers(&[(
        status(attempt(1, FAILED), None),
        Some(vec![blocker("b1", BlockerStatus::Active)]),
    )]);
    assert_eq!(kinds_only(&ticks[0]), vec![NotificationKind::Blocked]);
}

#[test]
fn rule_9_a_blocker_that_disappears_is_told_unblocked_and_one_resolved_unseen_is_not_told() {
    let failed = status(attempt(1, FAILED), None);
    let ticks = run_with_blockers(&[
        (
            failed.clone(),
            Some(vec![blocker("b1", BlockerStatus::Active)]),
        ),
        (
            failed.clone(),
            Some(vec![blocker("b2", BlockerStatus::Resolved)]),
        ),
    ]);
    assert_eq!(kinds_only(&ticks[1]), vec![NotificationKind::Unblocked]);
    assert_eq!(ticks[1][0].blocker.as_ref().unwrap().id, "b1");
}

#[test]
fn rule_9_blocker_notifications_come_after_the_attempt_they_follow() {
    let ticks = run_with_blockers(&[
        (status(attempt(1, IN_PROGRESS), None), Some(vec![])),
        (
            status(attempt(1, FAILED), None),
            Some(vec![blocker("b1", BlockerStatus::Active)]),
        ),
    ]);
    assert_eq!(
        kinds_only(&ticks[1]),
        vec![NotificationKind::Failed, NotificationKind::Blocked]
    );
}

// ---------------------------------------------------------------------------------------
// Rule 10: stuck.

fn run_at(observations: &[(ResourceStatus, Timestamp)], rules: Rules) -> Vec<Vec<Notification>> {
    let mut state: Option<ResourceState> = None;
    observations
        .iter()
        .map(|(current, now)| {
            let decision = decide(&stack(), state.as_ref(), current, None, *now, &rules);
            state = Some(decision.state);
            decision.notifications
        })
        .collect()
}

#[test]
fn rule_10_an_attempt_running_too_long_is_told_stuck_once_and_its_end_says_so() {
    let started = attempt(1, IN_PROGRESS).started_at;
    let minutes = |m: i64| started.plus_millis(m * 60_000);
    let ticks = run_at(
        &[
            (
                status(attempt(0, SUCCEEDED), Some(attempt(0, SUCCEEDED))),
                minutes(0),
            ),
            (status(attempt(1, IN_PROGRESS), None), minutes(1)),
            (status(attempt(1, IN_PROGRESS), None), minutes(59)),
            (status(attempt(1, IN_PROGRESS), None), minutes(61)),
            (status(attempt(1, IN_PROGRESS), None), minutes(90)),
            (
                status(attempt(1, SUCCEEDED), Some(attempt(1, SUCCEEDED))),
                minutes(95),
            ),
        ],
        Rules::default(),
    );
    let told: Vec<Vec<NotificationKind>> = ticks.iter().map(|tick| kinds_only(tick)).collect();
    assert_eq!(
        told,
        vec![
            vec![],
            vec![Started],
            vec![],
            vec![NotificationKind::Stuck],
            vec![],
            vec![Succeeded]
        ]
    );
    assert_eq!(ticks[3][0].running_seconds(), Some(61 * 60));
    assert!(
        ticks[5][0].reported_stuck,
        "the ending says it had been reported stuck"
    );
    assert!(!ticks[1][0].reported_stuck);
}

#[test]
fn rule_10_never_tells_stuck_when_turned_off_and_tells_a_new_attempt_already_stuck_at_once() {
    let started = attempt(1, IN_PROGRESS).started_at;
    let later = started.plus_millis(3 * 3600 * 1000);
    let observations = [
        (status(attempt(0, SUCCEEDED), None), started),
        (status(attempt(1, IN_PROGRESS), None), later),
        (
            status(attempt(1, IN_PROGRESS), None),
            later.plus_millis(60_000),
        ),
    ];
    let off = run_at(&observations, Rules { stuck_after: None });
    assert!(
        off.concat()
            .iter()
            .all(|n| n.kind != NotificationKind::Stuck)
    );
    let on = run_at(&observations, Rules::default());
    assert_eq!(kinds_only(&on[1]), vec![Started, NotificationKind::Stuck]);
    assert!(on[2].is_empty());
}

#[test]
fn rule_10_a_stuck_attempt_replaced_carries_that_it_was_stuck() {
    let started = attempt(1, IN_PROGRESS).started_at;
    let ticks = run_at(
        &[
            (status(attempt(1, IN_PROGRESS), None), started),
            (
                status(attempt(1, IN_PROGRESS), None),
                started.plus_millis(2 * 3600 * 1000),
            ),
            (
                status(attempt(180, IN_PROGRESS), None),
                started.plus_millis(3 * 3600 * 1000),
            ),
        ],
        Rules::default(),
    );
    assert_eq!(kinds_only(&ticks[1]), vec![NotificationKind::Stuck]);
    assert_eq!(kinds_only(&ticks[2]), vec![Failed, Started]);
    assert!(ticks[2][0].reported_stuck);
}

// ---------------------------------------------------------------------------------------
// §14: the compare link's base.

fn compare_from(notification: &Notification) -> Option<&str> {
    notification.explanation.compare_from.as_deref()
}

#[test]
fn every_message_about_an_attempt_compares_it_with_the_last_success_before_it() {
    let ticks = run(&[
        status(attempt(1, SUCCEEDED), Some(attempt(1, SUCCEEDED))),
        status(attempt(2, IN_PROGRESS), Some(attempt(1, SUCCEEDED))),
        status(attempt(2, SUCCEEDED), Some(attempt(2, SUCCEEDED))),
        status(attempt(3, FAILED), Some(attempt(2, SUCCEEDED))),
    ]);
    // started(2) and succeeded(2): from 1 (a success's own LatestSuccessfulSync is itself,
    // so the record's earlier one counts); failed(3): from 2.
    assert_eq!(compare_from(&ticks[1][0]), Some("sha-1"));
    assert_eq!(compare_from(&ticks[2][0]), Some("sha-1"));
    assert_eq!(compare_from(&ticks[3][0]), Some("sha-2"));
    // No success known before the attempt: no base.
    let first = run(&[
        status(attempt(1, IN_PROGRESS), None),
        status(attempt(1, FAILED), None),
    ]);
    assert_eq!(compare_from(&first[1][0]), None);
}
