//! Reconciliation's tables: M-Pesa payments recorded before they are placed
//! (`unmatched_payments`), and the stored reports with their items.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::Money;

/// One finding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Item {
    /// `matched`, `missing_internal`, `missing_at_provider`, `amount_mismatch`, `status_mismatch`
    /// or `resolved`.
    pub class: String,
    /// What was compared: `stk`, `c2b`, `b2c`, `deposit`.
    pub kind: String,
    /// The intent, payout or receipt concerned.
    pub subject: String,
    /// Details.
    pub detail: Value,
}

impl Item {
    /// A finding.
    pub fn new(class: &str, kind: &str, subject: impl Into<String>, detail: Value) -> Self {
        Self {
            class: class.to_owned(),
            kind: kind.to_owned(),
            subject: subject.into(),
            detail,
        }
    }
}

/// A stored report without its items.
#[derive(Debug, Clone)]
pub struct ReportLine {
    /// The report id.
    pub id: Uuid,
    /// Which provider it reconciled.
    pub provider: String,
    /// From.
    pub window_start: DateTime<Utc>,
    /// Until.
    pub window_end: DateTime<Utc>,
    /// Items per class.
    pub summary: Value,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// Records an M-Pesa payment by its receipt once; returns whether it was new.
pub async fn record_mpesa_payment(
    conn: &mut PgConnection,
    receipt: &str,
    amount: Option<Money>,
    account_ref: &str,
    source: &str,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO unmatched_payments (provider, receipt, amount, currency, account_ref, source) VALUES ('mpesa', $1, $2, $3, $4, $5)
         ON CONFLICT (provider, receipt) DO NOTHING",
        receipt,
        amount.map(|a| a.amount()),
        amount.map(|a| a.currency().code()),
        account_ref,
        source,
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A recorded M-Pesa payment as placing reads it.
#[derive(Debug, Clone)]
pub struct RecordedPayment {
    /// What was paid, when readable.
    pub amount: Option<Decimal>,
    /// Its currency.
    pub currency: Option<String>,
    /// The account number the payer typed.
    pub account_ref: Option<String>,
    /// How it was placed, once it was.
    pub resolution: Option<String>,
}

/// The recorded M-Pesa payment `receipt`, locked for the transaction.
pub async fn lock_mpesa_payment(
    conn: &mut PgConnection,
    receipt: &str,
) -> Result<Option<RecordedPayment>, sqlx::Error> {
    sqlx::query_as!(
        RecordedPayment,
        "SELECT amount, currency, account_ref, resolution FROM unmatched_payments WHERE provider = 'mpesa' AND receipt = $1 FOR UPDATE",
        receipt,
    )
    .fetch_optional(conn)
    .await
}

/// Stores how the recorded M-Pesa payment `receipt` was placed.
pub async fn resolve_mpesa_payment(
    conn: &mut PgConnection,
    receipt: &str,
    resolution: &str,
    intent: Option<Uuid>,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE unmatched_payments SET resolution = $2, intent_id = $3, detail = detail || $4 WHERE provider = 'mpesa' AND receipt = $1",
        receipt,
        resolution,
        intent,
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a Paybill receipt was already taken as `intent`'s own payment.
pub async fn own_payment_seen(conn: &mut PgConnection, intent: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM unmatched_payments WHERE intent_id = $1 AND resolution IN ('credited', 'own_payment')) AS "exists!""#,
        intent,
    )
    .fetch_one(conn)
    .await
}

/// Receipts of M-Pesa payments confirmed to malipo (C2B confirmation) in `[from, until]`.
pub async fn confirmed_mpesa_receipts(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT receipt FROM unmatched_payments WHERE provider = 'mpesa' AND source = 'confirmation' AND created_at BETWEEN $1 AND $2",
        from,
        until,
    )
    .fetch_all(pool)
    .await
}

/// Stores a report's head and its items in one transaction.
pub async fn store_report(
    pool: &PgPool,
    id: Uuid,
    provider: &str,
    window: (DateTime<Utc>, DateTime<Utc>),
    summary: Value,
    items: &[Item],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO reconciliation_reports (id, provider, window_start, window_end, summary) VALUES ($1, $2, $3, $4, $5)",
        id,
        provider,
        window.0,
        window.1,
        summary,
    )
    .execute(&mut *tx)
    .await?;
    for item in items {
        sqlx::query!(
            "INSERT INTO reconciliation_items (report_id, class, kind, subject, detail) VALUES ($1, $2, $3, $4, $5)",
            id,
            &item.class,
            &item.kind,
            &item.subject,
            &item.detail,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// A stored report's head.
#[derive(Debug, Clone)]
pub struct ReportHead {
    /// Which provider.
    pub provider: String,
    /// From.
    pub window_start: DateTime<Utc>,
    /// Until.
    pub window_end: DateTime<Utc>,
    /// Items per class.
    pub summary: Value,
}

/// Report `id`'s head.
pub async fn report_head(pool: &PgPool, id: Uuid) -> Result<Option<ReportHead>, sqlx::Error> {
    sqlx::query_as!(
        ReportHead,
        "SELECT provider, window_start, window_end, summary FROM reconciliation_reports WHERE id = $1",
        id,
    )
    .fetch_optional(pool)
    .await
}

/// Report `id`'s items, by class, kind and subject.
pub async fn report_items(pool: &PgPool, id: Uuid) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query_as!(
        Item,
        "SELECT class, kind, subject, detail FROM reconciliation_items WHERE report_id = $1 ORDER BY class, kind, subject",
        id,
    )
    .fetch_all(pool)
    .await
}

/// The newest `limit` reports.
pub async fn latest_reports(pool: &PgPool, limit: i64) -> Result<Vec<ReportLine>, sqlx::Error> {
    sqlx::query_as!(
        ReportLine,
        "SELECT id, provider, window_start, window_end, summary, created_at
           FROM reconciliation_reports ORDER BY created_at DESC LIMIT $1",
        limit,
    )
    .fetch_all(pool)
    .await
}
