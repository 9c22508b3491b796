//! Payout rows: created at release (or refund), sent at most once, settled by the provider's answer.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Currency, Money, PayoutDestination, PayoutKind, PayoutStatus, ProviderKind};

/// Where a payout's money goes: a payout destination, or back through the deposit itself
/// (Paystack refunds go through its Refund API against the original transaction).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum PayoutTarget {
    /// Refund the deposit with this provider reference.
    Refund {
        /// The deposit's reference at the provider.
        refund_of: String,
    },
    /// Send to a destination.
    Destination(PayoutDestination),
}

/// A payout as stored.
#[derive(Debug, Clone)]
pub struct PayoutRecord {
    /// The id.
    pub id: Uuid,
    /// The intent it belongs to.
    pub intent_id: Uuid,
    /// What it pays.
    pub kind: PayoutKind,
    /// How much.
    pub amount: Money,
    /// Through which provider.
    pub provider: ProviderKind,
    /// Where to.
    pub target: PayoutTarget,
    /// The provider-side idempotency key.
    pub reference: String,
    /// Where it stands.
    pub status: PayoutStatus,
    /// When initiation was recorded (before the provider call).
    pub initiated_at: Option<DateTime<Utc>>,
    /// The provider's id for it (transfer code, receipt, refund id), once known.
    pub provider_ref: Option<String>,
}

/// The provider reference for payout `id`: lowercase alphanumerics and `_`, 35 characters —
/// valid as a Paystack transfer reference and as a Daraja `OriginatorConversationID`.
pub fn reference_for(id: Uuid) -> String {
    format!("po_{}", id.simple())
}

/// Inserts a payout row (status `pending`); a second insert while a live payout of the same
/// intent and kind exists is a no-op that returns the existing id. A failed one does not count:
/// its successor is a new row with its own reference.
pub async fn insert(
    conn: &mut PgConnection,
    intent: Uuid,
    kind: PayoutKind,
    amount: Money,
    provider: ProviderKind,
    target: &PayoutTarget,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO payouts (id, intent_id, kind, amount, currency, provider, destination, reference, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')
         ON CONFLICT (intent_id, kind) WHERE status <> 'failed' AND superseded_by IS NULL DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(intent)
    .bind(kind.as_str())
    .bind(amount.amount())
    .bind(amount.currency().code())
    .bind(provider.as_str())
    .bind(serde_json::to_value(target).unwrap_or(Value::Null))
    .bind(reference_for(id))
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => {
            sqlx::query_scalar(
                "SELECT id FROM payouts WHERE intent_id = $1 AND kind = $2 AND status <> 'failed' AND superseded_by IS NULL",
            )
                .bind(intent)
                .bind(kind.as_str())
                .fetch_one(conn)
                .await
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    intent_id: Uuid,
    kind: String,
    amount: Decimal,
    currency: String,
    provider: String,
    destination: Value,
    reference: String,
    status: String,
    initiated_at: Option<DateTime<Utc>>,
    provider_ref: Option<String>,
}

const COLUMNS: &str = "id, intent_id, kind, amount, currency, provider, destination, reference, status, initiated_at, provider_ref";

fn record(row: Row) -> anyhow::Result<PayoutRecord> {
    let currency: Currency = row.currency.parse()?;
    Ok(PayoutRecord {
        id: row.id,
        intent_id: row.intent_id,
        kind: PayoutKind::parse(&row.kind)
            .ok_or_else(|| anyhow::anyhow!("unknown payout kind {}", row.kind))?,
        amount: Money::new(row.amount, currency)?,
        provider: ProviderKind::parse(&row.provider)
            .ok_or_else(|| anyhow::anyhow!("unknown provider {}", row.provider))?,
        target: serde_json::from_value(row.destination)?,
        reference: row.reference,
        status: PayoutStatus::parse(&row.status)
            .ok_or_else(|| anyhow::anyhow!("unknown payout status {}", row.status))?,
        initiated_at: row.initiated_at,
        provider_ref: row.provider_ref,
    })
}

/// Loads payout `id`, locking its row when `lock` is set.
pub async fn load(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> anyhow::Result<Option<PayoutRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payouts WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(record).transpose()
}

/// Finds a payout by its provider reference, locking its row when `lock` is set.
pub async fn by_reference(
    conn: &mut PgConnection,
    reference: &str,
    lock: bool,
) -> anyhow::Result<Option<PayoutRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payouts WHERE reference = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    row.map(record).transpose()
}

/// Moves a payout between statuses under a guard; returns whether it moved.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: &[PayoutStatus],
    to: PayoutStatus,
    provider_ref: Option<&str>,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    // The client's notification (and its deliveries) is written by the same statement, from
    // the UPDATE's result: only a move that happened is reported.
    let moved: Option<Vec<Uuid>> = sqlx::query_scalar(
        "WITH current AS (SELECT status FROM payouts WHERE id = $1 FOR UPDATE),
              moved AS (
                UPDATE payouts AS p SET status = $3, provider_ref = coalesce($4, p.provider_ref),
                       failure_reason = coalesce($5, p.failure_reason),
                       initiated_at = CASE WHEN $3 = 'in_flight' THEN coalesce(p.initiated_at, now()) ELSE p.initiated_at END,
                       updated_at = now()
                  FROM current
                 WHERE p.id = $1 AND current.status = ANY($2)
                RETURNING current.status AS previous, p.intent_id, p.kind, p.amount, p.currency,
                          p.reference, p.failure_reason)
         SELECT malipo_record_event(i.client_id, $6, m.intent_id, $1, jsonb_build_object(
                  'object', 'payout', 'id', $1, 'intent_id', m.intent_id, 'kind', m.kind,
                  'status', $3, 'previous_status', m.previous, 'amount', m.amount::text,
                  'currency', m.currency, 'payout_reference', m.reference,
                  'failure_reason', m.failure_reason, 'reference', i.reference,
                  'metadata', i.metadata))
           FROM moved m JOIN intents i ON i.id = m.intent_id",
    )
    .bind(id)
    .bind(from.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    .bind(to.as_str())
    .bind(provider_ref)
    .bind(reason)
    .bind(crate::notify::event_type::of_payout(to))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(deliveries) = moved else {
        return Ok(false);
    };
    super::events::enqueue_deliveries(conn, &deliveries).await?;
    Ok(true)
}

/// Payee and commission payouts of `intent` that are not delivered and not followed by a
/// successor: zero means every share reached its destination.
pub async fn undelivered_shares(conn: &mut PgConnection, intent: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM payouts
          WHERE intent_id = $1 AND kind IN ('payee', 'commission') AND status <> 'succeeded' AND superseded_by IS NULL",
    )
    .bind(intent)
    .fetch_one(conn)
    .await
}

/// The newest refund payout of the Paystack transaction `refund_of`, locked by nobody.
pub async fn latest_refund_of(
    conn: &mut PgConnection,
    refund_of: &str,
) -> anyhow::Result<Option<PayoutRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payouts WHERE kind = 'refund' AND destination->>'refund_of' = $1
          ORDER BY created_at DESC LIMIT 1"
    );
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(refund_of)
        .fetch_optional(conn)
        .await?;
    row.map(record).transpose()
}

/// How many payouts of `kind` of `intent` failed (the number of the next attempt).
pub async fn failed_of_kind(
    conn: &mut PgConnection,
    intent: Uuid,
    kind: PayoutKind,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM payouts WHERE intent_id = $1 AND kind = $2 AND status = 'failed'",
    )
    .bind(intent)
    .bind(kind.as_str())
    .fetch_one(conn)
    .await
}

/// Links every failed, not yet followed payout of `kind` of `intent` to `successor`.
pub async fn supersede_failed(
    conn: &mut PgConnection,
    intent: Uuid,
    kind: PayoutKind,
    successor: Uuid,
) -> Result<u64, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE payouts SET superseded_by = $3, updated_at = now()
          WHERE intent_id = $1 AND kind = $2 AND status = 'failed' AND superseded_by IS NULL AND id <> $3",
    )
    .bind(intent)
    .bind(kind.as_str())
    .bind(successor)
    .execute(conn)
    .await?;
    Ok(moved.rows_affected())
}

/// The payout that followed failed payout `id`, if one did.
pub async fn successor_of(conn: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT superseded_by FROM payouts WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Links a failed payout to the one that replaces it (a refund asked again, a share sent to a
/// new destination); false when it is not failed or was followed already.
pub async fn supersede(
    conn: &mut PgConnection,
    failed: Uuid,
    successor: Uuid,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE payouts SET superseded_by = $2, updated_at = now() WHERE id = $1 AND status = 'failed' AND superseded_by IS NULL",
    )
    .bind(failed)
    .bind(successor)
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}
