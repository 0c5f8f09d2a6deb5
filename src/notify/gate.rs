//! What one destination may still do in one run: the retry loop every destination sends
//! through, with its bounds (ARCHITECTURE §7).
//!
//! - Each request has a timeout, cut so that it ends before the run's deadline.
//! - A failure that may pass (429, 5xx, a network error) is retried with backoff, or after
//!   a short `Retry-After`, while the destination's **retry budget** lasts. The budget is
//!   shared by every stack of the run. A retry reserves its wait and its request before it
//!   starts, and its request's timeout is cut to half of what the budget has left (and
//!   never under 200 ms): so concurrent stacks can never overrun the budget together, and
//!   no one retry takes the room another stack failing at the same moment needs for its
//!   own (a failure that comes back fast spends only the time it took; the rest of its
//!   reservation returns to the budget).
//! - A destination that times out, or still fails once its retries are spent, is
//!   **paused** for the rest of the run: its later messages are not attempted (they stay
//!   pending), so it holds back no other destination and no stack. A request that timed
//!   out may have been received: it is **in doubt**, and sent again next time with the same
//!   id.
//! - A `Retry-After` longer than can be waited out in the run becomes a **quiet period**
//!   (capped at an hour), which the run keeps in state so every later run, in any
//!   process, honours it.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{DeliveryError, DeliveryPolicy};
use crate::clock::Clock;
use crate::domain::Timestamp;

/// The longest quiet period a `Retry-After` can impose.
pub const MAX_QUIET: Duration = Duration::from_secs(3600);
/// A request that would have less time than this before the deadline is not started.
const SHORTEST_REQUEST: Duration = Duration::from_millis(200);
/// A timeout fires on the timer's next millisecond: what a retry reserves beyond its
/// request's timeout, so that the budget holds to the millisecond.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// How one attempt (one request) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    Done(T),
    /// Refused for good: this message will never be accepted.
    Refused(String),
    /// Failed, perhaps for a while: worth another try.
    Failed {
        reason: String,
        /// How long the destination asked us to wait.
        retry_after: Option<Duration>,
        /// The request ran out of time (the destination is slow or hanging).
        timed_out: bool,
    },
}

#[derive(Debug, Default)]
struct Used {
    /// Retry time spent so far (waits and retried requests).
    spent: Duration,
    /// Retry time reserved by retries under way.
    reserved: Duration,
    /// Why the destination is paused for the rest of the run.
    paused: Option<String>,
    /// Quiet until then, from state or from a `Retry-After` in this run.
    quiet_until: Option<Timestamp>,
    /// A quiet period asked for in this run, to keep in state.
    asked_quiet: Option<Timestamp>,
}

/// One destination's run.
#[derive(Debug)]
pub struct Gate {
    key: String,
    policy: DeliveryPolicy,
    deadline: Option<Instant>,
    /// What "now" is for quiet periods: the run's clock.
    clock: Clock,
    used: Mutex<Used>,
    /// One permit per request in flight.
    in_flight: tokio::sync::Semaphore,
}

impl Gate {
    /// A new run for destination `key`: no wait or request may end after `deadline`; the
    /// destination is quiet until `quiet_until` (from state), if that is still ahead.
    pub fn new(
        key: &str,
        policy: DeliveryPolicy,
        deadline: Option<Instant>,
        quiet_until: Option<Timestamp>,
    ) -> Gate {
        Gate {
            key: key.to_owned(),
            policy,
            deadline,
            clock: Clock::wall(),
            used: Mutex::new(Used {
                quiet_until,
                ..Used::default()
            }),
            in_flight: tokio::sync::Semaphore::new(policy.concurrency.max(1)),
        }
    }

    /// The same gate on the run's clock (quiet periods are read and set by it).
    pub fn with_clock(mut self, clock: Clock) -> Gate {
        self.clock = clock;
        self
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn policy(&self) -> &DeliveryPolicy {
        &self.policy
    }

    fn used(&self) -> std::sync::MutexGuard<'_, Used> {
        // A poisoned lock only means a panic elsewhere: the counts are still usable.
        self.used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Why this destination gets nothing more in this run, if so.
    pub fn paused(&self) -> Option<String> {
        self.used().paused.clone()
    }

    fn pause(&self, reason: &str) {
        let mut used = self.used();
        if used.paused.is_none() {
            used.paused = Some(reason.to_owned());
            tracing::warn!(destination = %self.key, %reason, "destination paused for the rest of this run");
        }
    }

    /// The quiet period a `Retry-After` asked for in this run, to keep in state.
    pub fn asked_quiet(&self) -> Option<Timestamp> {
        self.used().asked_quiet
    }

    /// How long the next request may take: the policy's timeout, cut to end before the
    /// deadline.
    fn request_timeout(&self) -> Option<Duration> {
        let timeout = match self.deadline {
            None => self.policy.timeout,
            Some(deadline) => self
                .policy
                .timeout
                .min(deadline.saturating_duration_since(Instant::now())),
        };
        (timeout >= SHORTEST_REQUEST).then_some(timeout)
    }

    /// Reserves a retry that waits `wait`: its request gets the policy's timeout, cut to
    /// half of what the budget has left after the wait (the other half is for the retries
    /// of other stacks) and to end before the deadline. `None` when less than the shortest
    /// request is left.
    fn reserve_retry(&self, wait: Duration) -> Option<Duration> {
        let before_deadline = match self.deadline {
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(wait),
            None => Duration::MAX,
        };
        let mut used = self.used();
        let left = self
            .policy
            .retry_budget
            .saturating_sub(used.spent + used.reserved)
            .saturating_sub(wait + TIMER_SLACK);
        let request = self.policy.timeout.min(left / 2).min(before_deadline);
        if request < SHORTEST_REQUEST {
            return None;
        }
        used.reserved += wait + request + TIMER_SLACK;
        Some(request)
    }

    /// A retry is over: its reservation goes, what it really took is spent.
    fn settle(&self, reserved: Duration, took: Duration) {
        let mut used = self.used();
        used.reserved = used.reserved.saturating_sub(reserved);
        used.spent += took;
    }

    /// Whether this destination may be sent to now: not paused, a request slot free, not
    /// quiet. The slot is held for the whole send, retries included.
    async fn admit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, DeliveryError> {
        let paused = |reason: String| {
            DeliveryError::Retry(format!(
                "{}: not sent; paused for this run ({reason})",
                self.key
            ))
        };
        if let Some(reason) = self.paused() {
            return Err(paused(reason));
        }
        // Wait for a free slot; the destination may have been paused meanwhile.
        let Ok(slot) = self.in_flight.acquire().await else {
            return Err(paused("the run is ending".into()));
        };
        if let Some(reason) = self.paused() {
            return Err(paused(reason));
        }
        let quiet_until = self.used().quiet_until;
        if let Some(until) = quiet_until.filter(|until| *until > self.clock.now()) {
            return Err(DeliveryError::Retry(format!(
                "{}: not sent; the destination asked for quiet until {until} (Retry-After)",
                self.key
            )));
        }
        Ok(slot)
    }

    /// Pauses the destination for the rest of the run, for `reason`, and says it.
    fn give_up(&self, reason: String) -> DeliveryError {
        self.pause(&reason);
        DeliveryError::Retry(reason)
    }

    /// How long to wait before retry `number` after a failure that asked `retry_after`:
    /// a `Retry-After` too long to wait out in the run becomes a quiet period instead.
    fn wait_before_retry(
        &self,
        reason: &str,
        retry_after: Option<Duration>,
        number: u32,
    ) -> Result<Duration, DeliveryError> {
        match retry_after {
            Some(asked) if asked > self.policy.max_retry_after => {
                let kept = asked.min(MAX_QUIET);
                let until = self.clock.now().plus_millis(kept.as_millis() as i64);
                {
                    let mut used = self.used();
                    used.quiet_until = Some(until);
                    used.asked_quiet = Some(until);
                }
                tracing::warn!(destination = %self.key, %until, asked_seconds = asked.as_secs(), kept_seconds = kept.as_secs(), "the destination asked for quiet (Retry-After)");
                Err(self.give_up(format!(
                    "{reason}; quiet until {until}, as the destination asked (capped at {} minutes)",
                    MAX_QUIET.as_secs() / 60
                )))
            }
            Some(asked) => Ok(asked),
            None => Ok(crate::backoff::Backoff {
                first: self.policy.base_backoff,
                max: self.policy.max_backoff,
            }
            .delay(number)),
        }
    }

    /// Sends one message: `attempt(timeout)` makes one request within `timeout`, and the
    /// gate retries it while the policy, the budget and the deadline allow.
    pub async fn send<T, F, Fut>(&self, mut attempt: F) -> Result<T, DeliveryError>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let _slot = self.admit().await?;
        let Some(mut timeout) = self.request_timeout() else {
            let reason = format!(
                "{}: not sent; no time left before the run's deadline",
                self.key
            );
            return Err(self.give_up(reason));
        };
        let mut number = 1;
        // The retry under way: what it reserved, and how long it waited.
        let mut retry: Option<(Duration, Duration)> = None;
        loop {
            let started = Instant::now();
            let answer = attempt(timeout).await;
            if let Some((reserved, waited)) = retry.take() {
                self.settle(reserved, waited + started.elapsed());
            }
            let (reason, retry_after) = match answer {
                Attempt::Done(value) => return Ok(value),
                Attempt::Refused(reason) => return Err(DeliveryError::Permanent(reason)),
                Attempt::Failed {
                    reason, timed_out, ..
                } if timed_out => {
                    self.pause(&reason);
                    return Err(DeliveryError::InDoubt(reason));
                }
                Attempt::Failed {
                    reason,
                    retry_after,
                    ..
                } => (reason, retry_after),
            };
            let wait = self.wait_before_retry(&reason, retry_after, number)?;
            if number >= self.policy.max_attempts {
                return Err(self.give_up(format!(
                    "{reason}; gave up for this run after {number} attempts"
                )));
            }
            let Some(request) = self.reserve_retry(wait) else {
                return Err(self.give_up(format!("{reason}; no retry budget left in this run")));
            };
            tokio::time::sleep(wait).await;
            retry = Some((wait + request + TIMER_SLACK, wait));
            timeout = request;
            number += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> DeliveryPolicy {
        DeliveryPolicy {
            timeout: Duration::from_millis(300),
            max_attempts: 4,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
            retry_budget: Duration::from_millis(700),
            concurrency: 4,
        }
    }

    fn failed<T>(retry_after: Option<Duration>, timed_out: bool) -> Attempt<T> {
        Attempt::Failed {
            reason: "k: HTTP 503".into(),
            retry_after,
            timed_out,
        }
    }

    #[tokio::test]
    async fn a_failure_that_passes_is_retried_within_the_run() {
        let gate = Gate::new("k", policy(), None, None);
        let mut calls = 0;
        let result = gate
            .send(|_| {
                calls += 1;
                let answer = if calls < 3 {
                    failed(None, false)
                } else {
                    Attempt::Done(calls)
                };
                async move { answer }
            })
            .await;
        assert_eq!(result, Ok(3));
        assert!(gate.paused().is_none());
    }

    #[tokio::test]
    async fn a_timeout_is_in_doubt_and_pauses_the_destination_for_the_run() {
        let gate = Gate::new("k", policy(), None, None);
        let result: Result<(), _> = gate.send(|_| async { failed(None, true) }).await;
        assert!(
            matches!(result, Err(DeliveryError::InDoubt(_))),
            "{result:?}"
        );
        let mut called = false;
        let later: Result<(), _> = gate
            .send(|_| {
                called = true;
                async { Attempt::Done(()) }
            })
            .await;
        assert!(
            !called,
            "a paused destination is not called again in the run"
        );
        assert!(
            later
                .unwrap_err()
                .to_string()
                .contains("paused for this run")
        );
    }

    /// A request that fails after `took`, on tokio's paused clock.
    async fn fails_after(took: Duration) -> Attempt<()> {
        tokio::time::sleep(took).await;
        failed(None, false)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_reserve_their_wait_and_their_request_from_a_shared_budget() {
        // 700 ms of budget; each failing request takes 150 ms. Retry 1 waits 5-10 ms and
        // may take min(300, half of ~690), spends about 158; retry 2 waits 10-20 and may
        // take half of what is left (about 265), spends about 165; retry 3 would have half
        // of at most 374 ms, under the shortest request, so it does not start.
        let gate = Gate::new("k", policy(), None, None);
        let mut timeouts = Vec::new();
        let result: Result<(), _> = gate
            .send(|timeout| {
                timeouts.push(timeout);
                fails_after(Duration::from_millis(150))
            })
            .await;
        assert_eq!(timeouts.len(), 3, "{timeouts:?}");
        assert_eq!(timeouts[1], Duration::from_millis(300));
        assert!(
            (Duration::from_millis(240)..Duration::from_millis(300)).contains(&timeouts[2]),
            "half of what is left: {timeouts:?}"
        );
        assert!(
            result
                .unwrap_err()
                .to_string()
                .contains("no retry budget left")
        );
        let spent = gate.used().spent;
        assert!(
            (Duration::from_millis(315)..=Duration::from_millis(330)).contains(&spent),
            "two requests and their waits: {spent:?}"
        );
        assert_eq!(gate.used().reserved, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_s_request_is_cut_to_what_the_budget_has_left_and_never_overruns_it() {
        // 550 ms of budget; two stacks send at once; every request hangs until its
        // timeout. The first stack's retry gets half of what is left (about 270 ms), not
        // the policy's 300; the second finds too little left and does not retry.
        let policy = DeliveryPolicy {
            retry_budget: Duration::from_millis(550),
            ..policy()
        };
        let gate = Gate::new("k", policy, None, None);
        let timeouts = Mutex::new(Vec::new());
        let send = || {
            gate.send(|timeout| {
                timeouts.lock().unwrap().push(timeout);
                async move {
                    tokio::time::sleep(timeout).await;
                    failed(None, false)
                }
            })
        };
        let (a, b): (Result<(), _>, Result<(), _>) = tokio::join!(send(), send());
        assert!(a.is_err() && b.is_err());
        let used = gate.used();
        assert!(used.spent <= policy.retry_budget, "{:?}", used.spent);
        assert_eq!(used.reserved, Duration::ZERO);
        let timeouts = timeouts.lock().unwrap();
        assert!(
            timeouts
                .iter()
                .any(|timeout| *timeout < Duration::from_millis(300)),
            "a retry cut to the budget's rest: {timeouts:?}"
        );
        assert!(timeouts.iter().all(|timeout| *timeout >= SHORTEST_REQUEST));
    }

    #[tokio::test(start_paused = true)]
    async fn two_stacks_failing_fast_at_the_same_moment_both_get_their_attempts() {
        // The delivery policy of every destination (10 s requests, a 15 s budget). Both
        // stacks fail at once, in 5 ms each time: each gets the four attempts (before, the
        // first retry of each reserved a whole 10 s request, and the second stack found the
        // budget gone after one try).
        let gate = Gate::new("k", DeliveryPolicy::default(), None, None);
        let attempts = [Mutex::new(0), Mutex::new(0)];
        let send = |index: usize| {
            let attempts = &attempts;
            let gate = &gate;
            async move {
                gate.send(|_| {
                    *attempts[index].lock().unwrap() += 1;
                    fails_after(Duration::from_millis(5))
                })
                .await
            }
        };
        let (a, b): (Result<(), _>, Result<(), _>) = tokio::join!(send(0), send(1));
        for result in [&a, &b] {
            assert!(
                result
                    .as_ref()
                    .unwrap_err()
                    .to_string()
                    .contains("gave up for this run after 4 attempts"),
                "{result:?}"
            );
        }
        assert_eq!(*attempts[0].lock().unwrap(), 4);
        assert_eq!(*attempts[1].lock().unwrap(), 4);
    }

    #[tokio::test]
    async fn a_long_retry_after_becomes_a_quiet_period_capped_at_an_hour() {
        let gate = Gate::new("k", policy(), None, None);
        let before = Timestamp::now();
        let result: Result<(), _> = gate
            .send(|_| async { failed(Some(Duration::from_secs(99_999)), false) })
            .await;
        assert!(result.unwrap_err().to_string().contains("quiet until"));
        let until = gate.asked_quiet().unwrap();
        let quiet = until.as_millis() - before.as_millis();
        assert!((3_599_000..=3_601_000).contains(&quiet), "{quiet}");
        let fresh = Gate::new("k", policy(), None, Some(until));
        let mut called = false;
        let _: Result<(), _> = fresh
            .send(|_| {
                called = true;
                async { Attempt::Done(()) }
            })
            .await;
        assert!(
            !called,
            "a quiet period from state is honoured by a new run"
        );
    }

    #[tokio::test]
    async fn requests_end_before_the_deadline_and_none_starts_too_close_to_it() {
        let deadline = Instant::now() + Duration::from_millis(250);
        let gate = Gate::new("k", policy(), Some(deadline), None);
        let mut timeouts = Vec::new();
        let _: Result<(), _> = gate
            .send(|timeout| {
                timeouts.push(timeout);
                async { Attempt::Done(()) }
            })
            .await;
        assert!(timeouts[0] <= Duration::from_millis(250), "{timeouts:?}");
        let gone = Gate::new("k", policy(), Some(Instant::now()), None);
        let result: Result<(), _> = gone.send(|_| async { Attempt::Done(()) }).await;
        assert!(result.unwrap_err().to_string().contains("no time left"));
    }

    #[tokio::test]
    async fn a_refusal_is_permanent_and_pauses_nothing() {
        let gate = Gate::new("k", policy(), None, None);
        let result: Result<(), _> = gate
            .send(|_| async { Attempt::Refused("k: HTTP 400".into()) })
            .await;
        assert!(matches!(result, Err(DeliveryError::Permanent(_))));
        assert!(gate.paused().is_none());
    }
}
