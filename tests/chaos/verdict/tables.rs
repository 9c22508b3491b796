//! The summary's tables: intents per state and provider, payouts, jobs, inbox, discrepancies.

use std::{collections::BTreeMap, fmt::Write};

use sqlx::PgPool;

/// Counts of discrepancies per kind and status, for the summary (empty without the table).
pub async fn discrepancy_counts(pool: &PgPool) -> BTreeMap<(String, String), i64> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('discrepancies')::text")
        .fetch_one(pool)
        .await
        .unwrap_or(None);
    if exists.is_none() {
        return BTreeMap::new();
    }
    grouped(
        pool,
        "SELECT kind, status, count(*) FROM discrepancies GROUP BY 1, 2",
    )
    .await
}

/// Rows of `sql` (two text columns and a count) as a map.
async fn grouped(pool: &PgPool, sql: &'static str) -> BTreeMap<(String, String), i64> {
    sqlx::query_as::<_, (String, String, i64)>(sql)
        .fetch_all(pool)
        .await
        .expect("grouped")
        .into_iter()
        .map(|(a, b, n)| ((a, b), n))
        .collect()
}

/// Counts per intent state and provider, payouts per status, jobs per state, inbox rows.
pub async fn tables(pool: &PgPool) -> String {
    let mut out = String::new();
    let intents = grouped(
        pool,
        "SELECT status, provider, count(*) FROM intents GROUP BY 1, 2",
    )
    .await;
    let providers = ["mpesa", "paystack", "lightning"];
    let _ = writeln!(
        out,
        "  {:<18}{:>9}{:>9}{:>10}{:>8}",
        "intent state", "mpesa", "paystack", "lightning", "total"
    );
    let states: std::collections::BTreeSet<&String> = intents.keys().map(|(s, _)| s).collect();
    for state in states {
        let counts: Vec<i64> = providers
            .iter()
            .map(|p| {
                intents
                    .get(&(state.clone(), (*p).to_owned()))
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:<18}{:>9}{:>9}{:>10}{:>8}",
            state,
            counts[0],
            counts[1],
            counts[2],
            counts.iter().sum::<i64>()
        );
    }
    for (title, sql) in [
        (
            "payouts (provider kind: status)",
            "SELECT provider || ' ' || kind, status, count(*) FROM payouts GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        (
            "jobs (kind: state)",
            "SELECT kind, state, count(*) FROM malipo_jobs GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        (
            "webhook inbox (provider: status)",
            "SELECT provider, status, count(*) FROM webhook_inbox GROUP BY 1, 2 ORDER BY 1, 2",
        ),
    ] {
        let _ = writeln!(out, "  {title}");
        for ((a, b), n) in grouped(pool, sql).await {
            let _ = writeln!(out, "    {:<30}{:<12}{:>7}", a, b, n);
        }
    }
    out
}
