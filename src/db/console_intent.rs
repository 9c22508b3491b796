//! What the operator console reads about intents beyond the client's view
//! ([`super::intents::view`]): a keyset list, and an intent's payouts with provider
//! references, ledger entries, webhook inbox rows and discrepancies.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::inbox::InboxStatus;
use crate::domain::{IntentStatus, PayoutKind, PayoutStatus};

/// One intent in the console's list.
#[derive(Debug, Clone)]
pub struct IntentLine {
    /// The id (UUIDv7, so id order is creation order).
    pub id: Uuid,
    /// Status.
    pub status: IntentStatus,
    /// Amount in major units.
    pub amount: Decimal,
    /// Currency.
    pub currency: String,
    /// Deposit provider.
    pub provider: String,
    /// The client's reference.
    pub reference: Option<String>,
    /// Why an operator should look, when flagged.
    pub flagged_reason: Option<String>,
    /// Created at.
    pub created_at: DateTime<Utc>,
}

/// Intents newest first, after `before` (an id), optionally only in `status` or only flagged;
/// at most `limit`. Walks the primary key backwards, so a page costs the same at any depth.
pub async fn list(
    pool: &PgPool,
    status: Option<IntentStatus>,
    flagged_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<IntentLine>, sqlx::Error> {
    sqlx::query_as!(
        IntentLine,
        r#"SELECT id, status AS "status: IntentStatus", amount, currency, provider, reference,
                  flagged_reason, created_at
           FROM intents
          WHERE ($1::text IS NULL OR status = $1) AND (NOT $2 OR flagged_reason IS NOT NULL)
            AND ($3::uuid IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4"#,
        status as Option<IntentStatus>,
        flagged_only,
        before,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// A payout as operators read it.
#[derive(Debug, Clone)]
pub struct PayoutLine {
    /// The id.
    pub id: Uuid,
    /// Whose money it carries.
    pub kind: PayoutKind,
    /// Amount.
    pub amount: Decimal,
    /// Currency.
    pub currency: String,
    /// Provider.
    pub provider: String,
    /// malipo's reference sent to the provider (`po_<uuid>`).
    pub reference: String,
    /// The provider's own id for the transfer, once known.
    pub provider_ref: Option<String>,
    /// Status.
    pub status: PayoutStatus,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// The payout that replaced it after a confirmed failure.
    pub superseded_by: Option<Uuid>,
    /// Where the money goes.
    pub destination: Value,
    /// First sent at.
    pub initiated_at: Option<DateTime<Utc>>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The intent's payouts, oldest first.
pub async fn payouts(pool: &PgPool, intent: Uuid) -> Result<Vec<PayoutLine>, sqlx::Error> {
    sqlx::query_as!(
        PayoutLine,
        r#"SELECT id, kind AS "kind: PayoutKind", amount, currency, provider, reference, provider_ref,
                  status AS "status: PayoutStatus", failure_reason, superseded_by, destination,
                  initiated_at, updated_at
           FROM payouts WHERE intent_id = $1 ORDER BY created_at, kind"#,
        intent,
    )
    .fetch_all(pool)
    .await
}

/// One ledger entry of one of the intent's transactions.
#[derive(Debug, Clone)]
pub struct EntryLine {
    /// The transaction's idempotency key (`deposit:<intent>`, `payout:<id>:sent`, …).
    pub posting: String,
    /// The account's code.
    pub account: String,
    /// Signed amount (debit positive).
    pub amount: Decimal,
    /// Currency.
    pub currency: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Every ledger entry of the intent's transactions, in posting order.
pub async fn ledger_entries(pool: &PgPool, intent: Uuid) -> Result<Vec<EntryLine>, sqlx::Error> {
    sqlx::query_as!(
        EntryLine,
        "SELECT t.idempotency_key AS posting, a.code AS account, e.amount, e.currency, e.created_at
           FROM ledger_transactions t
           JOIN ledger_entries e ON e.transaction_id = t.id
           JOIN ledger_accounts a ON a.id = e.account_id
          WHERE t.intent_id = $1
          ORDER BY t.id, e.id",
        intent,
    )
    .fetch_all(pool)
    .await
}

/// A webhook inbox row about the intent.
#[derive(Debug, Clone)]
pub struct InboxLine {
    /// The id.
    pub id: Uuid,
    /// Provider.
    pub provider: String,
    /// Which endpoint received it.
    pub endpoint: String,
    /// The provider's event key.
    pub event_key: String,
    /// What became of it.
    pub status: InboxStatus,
    /// Why rejected or ignored.
    pub reason: Option<String>,
    /// The raw body (verified before it was stored).
    pub body: Vec<u8>,
    /// Received at.
    pub received_at: DateTime<Utc>,
}

/// Inbox rows whose event key or subject is one of `references` (the intent's provider
/// reference and its payouts' references), newest first, at most 100.
pub async fn inbox(pool: &PgPool, references: &[String]) -> Result<Vec<InboxLine>, sqlx::Error> {
    sqlx::query_as!(
        InboxLine,
        r#"SELECT id, provider, endpoint, event_key, status AS "status: InboxStatus", reason, body,
                  received_at
           FROM webhook_inbox
          WHERE id IN (SELECT id FROM webhook_inbox WHERE event_key = ANY($1) AND provider IN ('mpesa', 'paystack', 'lightning', 'lnbits')
                       UNION SELECT id FROM webhook_inbox WHERE subject = ANY($1))
          ORDER BY received_at DESC LIMIT 100"#,
        references,
    )
    .fetch_all(pool)
    .await
}

/// The intent's discrepancies (any status), newest first.
pub async fn discrepancies(
    pool: &PgPool,
    intent: Uuid,
) -> Result<Vec<super::discrepancies::DiscrepancyRow>, sqlx::Error> {
    sqlx::query_as!(
        super::discrepancies::DiscrepancyRow,
        "SELECT id, kind, intent_id, payout_id, provider, amount, currency, evidence, status, resolution, note,
                resolved_by, created_at, resolved_at
           FROM discrepancies WHERE intent_id = $1 ORDER BY created_at DESC, id DESC",
        intent,
    )
    .fetch_all(pool)
    .await
}

/// The provider's id for the intent's deposit (CheckoutRequestID, Paystack reference, payment
/// hash), once known; `None` when there is no such intent either.
pub async fn provider_reference(
    pool: &PgPool,
    intent: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let found = sqlx::query_scalar!(
        "SELECT provider_reference FROM intents WHERE id = $1",
        intent
    )
    .fetch_optional(pool)
    .await?;
    Ok(found.flatten())
}

/// An intent that needs a person, as the console lists it.
#[derive(Debug, Clone)]
pub struct NeedsPerson {
    /// The intent.
    pub id: Uuid,
    /// Its status.
    pub status: String,
    /// Its provider.
    pub provider: String,
    /// `stuck_in_status`, `payout_in_doubt` or `flagged`.
    pub reason: String,
    /// The flag's text, when flagged.
    pub detail: Option<String>,
    /// When it last changed.
    pub since: DateTime<Utc>,
}

/// The intents `ops::money::stuck_intents` lists — in `releasing`/`refunding` or with a payout
/// unfinished for longer than `older_than_secs`, or flagged and not closed — found through three
/// partial indexes (migration 0100) instead of a test per intent, oldest first, at most `limit`.
pub async fn needs_person(
    pool: &PgPool,
    older_than_secs: f64,
    limit: i64,
) -> Result<Vec<NeedsPerson>, sqlx::Error> {
    // The state names stay literals: each branch must match its partial index's predicate.
    sqlx::query_as!(
        NeedsPerson,
        r#"WITH candidates AS (
             SELECT id, 'stuck_in_status' AS reason, 1 AS rank FROM intents
              WHERE status IN ('releasing', 'refunding') AND updated_at < now() - make_interval(secs => $1)
             UNION ALL
             SELECT DISTINCT intent_id, 'payout_in_doubt', 2 FROM payouts
              WHERE status IN ('pending', 'in_flight')
                AND coalesce(initiated_at, created_at) < now() - make_interval(secs => $1)
             UNION ALL
             SELECT id, 'flagged', 3 FROM intents
              WHERE flagged_reason IS NOT NULL AND status NOT IN ('settled', 'refunded'))
         SELECT DISTINCT ON (i.id) i.id, i.status, i.provider, c.reason AS "reason!", i.flagged_reason AS detail,
                i.updated_at AS since
           FROM candidates c JOIN intents i ON i.id = c.id
          ORDER BY i.id, c.rank
          LIMIT $2"#,
        older_than_secs,
        limit,
    )
    .fetch_all(pool)
    .await
}
