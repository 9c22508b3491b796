//! The marketplace rules: clients' balances (never negative, equal to their ledger movements),
//! withdrawals (what the fakes paid out = what malipo records as succeeded = the ledger's
//! postings), releases in parts (their sum is `released_amount` ≤ the amount, and the ledger
//! took exactly the posted parts out of escrow), balance payees (never a payee payout), and
//! automatic releases (at most once per intent).

use std::collections::BTreeMap;

use malipo_sandbox::MoneySnapshot;
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::{Violation, push};

/// Every marketplace rule; an empty list means they all hold.
pub async fn marketplace_violations(pool: &PgPool, money: &MoneySnapshot) -> Vec<Violation> {
    let mut out = Vec::new();
    balances(pool, &mut out).await;
    withdrawals(pool, money, &mut out).await;
    releases(pool, &mut out).await;
    out
}

async fn balances(pool: &PgPool, out: &mut Vec<Violation>) {
    let rows: Vec<(String, String, Decimal, Decimal)> = sqlx::query_as(
        "SELECT b.client_id::text, b.currency, b.available, -coalesce(sum(e.amount), 0)
           FROM client_balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id
          GROUP BY b.account_id, b.client_id, b.currency, b.available",
    )
    .fetch_all(pool)
    .await
    .expect("balances");
    for (client, currency, available, ledger) in rows {
        if available < Decimal::ZERO || ledger < Decimal::ZERO {
            push(
                out,
                "balance-negative",
                format!("client {client} {currency}: available {available}, ledger {ledger}"),
            );
        }
        if available != ledger {
            push(
                out,
                "balance-ledger",
                format!(
                    "client {client} {currency}: available {available} but its ledger movements sum to {ledger}"
                ),
            );
        }
    }
}

/// Per currency: money the fakes moved (and did not reverse) under withdrawal keys, the
/// withdrawals malipo records as succeeded, and their `payout:<id>:succeeded` postings agree.
async fn withdrawals(pool: &PgPool, money: &MoneySnapshot, out: &mut Vec<Violation>) {
    let rows: Vec<(String, String, String, Decimal, Option<Decimal>)> = sqlx::query_as(
        "SELECT p.currency, p.status,
                CASE WHEN p.provider = 'lightning' THEN coalesce(p.destination->>'bolt11', p.reference)
                     ELSE p.reference END,
                p.amount,
                (SELECT max(e.amount) FROM ledger_transactions t
                   JOIN ledger_entries e ON e.transaction_id = t.id
                  WHERE t.idempotency_key = 'payout:' || p.id || ':succeeded')
           FROM payouts p WHERE p.kind = 'withdrawal'",
    )
    .fetch_all(pool)
    .await
    .expect("withdrawals");
    // currency -> (moved at the fakes, succeeded in malipo, posted as succeeded)
    let mut sums: BTreeMap<String, (Decimal, Decimal, Decimal)> = BTreeMap::new();
    for (currency, status, key, amount, posted) in &rows {
        let entry = sums.entry(currency.clone()).or_default();
        entry.0 += money
            .transfers()
            .filter(|m| m.key == *key && m.moved())
            .map(|m| m.amount)
            .sum::<Decimal>();
        // A reversed withdrawal's money came back at the fake (not moved) and in malipo (its
        // reversal posting): only what stays paid out is compared.
        if status == "succeeded" {
            entry.1 += amount;
            entry.2 += posted.unwrap_or_default();
        }
    }
    for (currency, (moved, succeeded, posted)) in sums {
        if moved != succeeded || succeeded != posted {
            push(
                out,
                "withdrawals",
                format!(
                    "{currency}: the fakes paid {moved} to withdrawals, malipo records {succeeded} succeeded, the ledger posted {posted}"
                ),
            );
        }
    }
}

async fn releases(pool: &PgPool, out: &mut Vec<Violation>) {
    let parts: Vec<(String, Decimal, Decimal, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "SELECT i.id::text, i.amount, i.released_amount,
                coalesce((SELECT sum(r.amount) FROM intent_releases r WHERE r.intent_id = i.id), 0),
                coalesce((SELECT sum(r.amount) FROM intent_releases r
                           WHERE r.intent_id = i.id AND r.released_at IS NOT NULL), 0),
                coalesce((SELECT sum(e.amount) FROM ledger_transactions t
                            JOIN ledger_entries e ON e.transaction_id = t.id
                            JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'escrow'
                           WHERE t.kind = 'release' AND t.intent_id = i.id), 0)
           FROM intents i",
    )
    .fetch_all(pool)
    .await
    .expect("releases");
    for (id, amount, released, asked, posted, from_escrow) in parts {
        if released != asked || released > amount {
            push(
                out,
                "released-parts",
                format!(
                    "intent {id}: released_amount {released}, its releases sum to {asked}, amount {amount}"
                ),
            );
        }
        if posted != from_escrow {
            push(
                out,
                "released-parts",
                format!(
                    "intent {id}: {posted} of releases posted but the release postings took {from_escrow} out of escrow"
                ),
            );
        }
    }
    let to_balance_paid: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT i.id::text FROM intents i JOIN payouts p ON p.intent_id = i.id
          WHERE p.kind = 'payee' AND i.payee->'payout'->>'provider' = 'balance'",
    )
    .fetch_all(pool)
    .await
    .expect("balance payees");
    for (id,) in to_balance_paid {
        push(
            out,
            "released-parts",
            format!("intent {id} pays its payee through the balance but has a payee payout"),
        );
    }
    let timers_twice: Vec<(String, i64)> = sqlx::query_as(
        "SELECT intent_id::text, count(*) FROM intent_releases WHERE source = 'auto_release'
          GROUP BY intent_id HAVING count(*) > 1",
    )
    .fetch_all(pool)
    .await
    .expect("automatic releases");
    for (id, times) in timers_twice {
        push(
            out,
            "released-parts",
            format!("intent {id} was released automatically {times} times"),
        );
    }
}
