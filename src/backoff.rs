//! The one backoff every retry loop uses: exponential, capped, with "equal jitter".
//!
//! The wait before retry `n` (1 for the first retry) is drawn between half of
//! `min(first × 2^(n-1), max)` and the whole of it: retries spread out, so two runs that
//! failed together do not retry in step, and never bunch at zero.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait; it doubles for each later retry…
    pub first: Duration,
    /// …up to this.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the wait before retry `retry` (1 for the first), before jitter.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(20);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    /// The wait before retry `retry`: between half the ceiling and the whole of it.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let half = ceiling / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_its_cap_with_jitter_in_the_upper_half() {
        let backoff = Backoff {
            first: Duration::from_millis(50),
            max: Duration::from_secs(1),
        };
        let ceilings: Vec<u128> = (1..=7)
            .map(|retry| backoff.ceiling(retry).as_millis())
            .collect();
        assert_eq!(ceilings, [50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.ceiling(u32::MAX), backoff.max);
        for retry in 1..=8 {
            for _ in 0..50 {
                let delay = backoff.delay(retry);
                let ceiling = backoff.ceiling(retry);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{retry}: {delay:?}"
                );
            }
        }
        let none = Backoff {
            first: Duration::ZERO,
            max: Duration::ZERO,
        };
        assert_eq!(none.delay(3), Duration::ZERO);
    }
}
