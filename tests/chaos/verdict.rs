//! What must hold after the storm, checked against the database and the fakes' counters, and
//! the summary table the run prints.

use std::{collections::BTreeMap, fmt::Write};

use malipo::{
    db::ledger,
    sandbox::{CountersSnapshot, refund_key},
};
use sqlx::PgPool;

/// A payout as checked against the fakes: reference, provider, kind, status, the Lightning
/// invoice paid and the Paystack transaction refunded.
type PayoutRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// Intent states a finished storm may leave: terminal ones. `released` is allowed only with a
/// payout the provider failed or reversed, and the intent flagged for an operator.
const TERMINAL: [&str; 5] = ["settled", "refunded", "failed", "expired", "cancelled"];

/// Intents in a state they should not be left in: `(id, status, provider, flagged_reason)`.
pub async fn misplaced_intents(pool: &PgPool) -> Vec<(String, String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT i.id::text, i.status, i.provider, i.flagged_reason FROM intents i
          WHERE NOT (i.status = ANY($1)
                 OR (i.status = 'released' AND i.flagged_reason IS NOT NULL
                     AND EXISTS (SELECT 1 FROM payouts p WHERE p.intent_id = i.id
                                    AND p.status IN ('failed', 'reversed'))))
          ORDER BY i.created_at",
    )
    .bind(TERMINAL.map(str::to_owned).to_vec())
    .fetch_all(pool)
    .await
    .expect("intents")
}

/// Every broken promise about money: ledger violations, payouts initiated more than once,
/// succeeded payouts not initiated exactly once, intents acted on twice.
pub async fn money_violations(pool: &PgPool, counters: &CountersSnapshot) -> Vec<String> {
    let mut violations: Vec<String> = ledger::check(pool)
        .await
        .expect("ledger check")
        .into_iter()
        .map(|v| format!("ledger: {v:?}"))
        .collect();
    let payouts: Vec<PayoutRow> =
        sqlx::query_as(
            "SELECT reference, provider, kind, status, destination->>'bolt11', destination->>'refund_of'
               FROM payouts",
        )
        .fetch_all(pool)
        .await
        .expect("payouts");
    for (reference, provider, kind, status, bolt11, refund_of) in payouts {
        // LNbits payments are keyed by the invoice paid, Paystack refunds by the transaction.
        let key = match (bolt11, refund_of) {
            (Some(bolt11), _) if provider == "lightning" => bolt11,
            (_, Some(transaction)) if provider == "paystack" => refund_key(&transaction),
            _ => reference.clone(),
        };
        let initiations = counters.transfers_for(&key);
        if initiations > 1 {
            violations.push(format!(
                "{provider} {kind} payout {reference} ({status}) was initiated {initiations} times at the provider"
            ));
        }
        if matches!(status.as_str(), "succeeded" | "reversed") && initiations != 1 {
            violations.push(format!(
                "{provider} {kind} payout {reference} is {status} but was initiated {initiations} times"
            ));
        }
    }
    let twice: Vec<(String, i64)> = sqlx::query_as(
        "SELECT intent_id::text, count(*) FROM intent_events
          WHERE type IN ('release_requested', 'refund_requested')
          GROUP BY intent_id HAVING count(*) > 1",
    )
    .fetch_all(pool)
    .await
    .expect("events");
    for (id, n) in twice {
        violations.push(format!("intent {id} was released/refunded {n} times"));
    }
    violations
}

/// Dead jobs: `(id, kind, last_error)`.
pub async fn dead_jobs(pool: &PgPool) -> Vec<(i64, String, Option<String>)> {
    sqlx::query_as("SELECT id, kind, last_error FROM malipo_jobs WHERE state = 'dead' ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("dead jobs")
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
