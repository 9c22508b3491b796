//! Database access: connecting, migrating, and queries per aggregate.

pub mod balances;
pub mod clients;
pub mod console_intent;
pub mod console_sessions;
pub mod discrepancies;
pub mod events;
pub mod fincra_banks;
pub mod fincra_payouts;
pub mod idempotency;
pub mod inbox;
pub mod intent_list;
pub mod intent_notices;
pub mod intents;
pub mod ledger;
pub mod ledger_kinds;
pub mod mpesa_token_store;
pub mod mpesa_tokens;
pub mod ops_audit;
pub mod payouts;
pub mod reconciliation;
pub mod releases;
pub mod share_settlement;
pub mod transitions;
pub mod webhook_deliveries;
pub mod webhook_endpoints;

use std::time::Duration;

use anyhow::Context;
use sqlx::{PgPool, postgres::PgPoolOptions};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens a pool; connection attempts retry for a while so a process can start alongside its database.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(300));
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=10 {
        match options.clone().connect(url).await {
            Ok(pool) => return Ok(pool),
            Err(error) if attempt < 10 => {
                tracing::warn!(%error, attempt, "database not reachable yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            Err(error) => {
                return Err(error).context("failed to connect to PostgreSQL (check DATABASE_URL)");
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Applies pending migrations (forward-only).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("failed to run database migrations")
}

/// Whether every embedded migration is applied (readiness). Each version is looked for, not
/// only the highest: a migration numbered below one already applied (0051 after 0050's
/// siblings) would otherwise pass unapplied.
pub async fn is_migrated(pool: &PgPool) -> Result<bool, sqlx::Error> {
    // `_sqlx_migrations` is sqlx's own table: it exists when the query is checked (after the
    // migrations ran) but may not yet on a new database (42P01 below).
    let applied: Vec<i64> =
        sqlx::query_scalar!("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .or_else(|error| match &error {
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
                    Ok(Vec::new())
                }
                _ => Err(error),
            })?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .all(|m| applied.contains(&m.version)))
}
