//! The per-provider request-rate limit behind `FaultSettings::max_requests_per_second`: GCRA
//! with a burst of `n` and a refill of `n` per second, the semantics of governor's
//! `Quota::per_second(n)`, so a client governed by the same quota never sees a 429.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::faults::Provider;
use super::shared::lock;

/// The burst window: `n` requests per this.
const WINDOW: Duration = Duration::from_secs(1);

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead; `remaining` more requests would pass right now.
    Allowed { remaining: u32 },
    /// Too many requests; one passes again after `retry_after`.
    Limited { retry_after: Duration },
}

#[derive(Debug, Clone, Copy)]
struct Cell {
    rate: u32,
    /// GCRA's theoretical arrival time of the next request.
    tat: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    cells: Mutex<[Option<Cell>; 4]>,
}

impl Limiter {
    /// Admits one request to `provider` under a limit of `rate` per second. A changed rate
    /// starts afresh, so a test can tighten the limit mid-run.
    pub(crate) fn admit(&self, provider: Provider, rate: u32) -> Admission {
        let rate = rate.max(1);
        let interval = WINDOW / rate;
        let now = Instant::now();
        let mut cells = lock(&self.cells);
        let index = Provider::ALL
            .iter()
            .position(|p| *p == provider)
            .unwrap_or(0);
        let cell = match &mut cells[index] {
            Some(cell) if cell.rate == rate => cell,
            slot => slot.insert(Cell { rate, tat: now }),
        };
        let next_tat = cell.tat.max(now) + interval;
        let ahead = next_tat - now;
        if ahead > WINDOW {
            return Admission::Limited {
                retry_after: ahead - WINDOW,
            };
        }
        cell.tat = next_tat;
        let spare = (WINDOW - ahead).as_nanos() / interval.as_nanos().max(1);
        Admission::Allowed {
            remaining: u32::try_from(spare).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_a_burst_of_rate_then_limits_per_provider() {
        let limiter = Limiter::default();
        for remaining in [1, 0] {
            assert_eq!(
                limiter.admit(Provider::Paystack, 2),
                Admission::Allowed { remaining }
            );
        }
        let Admission::Limited { retry_after } = limiter.admit(Provider::Paystack, 2) else {
            panic!("the third request in a second is limited");
        };
        assert!(retry_after <= Duration::from_millis(500));
        assert!(matches!(
            limiter.admit(Provider::Mpesa, 2),
            Admission::Allowed { .. }
        ));
        assert!(
            matches!(
                limiter.admit(Provider::Paystack, 3),
                Admission::Allowed { .. }
            ),
            "a new rate starts afresh"
        );
    }
}
