//! One test per rule of ARCHITECTURE §6, then property tests over random histories.

use super::*;
use crate::domain::{AttemptId, Revision, SyncEvent};
use proptest::prelude::*;

const NOW: Timestamp = Timestamp::from_millis(1_795_688_100_000);

fn stack() -> ResourceName {
    ResourceName::parse("payments-stack").unwrap()
}

fn revision(sha: &str) -> Revision {
    Revision {
        provider_type: "GitHub".into(),
        owner_id: "acme".into(),
        repository_name: "infra".into(),
        branch: "main".into(),
        directory: "stacks/payments.yaml".into(),
        sha: sha.into(),
    }
}

/// Attempt number `n` starts at minute `n` and deploys commit `sha-n`.
fn attempt(n: i64, status: SyncStatus) -> SyncAttempt {
    let started_at = Timestamp::from_millis(1_795_680_000_000 + n * 60_000);
    let events = match status {
        SyncStatus::Failed => vec![SyncEvent {
            event: "Resource handler returned message: \"Bucket already exists\"".into(),
            event_type: "CREATE_FAILED".into(),
            time: started_at.plus_millis(30_000),
            external_id: None,
        }],
        SyncStatus::Succeeded => vec![SyncEvent {
            event: "Stack update complete".into(),
            event_type: "UPDATE_COMPLETE".into(),
            time: started_at.plus_millis(45_000),
            external_id: None,
        }],
        _ => Vec::new(),
    };
    SyncAttempt {
        started_at,
        status,
        target: "payments-stack".into(),
        initial_revision: revision(&format!("sha-{}", n - 1)),
        target_revision: revision(&format!("sha-{n}")),
        events,
    }
}

fn status(latest: SyncAttempt, latest_successful: Option<SyncAttempt>) -> ResourceStatus {
    ResourceStatus {
        desired_state: Some(latest.target_revision.clone()),
        latest_sync: latest,
        latest_successful_sync: latest_successful,
    }
}

/// Runs `decide` over a series of observations, as successive ticks would.
fn run(observations: &[ResourceStatus]) -> Vec<Vec<Notification>> {
    let mut state: Option<ResourceState> = None;
    observations
        .iter()
        .map(|current| {
            let decision = decide(&stack(), state.as_ref(), current, NOW);
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
        let decision = decide(
            &stack(),
            None,
            &status(attempt(1, first.clone()), None),
            NOW,
        );
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
    let ticks = run(&[
        status(attempt(1, INITIATED), None),
        status(attempt(3, SUCCEEDED), Some(attempt(3, SUCCEEDED))),
    ]);
    let started: Vec<Timestamp> = ticks[1].iter().map(|n| n.attempt.started_at).collect();
    assert!(
        started.windows(2).all(|pair| pair[0] <= pair[1]),
        "{started:?}"
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
    let other = ResourceName::parse("orders-stack").unwrap();
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
    let decision = decide(
        &stack(),
        Some(&ResourceState {
            attempt: attempt(2, unknown.clone()),
            notified: vec![],
        }),
        &status(attempt(2, SUCCEEDED), Some(attempt(2, SUCCEEDED))),
        NOW,
    );
    assert_eq!(
        kinds(&decision.notifications),
        vec![(attempt(2, SUCCEEDED).id(), Succeeded)]
    );
}

#[test]
fn a_stale_read_of_an_older_attempt_changes_nothing() {
    let previous = decide(&stack(), None, &status(attempt(5, IN_PROGRESS), None), NOW).state;
    let decision = decide(
        &stack(),
        Some(&previous),
        &status(attempt(4, FAILED), None),
        NOW,
    );
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
    fn a_running_attempt_seen_replaced_is_told_its_ending_exactly_once(steps in steps()) {
        let (observations, _) = history(&steps);
        let told = kinds(&run(&observations).concat());
        for pair in observations.windows(2) {
            let (before, after) = (&pair[0].latest_sync, &pair[1].latest_sync);
            if before.status.is_running() && before.id() != after.id() {
                let endings = told.iter().filter(|(id, kind)| *id == before.id() && *kind != Started).count();
                prop_assert_eq!(endings, 1);
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
