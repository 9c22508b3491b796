//! State shared by the three fakes: the seeded RNG, counters, fault knobs, webhook delivery and
//! the shutdown signal, plus the small random-id helpers every fake needs.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use super::counters::Counters;
use super::delivery::Delivery;
use super::faults::Faults;
use super::limiter::Limiter;
use super::money::MoneyBook;

/// Locks a mutex, ignoring poisoning: the fakes' state stays usable after a panicking test task.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Shared {
    rng: Mutex<StdRng>,
    /// Ids (receipts, transaction ids, hashes) come from their own generator, seeded by the OS:
    /// a provider never issues the same id twice, even across restarts of the fakes against one
    /// database (same-seeded ids collided with the last run's, and malipo rightly dropped the
    /// callbacks carrying them as duplicates). Outcomes stay reproducible from the seed.
    ids: Mutex<StdRng>,
    pub(crate) counters: Counters,
    /// Every charge and transfer the fakes performed, with amounts.
    pub(crate) money: MoneyBook,
    pub(crate) faults: Faults,
    pub(crate) limiter: Limiter,
    pub(crate) delivery: Delivery,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub(crate) fn new(
        seed: u64,
        faults: Faults,
        delivery: Delivery,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            ids: Mutex::new(StdRng::from_os_rng()),
            counters: Counters::default(),
            money: MoneyBook::default(),
            faults,
            limiter: Limiter::default(),
            delivery,
            shutdown,
        }
    }

    /// Runs `f` with the seeded RNG. Draws happen in request order, so a sequential test sees
    /// the same outcomes on every run.
    pub(crate) fn with_rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        f(&mut lock(&self.rng))
    }

    /// True with probability `p` (clamped to `0..=1`); never draws for 0 or 1.
    pub(crate) fn chance(&self, p: f64) -> bool {
        if p.is_nan() || p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.with_rng(|rng| rng.random_bool(p))
        }
    }

    /// A uniformly random duration in `lo..=hi` (`lo` when the range is empty).
    pub(crate) fn duration_between(&self, lo: Duration, hi: Duration) -> Duration {
        if hi <= lo {
            return lo;
        }
        let span = u64::try_from((hi - lo).as_micros()).unwrap_or(u64::MAX);
        lo + Duration::from_micros(self.with_rng(|rng| rng.random_range(0..=span)))
    }

    /// Random characters drawn from `alphabet` (for ids).
    pub(crate) fn random_from(&self, alphabet: &[u8], len: usize) -> String {
        let rng = &mut *lock(&self.ids);
        (0..len)
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect()
    }

    /// Lowercase letters and digits, like Paystack references and access codes.
    pub(crate) fn lower_alnum(&self, len: usize) -> String {
        self.random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", len)
    }

    /// Uppercase letters and digits, like M-Pesa receipt numbers.
    pub(crate) fn upper_alnum(&self, len: usize) -> String {
        self.random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", len)
    }

    /// Decimal digits.
    pub(crate) fn digits(&self, len: usize) -> String {
        self.random_from(b"0123456789", len)
    }

    /// `n` random bytes as lowercase hex.
    pub(crate) fn hex_bytes(&self, n: usize) -> String {
        let rng = &mut *lock(&self.ids);
        let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        hex::encode(bytes)
    }

    /// A numeric id in Paystack's range.
    pub(crate) fn numeric_id(&self) -> u64 {
        lock(&self.ids).random_range(100_000_000..5_000_000_000)
    }

    /// Sleeps, returning false early if the fakes shut down meanwhile.
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            _ = shutdown.wait_for(|stopped| *stopped) => false,
        }
    }

    /// Spawns background work (a delayed callback, a settlement) that stops at shutdown.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = work => {}
                // Also fires when the sender is gone, i.e. the fakes were dropped.
                _ = shutdown.wait_for(|stopped| *stopped) => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FaultSettings;

    fn shared(seed: u64) -> Shared {
        let delivery = Delivery::new(Duration::from_secs(1), 0, Duration::ZERO).expect("client");
        let (_, shutdown) = watch::channel(false);
        Shared::new(
            seed,
            Faults::new(FaultSettings::default()),
            delivery,
            shutdown,
        )
    }

    #[test]
    fn same_seed_repeats_outcomes_but_never_ids() {
        let (first, second) = (shared(7), shared(7));
        let draws = |s: &Shared| (0..64).map(|_| s.chance(0.5)).collect::<Vec<_>>();
        assert_eq!(draws(&first), draws(&second), "outcomes follow the seed");
        let ids = |s: &Shared| (0..8).map(|_| s.upper_alnum(10)).collect::<Vec<_>>();
        assert_ne!(ids(&first), ids(&second), "ids are fresh per instance");
        assert_ne!(first.numeric_id(), second.numeric_id());
    }
}
