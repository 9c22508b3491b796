//! When a failed delivery is tried again: the Standard Webhooks schedule (now, 5 s, 5 m, 30 m,
//! 2 h, 5 h, 10 h, 14 h, 20 h, 24 h) with ±20 % jitter, scaled down by a test setting, and a
//! provider's `Retry-After` honoured up to a cap.

use std::time::Duration;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The wait before each attempt; the first is immediate. After the last, the delivery fails.
pub const SCHEDULE: [Duration; 10] = [
    secs(0),
    secs(5),
    secs(5 * 60),
    secs(30 * 60),
    secs(2 * 3600),
    secs(5 * 3600),
    secs(10 * 3600),
    secs(14 * 3600),
    secs(20 * 3600),
    secs(24 * 3600),
];

/// The longest `Retry-After` honoured: a receiver cannot park a delivery for days.
pub const RETRY_AFTER_CAP: Duration = secs(3600);

/// The wait before attempt `attempts + 1` after `attempts` failed ones, or `None` when they
/// are all spent. `jitter` is a sample in `[-1, 1]` (±20 %); `scale` compresses the schedule
/// (1 in production, tiny in tests); a receiver's `retry_after` lengthens the wait, capped.
pub fn next_delay(
    attempts: u32,
    jitter: f64,
    scale: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *SCHEDULE.get(usize::try_from(attempts).ok()?)?;
    let jittered = base.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    let scaled = jittered.mul_f64(scale.clamp(0.0, 1.0));
    let asked = retry_after.map(|after| after.min(RETRY_AFTER_CAP).mul_f64(scale.clamp(0.0, 1.0)));
    Some(asked.map_or(scaled, |asked| asked.max(scaled)))
}

/// How long an endpoint may fail every attempt before it is disabled (scaled like the schedule).
pub const DISABLE_AFTER: Duration = secs(5 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_within_jitter_then_stops() {
        assert_eq!(next_delay(1, 0.0, 1.0, None), Some(secs(5)));
        assert_eq!(next_delay(9, 0.0, 1.0, None), Some(secs(24 * 3600)));
        assert_eq!(next_delay(2, 1.0, 1.0, None), Some(secs(360)));
        assert_eq!(next_delay(2, -1.0, 1.0, None), Some(secs(240)));
        assert_eq!(next_delay(10, 0.0, 1.0, None), None);
        assert_eq!(
            next_delay(3, 0.0, 0.001, None),
            Some(Duration::from_millis(1800))
        );
    }

    #[test]
    fn retry_after_lengthens_but_is_capped() {
        assert_eq!(next_delay(1, 0.0, 1.0, Some(secs(60))), Some(secs(60)));
        assert_eq!(
            next_delay(1, 0.0, 1.0, Some(secs(999_999))),
            Some(RETRY_AFTER_CAP)
        );
        assert_eq!(next_delay(4, 0.0, 1.0, Some(secs(1))), Some(secs(7200)));
    }
}
