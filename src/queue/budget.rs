//! A cap on how many jobs a process may claim in total, shared by all its loops: a drain with
//! a run limit claims exactly that many and no more, however fast the jobs finish.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Claims still allowed; cloned handles share one count.
#[derive(Debug, Clone)]
pub struct ClaimBudget(Arc<AtomicI64>);

impl ClaimBudget {
    /// A budget of `total` claims.
    pub fn new(total: u64) -> Self {
        Self(Arc::new(AtomicI64::new(
            i64::try_from(total).unwrap_or(i64::MAX),
        )))
    }

    /// Reserves up to `wanted` claims and returns how many were reserved (0 once spent).
    pub fn reserve(&self, wanted: i64) -> i64 {
        let mut reserved = 0;
        // fetch_update retries on contention, so two loops never reserve the same claim.
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                reserved = wanted.min(left).max(0);
                Some(left - reserved)
            });
        reserved
    }

    /// Gives back reserved claims that found no job.
    pub fn refund(&self, unused: i64) {
        if unused > 0 {
            self.0.fetch_add(unused, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClaimBudget;

    #[test]
    fn reservations_never_pass_the_total_and_refunds_come_back() {
        let budget = ClaimBudget::new(5);
        assert_eq!(budget.reserve(3), 3);
        assert_eq!(budget.reserve(3), 2);
        assert_eq!(budget.reserve(3), 0);
        budget.refund(2);
        assert_eq!(budget.clone().reserve(50), 2);
        assert_eq!(budget.reserve(1), 0);
    }
}
