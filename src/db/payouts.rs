//! Payout rows: created at release (or refund), sent at most once, settled by the provider's answer.

use chrono::{DateTime, Utc};
use malipo_jobs::{DeliverEvent, Job};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::ledger::{AccountKind, Posting, PostingError, TransactionKind};
use crate::{
    domain::{Currency, Money, PayoutDestination, PayoutKind, PayoutStatus, ProviderKind},
    queue::{EnqueueOptions, JobRow, bell::Wake, enqueue},
};

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
    /// The intent it belongs to (none for a withdrawal from a balance).
    pub intent_id: Option<Uuid>,
    /// The client whose balance a withdrawal comes from.
    pub client_id: Option<Uuid>,
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
    /// The release it pays a share of (1 for a whole release and for refunds).
    pub release_seq: i32,
}

/// The provider reference for payout `id`: lowercase alphanumerics and `_`, 35 characters —
/// valid as a Paystack transfer reference and as a Daraja `OriginatorConversationID`.
pub fn reference_for(id: Uuid) -> String {
    format!("po_{}", id.simple())
}

/// A payout [`insert`] asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// Its id.
    pub id: Uuid,
    /// Whether this call created it (rather than finding it live already).
    pub new: bool,
}

/// A payout of an intent's money, as [`insert`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct NewPayout<'a> {
    /// The intent it pays out of.
    pub intent: Uuid,
    /// The release (part) it belongs to; 1 for a whole release and for refunds.
    pub release_seq: i32,
    /// What it pays.
    pub kind: PayoutKind,
    /// How much.
    pub amount: Money,
    /// Through which provider.
    pub provider: ProviderKind,
    /// Where to.
    pub target: &'a PayoutTarget,
}

/// Inserts a payout row (status `pending`) with its `payout` job, in one statement; a second
/// insert while a live payout of the same intent, kind and release exists is a no-op that
/// returns the existing id (its job is queued again, a no-op while it waits). A failed one
/// does not count: its successor is a new row with its own reference.
pub async fn insert(
    conn: &mut PgConnection,
    payout: &NewPayout<'_>,
    wake: Wake,
) -> Result<Inserted, sqlx::Error> {
    let mut inserted = insert_all(conn, std::slice::from_ref(payout), wake).await?;
    Ok(inserted.remove(0))
}

/// [`insert`] for several payouts (a release's payee share and commission) in one statement;
/// one [`Inserted`] per payout, in order.
pub async fn insert_all(
    conn: &mut PgConnection,
    payouts: &[NewPayout<'_>],
    wake: Wake,
) -> Result<Vec<Inserted>, sqlx::Error> {
    if payouts.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = payouts.iter().map(|_| Uuid::now_v7()).collect();
    // A destination that cannot be written is an error, never a payout to nowhere.
    let targets = payouts
        .iter()
        .map(|p| serde_json::to_value(p.target))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    // Each job carries a copy of its row (`from_copy` reads it back).
    let jobs = ids
        .iter()
        .zip(payouts)
        .zip(&targets)
        .map(|((&payout_id, payout), destination)| {
            JobRow::of(&malipo_jobs::Payout {
                payout_id,
                copy: Some(malipo_jobs::PayoutCopy {
                    intent_id: payout.intent,
                    kind: payout.kind.as_str().to_owned(),
                    amount: payout.amount.amount().to_string(),
                    currency: payout.amount.currency().code().to_owned(),
                    provider: payout.provider.as_str().to_owned(),
                    destination: destination.clone(),
                    release_seq: payout.release_seq,
                }),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Every row is a `payout` job: one queue, kind and policy.
    let job = &jobs[0];
    // The ON CONFLICT target names the partial unique index, whose predicate must be spelt
    // as in the index ('failed' literal) for PostgreSQL to infer it. A job is inserted only
    // with its payout; like `inbox::insert_received`, this writes the row `queue::JobRow`
    // describes. With `Wake::CallerRings` the statement keeps the notification trigger quiet.
    let created = sqlx::query_scalar!(
        r#"WITH quiet AS (SELECT set_config('malipo.rings_itself', $16, true)),
              wanted AS (
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::numeric[], $5::text[],
                                     $6::text[], $7::jsonb[], $8::text[], $9::int4[], $10::jsonb[],
                                     $11::text[])
                    AS w (id, intent_id, kind, amount, currency, provider, destination, reference,
                          release_seq, payload, dedupe_key)),
              inserted AS (
                INSERT INTO payouts (id, intent_id, kind, amount, currency, provider, destination, reference, status, release_seq)
                SELECT id, intent_id, kind, amount, currency, provider, destination, reference, $12, release_seq
                  FROM wanted
                ON CONFLICT (intent_id, kind, release_seq) WHERE status <> 'failed' AND superseded_by IS NULL DO NOTHING
                RETURNING id),
              queued AS (
                INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, dedupe_key, intent_id)
                SELECT $13, $14, w.payload, $15, w.dedupe_key, w.intent_id
                  FROM quiet, wanted w JOIN inserted USING (id)
                ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING)
           SELECT id AS "id!" FROM inserted"#,
        &ids,
        &payouts.iter().map(|p| p.intent).collect::<Vec<_>>(),
        &payouts.iter().map(|p| p.kind).collect::<Vec<_>>() as &[PayoutKind],
        &payouts.iter().map(|p| p.amount.amount()).collect::<Vec<_>>(),
        &payouts
            .iter()
            .map(|p| p.amount.currency().code())
            .collect::<Vec<_>>() as &[&str],
        &payouts
            .iter()
            .map(|p| p.provider.as_str())
            .collect::<Vec<_>>() as &[&str],
        &targets,
        &ids.iter().map(|&id| reference_for(id)).collect::<Vec<_>>(),
        &payouts.iter().map(|p| p.release_seq).collect::<Vec<_>>(),
        &jobs.iter().map(|job| job.payload.clone()).collect::<Vec<_>>(),
        &jobs
            .iter()
            .map(|job| job.dedupe_key.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        PayoutStatus::Pending as PayoutStatus,
        job.queue,
        job.kind,
        job.max_attempts,
        wake.quiet_about(job.queue),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut answers = Vec::with_capacity(payouts.len());
    for (payout, id) in payouts.iter().zip(ids) {
        answers.push(if created.contains(&id) {
            Inserted { id, new: true }
        } else {
            live_one(conn, payout).await?
        });
    }
    Ok(answers)
}

/// The live payout a refused insert of `payout` met, with its job queued again (a no-op while
/// it waits).
async fn live_one(
    conn: &mut PgConnection,
    payout: &NewPayout<'_>,
) -> Result<Inserted, sqlx::Error> {
    let existing = sqlx::query_scalar!(
        "SELECT id FROM payouts WHERE intent_id = $1 AND kind = $2 AND release_seq = $3 AND status <> $4 AND superseded_by IS NULL",
        payout.intent,
        payout.kind as PayoutKind,
        payout.release_seq,
        PayoutStatus::Failed as PayoutStatus,
    )
    .fetch_one(&mut *conn)
    .await?;
    enqueue(
        conn,
        &malipo_jobs::Payout {
            payout_id: existing,
            copy: None,
        },
        EnqueueOptions {
            intent_id: Some(payout.intent),
            ..Default::default()
        },
    )
    .await?;
    Ok(Inserted {
        id: existing,
        new: false,
    })
}

struct Row {
    id: Uuid,
    intent_id: Option<Uuid>,
    client_id: Option<Uuid>,
    kind: PayoutKind,
    amount: Decimal,
    currency: String,
    provider: String,
    destination: Value,
    reference: String,
    status: PayoutStatus,
    initiated_at: Option<DateTime<Utc>>,
    provider_ref: Option<String>,
    release_seq: i32,
}

/// Reads a payout [`Row`] with a fixed `WHERE …` tail: the macros check whole literals only, so
/// the column list is spelt here once and pasted in at compile time. `locked` takes the row
/// lock of the payout and then of its intent (see [`LockedPayout`]).
macro_rules! select_payout {
    ($tail:literal, $($arg:expr),* $(,)?) => {
        select_payout!(@ "", "payouts " + $tail, $($arg),*)
    };
    (locked $tail:literal, $($arg:expr),* $(,)?) => {
        select_payout!(@
            "WITH p AS (SELECT * FROM payouts " + $tail + " FOR UPDATE) ",
            "p LEFT JOIN LATERAL (SELECT 1 FROM intents i WHERE i.id = p.intent_id FOR UPDATE) AS intent_locked ON true",
            $($arg),*)
    };
    (@ $with:literal $(+ $with_more:literal)*, $from:literal $(+ $more:literal)*, $($arg:expr),*) => {
        sqlx::query_as!(
            Row,
            $with $(+ $with_more)* + r#"SELECT id, intent_id, client_id, kind AS "kind: PayoutKind", amount, currency, provider,
                      destination, reference, status AS "status: PayoutStatus", initiated_at, provider_ref,
                      release_seq
                 FROM "# + $from $(+ $more)*,
            $($arg),*
        )
    };
}

/// Payout `id` as [`insert_all`] wrote it with its job: `pending`, not yet initiated.
pub fn from_copy(id: Uuid, copy: malipo_jobs::PayoutCopy) -> anyhow::Result<PayoutRecord> {
    let currency: Currency = copy.currency.parse()?;
    Ok(PayoutRecord {
        id,
        intent_id: Some(copy.intent_id),
        client_id: None,
        kind: PayoutKind::parse(&copy.kind)
            .ok_or_else(|| anyhow::anyhow!("unknown payout kind {}", copy.kind))?,
        amount: Money::new(copy.amount.parse()?, currency)?,
        provider: ProviderKind::parse(&copy.provider)
            .ok_or_else(|| anyhow::anyhow!("unknown provider {}", copy.provider))?,
        target: serde_json::from_value(copy.destination)?,
        reference: reference_for(id),
        status: PayoutStatus::Pending,
        initiated_at: None,
        provider_ref: None,
        release_seq: copy.release_seq,
    })
}

fn record(row: Row) -> anyhow::Result<PayoutRecord> {
    let currency: Currency = row.currency.parse()?;
    Ok(PayoutRecord {
        id: row.id,
        intent_id: row.intent_id,
        client_id: row.client_id,
        kind: row.kind,
        amount: Money::new(row.amount, currency)?,
        provider: ProviderKind::parse(&row.provider)
            .ok_or_else(|| anyhow::anyhow!("unknown provider {}", row.provider))?,
        target: serde_json::from_value(row.destination)?,
        reference: row.reference,
        status: row.status,
        initiated_at: row.initiated_at,
        provider_ref: row.provider_ref,
        release_seq: row.release_seq,
    })
}

/// A payout whose row, and then its intent's, the caller's transaction has locked ([`lock`],
/// [`lock_by_reference`]), in one statement and always in that order. Whatever the caller then
/// decides about the payout (succeeded, failed) and its intent (settled once every share is
/// delivered) cannot be overtaken by another payout of the same intent: two shares succeeding
/// at once would otherwise each see the other still in flight (write skew) and both skip
/// settling it.
#[derive(Debug, Clone)]
pub struct LockedPayout(PayoutRecord);

impl std::ops::Deref for LockedPayout {
    type Target = PayoutRecord;

    fn deref(&self) -> &PayoutRecord {
        &self.0
    }
}

/// Loads payout `id`, locking nothing.
pub async fn load(conn: &mut PgConnection, id: Uuid) -> anyhow::Result<Option<PayoutRecord>> {
    let row = select_payout!("WHERE id = $1", id)
        .fetch_optional(conn)
        .await?;
    row.map(record).transpose()
}

/// Loads payout `id` and locks it and its intent for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> anyhow::Result<Option<LockedPayout>> {
    let row = select_payout!(locked "WHERE id = $1", id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(record).transpose()?.map(LockedPayout))
}

/// Finds a payout by its provider reference, locking nothing.
pub async fn by_reference(
    conn: &mut PgConnection,
    reference: &str,
) -> anyhow::Result<Option<PayoutRecord>> {
    let row = select_payout!("WHERE reference = $1", reference)
        .fetch_optional(conn)
        .await?;
    row.map(record).transpose()
}

/// Finds a payout by its provider reference and locks it and its intent, as [`lock`] does.
pub async fn lock_by_reference(
    conn: &mut PgConnection,
    reference: &str,
) -> anyhow::Result<Option<LockedPayout>> {
    let row = select_payout!(locked "WHERE reference = $1", reference)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(record).transpose()?.map(LockedPayout))
}

/// The dedupe key of payout `id`'s job, whose waiting status check a move to `to` ends when it
/// is conclusive (`None` for a move that is not).
pub(super) fn status_check_key(id: Uuid, to: PayoutStatus) -> Result<Option<String>, PostingError> {
    Ok(match to {
        PayoutStatus::Succeeded | PayoutStatus::Failed | PayoutStatus::Reversed => {
            JobRow::of(&malipo_jobs::Payout {
                payout_id: id,
                copy: None,
            })?
            .dedupe_key
        }
        PayoutStatus::Pending | PayoutStatus::InFlight => None,
    })
}

/// Moves a payout between statuses under a guard, with `posting` (the money the move moves)
/// written by the same statement only when the move happened; returns whether it moved.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: &[PayoutStatus],
    to: PayoutStatus,
    provider_ref: Option<&str>,
    reason: Option<&str>,
    posting: Option<&Posting>,
) -> Result<bool, PostingError> {
    // The client's notification (with its deliveries and their jobs) and the posting are
    // written by the same statement, from the UPDATE's result: only a move that happened is
    // reported and posted, and a move is complete without a transaction around it.
    //
    // A conclusive move also ends the payout job's waiting status check (snoozed, or not yet
    // run), as `queue::finish_waiting` does, by the key `queue::JobRow` gives it: that run could
    // only find the payout settled and do nothing. A running job (the one applying its own
    // answer) is left to complete as usual.
    let check = status_check_key(id, to)?;
    let moved = sqlx::query!(
        // `malipo_move_payout` (migration 0131), which `malipo_settle_share` calls too.
        r#"SELECT posted_inserted AS inserted, posted_written AS written
             FROM malipo_move_payout($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                                     $15, $16, $17, $18, $19, $20, $21, $22)"#,
        id,
        from as &[PayoutStatus],
        to as PayoutStatus,
        provider_ref,
        reason,
        crate::domain::event_type::of_payout(to),
        PayoutStatus::InFlight as PayoutStatus,
        posting.map(|p| p.key.as_str()),
        posting.map(|p| p.kind) as Option<TransactionKind>,
        posting.and_then(|p| p.intent),
        posting.map(|p| p.memo.as_str()),
        posting.map(|p| p.codes.as_slice()),
        posting.map(|p| p.kinds.as_slice()) as Option<&[AccountKind]>,
        posting.map(|p| p.currencies.as_slice()) as Option<&[&str]>,
        posting.map(|p| p.intents.as_slice()) as Option<&[Option<Uuid>]>,
        posting.map(|p| p.amounts.as_slice()),
        DeliverEvent::QUEUE,
        DeliverEvent::KIND,
        DeliverEvent::POLICY.max_attempts as i32,
        <malipo_jobs::Payout as Job>::QUEUE,
        check.as_deref(),
        crate::queue::FINISHED_EARLY,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(moved) = moved else {
        return Ok(false);
    };
    if let Some(posting) = posting {
        posting.outcome(moved.inserted.unwrap_or(0), moved.written.unwrap_or(0))?;
    }
    Ok(true)
}

/// The newest refund payout of the Paystack transaction `refund_of`, locked by nobody.
pub async fn latest_refund_of(
    conn: &mut PgConnection,
    refund_of: &str,
) -> anyhow::Result<Option<PayoutRecord>> {
    let row = select_payout!(
        "WHERE kind = $2 AND destination->>'refund_of' = $1 ORDER BY created_at DESC LIMIT 1",
        refund_of,
        PayoutKind::Refund as PayoutKind,
    )
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
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM payouts WHERE intent_id = $1 AND kind = $2 AND status = $3"#,
        intent,
        kind as PayoutKind,
        PayoutStatus::Failed as PayoutStatus,
    )
    .fetch_one(conn)
    .await
}

/// Locks the failed, not yet followed payouts of `kind` of `intent` (not their intent), for a
/// caller that then locks the intent and links them to a successor ([`supersede_failed`]): the
/// payout-then-intent order of [`lock`], which every path applying a provider's answer takes.
pub async fn lock_failed_of_kind(
    conn: &mut PgConnection,
    intent: Uuid,
    kind: PayoutKind,
) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM payouts
          WHERE intent_id = $1 AND kind = $2 AND status = $3 AND superseded_by IS NULL
          ORDER BY id FOR UPDATE",
        intent,
        kind as PayoutKind,
        PayoutStatus::Failed as PayoutStatus,
    )
    .fetch_all(conn)
    .await?;
    Ok(())
}

/// Links every failed, not yet followed payout of `kind` of `intent` to `successor`.
pub async fn supersede_failed(
    conn: &mut PgConnection,
    intent: Uuid,
    kind: PayoutKind,
    successor: Uuid,
) -> Result<u64, sqlx::Error> {
    let moved = sqlx::query!(
        "UPDATE payouts SET superseded_by = $3, updated_at = now()
          WHERE intent_id = $1 AND kind = $2 AND status = $4 AND superseded_by IS NULL AND id <> $3",
        intent,
        kind as PayoutKind,
        successor,
        PayoutStatus::Failed as PayoutStatus,
    )
    .execute(conn)
    .await?;
    Ok(moved.rows_affected())
}

/// The payout that followed failed payout `id`, if one did.
pub async fn successor_of(conn: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT superseded_by FROM payouts WHERE id = $1", id)
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
    let moved = sqlx::query!(
        "UPDATE payouts SET superseded_by = $2, updated_at = now() WHERE id = $1 AND status = $3 AND superseded_by IS NULL",
        failed,
        successor,
        PayoutStatus::Failed as PayoutStatus,
    )
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// A withdrawal as the client asked for it.
#[derive(Debug, Clone)]
pub struct NewWithdrawal {
    /// Whose balance.
    pub client: Uuid,
    /// How much.
    pub amount: Money,
    /// Where to.
    pub destination: PayoutDestination,
    /// The client's reference (unique per client).
    pub reference: Option<String>,
    /// The client's metadata.
    pub metadata: Value,
}

/// Inserts a withdrawal payout (status `pending`); `None` when the client's reference names
/// another one already.
pub async fn insert_withdrawal(
    conn: &mut PgConnection,
    withdrawal: &NewWithdrawal,
) -> Result<Option<Uuid>, sqlx::Error> {
    let id = Uuid::now_v7();
    let target = PayoutTarget::Destination(withdrawal.destination.clone());
    sqlx::query_scalar!(
        "INSERT INTO payouts (id, intent_id, client_id, kind, amount, currency, provider, destination, reference, status,
                              client_reference, metadata)
         VALUES ($1, NULL, $2, $10, $3, $4, $5, $6, $7, $11, $8, $9)
         ON CONFLICT (client_id, client_reference) WHERE client_reference IS NOT NULL DO NOTHING RETURNING id",
        id,
        withdrawal.client,
        withdrawal.amount.amount(),
        withdrawal.amount.currency().code(),
        withdrawal.destination.provider().as_str(),
        serde_json::to_value(&target).unwrap_or(Value::Null),
        reference_for(id),
        withdrawal.reference.as_deref(),
        &withdrawal.metadata,
        PayoutKind::Withdrawal as PayoutKind,
        PayoutStatus::Pending as PayoutStatus,
    )
    .fetch_optional(conn)
    .await
}

/// A withdrawal as its client sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WithdrawalView {
    /// The payout id.
    pub id: Uuid,
    /// Decimal string.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Currency code.
    pub currency: String,
    /// Through which provider.
    pub provider: String,
    /// Where to.
    pub destination: Value,
    /// Where it stands.
    pub status: PayoutStatus,
    /// The client's reference.
    pub reference: Option<String>,
    /// The client's metadata.
    pub metadata: Option<Value>,
    /// The provider reference malipo sent it under.
    pub provider_reference: String,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Withdrawal `id` of `client`.
pub async fn withdrawal_view(
    conn: &mut PgConnection,
    client: Uuid,
    id: Uuid,
) -> Result<Option<WithdrawalView>, sqlx::Error> {
    sqlx::query_as!(
        WithdrawalView,
        r#"SELECT id, amount, currency, provider, destination, status AS "status: PayoutStatus",
                client_reference AS reference, metadata, reference AS provider_reference, failure_reason, created_at
           FROM payouts WHERE id = $1 AND client_id = $2 AND kind = $3"#,
        id,
        client,
        PayoutKind::Withdrawal as PayoutKind,
    )
    .fetch_optional(conn)
    .await
    .map(|view| {
        view.map(|mut view| {
            if let Ok(currency) = view.currency.parse::<Currency>() {
                view.amount = crate::domain::money::at_currency_scale(view.amount, currency);
            }
            view
        })
    })
}

/// A payout reconciliation asks the provider about.
#[derive(Debug, Clone)]
pub struct PayoutToCheck {
    /// The payout.
    pub id: Uuid,
    /// Its provider reference.
    pub reference: String,
    /// What malipo recorded.
    pub status: PayoutStatus,
}

/// M-Pesa payouts still in flight since before `cutoff`, and those recorded failed (after an
/// initiation) in `[since, until]`, oldest initiation first.
pub async fn mpesa_to_check(
    pool: &sqlx::PgPool,
    cutoff: DateTime<Utc>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<PayoutToCheck>, sqlx::Error> {
    sqlx::query_as!(
        PayoutToCheck,
        r#"SELECT id, reference, status AS "status: PayoutStatus" FROM payouts
          WHERE provider = 'mpesa'
            AND ((status = 'in_flight' AND initiated_at <= $1)
                 OR (status = 'failed' AND initiated_at IS NOT NULL AND updated_at BETWEEN $2 AND $3))
          ORDER BY initiated_at"#,
        cutoff,
        since,
        until,
    )
    .fetch_all(pool)
    .await
}

/// Claims the right to send the in-flight M-Pesa payout `reference` again, when Daraja said at
/// `answered_at` it never saw it and `grace_secs` passed since the last send; returns its id.
pub async fn claim_mpesa_resend(
    conn: &mut PgConnection,
    reference: &str,
    answered_at: DateTime<Utc>,
    grace_secs: f64,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE payouts SET resent_at = now()
          WHERE reference = $1 AND provider = 'mpesa' AND status = $4
            AND $2 > coalesce(resent_at, initiated_at) + make_interval(secs => $3)
          RETURNING id",
        reference,
        answered_at,
        grace_secs,
        PayoutStatus::InFlight as PayoutStatus,
    )
    .fetch_optional(conn)
    .await
}

/// Records the provider's id for payout `id` once known.
pub async fn note_provider_ref(
    conn: &mut PgConnection,
    id: Uuid,
    provider_ref: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE payouts SET provider_ref = $2 WHERE id = $1 AND provider_ref IS NULL",
        id,
        provider_ref,
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(pool)
            .await
            .expect("count")
    }

    /// A release's two shares are written by one statement, each with its own job; asked for
    /// again while they are live, the same payouts come back as found (not new), and no second
    /// row or job is written.
    #[tokio::test]
    async fn shares_written_together_are_found_again_when_asked_twice() {
        let db = malipo_testing::test_database()
            .await
            .expect("test database");
        let client = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO api_clients (id, name, role, key_hash, key_prefix, commission_bps)
             VALUES ($1, 'payouts', 'client', 'hash', 'prefix', 0)",
        )
        .bind(client)
        .execute(&db.pool)
        .await
        .expect("client");
        let intent = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO intents (id, client_id, status, amount, currency, provider, buyer, payee, commission_bps, metadata)
             VALUES ($1, $2, 'releasing', 100, 'KES', 'mpesa', '{}', '{}', 0, '{}')",
        )
        .bind(intent)
        .bind(client)
        .execute(&db.pool)
        .await
        .expect("intent");
        let to = |msisdn: &str| {
            PayoutTarget::Destination(PayoutDestination::Mpesa {
                msisdn: msisdn.to_owned().try_into().expect("msisdn"),
            })
        };
        let (seller, platform) = (to("254700000001"), to("254700000002"));
        let share = |kind, minor, target| NewPayout {
            intent,
            release_seq: 1,
            kind,
            amount: Money::from_minor(minor, Currency::Kes),
            provider: ProviderKind::Mpesa,
            target,
        };
        let shares = [
            share(PayoutKind::Payee, 9_000, &seller),
            share(PayoutKind::Commission, 1_000, &platform),
        ];
        let mut conn = db.pool.acquire().await.expect("connection");
        let first = insert_all(&mut conn, &shares, Wake::Trigger)
            .await
            .expect("first insert");
        assert!(first.iter().all(|payout| payout.new), "{first:?}");
        assert_ne!(first[0].id, first[1].id);
        let again = insert_all(&mut conn, &shares, Wake::Trigger)
            .await
            .expect("second insert");
        assert_eq!(
            again.iter().map(|p| (p.id, p.new)).collect::<Vec<_>>(),
            first.iter().map(|p| (p.id, false)).collect::<Vec<_>>(),
            "the live payouts are found, in order"
        );
        assert_eq!(count(&db.pool, "SELECT count(*) FROM payouts").await, 2);
        assert_eq!(
            count(
                &db.pool,
                "SELECT count(*) FROM malipo_jobs WHERE kind = 'payout'"
            )
            .await,
            2,
            "one job per payout"
        );
        let kinds: Vec<(String, String)> =
            sqlx::query_as("SELECT kind, amount::text FROM payouts ORDER BY id")
                .fetch_all(&db.pool)
                .await
                .expect("payouts");
        assert_eq!(
            kinds,
            [
                ("payee".to_owned(), "90.00".to_owned()),
                ("commission".to_owned(), "10.00".to_owned())
            ]
        );
        // Each job's copy reads back as its row: what the job's first run sends.
        let payloads: Vec<serde_json::Value> =
            sqlx::query_scalar("SELECT payload FROM malipo_jobs WHERE kind = 'payout'")
                .fetch_all(&db.pool)
                .await
                .expect("jobs");
        for payload in payloads {
            let job: malipo_jobs::Payout = serde_json::from_value(payload).expect("payload");
            let copy = job.copy.expect("a copy of the row");
            let carried = from_copy(job.payout_id, copy).expect("a readable copy");
            let stored = load(&mut conn, job.payout_id)
                .await
                .expect("load")
                .expect("the row");
            assert_eq!(format!("{carried:?}"), format!("{stored:?}"));
        }
    }
}
