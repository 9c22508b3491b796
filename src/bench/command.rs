//! The command line of `malipo bench …`, next to the benchmarks it runs (the `cli` names this
//! type; the benchmarks need nothing of the `cli`).

use clap::Subcommand;

/// `malipo bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Queue throughput, pickup latency and the SKIP LOCKED baseline.
    Queue {
        /// No-op jobs per processing run.
        #[arg(long, default_value_t = 20_000)]
        jobs: i64,
        /// Jobs already queued (delayed, not runnable) to measure growth; e.g. 1000000.
        #[arg(long, default_value_t = 0)]
        backlog: i64,
        /// Pickup-latency samples.
        #[arg(long, default_value_t = 200)]
        latency_samples: usize,
    },
    /// Full escrow lifecycles per second with worker processes against the fakes.
    E2e(super::e2e::E2eOptions),
    /// Paystack webhook acknowledgement rate and latency over HTTP.
    Webhooks {
        /// Concurrent senders.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Deliveries in total.
        #[arg(long, default_value_t = 10_000)]
        deliveries: usize,
        /// Earlier events put in the inbox first, to measure growth; e.g. 1000000.
        #[arg(long, default_value_t = 0)]
        preload: i64,
    },
    /// Signed events delivered per second to a loopback receiver.
    Notifications {
        /// Events in total (one endpoint receives them all).
        #[arg(long, default_value_t = 5_000)]
        events: usize,
        /// Deliveries run at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Intent-creation rate over HTTP.
    Intake {
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Requests in total.
        #[arg(long, default_value_t = 5_000)]
        requests: usize,
        /// Earlier intents put in the tables first, to measure growth; e.g. 1000000.
        #[arg(long, default_value_t = 0)]
        preload: i64,
    },
}
