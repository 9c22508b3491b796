//! What the current transaction has done to a table so far, from `pg_stat_xact_user_tables`:
//! exact and immediate, unlike the cumulative statistics, which other backends flush late.

use sqlx::PgConnection;

/// A table's activity in the current transaction.
pub struct TableActivity {
    pub seq_scans: i64,
    pub fetched_by_index: i64,
    pub updates: i64,
    pub hot_updates: i64,
}

/// `table`'s activity in `conn`'s transaction so far.
pub async fn of(conn: &mut PgConnection, table: &str) -> TableActivity {
    let (seq_scans, fetched_by_index, updates, hot_updates) = sqlx::query_as(
        "SELECT coalesce(sum(seq_scan), 0)::int8, coalesce(sum(idx_tup_fetch), 0)::int8,
                coalesce(sum(n_tup_upd), 0)::int8, coalesce(sum(n_tup_hot_upd), 0)::int8
           FROM pg_stat_xact_user_tables WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(conn)
    .await
    .expect("transaction statistics");
    TableActivity {
        seq_scans,
        fetched_by_index,
        updates,
        hot_updates,
    }
}
