//! Benchmarks behind `malipo bench …`: they print JSON reports, they assert nothing.

pub mod intake;
pub mod queue;
mod stats;
pub mod webhooks;
