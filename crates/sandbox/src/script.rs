//! How a fake decides an outcome (an STK result, a transfer's fate): a queue scripted by the
//! test first, then a weighted draw from the seeded RNG.

use std::collections::VecDeque;

use rand::Rng;
use rand::rngs::StdRng;

/// Scripted outcomes, then weighted random ones.
#[derive(Debug, Clone)]
pub(crate) struct Script<T> {
    queue: VecDeque<T>,
    weights: Vec<(T, u32)>,
    fallback: T,
}

impl<T: Clone> Script<T> {
    /// Draws from `weights`; `fallback` when they are empty or all zero.
    pub(crate) fn new(weights: Vec<(T, u32)>, fallback: T) -> Self {
        Self {
            queue: VecDeque::new(),
            weights,
            fallback,
        }
    }

    /// Queues the outcome of a coming request.
    pub(crate) fn push(&mut self, outcome: T) {
        self.queue.push_back(outcome);
    }

    /// The next queued outcome, if a test scripted one.
    pub(crate) fn scripted(&mut self) -> Option<T> {
        self.queue.pop_front()
    }

    /// A weighted draw, ignoring the queue.
    pub(crate) fn draw(&self, rng: &mut StdRng) -> T {
        let total: u64 = self.weights.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return self.fallback.clone();
        }
        let mut ticket = rng.random_range(0..total);
        for (outcome, weight) in &self.weights {
            if ticket < u64::from(*weight) {
                return outcome.clone();
            }
            ticket -= u64::from(*weight);
        }
        self.fallback.clone()
    }
}
