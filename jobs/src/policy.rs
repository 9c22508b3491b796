//! Retry policy per job kind: attempts, and the exponential backoff with full jitter between them.

use std::time::Duration;

/// How the queue retries a job whose run failed with a retryable error.
///
/// The delay before attempt `n + 1` is uniformly drawn from `[0, min(cap, base * 2^(n-1))]`
/// ("full jitter"): it spreads retries of jobs that failed together, such as after a provider
/// outage, instead of hammering the provider in waves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Runs allowed in total, the first included; then the job is dead.
    pub max_attempts: u32,
    /// The ceiling of the first retry's delay.
    pub base: Duration,
    /// The largest ceiling any retry's delay may have.
    pub cap: Duration,
}

impl RetryPolicy {
    /// A policy with the given attempts, base and cap.
    pub const fn new(max_attempts: u32, base: Duration, cap: Duration) -> Self {
        Self {
            max_attempts,
            base,
            cap,
        }
    }

    /// The ceiling of the delay after the `attempt`-th failed run (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let scaled = self.base.saturating_mul(1u32 << exponent);
        scaled.min(self.cap)
    }

    /// The delay after the `attempt`-th failed run, given a uniform sample in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit_sample: f64) -> Duration {
        let sample = unit_sample.clamp(0.0, 1.0);
        self.ceiling(attempt).mul_f64(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let policy = RetryPolicy::new(10, Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(policy.ceiling(1), Duration::from_secs(2));
        assert_eq!(policy.ceiling(2), Duration::from_secs(4));
        assert_eq!(policy.ceiling(5), Duration::from_secs(32));
        assert_eq!(policy.ceiling(6), Duration::from_secs(60));
        assert_eq!(policy.ceiling(40), Duration::from_secs(60));
    }

    #[test]
    fn delay_stays_within_ceiling() {
        let policy = RetryPolicy::new(3, Duration::from_secs(1), Duration::from_secs(8));
        assert_eq!(policy.delay(3, 0.0), Duration::ZERO);
        assert!(policy.delay(3, 0.999) < Duration::from_secs(4));
    }
}
