//! [`Clock`]: the time a tick reads, in one place.
//!
//! A tick starts at an instant (the wall clock in Lambda and `check`; a recording's own
//! time in `replay`) and its clock moves on from there with tokio's clock. Leases, quiet
//! periods and retry budgets all read it, so they agree with the tick's decisions (stuck
//! detection, retention), and tests that pause tokio's clock control every one of them
//! (no test waits on the wall clock for a lease to lapse or a budget to run out).

use tokio::time::Instant;

use crate::domain::Timestamp;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    at_start: Timestamp,
    started: Instant,
}

impl Clock {
    /// A clock that reads `at` now and moves on from there.
    pub fn starting_at(at: Timestamp) -> Clock {
        Clock {
            at_start: at,
            started: Instant::now(),
        }
    }

    /// The wall clock.
    pub fn wall() -> Clock {
        Clock::starting_at(Timestamp::now())
    }

    pub fn now(&self) -> Timestamp {
        let elapsed = self.started.elapsed().as_millis();
        self.at_start
            .plus_millis(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_clock_moves_on_from_where_it_started_with_tokio_time() {
        let clock = Clock::starting_at(Timestamp::from_millis(1_764_140_000_000));
        assert_eq!(clock.now(), Timestamp::from_millis(1_764_140_000_000));
        tokio::time::sleep(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now(), Timestamp::from_millis(1_764_140_090_000));
    }
}
