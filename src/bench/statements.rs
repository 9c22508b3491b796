//! Counting what a run sends to PostgreSQL, from `pg_stat_statements` (loaded by malipo's
//! private clusters when the install ships it): top-level statements and `COMMIT`s in this
//! database, and transactions that wrote (transaction ids spent, cluster-wide).
//!
//! Counts do not drift with the machine's speed the way rates do, so they are what the
//! statement-budget test guards. A benchmark driver's own queries carry [`DRIVER_MARK`] and
//! are left out.

use serde::Serialize;
use sqlx::PgPool;

use super::stats::round;

/// A comment a benchmark driver puts in its own statements (polling intent states) so they are
/// not counted as malipo's.
pub const DRIVER_MARK: &str = "/* bench driver */";

/// How many of the most frequent statements the report lists.
const TOP: i64 = 200;

/// What one run cost in statements, per settled lifecycle.
#[derive(Debug, Clone, Serialize)]
pub struct StatementCounts {
    /// Top-level statements sent by malipo's processes (HTTP front and workers), `BEGIN` and
    /// `COMMIT` included.
    pub statements_per_lifecycle: f64,
    /// Explicit transactions (`COMMIT`s); every other statement ran in a transaction of its own.
    pub commits_per_lifecycle: f64,
    /// Transactions that wrote something (transaction ids spent in the cluster), explicit or not.
    pub write_transactions_per_lifecycle: f64,
    /// The most frequent statements: calls per lifecycle and the (normalized) text.
    pub top: Vec<(f64, String)>,
}

/// A counter started before a run.
pub struct StatementCounter {
    xid_before: i64,
}

impl StatementCounter {
    /// Clears this database's statement statistics; `None` when `pg_stat_statements` is not
    /// loaded (an external database, or an install without the contrib module).
    pub async fn start(pool: &PgPool) -> Option<Self> {
        let loaded: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'shared_preload_libraries'
                               AND setting ~ 'pg_stat_statements')",
        )
        .fetch_one(pool)
        .await
        .ok()?;
        if !loaded {
            return None;
        }
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool)
            .await
            .ok()?;
        sqlx::query(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database
                                                  WHERE datname = current_database()), 0)",
        )
        .execute(pool)
        .await
        .ok()?;
        let xid_before = current_xid(pool).await?;
        Some(Self { xid_before })
    }

    /// The counts since [`start`](Self::start), divided by `lifecycles`.
    pub async fn finish(self, pool: &PgPool, lifecycles: usize) -> Option<StatementCounts> {
        // The two reads of the transaction id spend one each; the counter's own statements
        // are left out by their text.
        let xid_after = current_xid(pool).await?;
        let per = lifecycles.max(1) as f64;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT calls, query FROM pg_stat_statements
              WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND toplevel
                AND query NOT LIKE '%' || $1 || '%'
                AND query NOT LIKE '%pg_stat_statements%'
                AND query NOT LIKE '%pg_current_xact_id%'
                -- A deferred constraint trigger fires at COMMIT, outside any statement, so
                -- it is counted as top level; it is work the COMMIT does, not a statement sent.
                AND query NOT LIKE '%NEW.%'
              ORDER BY calls DESC",
        )
        .bind(DRIVER_MARK)
        .fetch_all(pool)
        .await
        .ok()?;
        let statements: i64 = rows.iter().map(|(calls, _)| calls).sum();
        let commits: i64 = rows
            .iter()
            .filter(|(_, query)| query.trim().eq_ignore_ascii_case("commit"))
            .map(|(calls, _)| calls)
            .sum();
        let top = rows
            .iter()
            .take(usize::try_from(TOP).unwrap_or(0))
            .map(|(calls, query)| {
                let text: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
                (round(*calls as f64 / per), text.chars().take(160).collect())
            })
            .collect();
        Some(StatementCounts {
            statements_per_lifecycle: round(statements as f64 / per),
            commits_per_lifecycle: round(commits as f64 / per),
            write_transactions_per_lifecycle: round((xid_after - self.xid_before - 1) as f64 / per),
            top,
        })
    }
}

/// The cluster's next transaction id, as a number (spending one).
async fn current_xid(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(pool)
        .await
        .ok()
}
