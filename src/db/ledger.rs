//! The double-entry ledger: accounts, balanced postings, derived balances, and the invariant check.
//!
//! Debits are positive and credits negative. PostgreSQL enforces that every transaction balances
//! per currency (a deferred constraint trigger) and that entries are immutable; this module also
//! refuses unbalanced postings before they reach the database.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use super::ledger_kinds::{AccountKind, TransactionKind};
use crate::domain::{Currency, ProviderKind};

/// A ledger account, created on first use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    code: String,
    kind: AccountKind,
    currency: Currency,
    intent: Option<Uuid>,
}

impl Account {
    /// Money held at a provider on the platform's behalf (debit-normal).
    pub fn clearing(provider: ProviderKind, currency: Currency) -> Self {
        Self {
            code: format!("clearing:{provider}:{currency}"),
            kind: AccountKind::ProviderClearing,
            currency,
            intent: None,
        }
    }

    /// One intent's escrow (credit-normal: what the platform owes until release).
    pub fn escrow(intent: Uuid, currency: Currency) -> Self {
        Self {
            code: format!("escrow:{intent}"),
            kind: AccountKind::Escrow,
            currency,
            intent: Some(intent),
        }
    }

    /// What the platform owes one intent's payee after release.
    pub fn payable(intent: Uuid, currency: Currency) -> Self {
        Self {
            code: format!("payable:{intent}"),
            kind: AccountKind::PayeePayable,
            currency,
            intent: Some(intent),
        }
    }

    /// The platform's earned commission per currency.
    pub fn commission(currency: Currency) -> Self {
        Self {
            code: format!("commission:{currency}"),
            kind: AccountKind::PlatformCommission,
            currency,
            intent: None,
        }
    }

    /// Payouts initiated and not yet conclusive.
    pub fn payouts_in_flight(currency: Currency) -> Self {
        Self {
            code: format!("payouts_in_flight:{currency}"),
            kind: AccountKind::PayoutsInFlight,
            currency,
            intent: None,
        }
    }

    /// Refunds initiated and not yet conclusive.
    pub fn refunds_in_flight(currency: Currency) -> Self {
        Self {
            code: format!("refunds_in_flight:{currency}"),
            kind: AccountKind::RefundsInFlight,
            currency,
            intent: None,
        }
    }

    /// Money that moved at a provider without a place in the escrow model, per currency: a
    /// payment for a closed intent (credit), a payout made after malipo recorded it failed
    /// (debit). Each amount belongs to one open discrepancy.
    pub fn suspense(currency: Currency) -> Self {
        Self {
            code: format!("suspense:{currency}"),
            kind: AccountKind::Suspense,
            currency,
            intent: None,
        }
    }

    /// Where resolved discrepancies' money goes: settled by the business outside malipo
    /// (returned to the payer by hand, written off, applied by hand).
    pub fn settled_outside(currency: Currency) -> Self {
        Self {
            code: format!("settled_outside:{currency}"),
            kind: AccountKind::SettledOutside,
            currency,
            intent: None,
        }
    }

    /// What a client may withdraw, per currency (credit-normal: what the platform owes the
    /// client). Created by [`super::balances::ensure`], which also starts tracking it.
    pub fn client_balance(client: Uuid, currency: Currency) -> Self {
        Self {
            code: balance_code(client, currency),
            kind: AccountKind::ClientBalance,
            currency,
            intent: None,
        }
    }

    /// Withdrawals taken from balances and not yet sent (or failed and not yet returned).
    pub fn withdrawals_reserved(currency: Currency) -> Self {
        Self {
            code: format!("withdrawals_reserved:{currency}"),
            kind: AccountKind::WithdrawalsReserved,
            currency,
            intent: None,
        }
    }

    /// The account's code.
    pub fn code(&self) -> &str {
        &self.code
    }
}

/// The code of `client`'s balance account in `currency`.
pub fn balance_code(client: Uuid, currency: Currency) -> String {
    format!("balance:{client}:{currency}")
}

/// Why a posting was refused before reaching the database.
#[derive(Debug, thiserror::Error)]
pub enum PostingError {
    /// Entries do not sum to zero in some currency.
    #[error("posting `{key}` does not balance in {currency}: {total}")]
    Unbalanced {
        key: String,
        currency: Currency,
        /// The residue.
        total: Decimal,
    },
    /// Its entries could not all be written: an account it needs was created by a concurrent
    /// transaction and stayed out of sight. `malipo_post_ledger` writes the entries of an
    /// account it waited for in a second statement (migration 0127), and raises (a
    /// serialization failure) when still short (migration 0124), so a statement that commits
    /// on its own never commits a partial posting; this stays as the second check.
    #[error("posting `{key}`: an account was created concurrently; retry")]
    ConcurrentAccount { key: String },
    /// A state change that happened now found its money already posted: the ledger and the
    /// state disagree, and the caller's transaction must not commit.
    #[error("posting `{key}` was already made before the move it belongs to")]
    AlreadyPosted { key: String },
    /// The database refused it.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A balanced transaction, checked when made and laid out as `malipo_post_ledger` takes it
/// (migrations 0051, 0124): written by [`post`], or by a statement that makes a state change
/// and its posting together (`payouts::set_status`, `transitions::transition_posting`,
/// `releases::mark_posted`), so the two cost one round trip.
#[derive(Debug, Clone)]
pub struct Posting {
    pub(super) key: String,
    pub(super) kind: TransactionKind,
    pub(super) intent: Option<Uuid>,
    pub(super) memo: String,
    pub(super) codes: Vec<String>,
    pub(super) kinds: Vec<AccountKind>,
    pub(super) currencies: Vec<&'static str>,
    pub(super) intents: Vec<Option<Uuid>>,
    pub(super) amounts: Vec<Decimal>,
}

impl Posting {
    /// The transaction under idempotency `key`; refused when its entries do not balance in
    /// every currency. Zero entries are left out.
    pub fn new(
        key: &str,
        kind: TransactionKind,
        intent: Option<Uuid>,
        memo: &str,
        entries: &[(Account, Decimal)],
    ) -> Result<Self, PostingError> {
        let mut totals: BTreeMap<&str, (Currency, Decimal)> = BTreeMap::new();
        for (account, amount) in entries {
            let slot = totals
                .entry(account.currency.code())
                .or_insert((account.currency, Decimal::ZERO));
            slot.1 += *amount;
        }
        if let Some((currency, total)) = totals.values().find(|(_, total)| !total.is_zero()) {
            return Err(PostingError::Unbalanced {
                key: key.to_owned(),
                currency: *currency,
                total: *total,
            });
        }
        let entries: Vec<&(Account, Decimal)> = entries
            .iter()
            .filter(|(_, amount)| !amount.is_zero())
            .collect();
        Ok(Self {
            key: key.to_owned(),
            kind,
            intent,
            memo: memo.to_owned(),
            codes: entries.iter().map(|(a, _)| a.code.clone()).collect(),
            kinds: entries.iter().map(|(a, _)| a.kind).collect(),
            currencies: entries.iter().map(|(a, _)| a.currency.code()).collect(),
            intents: entries.iter().map(|(a, _)| a.intent).collect(),
            amounts: entries.iter().map(|(_, amount)| *amount).collect(),
        })
    }

    /// What `malipo_post_ledger`'s answer means: `false` when the key was posted before (and
    /// nothing was written); an error when its entries could not all be written
    /// ([`PostingError::ConcurrentAccount`]).
    pub(super) fn outcome(&self, inserted: i64, written: i64) -> Result<bool, PostingError> {
        if inserted == 0 {
            return Ok(false);
        }
        if usize::try_from(written).ok() != Some(self.codes.len()) {
            return Err(PostingError::ConcurrentAccount {
                key: self.key.clone(),
            });
        }
        Ok(true)
    }
}

/// Posts one balanced transaction; returns false (and writes nothing) when `key` was already
/// posted, so re-running a job never posts twice.
pub async fn post(
    conn: &mut PgConnection,
    key: &str,
    kind: TransactionKind,
    intent: Option<Uuid>,
    memo: &str,
    entries: &[(Account, Decimal)],
) -> Result<bool, PostingError> {
    let posting = Posting::new(key, kind, intent, memo, entries)?;
    // One round trip (postings sit on every job's path): the transaction row, the accounts it
    // touches for the first time, and its entries. Nothing more is written when `key` was
    // posted before. The balance is checked by the deferred trigger at commit.
    let row = sqlx::query!(
        r#"SELECT inserted AS "inserted!", written AS "written!"
             FROM malipo_post_ledger($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
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
    .fetch_one(&mut *conn)
    .await?;
    posting.outcome(row.inserted, row.written)
}

/// An account's balance (sum of its entries); zero for an account never used.
pub async fn balance(conn: &mut PgConnection, account: &Account) -> Result<Decimal, sqlx::Error> {
    let total = sqlx::query_scalar!(
        "SELECT sum(e.amount) FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = $1",
        &account.code,
    )
    .fetch_one(conn)
    .await?;
    Ok(total.unwrap_or(Decimal::ZERO))
}

/// What posting `key` wrote to `account` (debit positive), if it exists.
pub async fn posted_amount(
    conn: &mut PgConnection,
    key: &str,
    account: &Account,
) -> Result<Option<Decimal>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT sum(e.amount) FROM ledger_entries e
           JOIN ledger_transactions t ON t.id = e.transaction_id
           JOIN ledger_accounts a ON a.id = e.account_id
          WHERE t.idempotency_key = $1 AND a.code = $2",
        key,
        &account.code,
    )
    .fetch_one(conn)
    .await
}

/// One broken invariant.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Violation {
    pub rule: String,
    /// What breaks it.
    pub subject: String,
    pub detail: String,
}

/// Runs each invariant's query (columns `rule`, `subject`, `detail`, as [`Violation`]) and
/// gathers what they list: each is a compile-checked `query_as!`, spelt once here.
macro_rules! violations_of {
    ($pool:expr; $($sql:tt),* $(,)?) => {{
        let mut violations: Vec<Violation> = Vec::new();
        $(violations.append(&mut sqlx::query_as!(Violation, $sql).fetch_all($pool).await?);)*
        violations
    }};
}

/// Every invariant the ledger must hold; an empty list means it is sound.
pub async fn check(pool: &PgPool) -> Result<Vec<Violation>, sqlx::Error> {
    Ok(violations_of!(pool;
        // transaction balances per currency
        r#"SELECT 'transaction balances per currency' AS "rule!", t.idempotency_key AS "subject!",
                e.currency || ' ' || sum(e.amount)::text AS "detail!"
           FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
          GROUP BY t.idempotency_key, e.currency HAVING sum(e.amount) <> 0"#,
        // transaction has entries
        r#"SELECT 'transaction has at least two entries' AS "rule!", t.idempotency_key AS "subject!",
                count(e.id)::text || ' entries' AS "detail!"
           FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
          GROUP BY t.idempotency_key HAVING count(e.id) < 2"#,
        // credit-normal accounts never go into debit
        r#"SELECT 'credit-normal account is not in debit' AS "rule!", a.code AS "subject!", sum(e.amount)::text AS "detail!"
           FROM ledger_accounts a JOIN ledger_entries e ON e.account_id = a.id
          WHERE a.kind NOT IN ('provider_clearing', 'suspense', 'settled_outside')
          GROUP BY a.code HAVING sum(e.amount) > 0"#,
        // escrow matches intent status
        r#"SELECT 'escrow matches intent status' AS "rule!", i.id::text AS "subject!",
                i.status || ': escrow ' || coalesce(b.total, 0)::text || ' for amount ' || i.amount::text AS "detail!"
           FROM intents i
           LEFT JOIN (SELECT a.intent_id, sum(e.amount) AS total FROM ledger_accounts a JOIN ledger_entries e ON e.account_id = a.id
                       WHERE a.kind = 'escrow' GROUP BY a.intent_id) b ON b.intent_id = i.id
           LEFT JOIN (SELECT intent_id, sum(amount) AS posted FROM intent_releases
                       WHERE released_at IS NOT NULL GROUP BY intent_id) r ON r.intent_id = i.id
          WHERE (i.status IN ('held', 'disputed', 'releasing') AND coalesce(b.total, 0) <> -(i.amount - coalesce(r.posted, 0)))
             OR (i.status = 'refunding' AND coalesce(b.total, 0) NOT IN (-(i.released_amount - coalesce(r.posted, 0)),
                                                                         -(i.amount - coalesce(r.posted, 0))))
             OR (i.status IN ('initiating', 'awaiting_payment', 'failed', 'expired', 'cancelled', 'released', 'settled', 'refunded')
                 AND coalesce(b.total, 0) <> 0)"#,
        // client balances match their ledger accounts
        r#"SELECT 'client balance equals the sum of its ledger movements' AS "rule!", b.client_id::text || ' ' || b.currency AS "subject!",
                'available ' || b.available::text || ', ledger ' || (-coalesce(sum(e.amount), 0))::text AS "detail!"
           FROM client_balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id
          GROUP BY b.account_id, b.client_id, b.currency, b.available
         HAVING b.available <> -coalesce(sum(e.amount), 0)"#,
        // released amount is the sum of the releases
        r#"SELECT 'released amount is the sum of the releases' AS "rule!", i.id::text AS "subject!",
                'released_amount ' || i.released_amount::text || ', releases ' || coalesce(r.total, 0)::text AS "detail!"
           FROM intents i
           LEFT JOIN (SELECT intent_id, sum(amount) AS total FROM intent_releases GROUP BY intent_id) r ON r.intent_id = i.id
          WHERE i.released_amount <> coalesce(r.total, 0)"#,
        // settled intents owe nothing
        r#"SELECT 'settled intent owes its payee nothing' AS "rule!", i.id::text AS "subject!", sum(e.amount)::text AS "detail!"
           FROM intents i JOIN ledger_accounts a ON a.intent_id = i.id AND a.kind = 'payee_payable'
           JOIN ledger_entries e ON e.account_id = a.id
          WHERE i.status = 'settled' GROUP BY i.id HAVING sum(e.amount) <> 0"#,
        // succeeded payouts are posted exactly once
        r#"SELECT 'succeeded payout is posted' AS "rule!", p.id::text AS "subject!", p.status AS "detail!"
           FROM payouts p
          WHERE p.status = 'succeeded'
            AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.idempotency_key = 'payout:' || p.id || ':succeeded')"#,
        // payout postings match payout statuses
        r#"SELECT 'payout posting matches its status' AS "rule!", p.id::text AS "subject!",
                p.status || ' but posted as ' || t.kind AS "detail!"
           FROM payouts p JOIN ledger_transactions t ON t.idempotency_key LIKE 'payout:' || p.id || ':%'
          WHERE (t.kind = 'payout_succeeded' AND p.status NOT IN ('succeeded', 'reversed'))
             OR (t.kind = 'payout_failed' AND p.status <> 'failed')
             OR (t.kind = 'payout_reversed' AND p.status <> 'reversed')"#,
        // money sent for a payout is posted
        r#"SELECT 'payout in flight or settled is posted as sent' AS "rule!", p.id::text AS "subject!", p.status AS "detail!"
           FROM payouts p
          WHERE (p.status IN ('in_flight', 'succeeded', 'reversed') OR (p.status = 'failed' AND p.initiated_at IS NOT NULL))
            AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.idempotency_key = 'payout:' || p.id || ':sent')"#,
        // suspense equals open discrepancies
        r#"SELECT 'suspense equals the money of open discrepancies' AS "rule!", s.currency AS "subject!",
                'suspense ' || s.total::text || ', open discrepancies ' || coalesce(d.total, 0)::text AS "detail!"
           FROM (SELECT a.currency, sum(e.amount) AS total FROM ledger_accounts a
                   JOIN ledger_entries e ON e.account_id = a.id WHERE a.kind = 'suspense' GROUP BY a.currency) s
           LEFT JOIN (SELECT d.currency, sum(e.amount) AS total FROM discrepancies d
                        JOIN ledger_transactions t ON t.idempotency_key = 'discrepancy:' || d.id
                          -- an automatic refund of the row's money under way takes it out
                          OR (d.payout_id IS NOT NULL AND t.idempotency_key LIKE 'payout:' || d.payout_id || ':%')
                        JOIN ledger_entries e ON e.transaction_id = t.id
                        JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'suspense'
                       WHERE d.status = 'open' GROUP BY d.currency) d ON d.currency = s.currency
          WHERE s.total <> coalesce(d.total, 0)"#,
        // Enforced by triggers, not foreign keys (migrations 0052, 0134): reported here too,
        // since `DISABLE TRIGGER USER` and a hand-set `malipo.posting` switch them off.
        // entries post to existing accounts
        r#"SELECT 'entry posts to an existing account of its currency' AS "rule!", e.id::text AS "subject!",
                'account ' || e.account_id::text || ' in ' || e.currency AS "detail!"
           FROM ledger_entries e
          WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = e.account_id AND a.currency = e.currency)"#,
        // entries belong to existing transactions
        r#"SELECT 'entry belongs to an existing transaction' AS "rule!", e.id::text AS "subject!",
                'transaction ' || e.transaction_id::text AS "detail!"
           FROM ledger_entries e
          WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = e.transaction_id)"#,
    ))
}
