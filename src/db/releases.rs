//! Releases of an intent in parts, and its milestones: `intent_releases` and
//! `intent_milestones` (migration 0110). Every function runs in the caller's transaction,
//! which holds the intent's row lock.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::ledger::{AccountKind, Posting, PostingError, TransactionKind};
use crate::domain::{Money, escrow_terms::Milestone};

/// Who asked for a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseSource {
    /// The client, over the API.
    Client,
    /// The intent's automatic release time.
    AutoRelease,
    /// An operator resolving a dispute.
    DisputeResolution,
}

impl ReleaseSource {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::AutoRelease => "auto_release",
            Self::DisputeResolution => "dispute_resolution",
        }
    }
}

/// A release the `release_escrow` job has yet to post.
#[derive(Debug, Clone)]
pub struct PendingRelease {
    /// Its number within the intent (1, 2, …).
    pub seq: i32,
    /// Its amount.
    pub amount: Money,
    /// What the releases before it took out of escrow.
    pub released_before: Money,
    /// The invoice paying its payee share (Lightning payees).
    pub bolt11: Option<String>,
}

/// Why a release could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The milestone was released already.
    #[error("milestone `{0}` was released already")]
    MilestoneReleased(String),
    /// More than the intent holds (the database's CHECK refused it).
    #[error("the release exceeds what is held")]
    Exceeds,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Stores the milestones of a new intent.
pub async fn insert_milestones(
    conn: &mut PgConnection,
    intent: Uuid,
    milestones: &[Milestone],
) -> Result<(), sqlx::Error> {
    if milestones.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = milestones.iter().map(|m| m.id.as_str()).collect();
    let amounts: Vec<Decimal> = milestones.iter().map(|m| m.amount.amount()).collect();
    sqlx::query!(
        "INSERT INTO intent_milestones (intent_id, milestone, position, amount)
         SELECT $1, m.milestone, m.position::int, m.amount
           FROM unnest($2::text[], $3::numeric[]) WITH ORDINALITY AS m(milestone, amount, position)",
        intent,
        &ids as &[&str],
        &amounts,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The amount of milestone `id` of `intent` and whether it was released; `None` when the
/// intent has no such milestone.
pub async fn milestone(
    conn: &mut PgConnection,
    intent: Uuid,
    id: &str,
) -> Result<Option<(Decimal, bool)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT m.amount, EXISTS (SELECT 1 FROM intent_releases r WHERE r.intent_id = m.intent_id AND r.milestone = m.milestone) AS "released!"
           FROM intent_milestones m WHERE m.intent_id = $1 AND m.milestone = $2"#,
        intent,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| (row.amount, row.released)))
}

/// Records a release of `amount` and adds it to the intent's `released_amount` (which the
/// database keeps within the amount). Returns the release's number.
pub async fn record(
    conn: &mut PgConnection,
    intent: Uuid,
    amount: Money,
    milestone: Option<&str>,
    bolt11: Option<&str>,
    source: ReleaseSource,
) -> Result<i32, RecordError> {
    let outcome = sqlx::query_scalar!(
        "WITH taken AS (
             UPDATE intents SET released_amount = released_amount + $2, updated_at = now()
              WHERE id = $1 RETURNING id)
         INSERT INTO intent_releases (intent_id, seq, amount, milestone, bolt11, source)
         SELECT taken.id, coalesce((SELECT max(seq) FROM intent_releases WHERE intent_id = $1), 0) + 1, $2, $3, $4, $5
           FROM taken
         RETURNING seq",
        intent,
        amount.amount(),
        milestone,
        bolt11,
        source.as_str(),
    )
    .fetch_one(conn)
    .await;
    outcome.map_err(|error| match &error {
        sqlx::Error::Database(db)
            if db.constraint() == Some("intent_releases_one_per_milestone") =>
        {
            RecordError::MilestoneReleased(milestone.unwrap_or_default().to_owned())
        }
        sqlx::Error::Database(db) if db.constraint() == Some("intents_released_within_amount") => {
            RecordError::Exceeds
        }
        _ => RecordError::Database(error),
    })
}

struct PendingRow {
    seq: i32,
    amount: Decimal,
    released_before: Decimal,
    bolt11: Option<String>,
    released_at: Option<DateTime<Utc>>,
}

/// The releases of `intent` not yet posted, in order.
pub async fn pending(
    conn: &mut PgConnection,
    intent: Uuid,
    currency: crate::domain::Currency,
) -> anyhow::Result<Vec<PendingRelease>> {
    let rows = sqlx::query_as!(
        PendingRow,
        r#"SELECT seq, amount, bolt11,
                coalesce(sum(amount) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS "released_before!",
                released_at
           FROM intent_releases WHERE intent_id = $1 ORDER BY seq"#,
        intent,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .filter(|row| row.released_at.is_none())
        .map(|row| {
            Ok(PendingRelease {
                seq: row.seq,
                amount: Money::new(row.amount, currency)?,
                released_before: Money::new(row.released_before, currency)?,
                bolt11: row.bolt11,
            })
        })
        .collect()
}

/// Stamps release `seq` as posted with its shares and writes its `posting` in the same
/// statement; `false` (and nothing written) when it was posted before.
pub async fn mark_posted(
    conn: &mut PgConnection,
    intent: Uuid,
    seq: i32,
    payee: Money,
    commission: Money,
    posting: &Posting,
) -> Result<bool, PostingError> {
    let done = sqlx::query!(
        r#"WITH marked AS (
             UPDATE intent_releases SET payee_amount = $3, commission_amount = $4, released_at = now()
              WHERE intent_id = $1 AND seq = $2 AND released_at IS NULL
             RETURNING seq),
           -- Called once when the part was marked now (never for a part posted before).
           posted AS (
             SELECT malipo_post_ledger($5, $6, $7, $8, $9, $10, $11, $12, $13) AS answer
               FROM marked)
         SELECT (SELECT count(*) FROM marked) AS "marked!",
                (SELECT (answer).inserted FROM posted) AS inserted,
                (SELECT (answer).written FROM posted) AS written"#,
        intent,
        seq,
        payee.amount(),
        commission.amount(),
        posting.key,
        posting.kind as TransactionKind,
        posting.intent,
        posting.memo,
        &posting.codes,
        &posting.kinds as &[AccountKind],
        &posting.currencies as &[&str],
        &posting.intents as &[Option<Uuid>],
        &posting.amounts,
    )
    .fetch_one(conn)
    .await?;
    if done.marked == 0 {
        return Ok(false);
    }
    posting.outcome(done.inserted.unwrap_or(0), done.written.unwrap_or(0))?;
    Ok(true)
}

/// Sets (or clears) when `intent` is released by itself.
pub async fn set_auto_release(
    conn: &mut PgConnection,
    intent: Uuid,
    at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intents SET auto_release_at = $2, updated_at = now() WHERE id = $1",
        intent,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records or clears the client's dispute reason.
pub async fn set_dispute_reason(
    conn: &mut PgConnection,
    intent: Uuid,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intents SET dispute_reason = $2, updated_at = now() WHERE id = $1",
        intent,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(())
}
