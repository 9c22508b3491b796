//! The malipo job contract: every background job's payload, its queue and its retry policy.
//!
//! Payloads are persisted in the queue table as JSON, so they must stay readable across deploys:
//! fields are only ever added (with `#[serde(default)]`), never renamed or removed. The snapshot
//! tests at the bottom of each job module pin the wire shape.

mod fincra;
mod notifications;
mod payloads;
mod policy;

pub use fincra::ReconcileFincra;
pub use notifications::DeliverEvent;
pub use payloads::*;
pub use policy::RetryPolicy;

/// A job kind: a payload type with a stable name, a queue and a retry policy.
pub trait Job: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    /// Stable snake_case name stored with every job row; never change it once deployed.
    const KIND: &'static str;
    /// The queue the job runs on; workers subscribe per queue.
    const QUEUE: &'static str;
    /// How often and how far apart the queue retries a failing run.
    const POLICY: RetryPolicy;

    /// A key that makes a second enqueue of the same logical job a no-op, when the job has one.
    fn dedupe_key(&self) -> Option<String> {
        None
    }
}

/// The one list of job kinds: every table over kinds is generated from it, so none can miss
/// one — this crate's [`registry`] and the worker's handler map (`malipo::worker::handlers`,
/// which fails to compile when a listed kind has no handler). A new job is added here, once.
///
/// `every_job!(then)` expands to `then!(Noop, InitiateDeposit, …)`, each type by its full path;
/// `then` is a `macro_rules!` macro taking a comma-separated list of types.
#[macro_export]
macro_rules! every_job {
    ($then:ident) => {
        $then!(
            $crate::Noop,
            $crate::InitiateDeposit,
            $crate::ConfirmDeposit,
            $crate::ReleaseEscrow,
            $crate::AutoRelease,
            $crate::Payout,
            $crate::Refund,
            $crate::ProcessWebhook,
            $crate::PollLightningInvoice,
            $crate::ReconcileMpesa,
            $crate::ReconcileFincra,
            $crate::DeliverEvent,
        )
    };
}

/// Every job kind's name, queue and policy, for operators and for workers that route by kind.
pub fn registry() -> Vec<(&'static str, &'static str, RetryPolicy)> {
    macro_rules! entries {
        ($($job:ty),* $(,)?) => {
            vec![$((<$job as Job>::KIND, <$job as Job>::QUEUE, <$job as Job>::POLICY)),*]
        };
    }
    every_job!(entries)
}

/// Queue names. A queue is the unit of pause/resume and of worker subscription.
pub mod queues {
    /// Deposits: starting and confirming the buyer's payment.
    pub const DEPOSITS: &str = "deposits";
    /// Escrow release, payouts and refunds: the jobs that move money out.
    pub const PAYOUTS: &str = "payouts";
    /// Verified provider webhooks waiting for their effect.
    pub const WEBHOOKS: &str = "webhooks";
    /// Polling and reconciliation against providers.
    pub const RECONCILE: &str = "reconcile";
    /// Client notifications: a slow or dead client endpoint never delays money jobs.
    pub const NOTIFICATIONS: &str = "notifications";
    /// Benchmarks and tests only.
    pub const BENCH: &str = "bench";

    /// Every production queue, in the order workers subscribe to them.
    pub const ALL: [&str; 5] = [DEPOSITS, PAYOUTS, WEBHOOKS, RECONCILE, NOTIFICATIONS];
}
