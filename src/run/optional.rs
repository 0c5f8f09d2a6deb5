//! Optional reads fail soft (ARCHITECTURE §13).
//!
//! A stack's status is its one required read. Everything else a tick reads about it
//! (blockers now; what explains or routes a notification) is optional: it takes one of the
//! tick's call slots, at most [`OPTIONAL_READ_BUDGET`], and a failure of any kind leaves
//! what it would have added unknown for this tick, and nothing else. The failure is
//! counted in the tick's summary (so `check`'s recap and the `OptionalReadFailures` metric
//! show it) and said in the log once an hour per process, account and Region, API and kind
//! of failure, with the permission and the fix, rather than once per stack.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use super::tick::TickState;
use super::{Runner, lock};
use crate::domain::{Location, StackRef, Timestamp};
use crate::source::{OptionalRead, SourceError, SourceErrorKind, StatusSource};
use crate::store::StateStore;

/// The longest an optional read may take (its SDK retries included).
pub const OPTIONAL_READ_BUDGET: Duration = Duration::from_secs(3);
/// How often one kind of optional-read failure is said in the log, in milliseconds.
const SAY_EVERY: i64 = 3600 * 1000;

/// One kind of optional-read failure: where, which read, what went wrong.
type FailureKind = (Option<Location>, OptionalRead, SourceErrorKind);

/// When each kind of optional-read failure was last said, for the life of the process.
#[derive(Debug, Default)]
pub struct OptionalReads {
    said: Mutex<HashMap<FailureKind, Timestamp>>,
}

impl OptionalReads {
    /// Whether a failure of `read` of `kind` at `location` is to be said at `now`: the
    /// first time, and then once an hour.
    fn say_now(
        &self,
        location: Option<&Location>,
        read: OptionalRead,
        kind: SourceErrorKind,
        now: Timestamp,
    ) -> bool {
        let mut said = lock(&self.said);
        let last = said.entry((location.cloned(), read, kind));
        match last {
            std::collections::hash_map::Entry::Occupied(mut entry) => {
                if now.as_millis().saturating_sub(entry.get().as_millis()) < SAY_EVERY {
                    return false;
                }
                entry.insert(now);
                true
            }
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(now);
                true
            }
        }
    }
}

impl<S: StatusSource, T: StateStore> Runner<S, T> {
    /// Runs `call`, optional read `read` of `stack`, in one of the tick's call slots and
    /// within its budget (cut to end before the deadline). Its answer, or `None` when it
    /// failed, timed out, or the tick is ending.
    pub(super) async fn optional_read<R>(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        read: OptionalRead,
        call: impl Future<Output = Result<R, SourceError>>,
    ) -> Option<R> {
        let _permit = state.permits.acquire().await.ok()?;
        let budget = match state.deadline {
            Some(deadline) => OPTIONAL_READ_BUDGET
                .min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            None => OPTIONAL_READ_BUDGET,
        };
        let error = match tokio::time::timeout(budget, call).await {
            Ok(Ok(answer)) => return Some(answer),
            // This source has no such read (a test's, or a stand-in's): nothing failed.
            Ok(Err(error)) if error.kind == SourceErrorKind::Unsupported => return None,
            Ok(Err(error)) => error,
            Err(_) => SourceError::new(
                SourceErrorKind::TimedOut,
                format!("no answer within {} ms", budget.as_millis()),
            ),
        };
        self.optional_read_failed(state, stack, read, error);
        None
    }

    fn optional_read_failed(
        &self,
        state: &TickState<'_>,
        stack: &StackRef,
        read: OptionalRead,
        error: SourceError,
    ) {
        let location = stack.location.as_ref();
        let fix = read.fix(error.kind, self.source.is_hub());
        if self.optional.say_now(location, read, error.kind, state.now) {
            tracing::warn!(
                api = read.api(),
                account = location.map(|at| at.account.as_str()),
                region = location.map(|at| at.region.as_str()),
                resource = %stack,
                %error,
                %fix,
                "an optional read failed; the stacks' status reads and notifications go on (said once an hour)"
            );
        }
        lock(&state.summary).optional_read_failed(
            read.api(),
            error.kind.to_string(),
            error.to_string(),
            fix,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_is_said_once_an_hour_per_place_and_api() {
        let reads = OptionalReads::default();
        let at = |minutes: i64| Timestamp::from_millis(1_795_680_000_000 + minutes * 60_000);
        let denied = SourceErrorKind::AccessDenied;
        assert!(reads.say_now(None, OptionalRead::Blockers, denied, at(0)));
        assert!(!reads.say_now(None, OptionalRead::Blockers, denied, at(1)));
        assert!(!reads.say_now(None, OptionalRead::Blockers, denied, at(59)));
        // Another kind of failure is news.
        assert!(reads.say_now(
            None,
            OptionalRead::Blockers,
            SourceErrorKind::Throttled,
            at(1)
        ));
        // An hour on, said again.
        assert!(reads.say_now(None, OptionalRead::Blockers, denied, at(60)));
        assert!(!reads.say_now(None, OptionalRead::Blockers, denied, at(61)));
    }
}
