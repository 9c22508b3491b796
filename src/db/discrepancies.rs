//! Discrepancies: a provider's truth that contradicts what malipo recorded, or money malipo cannot
//! place. Never dropped: each is an open row (with the money parked in a suspense account where
//! it really moved) until an operator resolves it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::ledger::{self, Account, TransactionKind};
use crate::domain::{Money, ProviderKind};

/// What kind of contradiction or misplaced money a discrepancy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// A payment for an intent that was already failed, expired or cancelled.
    LatePayment,
    /// A second payment for an intent that is already funded.
    DuplicatePayment,
    /// The provider says the buyer paid another amount (or currency) than the intent's.
    AmountMismatch,
    /// A Paybill payment whose account number names no intent.
    UnmatchedPayment,
    /// The provider's answer about a payout contradicts the status malipo recorded.
    PayoutContradiction,
    /// A callback whose claim the provider's own answer contradicted (nothing moved).
    LyingCallback,
}

impl DiscrepancyKind {
    /// Every kind, for metrics that report zeros too.
    pub const ALL: [Self; 6] = [
        Self::LatePayment,
        Self::DuplicatePayment,
        Self::AmountMismatch,
        Self::UnmatchedPayment,
        Self::PayoutContradiction,
        Self::LyingCallback,
    ];

    /// The stored name (the table's CHECK lists the same).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LatePayment => "late_payment",
            Self::DuplicatePayment => "duplicate_payment",
            Self::AmountMismatch => "amount_mismatch",
            Self::UnmatchedPayment => "unmatched_payment",
            Self::PayoutContradiction => "payout_contradiction",
            Self::LyingCallback => "lying_callback",
        }
    }
}

/// Which way money moved at the provider that malipo could not place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Money arrived (a payment): provider clearing up, owed to someone from suspense.
    In(Money),
    /// Money left (a payout malipo thought failed): provider clearing down, suspense holds the claim.
    Out(Money),
    /// Nothing moved (a lying callback): the row is the record.
    Nothing,
}

/// A discrepancy to record.
#[derive(Debug, Clone)]
pub struct NewDiscrepancy {
    /// What it is.
    pub kind: DiscrepancyKind,
    /// The fact's identity (e.g. `late_payment:<receipt>`): a second sighting is a no-op.
    pub dedupe_key: String,
    /// The intent it concerns, when known.
    pub intent_id: Option<Uuid>,
    /// The payout it concerns, when any.
    pub payout_id: Option<Uuid>,
    /// The provider whose answer it is.
    pub provider: ProviderKind,
    /// The money that moved, if any.
    pub moved: Moved,
    /// What the provider said and what malipo had recorded.
    pub evidence: Value,
}

/// Records `new` once, with its suspense posting in the same transaction; returns false when
/// the same fact was recorded before (nothing is written then).
pub async fn record(conn: &mut PgConnection, new: &NewDiscrepancy) -> anyhow::Result<bool> {
    let amount = match new.moved {
        Moved::In(money) | Moved::Out(money) => Some(money),
        Moved::Nothing => None,
    };
    let inserted = sqlx::query_scalar!(
        "INSERT INTO discrepancies (id, kind, dedupe_key, intent_id, payout_id, provider, amount, currency, evidence)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        Uuid::now_v7(),
        new.kind as DiscrepancyKind,
        &new.dedupe_key,
        new.intent_id,
        new.payout_id,
        new.provider.as_str(),
        amount.map(|m| m.amount()),
        amount.map(|m| m.currency().code()),
        &new.evidence,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = inserted else {
        return Ok(false);
    };
    let entries = match new.moved {
        Moved::In(money) => vec![
            (
                Account::clearing(new.provider, money.currency()),
                money.amount(),
            ),
            (Account::suspense(money.currency()), -money.amount()),
        ],
        Moved::Out(money) => vec![
            (Account::suspense(money.currency()), money.amount()),
            (
                Account::clearing(new.provider, money.currency()),
                -money.amount(),
            ),
        ],
        Moved::Nothing => Vec::new(),
    };
    if !entries.is_empty() {
        ledger::post(
            conn,
            &format!("discrepancy:{id}"),
            TransactionKind::Discrepancy,
            new.intent_id,
            &format!("{} ({})", new.kind.as_str(), new.dedupe_key),
            &entries,
        )
        .await?;
    }
    tracing::warn!(kind = new.kind.as_str(), key = %new.dedupe_key, intent_id = ?new.intent_id, "discrepancy recorded");
    Ok(true)
}

/// A discrepancy as operators read it.
#[derive(Debug, Clone, Serialize)]
pub struct DiscrepancyRow {
    /// The id.
    pub id: Uuid,
    /// Its kind.
    pub kind: String,
    /// The intent, when known.
    pub intent_id: Option<Uuid>,
    /// The payout, when any.
    pub payout_id: Option<Uuid>,
    /// The provider.
    pub provider: String,
    /// Money in suspense for it.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub amount: Option<Decimal>,
    /// Its currency.
    pub currency: Option<String>,
    /// The provider's answer and malipo's record.
    pub evidence: Value,
    /// `open` or `resolved`.
    pub status: String,
    /// How it was resolved.
    pub resolution: Option<String>,
    /// The operator's note.
    pub note: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// When it was seen.
    pub created_at: DateTime<Utc>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Discrepancies, newest first; only open ones unless `all`.
pub async fn list(
    pool: &PgPool,
    all: bool,
    limit: i64,
) -> Result<Vec<DiscrepancyRow>, sqlx::Error> {
    sqlx::query_as!(
        DiscrepancyRow,
        "SELECT id, kind, intent_id, payout_id, provider, amount, currency, evidence, status, resolution, note,
                resolved_by, created_at, resolved_at
           FROM discrepancies WHERE $1 OR status = 'open' ORDER BY created_at DESC, id DESC LIMIT $2",
        all,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Open discrepancies per kind (every kind listed, zeros included).
pub async fn open_counts(pool: &PgPool) -> Result<Vec<(DiscrepancyKind, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT kind AS "kind: DiscrepancyKind", count(*) AS "count!"
             FROM discrepancies WHERE status = 'open' GROUP BY kind"#
    )
    .fetch_all(pool)
    .await?;
    Ok(DiscrepancyKind::ALL
        .into_iter()
        .map(|kind| {
            let count = rows
                .iter()
                .find(|row| row.kind == kind)
                .map_or(0, |row| row.count);
            (kind, count)
        })
        .collect())
}

/// How an operator closes a discrepancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Resolution {
    /// The money was returned to whoever paid it, outside malipo (or by a provider refund).
    RefundedToPayer,
    /// The money was applied to the intent by hand.
    AppliedToIntent,
    /// The money is written off (a loss or gain the business books).
    WrittenOff,
    /// Nothing moved; the operator has seen it.
    Acknowledged,
}

impl Resolution {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefundedToPayer => "refunded_to_payer",
            Self::AppliedToIntent => "applied_to_intent",
            Self::WrittenOff => "written_off",
            Self::Acknowledged => "acknowledged",
        }
    }
}

/// Why a resolution was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No such discrepancy.
    #[error("no discrepancy with id {0}")]
    NotFound(Uuid),
    /// It was resolved before.
    #[error("discrepancy {0} is already resolved")]
    AlreadyResolved(Uuid),
    /// `acknowledged` closes only rows where no money moved.
    #[error(
        "discrepancy {0} has money in suspense; resolve it as refunded_to_payer, applied_to_intent or written_off"
    )]
    MoneyInSuspense(Uuid),
    /// An automatic refund of its money is under way and settles it.
    #[error("discrepancy {0} is being refunded to the payer automatically; it resolves itself")]
    RefundUnderWay(Uuid),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// Links the discrepancy recorded under `dedupe_key` to the payout that returns its money.
pub async fn link_payout(
    conn: &mut PgConnection,
    dedupe_key: &str,
    payout: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE discrepancies SET payout_id = $2 WHERE dedupe_key = $1 AND payout_id IS NULL",
        dedupe_key,
        payout,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The late refund `payout` reached the payer: its discrepancy is resolved as refunded (the
/// money left suspense through the refund's own postings, so nothing more is posted).
pub async fn settle_by_late_refund(
    conn: &mut PgConnection,
    payout: Uuid,
    provider_ref: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE discrepancies SET status = 'resolved', resolution = 'refunded_to_payer', resolved_by = 'malipo',
                note = 'refunded automatically (' || $2 || ')', resolved_at = now()
          WHERE payout_id = $1 AND status = 'open'",
        payout,
        provider_ref,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivered late refund came back: the money is in suspense again, its discrepancy open.
pub async fn reopen_after_late_refund(
    conn: &mut PgConnection,
    payout: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE discrepancies SET status = 'open', resolution = NULL, resolved_by = NULL, resolved_at = NULL,
                note = 'the automatic refund was reversed'
          WHERE payout_id = $1 AND resolved_by = 'malipo'",
        payout,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes what discrepancy `id` put into suspense (a credit for money in, a debit for money out)
/// back out into `settled_outside`, so suspense always equals the open rows' money.
async fn settle_outside(
    conn: &mut PgConnection,
    id: Uuid,
    intent: Option<Uuid>,
    currency: crate::domain::Currency,
    resolution: Resolution,
    note: &str,
) -> anyhow::Result<()> {
    let suspense = Account::suspense(currency);
    let parked = ledger::posted_amount(conn, &format!("discrepancy:{id}"), &suspense)
        .await?
        .unwrap_or_default();
    if parked.is_zero() {
        return Ok(());
    }
    ledger::post(
        conn,
        &format!("discrepancy:{id}:resolved"),
        TransactionKind::DiscrepancyResolved,
        intent,
        &format!("discrepancy {id} {}: {note}", resolution.as_str()),
        &[
            (suspense, -parked),
            (Account::settled_outside(currency), parked),
        ],
    )
    .await?;
    Ok(())
}

/// Resolves an open discrepancy in the caller's transaction: clears its suspense money into
/// `settled_outside` (where the business settled it: returned to the payer by hand, written
/// off, applied by hand) and records who and why.
pub async fn resolve(
    conn: &mut PgConnection,
    id: Uuid,
    resolution: Resolution,
    actor: &str,
    note: &str,
) -> Result<DiscrepancyRow, ResolveError> {
    let row = sqlx::query!(
        "SELECT status, amount, currency, intent_id FROM discrepancies WHERE id = $1 FOR UPDATE",
        id,
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(anyhow::Error::from)?;
    let Some(row) = row else {
        return Err(ResolveError::NotFound(id));
    };
    let (status, amount, currency, intent) = (row.status, row.amount, row.currency, row.intent_id);
    if status != "open" {
        return Err(ResolveError::AlreadyResolved(id));
    }
    // An automatic refund of this money under way settles the row by itself; resolving it by
    // hand too would account for the money twice.
    let refunding = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM discrepancies d JOIN payouts p ON p.id = d.payout_id
                         WHERE d.id = $1 AND p.kind = $2 AND p.status <> $3) AS "exists!""#,
        id,
        crate::domain::PayoutKind::LateRefund as crate::domain::PayoutKind,
        crate::domain::PayoutStatus::Failed as crate::domain::PayoutStatus,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(anyhow::Error::from)?;
    if refunding {
        return Err(ResolveError::RefundUnderWay(id));
    }
    if let (Some(_), Some(currency)) = (amount, currency) {
        if resolution == Resolution::Acknowledged {
            return Err(ResolveError::MoneyInSuspense(id));
        }
        let currency: crate::domain::Currency = currency.parse().map_err(anyhow::Error::from)?;
        settle_outside(conn, id, intent, currency, resolution, note).await?;
    }
    let resolved = sqlx::query_as!(
        DiscrepancyRow,
        "UPDATE discrepancies SET status = 'resolved', resolution = $2, note = $3, resolved_by = $4, resolved_at = now()
          WHERE id = $1
          RETURNING id, kind, intent_id, payout_id, provider, amount, currency, evidence, status, resolution, note,
                    resolved_by, created_at, resolved_at",
        id,
        resolution.as_str(),
        note,
        actor,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(anyhow::Error::from)?;
    Ok(resolved)
}
