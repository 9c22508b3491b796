//! Intent rows, their event history, and the JSON view clients read.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::{
    domain::{IntentStatus, NewIntent},
    queue::JobRow,
};

/// An intent as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct IntentView {
    pub id: Uuid,
    pub status: IntentStatus,
    /// Decimal string in major units.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: String,
    /// Deposit provider.
    pub provider: String,
    /// The buyer as given.
    pub buyer: Value,
    /// The payee as given.
    pub payee: Value,
    /// Commission in basis points.
    pub commission_bps: i32,
    /// The commission's fixed part, a decimal string ("0.00" when none).
    #[serde(with = "rust_decimal::serde::str")]
    pub commission_fixed_fee: Decimal,
    /// The client's reference.
    pub reference: Option<String>,
    /// The client's metadata.
    pub metadata: Value,
    /// What the buyer must do next (checkout URL, STK prompt, invoice); null until ready.
    pub next_action: Option<Value>,
    /// The Paybill account number malipo issued for this intent (M-Pesa only): a buyer paying
    /// by Paybill enters it, and it matches this intent and no other.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    /// Why an operator should look at this intent, when something needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    /// What releases have taken out of escrow so far (partial releases, milestones).
    #[serde(with = "rust_decimal::serde::str")]
    pub released_amount: Decimal,
    /// What is still held: the amount minus what was released (zero unless paid and held).
    #[serde(with = "rust_decimal::serde::str")]
    pub remaining: Decimal,
    /// The named parts given at creation, each with whether it was released.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<Value>,
    /// When a held, undisputed intent is released by itself.
    pub auto_release_at: Option<DateTime<Utc>>,
    /// The client's reason, while the intent is disputed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispute_reason: Option<String>,
    /// Payee, commission and refund payouts.
    pub payouts: Vec<Value>,
    /// Status history.
    pub events: Vec<EventView>,
    /// Why the intent failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One history entry.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub at: DateTime<Utc>,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// Status before.
    #[serde(rename = "from")]
    pub from_status: Option<String>,
    /// Status after.
    #[serde(rename = "to")]
    pub to_status: Option<String>,
    pub detail: Value,
}

/// Inserts a new intent in `initiating` with its `created` event and the `initiate_deposit`
/// job that starts its deposit, in one statement (and its milestones, when it has any).
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    client: Uuid,
    intent: &NewIntent,
) -> Result<(), sqlx::Error> {
    let buyer = serde_json::to_value(&intent.buyer).unwrap_or(Value::Null);
    let payee = serde_json::to_value(&intent.payee).unwrap_or(Value::Null);
    let start = JobRow::of(&malipo_jobs::InitiateDeposit { intent_id: id })?;
    let created = crate::domain::IntentNote::Created;
    // Like `inbox::insert_received`, this writes the row `queue::JobRow` describes, with the
    // row that calls for it, and leaves the workers' wake-up to the caller: it rings the job
    // bell for `InitiateDeposit`'s queue after committing (`queue::bell`).
    sqlx::query!(
        "WITH quiet AS (SELECT set_config('malipo.rings_itself', $22, true)),
         inserted AS (
           INSERT INTO intents (id, client_id, status, amount, currency, provider, buyer, payee, commission_bps, reference, metadata,
                                commission_fixed_fee, account_number, auto_release_at, deposit_expires_at, capture)
           VALUES ($1, $2, $15, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                   CASE WHEN $5 = 'mpesa' THEN malipo_next_account_number() END, $12, $13, $14)
           RETURNING id),
         recorded AS (
           INSERT INTO intent_events (intent_id, type, from_status, to_status, detail)
           SELECT id, $16, NULL, $15, '{}'::jsonb FROM inserted)
         INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, dedupe_key, intent_id)
         SELECT $17, $18, $19, $20, $21, id FROM inserted, quiet
         ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
        id,
        client,
        intent.amount.amount(),
        intent.amount.currency().code(),
        intent.provider.as_str(),
        buyer,
        payee,
        intent.commission_bps,
        intent.reference.as_deref(),
        Value::Object(intent.metadata.clone()),
        intent.commission_fixed_fee.amount(),
        intent.terms.auto_release_at,
        intent.terms.expires_at,
        intent.capture.as_str(),
        IntentStatus::Initiating as IntentStatus,
        created.event(),
        start.queue,
        start.kind,
        start.payload,
        start.max_attempts,
        start.dedupe_key.as_deref(),
        crate::queue::bell::Wake::CallerRings.quiet_about(start.queue),
    )
    .execute(&mut *conn)
    .await?;
    super::releases::insert_milestones(&mut *conn, id, &intent.terms.milestones).await
}

/// Keeps the buyer's invoice for a Lightning refund, for the `refund` job.
pub async fn keep_refund_invoice(
    conn: &mut PgConnection,
    id: Uuid,
    bolt11: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intents SET refund_bolt11 = $2 WHERE id = $1",
        id,
        bolt11
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks intent `id` for an operator with `reason` (the latest reason wins; the caller records
/// the event it belongs to), in the caller's transaction.
pub async fn flag(conn: &mut PgConnection, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intents SET flagged_reason = $2, updated_at = now() WHERE id = $1",
        id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends a history entry that moves nothing (a failed payout, a note for operators; the
/// `created` entry is written by [`insert`]).
pub async fn record_event(
    conn: impl PgExecutor<'_>,
    intent: Uuid,
    note: crate::domain::IntentNote,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO intent_events (intent_id, type, detail) VALUES ($1, $2, $3)",
        intent,
        note.event(),
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

struct IntentRow {
    id: Uuid,
    status: IntentStatus,
    amount: Decimal,
    currency: String,
    provider: String,
    buyer: Value,
    payee: Value,
    commission_bps: i32,
    commission_fixed_fee: Decimal,
    reference: Option<String>,
    metadata: Value,
    next_action: Option<Value>,
    account_number: Option<String>,
    flagged_reason: Option<String>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    // The history, column by column in id order, and the payouts as their API objects.
    event_ats: Vec<DateTime<Utc>>,
    event_types: Vec<String>,
    event_froms: Vec<Option<String>>,
    event_tos: Vec<Option<String>>,
    event_details: Vec<Value>,
    payouts: Vec<Value>,
    released_amount: Decimal,
    auto_release_at: Option<DateTime<Utc>>,
    dispute_reason: Option<String>,
    milestones: Vec<Value>,
}

/// The intent `id` as `client` sees it; `None` if it does not exist or belongs to someone else.
/// One query: an intent is read after every create and release.
pub async fn view(
    conn: &mut PgConnection,
    client: Option<Uuid>,
    id: Uuid,
) -> Result<Option<IntentView>, sqlx::Error> {
    let row = sqlx::query_as!(
        IntentRow,
        r#"SELECT i.id, i.status AS "status: IntentStatus", i.amount, i.currency, i.provider, i.buyer, i.payee, i.commission_bps,
                i.commission_fixed_fee, i.reference, i.metadata, i.next_action, i.account_number,
                i.flagged_reason, i.failure_reason,
                i.created_at, i.updated_at, i.released_amount, i.auto_release_at,
                CASE WHEN i.status = 'disputed' THEN i.dispute_reason END AS dispute_reason,
                coalesce(m.milestones, '{}') AS "milestones!",
                coalesce(e.ats, '{}') AS "event_ats!", coalesce(e.types, '{}') AS "event_types!",
                coalesce(e.froms, '{}') AS "event_froms!: Vec<Option<String>>",
                coalesce(e.tos, '{}') AS "event_tos!: Vec<Option<String>>",
                coalesce(e.details, '{}') AS "event_details!", coalesce(p.payouts, '{}') AS "payouts!"
           FROM intents i
          CROSS JOIN LATERAL (
                SELECT array_agg(at ORDER BY id) AS ats, array_agg(type ORDER BY id) AS types,
                       array_agg(from_status ORDER BY id) AS froms, array_agg(to_status ORDER BY id) AS tos,
                       array_agg(detail ORDER BY id) AS details
                  FROM intent_events WHERE intent_id = i.id) e
          CROSS JOIN LATERAL (
                SELECT array_agg(jsonb_build_object('id', id, 'kind', kind, 'amount', amount::text,
                           'currency', currency, 'provider', provider, 'reference', reference,
                           'status', status, 'failure_reason', failure_reason,
                           'superseded_by', superseded_by, 'release', release_seq)
                         ORDER BY created_at, kind) AS payouts
                  FROM payouts WHERE intent_id = i.id) p
          CROSS JOIN LATERAL (
                SELECT array_agg(jsonb_build_object('id', m.milestone, 'amount', m.amount::text,
                           'released', r.seq IS NOT NULL) ORDER BY m.position) AS milestones
                  FROM intent_milestones m
                  LEFT JOIN intent_releases r ON r.intent_id = m.intent_id AND r.milestone = m.milestone
                 WHERE m.intent_id = i.id) m
          WHERE i.id = $1 AND ($2::uuid IS NULL OR i.client_id = $2)"#,
        id,
        client,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(IntentRow::into_view))
}

impl IntentRow {
    /// The row as the API shows it: its history as events, every amount at its currency's
    /// scale.
    fn into_view(mut self) -> IntentView {
        let events = history(
            self.event_ats,
            self.event_types,
            self.event_froms,
            self.event_tos,
            self.event_details,
        );
        // Every amount at its currency's scale, payouts included (their `numeric(20, 2)` text
        // would show a SAT payout as "1000.00").
        let currency = self.currency.parse::<crate::domain::Currency>().ok();
        let scaled = |amount: Decimal| match currency {
            Some(currency) => crate::domain::money::at_currency_scale(amount, currency),
            None => amount,
        };
        self.payouts.iter_mut().for_each(payout_at_scale);
        let remaining = match self.status {
            IntentStatus::Held | IntentStatus::Disputed => {
                scaled(self.amount - self.released_amount)
            }
            _ => scaled(Decimal::ZERO),
        };
        for milestone in &mut self.milestones {
            if let Some(object) = milestone.as_object_mut() {
                object.insert("currency".to_owned(), Value::String(self.currency.clone()));
            }
            payout_at_scale(milestone);
        }
        IntentView {
            id: self.id,
            status: self.status,
            amount: scaled(self.amount),
            currency: self.currency,
            provider: self.provider,
            buyer: self.buyer,
            payee: self.payee,
            commission_bps: self.commission_bps,
            commission_fixed_fee: scaled(self.commission_fixed_fee),
            reference: self.reference,
            metadata: self.metadata,
            next_action: self.next_action,
            account_number: self.account_number,
            attention: self.flagged_reason,
            released_amount: scaled(self.released_amount),
            remaining,
            milestones: self.milestones,
            auto_release_at: self.auto_release_at,
            dispute_reason: self.dispute_reason,
            payouts: self.payouts,
            events,
            failure_reason: self.failure_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The history's columns, zipped back into one event per row.
fn history(
    ats: Vec<DateTime<Utc>>,
    kinds: Vec<String>,
    froms: Vec<Option<String>>,
    tos: Vec<Option<String>>,
    details: Vec<Value>,
) -> Vec<EventView> {
    ats.into_iter()
        .zip(kinds)
        .zip(froms)
        .zip(tos)
        .zip(details)
        .map(
            |((((at, kind), from_status), to_status), detail)| EventView {
                at,
                kind,
                from_status,
                to_status,
                detail,
            },
        )
        .collect()
}

/// A payout object with its amount shown at its own currency's scale.
fn payout_at_scale(payout: &mut Value) {
    if let Some(object) = payout.as_object_mut() {
        let currency = object
            .get("currency")
            .and_then(Value::as_str)
            .and_then(|code| code.parse::<crate::domain::Currency>().ok());
        let amount = object
            .get("amount")
            .and_then(Value::as_str)
            .and_then(|text| text.parse::<Decimal>().ok());
        if let (Some(currency), Some(amount)) = (currency, amount) {
            object.insert(
                "amount".to_owned(),
                Value::String(crate::domain::format_amount(amount, currency)),
            );
        }
    }
}

/// An intent as the workers need it.
#[derive(Debug, Clone)]
pub struct IntentRecord {
    pub id: Uuid,
    /// Owning client.
    pub client_id: Uuid,
    pub status: crate::domain::IntentStatus,
    /// Amount held or to be held.
    pub amount: crate::domain::Money,
    /// Deposit provider.
    pub provider: crate::domain::ProviderKind,
    /// Buyer as stored.
    pub buyer: crate::domain::Buyer,
    /// Payee as stored (none for an immediate capture).
    pub payee: Option<crate::domain::Payee>,
    /// Escrow, or straight into the client's balance.
    pub capture: crate::domain::Capture,
    /// Commission in basis points.
    pub commission_bps: i32,
    /// The commission's fixed part (zero when none).
    pub commission_fixed_fee: crate::domain::Money,
    /// Client reference.
    pub reference: Option<String>,
    /// The provider's handle of the deposit (Paystack reference, CheckoutRequestID, payment hash).
    pub provider_reference: Option<String>,
    /// When the buyer's chance to pay lapses.
    pub deposit_expires_at: Option<DateTime<Utc>>,
    /// A Lightning invoice given at release.
    pub release_bolt11: Option<String>,
    /// A Lightning invoice given at refund.
    pub refund_bolt11: Option<String>,
    /// The Paybill account number malipo issued (M-Pesa intents).
    pub account_number: Option<String>,
    /// What releases took out of escrow so far.
    pub released_amount: crate::domain::Money,
    /// When a held, undisputed intent is released by itself.
    pub auto_release_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl IntentRecord {
    /// What is still in escrow for the payee or the buyer (meaningful while held).
    pub fn remaining(&self) -> crate::domain::Money {
        self.amount
            .checked_sub(self.released_amount)
            .unwrap_or(self.amount)
    }
}

struct RecordRow {
    id: Uuid,
    client_id: Uuid,
    status: IntentStatus,
    amount: Decimal,
    currency: String,
    provider: String,
    buyer: Value,
    payee: Value,
    commission_bps: i32,
    commission_fixed_fee: Decimal,
    reference: Option<String>,
    provider_reference: Option<String>,
    deposit_expires_at: Option<DateTime<Utc>>,
    release_bolt11: Option<String>,
    refund_bolt11: Option<String>,
    account_number: Option<String>,
    released_amount: Decimal,
    auto_release_at: Option<DateTime<Utc>>,
    capture: String,
    created_at: DateTime<Utc>,
}

/// Reads an intent [`RecordRow`]: `$head` up to the column list (a `SELECT` or an
/// `UPDATE … RETURNING`), then the columns, spelt here once, then `$tail`. The macros check
/// whole literals only, so the pieces are pasted together at compile time.
macro_rules! intent_record {
    ($head:literal, $tail:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            RecordRow,
            $head + r#" id, client_id, status AS "status: IntentStatus", amount, currency, provider, buyer, payee,
                commission_bps, commission_fixed_fee, reference, provider_reference, deposit_expires_at,
                release_bolt11, refund_bolt11, account_number, released_amount, auto_release_at, capture,
                created_at "# + $tail,
            $($arg),*
        )
    };
}

/// Loads intent `id` for a worker; `lock` takes its row lock for the transaction.
pub async fn load(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> anyhow::Result<Option<IntentRecord>> {
    let row = if lock {
        intent_record!("SELECT", "FROM intents WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *conn)
            .await?
    } else {
        intent_record!("SELECT", "FROM intents WHERE id = $1", id)
            .fetch_optional(&mut *conn)
            .await?
    };
    row.map(IntentRecord::try_from).transpose()
}

/// The intent whose deposit handle at `provider` is `handle`, locking nothing.
pub async fn load_by_provider_handle(
    conn: &mut PgConnection,
    provider: crate::domain::ProviderKind,
    handle: &str,
) -> anyhow::Result<Option<IntentRecord>> {
    let row = intent_record!(
        "SELECT",
        "FROM intents WHERE provider = $1 AND provider_reference = $2",
        provider.as_str(),
        handle,
    )
    .fetch_optional(conn)
    .await?;
    row.map(IntentRecord::try_from).transpose()
}

/// Notes that intent `id`'s deposit is being asked for, and loads it: `None` when an earlier
/// run already asked (its answer never recorded), or the intent is no longer `initiating` —
/// the caller then loads it to tell which. The mark is committed before the provider is asked
/// (for M-Pesa, before the buyer is prompted), so a run that dies after asking leaves it.
pub async fn claim_deposit_request(
    conn: &mut PgConnection,
    id: Uuid,
) -> anyhow::Result<Option<IntentRecord>> {
    let row = intent_record!(
        "UPDATE intents SET deposit_requested_at = now()
          WHERE id = $1 AND status = $2 AND deposit_requested_at IS NULL RETURNING",
        "",
        id,
        IntentStatus::Initiating as IntentStatus,
    )
    .fetch_optional(conn)
    .await?;
    row.map(IntentRecord::try_from).transpose()
}

impl TryFrom<RecordRow> for IntentRecord {
    type Error = anyhow::Error;

    fn try_from(row: RecordRow) -> anyhow::Result<Self> {
        let currency: crate::domain::Currency = row.currency.parse()?;
        Ok(IntentRecord {
            id: row.id,
            client_id: row.client_id,
            status: row.status,
            amount: crate::domain::Money::new(row.amount, currency)?,
            provider: crate::domain::ProviderKind::parse(&row.provider)
                .ok_or_else(|| anyhow::anyhow!("unknown provider {}", row.provider))?,
            buyer: serde_json::from_value(row.buyer)?,
            payee: serde_json::from_value(row.payee)?,
            commission_bps: row.commission_bps,
            commission_fixed_fee: crate::domain::Money::new(row.commission_fixed_fee, currency)?,
            reference: row.reference,
            provider_reference: row.provider_reference,
            deposit_expires_at: row.deposit_expires_at,
            release_bolt11: row.release_bolt11,
            refund_bolt11: row.refund_bolt11,
            account_number: row.account_number,
            released_amount: crate::domain::Money::new(row.released_amount, currency)?,
            auto_release_at: row.auto_release_at,
            capture: crate::domain::Capture::parse(&row.capture)
                .ok_or_else(|| anyhow::anyhow!("unknown capture {}", row.capture))?,
            created_at: row.created_at,
        })
    }
}

/// Serialises, until the transaction ends, everyone deciding whether `handle` (a provider's id
/// for a deposit, e.g. a CheckoutRequestID) is one malipo issued: the job recording it (which
/// takes this lock inside [`record_deposit_handle`]'s statement) and a callback naming it,
/// which can arrive first. Whichever comes second sees the other's work.
pub async fn lock_provider_handle(
    conn: &mut PgConnection,
    provider: crate::domain::ProviderKind,
    handle: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT malipo_lock_provider_handle($1, $2)",
        provider.as_str(),
        handle
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The intent whose Paybill account number is `account_number`.
pub async fn by_account_number(
    conn: &mut PgConnection,
    account_number: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM intents WHERE account_number = $1",
        account_number
    )
    .fetch_optional(conn)
    .await
}

/// M-Pesa intents created in `[since, until]` that still await payment with an STK push on
/// record and have not changed since `cutoff`, oldest first (reconciliation asks about each).
pub async fn mpesa_awaiting_payment(
    pool: &sqlx::PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM intents WHERE provider = 'mpesa' AND status = $4 AND provider_reference IS NOT NULL
            AND created_at BETWEEN $1 AND $2 AND updated_at <= $3 ORDER BY created_at",
        since,
        until,
        cutoff,
        IntentStatus::AwaitingPayment as IntentStatus,
    )
    .fetch_all(pool)
    .await
}

/// An event of one intent: which, and its detail.
#[derive(Debug, Clone)]
pub struct IntentEventDetail {
    pub intent_id: Uuid,
    pub detail: Value,
}

/// `deposit_mismatch` events of M-Pesa intents recorded in `[since, until]`.
pub async fn mpesa_deposit_mismatches(
    pool: &sqlx::PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<IntentEventDetail>, sqlx::Error> {
    sqlx::query_as!(
        IntentEventDetail,
        "SELECT e.intent_id, e.detail FROM intent_events e JOIN intents i ON i.id = e.intent_id
          WHERE i.provider = 'mpesa' AND e.type = 'deposit_mismatch' AND e.at BETWEEN $1 AND $2",
        since,
        until,
    )
    .fetch_all(pool)
    .await
}

/// Records the provider's handle of the deposit and what the buyer is shown, once (kept even
/// when the intent was cancelled meanwhile); the deadline only ever moves earlier. The
/// handle's lock ([`lock_provider_handle`]) is taken in the same statement and held to the
/// commit: a callback that found the handle unknown decides again under it, and the caller's
/// later look for callbacks kept as unknown (`inbox::requeue_early_stk`) sees what such a
/// callback stored.
pub async fn record_deposit_handle(
    conn: &mut PgConnection,
    id: Uuid,
    provider: crate::domain::ProviderKind,
    shown: Value,
    handle: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH recorded AS (
           UPDATE intents SET next_action = $2, provider_reference = $3, deposit_expires_at = LEAST($4, deposit_expires_at)
            WHERE id = $1 AND provider_reference IS NULL)
         SELECT malipo_lock_provider_handle($5, $3)",
        id,
        shown,
        handle,
        expires_at,
        provider.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes back [`claim_deposit_request`]'s mark when the provider's answer proved nothing was
/// sent, so the next run asks again.
pub async fn forget_deposit_request(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intents SET deposit_requested_at = NULL WHERE id = $1 AND status = $2",
        id,
        IntentStatus::Initiating as IntentStatus,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An intent still initiating whose STK push went unanswered: shows the Paybill instructions,
/// brings the deadline forward to `deadline` and flags it with `reason`.
pub async fn offer_paybill(
    conn: &mut PgConnection,
    id: Uuid,
    shown: Value,
    deadline: DateTime<Utc>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intents SET next_action = $2, deposit_expires_at = LEAST($3, deposit_expires_at), flagged_reason = $4
          WHERE id = $1 AND status = $5",
        id,
        shown,
        deadline,
        reason,
        IntentStatus::Initiating as IntentStatus,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records why intent `id` failed.
pub async fn set_failure_reason(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intents SET failure_reason = $2 WHERE id = $1",
        id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An intent that needs a person.
#[derive(Debug, Clone, Serialize)]
pub struct StuckIntent {
    /// The intent.
    pub id: Uuid,
    /// Its status.
    pub status: String,
    /// Its provider.
    pub provider: String,
    /// Why it is listed: `stuck_in_status`, `payout_in_doubt` or `flagged`.
    pub reason: String,
    /// The flag's text, when flagged.
    pub detail: Option<String>,
    /// When it last changed.
    pub since: DateTime<Utc>,
}

/// Intents in `releasing` or `refunding` longer than `older_than_secs`, with a payout unfinished
/// that long, or flagged and not closed; oldest change first, at most `limit`.
pub async fn needing_a_person(
    pool: &sqlx::PgPool,
    older_than_secs: f64,
    limit: i64,
) -> Result<Vec<StuckIntent>, sqlx::Error> {
    sqlx::query_as!(
        StuckIntent,
        r#"SELECT i.id, i.status, i.provider,
                CASE WHEN i.status IN ('releasing', 'refunding') AND i.updated_at < now() - make_interval(secs => $1)
                          THEN 'stuck_in_status'
                     WHEN EXISTS (SELECT 1 FROM payouts p WHERE p.intent_id = i.id AND p.status IN ('pending', 'in_flight')
                                     AND coalesce(p.initiated_at, p.created_at) < now() - make_interval(secs => $1))
                          THEN 'payout_in_doubt'
                     ELSE 'flagged' END AS "reason!",
                i.flagged_reason AS detail, i.updated_at AS since
           FROM intents i
          WHERE (i.status IN ('releasing', 'refunding') AND i.updated_at < now() - make_interval(secs => $1))
             OR EXISTS (SELECT 1 FROM payouts p WHERE p.intent_id = i.id AND p.status IN ('pending', 'in_flight')
                           AND coalesce(p.initiated_at, p.created_at) < now() - make_interval(secs => $1))
             OR (i.flagged_reason IS NOT NULL AND i.status NOT IN ('settled', 'refunded'))
          ORDER BY i.updated_at LIMIT $2"#,
        older_than_secs,
        limit,
    )
    .fetch_all(pool)
    .await
}
