//! Clients' balances: the `client_balance` ledger accounts and the `client_balances` rows the
//! database keeps equal to them (migration 0111), their pending withdrawals, and the statement
//! of every movement.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::ledger::balance_code;
use crate::domain::Currency;

/// Creates `client`'s balance account in `currency` and starts tracking it, once.
pub async fn ensure(
    conn: &mut PgConnection,
    client: Uuid,
    currency: Currency,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH account AS (
             INSERT INTO ledger_accounts (code, kind, currency, client_id) VALUES ($1, 'client_balance', $2, $3)
             ON CONFLICT (code) DO UPDATE SET client_id = EXCLUDED.client_id RETURNING id)
         INSERT INTO client_balances (account_id, client_id, currency)
         SELECT id, $3, $2 FROM account
         ON CONFLICT (account_id) DO NOTHING",
        balance_code(client, currency),
        currency.code(),
        client,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What `client` may withdraw in `currency` now.
pub async fn available(
    conn: &mut PgConnection,
    client: Uuid,
    currency: Currency,
) -> Result<Decimal, sqlx::Error> {
    let available = sqlx::query_scalar!(
        "SELECT available FROM client_balances WHERE client_id = $1 AND currency = $2",
        client,
        currency.code(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(available.unwrap_or(Decimal::ZERO))
}

/// One currency of a client's balance.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceRow {
    /// Currency code.
    pub currency: String,
    /// What can be withdrawn now.
    #[serde(with = "rust_decimal::serde::str")]
    pub available: Decimal,
    /// Withdrawals taken from it and not yet delivered.
    #[serde(with = "rust_decimal::serde::str")]
    pub pending: Decimal,
}

/// Every currency `client` has a balance in.
pub async fn list(pool: &PgPool, client: Uuid) -> Result<Vec<BalanceRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        BalanceRow,
        r#"SELECT b.currency, b.available,
                coalesce((SELECT sum(p.amount) FROM payouts p
                           WHERE p.client_id = b.client_id AND p.currency = b.currency
                             AND p.kind = $2 AND p.status = ANY($3)), 0) AS "pending!"
           FROM client_balances b WHERE b.client_id = $1 ORDER BY b.currency"#,
        client,
        crate::domain::PayoutKind::Withdrawal as crate::domain::PayoutKind,
        &[
            crate::domain::PayoutStatus::Pending,
            crate::domain::PayoutStatus::InFlight
        ] as &[crate::domain::PayoutStatus],
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            row.available = scaled(row.available, &row.currency);
            row.pending = scaled(row.pending, &row.currency);
            row
        })
        .collect())
}

/// `amount` at its currency's scale ("900.00" KES, "2100" SAT).
fn scaled(amount: Decimal, currency: &str) -> Decimal {
    match currency.parse::<Currency>() {
        Ok(currency) => crate::domain::money::at_currency_scale(amount, currency),
        Err(_) => amount,
    }
}

/// One movement of a client's balance.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceTransaction {
    /// Position in the statement (the cursor).
    pub id: i64,
    /// Currency code.
    pub currency: String,
    /// Into the balance (positive) or out of it (negative).
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// What moved it: `collection`, `withdrawal_reserved`, `payout_failed` (returned), ….
    #[serde(rename = "type")]
    pub kind: String,
    /// The intent it belongs to, when one.
    pub intent_id: Option<Uuid>,
    /// The withdrawal it belongs to, when one.
    pub payout_id: Option<Uuid>,
    /// The ledger's description.
    pub description: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// `client`'s balance movements, newest first, before `cursor` (an earlier page's last id).
pub async fn transactions(
    pool: &PgPool,
    client: Uuid,
    cursor: Option<i64>,
    limit: i64,
) -> Result<Vec<BalanceTransaction>, sqlx::Error> {
    let rows = sqlx::query_as!(
        BalanceTransaction,
        r#"SELECT e.id, e.currency, -e.amount AS "amount!", t.kind, t.intent_id,
                CASE WHEN t.idempotency_key ~ '^(payout|withdraw):[0-9a-f-]{36}'
                     THEN split_part(t.idempotency_key, ':', 2)::uuid END AS payout_id,
                t.memo AS description, e.created_at
           FROM client_balances b
           JOIN ledger_entries e ON e.account_id = b.account_id
           JOIN ledger_transactions t ON t.id = e.transaction_id
          WHERE b.client_id = $1 AND ($2::bigint IS NULL OR e.id < $2)
          ORDER BY e.id DESC LIMIT $3"#,
        client,
        cursor,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            row.amount = scaled(row.amount, &row.currency);
            row
        })
        .collect())
}
