//! When a tick makes the reads that are not a stack's status: ARCHITECTURE §13's optional
//! reads have their own schedule, decided here from what is recorded and what AWS says now.
//!
//! - Blockers (rule 9): every tick for a stack whose latest attempt failed, that has a
//!   blocker told as active, or that is seen for the first time; otherwise once an hour,
//!   each stack at its own second of the hour ([`SweepWindow`]), so a fleet's hourly reads
//!   spread over the ticks instead of landing on one.

use sha2::{Digest, Sha256};

use super::{ResourceState, ResourceStatus, StackRef, SyncStatus, Timestamp};

/// Every stack's blockers are read at least this often (rule 9), in seconds.
pub const SWEEP_PERIOD: i64 = 3600;

/// The seconds a scheduled tick covers for the hourly reads: after `from`, up to and
/// including `to` (epoch seconds). A stack is due when its own second of the hour falls
/// in it; a window of an hour or more covers every stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepWindow {
    pub from: i64,
    pub to: i64,
}

impl SweepWindow {
    /// The window of a tick at `now` whose last sweep was at `last` (or, for a process's
    /// first tick, `first_window` seconds back), never longer than an hour.
    pub fn since(last: Option<Timestamp>, now: Timestamp, first_window: i64) -> SweepWindow {
        let to = now.as_epoch_seconds();
        let from = last
            .map(Timestamp::as_epoch_seconds)
            .unwrap_or(to - first_window);
        SweepWindow {
            from: from.max(to - SWEEP_PERIOD),
            to,
        }
    }

    /// Whether `stack`'s second of the hour is in this window.
    pub fn covers(&self, stack: &StackRef) -> bool {
        if self.to - self.from >= SWEEP_PERIOD {
            return true;
        }
        let digest = Sha256::digest(stack.key().as_bytes());
        let slot = i64::from(u16::from_be_bytes([digest[0], digest[1]])) % SWEEP_PERIOD;
        let (a, b) = (
            self.from.rem_euclid(SWEEP_PERIOD),
            self.to.rem_euclid(SWEEP_PERIOD),
        );
        if a <= b {
            a < slot && slot <= b
        } else {
            slot > a || slot <= b
        }
    }
}

/// Whether a tick reads `stack`'s blockers (rule 9): its latest attempt failed, a blocker
/// was told active and not yet unblocked, it is seen for the first time, or its hourly
/// read is due in `sweep` (scheduled ticks only; a tick for an event or a manual check has
/// none).
pub fn blockers_due(
    stack: &StackRef,
    current: &ResourceStatus,
    previous: Option<&ResourceState>,
    sweep: Option<&SweepWindow>,
) -> bool {
    current.latest_sync.status == SyncStatus::Failed
        || previous.is_none_or(ResourceState::has_active_blocker)
        || sweep.is_some_and(|window| window.covers(stack))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::samples::{attempt, status};
    use crate::domain::{Blocker, BlockerStatus, KnownBlocker, ResourceName};

    fn stack(name: &str) -> StackRef {
        StackRef::local(ResourceName::parse(name).unwrap())
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(seconds * 1000)
    }

    #[test]
    fn blockers_are_read_after_a_failure_while_one_is_active_at_first_sight_and_when_swept() {
        let failed = status(attempt(1, SyncStatus::Failed), None);
        let succeeded = status(attempt(1, SyncStatus::Succeeded), None);
        let quiet = ResourceState::baseline(&attempt(1, SyncStatus::Succeeded));
        let mut blocked = quiet.clone();
        blocked.blockers.push(KnownBlocker {
            blocker: Blocker {
                id: "b-1".into(),
                blocker_type: "AUTOMATED".into(),
                status: BlockerStatus::Active,
                created_reason: "failed".into(),
                created_at: at(1),
                contexts: Vec::new(),
                resolved_reason: None,
                resolved_at: None,
            },
            unblocked: false,
        });
        let mut unblocked = blocked.clone();
        unblocked.blockers[0].unblocked = true;
        let whole_hour = SweepWindow { from: 0, to: 3600 };
        let payments = stack("payments-stack");
        // (current, previous, sweep, due)
        let table: [(
            &ResourceStatus,
            Option<&ResourceState>,
            Option<&SweepWindow>,
            bool,
        ); 7] = [
            (&failed, Some(&quiet), None, true),
            (&succeeded, None, None, true),
            (&succeeded, Some(&blocked), None, true),
            (&succeeded, Some(&unblocked), None, false),
            (&succeeded, Some(&quiet), None, false),
            (&succeeded, Some(&quiet), Some(&whole_hour), true),
            (
                &succeeded,
                Some(&quiet),
                Some(&SweepWindow { from: 10, to: 10 }),
                false,
            ),
        ];
        for (index, (current, previous, sweep, due)) in table.into_iter().enumerate() {
            assert_eq!(
                blockers_due(&payments, current, previous, sweep),
                due,
                "row {index}"
            );
        }
    }

    #[test]
    fn each_stack_is_swept_once_an_hour_by_ticks_that_follow_each_other() {
        let stacks: Vec<StackRef> = (0..200).map(|n| stack(&format!("stack-{n}"))).collect();
        // Ticks every 60 s over two hours, each window starting where the last ended (the
        // first one looks back a minute).
        let mut last = None;
        let mut swept = vec![0; stacks.len()];
        for minute in 1..=120 {
            let now = at(1_795_680_000 + minute * 60);
            let window = SweepWindow::since(last, now, 60);
            for (index, stack) in stacks.iter().enumerate() {
                swept[index] += usize::from(window.covers(stack));
            }
            last = Some(now);
        }
        assert!(swept.iter().all(|count| *count == 2), "{swept:?}");
    }

    #[test]
    fn a_first_tick_looks_back_its_window_and_never_more_than_an_hour() {
        let now = at(1_795_680_000);
        assert_eq!(
            SweepWindow::since(None, now, 90),
            SweepWindow {
                from: 1_795_679_910,
                to: 1_795_680_000
            }
        );
        let long_ago = Some(at(1_795_000_000));
        let window = SweepWindow::since(long_ago, now, 90);
        assert_eq!(window.to - window.from, SWEEP_PERIOD);
        assert!(window.covers(&stack("any-stack")));
    }
}
