//! `malipo jobs …`, `malipo queues …` and `malipo audit …`: the operator commands.

use clap::{Args, Subcommand};

/// `malipo jobs …`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Which jobs.
        #[command(flatten)]
        filter: FilterArgs,
        /// Continue after this cursor (printed under the previous page).
        #[arg(long)]
        cursor: Option<String>,
        /// Jobs per page (1–500).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one job: payload, every attempt's error, operator actions.
    Show {
        /// The job id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retry one job by id, or every dead job matching the filter.
    Retry {
        /// The job id; leave out to retry the dead jobs matching the filter.
        #[arg(conflicts_with_all = ["queue", "kind", "state", "intent_id", "from", "to", "dry_run"])]
        id: Option<i64>,
        /// Which dead jobs (bulk).
        #[command(flatten)]
        filter: FilterArgs,
        /// Only count the jobs that would be retried.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Discard one job by id, or every pending or dead job matching the filter.
    Discard {
        /// The job id; leave out to discard the jobs matching the filter.
        #[arg(conflicts_with_all = ["queue", "kind", "state", "intent_id", "from", "to", "dry_run"])]
        id: Option<i64>,
        /// Which jobs (bulk).
        #[command(flatten)]
        filter: FilterArgs,
        /// Only count the jobs that would be discarded.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Job filter flags.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Queue name.
    #[arg(long)]
    pub queue: Option<String>,
    /// Job kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// pending, running, done, dead or discarded.
    #[arg(long)]
    pub state: Option<String>,
    /// The intent's id.
    #[arg(long)]
    pub intent_id: Option<String>,
    /// Created at or after (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Created before (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
}

/// `malipo queues …`
#[derive(Debug, Subcommand)]
pub enum QueuesCommand {
    /// Counts per queue and state, oldest waiting job, paused flag.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop every worker claiming from a queue.
    Pause {
        /// The queue.
        queue: String,
    },
    /// Let workers claim from a queue again.
    Resume {
        /// The queue.
        queue: String,
    },
    /// Run a queue's jobs in this process until none is runnable (works with workers stopped).
    Drain {
        /// The queue.
        queue: String,
        /// Stop claiming after this many runs.
        #[arg(long)]
        limit: Option<u64>,
        /// Stop claiming after this long (e.g. 90s, 10m).
        #[arg(long, default_value = "10m")]
        timeout: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `malipo audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Operator actions, newest first.
    List {
        /// Continue after this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Entries per page (1–500).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
