//! The command line: one binary, subcommands for every role and operator action.

pub mod clients;
pub mod console;
mod ops;
pub mod webhooks;

use clap::{Parser, Subcommand};

pub use ops::{AuditCommand, FilterArgs, JobsCommand, QueuesCommand};

use crate::clients::{KeyMode, Role};

/// malipo: escrow payment orchestration over M-Pesa, Paystack and Lightning.
#[derive(Debug, Parser)]
#[command(name = "malipo", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP front and workers in one process (a private PostgreSQL when DATABASE_URL is unset).
    Run {
        /// Wire malipo to in-process fake providers so a payment can be walked end to end.
        #[arg(long)]
        sandbox: bool,
    },
    /// The HTTP front only.
    Serve,
    /// Workers only.
    Work {
        /// Also stop (gracefully) when the process that started this one exits — for workers a
        /// supervisor spawns as children, such as `bench e2e`'s, so a killed parent leaves none.
        #[arg(long)]
        exit_with_parent: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// API clients.
    Clients {
        /// Client action.
        #[command(subcommand)]
        action: ClientsCommand,
    },
    /// The double-entry ledger.
    Ledger {
        /// Ledger action.
        #[command(subcommand)]
        action: LedgerCommand,
    },
    /// Inspect, retry and discard jobs.
    Jobs {
        /// Job action.
        #[command(subcommand)]
        action: JobsCommand,
    },
    /// Queue overview, pause, resume, drain.
    Queues {
        /// Queue action.
        #[command(subcommand)]
        action: QueuesCommand,
    },
    /// The operator audit log.
    Audit {
        /// Audit action.
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Discrepancies: provider truths that contradict malipo's records, and money it could not
    /// place (list, resolve).
    Discrepancies {
        /// Discrepancy action.
        #[command(subcommand)]
        action: DiscrepanciesCommand,
    },
    /// Payouts that need an operator: a failed commission sent again.
    Payouts {
        /// Payout action.
        #[command(subcommand)]
        action: PayoutsCommand,
    },
    /// Intents that need an operator.
    Intents {
        /// Intent action.
        #[command(subcommand)]
        action: IntentsCommand,
    },
    /// Reconciliation with providers.
    Reconcile {
        /// Reconciliation action.
        #[command(subcommand)]
        action: ReconcileCommand,
    },
    /// Client notifications: `listen` prints a client's events as they are delivered.
    Webhooks {
        /// What to do.
        #[command(subcommand)]
        action: webhooks::WebhooksCommand,
    },
    /// Benchmarks that print JSON (built with the `sandbox` feature: they drive the fakes).
    #[cfg(feature = "sandbox")]
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        which: crate::bench::BenchCommand,
    },
}

/// `malipo clients …`
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create an API client and print its key once (only its SHA-256 is stored).
    Create {
        /// A name for the client.
        #[arg(long)]
        name: String,
        /// What the key may do (exactly one role).
        #[arg(long, value_enum, default_value_t = Role::Client)]
        role: Role,
        /// Default platform commission for this client's intents, in basis points.
        #[arg(long, default_value_t = 0)]
        commission_bps: i32,
        /// `live` keys start `mlp_live_`; `test` keys (for sandbox servers) `mlp_test_`.
        #[arg(long, value_enum, default_value_t = KeyMode::Live)]
        mode: KeyMode,
    },
    /// List clients: id, name, role, key prefixes, rotation and revocation (never a key).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give a client a new key, printed once; the old key keeps working for the grace period.
    Rotate {
        /// The client id.
        id: uuid::Uuid,
        /// How long the old key keeps working (e.g. 0s, 1h, 7d); default MALIPO_KEY_ROTATION_GRACE.
        #[arg(long)]
        grace: Option<String>,
    },
    /// Revoke a client: every key of it stops working at once.
    Revoke {
        /// The client id.
        id: uuid::Uuid,
    },
}

/// `malipo discrepancies …`
#[derive(Debug, Subcommand)]
pub enum DiscrepanciesCommand {
    /// Open discrepancies, newest first (JSON).
    List {
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        /// Rows, 1–500.
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Close one, saying how its money was settled (audited).
    Resolve {
        /// The discrepancy id.
        id: uuid::Uuid,
        /// How it was settled.
        #[arg(long, value_enum)]
        resolution: crate::db::discrepancies::Resolution,
        /// Why, for the next person (required).
        #[arg(long)]
        note: String,
    },
}

/// `malipo intents …`
#[derive(Debug, Subcommand)]
pub enum IntentsCommand {
    /// Intents stuck in releasing/refunding, with a payout in doubt, or flagged (JSON).
    Stuck {
        /// How old a state must be to count (e.g. 30m); default MALIPO_STUCK_AFTER.
        #[arg(long)]
        older_than: Option<String>,
    },
}

/// `malipo payouts …`
#[derive(Debug, Subcommand)]
pub enum PayoutsCommand {
    /// Send a commission payout the provider confirmed failed again, as a new payout (audited);
    /// prints its intent (JSON).
    ResendCommission {
        /// The failed payout's id.
        id: uuid::Uuid,
        /// Why, for the next person (required).
        #[arg(long)]
        note: String,
        /// Where to, instead of where it went before: `mpesa:<msisdn>`, `paystack:<RCP_…>`,
        /// `fincra:bank:<code>:<account>:<name>` or `fincra:mpesa:<msisdn>`.
        #[arg(long)]
        to: Option<String>,
    },
}

/// `malipo reconcile …`
#[derive(Debug, Subcommand)]
pub enum ReconcileCommand {
    /// Reconcile M-Pesa now, in this process, and print the report's summary.
    Mpesa {
        /// Reconcile from this time (RFC 3339); default one reconciliation period ago.
        #[arg(long)]
        since: Option<String>,
        /// Pushes and payouts older than this count as missing their callback (e.g. 3m, 0s).
        #[arg(long)]
        pending_after: Option<String>,
    },
    /// Print a stored report.
    Show {
        /// The report id.
        id: uuid::Uuid,
        /// As CSV instead of JSON.
        #[arg(long)]
        csv: bool,
    },
}

/// `malipo ledger …`
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Verify every ledger invariant; exits non-zero on a violation.
    Check,
}

impl Command {
    /// Whether this is a benchmark, whose own per-request logging would be part of what it
    /// measures.
    #[must_use]
    pub fn is_bench(&self) -> bool {
        #[cfg(feature = "sandbox")]
        if matches!(self, Self::Bench { .. }) {
            return true;
        }
        false
    }
}
