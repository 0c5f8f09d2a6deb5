//! What one destination may still do in one run: the retry loop every destination sends
//! through, with its bounds (ARCHITECTURE §7).
//!
//! - Each request has a timeout, cut so that it ends before the run's deadline.
//! - A failure that may pass (429, 5xx, a timeout, a network error) is retried with
//!   backoff, or after a short `Retry-After`, while the destination's **retry budget**
//!   lasts. The budget is shared by every stack of the run, and a retry reserves its wait
//!   *and* its request's timeout before it starts, so concurrent stacks can never overrun
//!   it together.
//! - A destination that times out, or still fails once its retries are spent, is
//!   **paused** for the rest of the run: its later messages are not attempted (they stay
//!   pending), so it holds back no other destination and no stack.
//! - A `Retry-After` longer than can be waited out in the run becomes a **quiet period**
//!   (capped at an hour), which the run keeps in state so every later run, in any
//!   process, honours it.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{DeliveryError, DeliveryPolicy};
use crate::domain::Timestamp;

/// The longest quiet period a `Retry-After` can impose.
pub const MAX_QUIET: Duration = Duration::from_secs(3600);
/// A request that would have less time than this before the deadline is not started.
const SHORTEST_REQUEST: Duration = Duration::from_millis(200);

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
            used: Mutex::new(Used {
                quiet_until,
                ..Used::default()
            }),
            in_flight: tokio::sync::Semaphore::new(policy.concurrency.max(1)),
        }
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

    /// Reserves `cost` of the retry budget, if it is there.
    fn reserve(&self, cost: Duration) -> bool {
        let mut used = self.used();
        if used.spent + used.reserved + cost > self.policy.retry_budget {
            return false;
        }
        used.reserved += cost;
        true
    }

    /// A retry is over: its reservation goes, what it really took is spent.
    fn settle(&self, reserved: Duration, took: Duration) {
        let mut used = self.used();
        used.reserved = used.reserved.saturating_sub(reserved);
        used.spent += took;
    }

    /// Sends one message: `attempt(timeout)` makes one request within `timeout`, and the
    /// gate retries it while the policy, the budget and the deadline allow.
    pub async fn send<T, F, Fut>(&self, mut attempt: F) -> Result<T, DeliveryError>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
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
        let Ok(_slot) = self.in_flight.acquire().await else {
            return Err(paused("the run is ending".into()));
        };
        if let Some(reason) = self.paused() {
            return Err(paused(reason));
        }
        let quiet_until = self.used().quiet_until;
        if let Some(until) = quiet_until.filter(|until| *until > Timestamp::now()) {
            return Err(DeliveryError::Retry(format!(
                "{}: not sent; the destination asked for quiet until {until} (Retry-After)",
                self.key
            )));
        }
        let mut number = 1;
        let mut retry: Option<(Duration, Duration)> = None;
        loop {
            let Some(timeout) = self.request_timeout() else {
                let reason = format!(
                    "{}: not sent; no time left before the run's deadline",
                    self.key
                );
                self.pause(&reason);
                return Err(DeliveryError::Retry(reason));
            };
            let started = Instant::now();
            let answer = attempt(timeout).await;
            if let Some((reserved, waited)) = retry.take() {
                self.settle(reserved, waited + started.elapsed());
            }
            let (reason, retry_after, timed_out) = match answer {
                Attempt::Done(value) => return Ok(value),
                Attempt::Refused(reason) => return Err(DeliveryError::Permanent(reason)),
                Attempt::Failed {
                    reason,
                    retry_after,
                    timed_out,
                } => (reason, retry_after, timed_out),
            };
            if timed_out {
                self.pause(&reason);
                return Err(DeliveryError::Retry(reason));
            }
            let wait = match retry_after {
                Some(wait) if wait > self.policy.max_retry_after => {
                    let quiet = wait.min(MAX_QUIET);
                    let until = Timestamp::now().plus_millis(quiet.as_millis() as i64);
                    {
                        let mut used = self.used();
                        used.quiet_until = Some(until);
                        used.asked_quiet = Some(until);
                    }
                    tracing::warn!(destination = %self.key, %until, asked_seconds = wait.as_secs(), "the destination asked for quiet (Retry-After)");
                    let reason = format!(
                        "{reason}; quiet until {until}, as the destination asked (capped at {} minutes)",
                        MAX_QUIET.as_secs() / 60
                    );
                    self.pause(&reason);
                    return Err(DeliveryError::Retry(reason));
                }
                Some(wait) => wait,
                None => crate::backoff::Backoff {
                    first: self.policy.base_backoff,
                    max: self.policy.max_backoff,
                }
                .delay(number),
            };
            if number >= self.policy.max_attempts {
                let reason = format!("{reason}; gave up for this run after {number} attempts");
                self.pause(&reason);
                return Err(DeliveryError::Retry(reason));
            }
            // The wait, and the request after it, must fit the budget and the deadline.
            let cost = wait + self.policy.timeout;
            let before_deadline = self
                .deadline
                .is_none_or(|deadline| Instant::now() + wait + SHORTEST_REQUEST <= deadline);
            if !before_deadline || !self.reserve(cost) {
                let reason = format!("{reason}; no retry budget left in this run");
                self.pause(&reason);
                return Err(DeliveryError::Retry(reason));
            }
            tokio::time::sleep(wait).await;
            retry = Some((cost, wait));
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
    async fn a_timeout_pauses_the_destination_for_the_run() {
        let gate = Gate::new("k", policy(), None, None);
        let result: Result<(), _> = gate.send(|_| async { failed(None, true) }).await;
        assert!(matches!(result, Err(DeliveryError::Retry(_))));
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

    #[tokio::test]
    async fn retries_reserve_their_wait_and_their_request_from_a_shared_budget() {
        // 700 ms of budget; each failing request takes 250 ms and may take 300. The first
        // retry reserves ≤ 320 ms and spends about 260; the second fits (260 + 320 ≤ 700)
        // and spends as much again; a third would not (520 + 320 > 700).
        let gate = Gate::new("k", policy(), None, None);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let result: Result<(), _> = gate
            .send(|_| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    failed(None, false)
                }
            })
            .await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert!(
            result
                .unwrap_err()
                .to_string()
                .contains("no retry budget left")
        );
        assert!(gate.used().spent <= policy().retry_budget);
        assert_eq!(gate.used().reserved, Duration::ZERO);
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
