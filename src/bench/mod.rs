//! Benchmarks behind `malipo bench …`: they print JSON reports, they assert nothing.

mod cpu;
pub mod e2e;
pub mod intake;
mod loopback;
pub mod notifications;
pub mod preload;
pub mod queue;
mod stats;
mod watch;
pub mod webhooks;
