//! C2B (Paybill) payments: recording each receipt once and placing it. A payment is matched
//! only through the account number malipo issued for exactly one intent — never through a
//! client's free-text reference, which another tenant may share. Money that cannot be placed
//! in escrow is never dropped: it waits in suspense with a discrepancy.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::{
        discrepancies::{self, DiscrepancyKind, Moved, NewDiscrepancy},
        intents::{self, IntentRecord},
        reconciliation,
    },
    domain::{IntentStatus, Money, ProviderKind},
    escrow::deposit::{self, DepositEffect, own_payment_key},
    providers::DepositStatus,
};

/// What became of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credit {
    /// Credited to this intent (now held).
    Credited(Uuid),
    /// The intent's own STK payment, seen again through Pull: nothing to do.
    OwnPayment(Uuid),
    /// The intent's own payment (the first of its amount), paid after the intent closed: a
    /// `late_payment` discrepancy holds it, shared with STK Query's sighting of the same payment
    /// (`first_sighting` false when that one came first). A further payment is not this one.
    LateOwnPayment { intent: Uuid, first_sighting: bool },
    /// Paid to an intent whose deposit is still being started: left unplaced (and unresolved),
    /// so a later pass credits it once the intent awaits payment.
    NotYet(Uuid),
    /// Money that has no place in escrow: a discrepancy of this kind holds it in suspense.
    Discrepancy(DiscrepancyKind, Option<Uuid>),
    /// Unreadable: no amount to place (recorded for an operator).
    Unreadable(String),
}

/// Records receipt `receipt` (first sight wins; returns false if it was known) with `source`.
pub async fn record(
    conn: &mut PgConnection,
    receipt: &str,
    amount: Option<Money>,
    account_ref: &str,
    source: &str,
) -> Result<bool, sqlx::Error> {
    reconciliation::record_mpesa_payment(conn, receipt, amount, account_ref, source).await
}

/// Places an unresolved recorded payment, when the rule allows; stores the resolution so a
/// second pass does nothing (a payment left for later, [`Credit::NotYet`], stays unresolved).
pub async fn credit(conn: &mut PgConnection, receipt: &str) -> anyhow::Result<Option<Credit>> {
    let Some(row) = reconciliation::lock_mpesa_payment(&mut *conn, receipt).await? else {
        return Ok(None);
    };
    let (amount, currency, account_ref, resolution) =
        (row.amount, row.currency, row.account_ref, row.resolution);
    if resolution.is_some() {
        return Ok(None);
    }
    let account_ref = account_ref.unwrap_or_default();
    let intent = intents::by_account_number(&mut *conn, account_ref.trim()).await?;
    let paid = match (amount, currency.as_deref().map(str::parse)) {
        (Some(amount), Some(Ok(currency))) => Money::new(amount, currency).ok(),
        _ => None,
    };
    let outcome = match paid {
        None => Credit::Unreadable(format!("payment {receipt} has no readable amount")),
        Some(paid) => {
            let record = match intent {
                Some(id) => intents::load(conn, id, true).await?,
                None => None,
            };
            match record {
                Some(record) => place(conn, &record, receipt, paid, &account_ref).await?,
                None => {
                    let kind = DiscrepancyKind::UnmatchedPayment;
                    suspend(conn, kind, None, receipt, paid, &account_ref).await?
                }
            }
        }
    };
    let (resolution, intent_id) = match &outcome {
        Credit::NotYet(_) => return Ok(Some(outcome)),
        Credit::Credited(id) => ("credited", Some(*id)),
        Credit::OwnPayment(id) | Credit::LateOwnPayment { intent: id, .. } => {
            ("own_payment", Some(*id))
        }
        Credit::Discrepancy(_, id) => ("discrepancy", *id),
        Credit::Unreadable(_) => ("flagged", intent),
    };
    reconciliation::resolve_mpesa_payment(
        &mut *conn,
        receipt,
        resolution,
        intent_id,
        json!({"resolution": format!("{outcome:?}")}),
    )
    .await?;
    Ok(Some(outcome))
}

/// Places a payment of `paid` to intent `record`'s account number.
async fn place(
    conn: &mut PgConnection,
    record: &IntentRecord,
    receipt: &str,
    paid: Money,
    account_ref: &str,
) -> anyhow::Result<Credit> {
    let id = record.id;
    let status = record.status;
    if status == IntentStatus::Initiating {
        // Its deposit is still being started (an STK push may be in flight, or its run died
        // after pushing): once it awaits payment, this payment funds it.
        return Ok(Credit::NotYet(id));
    }
    // An STK-funded intent's own payment also shows in Pull, under its account number: the
    // first one of the right amount is that payment (its receipt was never trusted from the
    // callback), anything beyond it is money paid twice.
    let own_unseen = paid == record.amount && !own_payment_seen(conn, id).await?;
    if status == IntentStatus::AwaitingPayment {
        if paid != record.amount {
            return suspend(
                conn,
                DiscrepancyKind::AmountMismatch,
                Some(record),
                receipt,
                paid,
                account_ref,
            )
            .await;
        }
        let status = DepositStatus::Succeeded {
            amount: paid,
            provider_ref: receipt.to_owned(),
        };
        return Ok(match deposit::apply(conn, record, &status).await? {
            DepositEffect::Held => Credit::Credited(id),
            _ => {
                suspend(
                    conn,
                    DiscrepancyKind::DuplicatePayment,
                    Some(record),
                    receipt,
                    paid,
                    account_ref,
                )
                .await?
            }
        });
    }
    if status.is_closed_unpaid() {
        let own = own_unseen && record.provider_reference.is_some();
        if !own {
            let kind = DiscrepancyKind::LatePayment;
            return suspend(conn, kind, Some(record), receipt, paid, account_ref).await;
        }
        // The intent's own (STK) payment arriving after it closed shares its key with the STK
        // Query path, so the two sightings make one discrepancy. It is resolved as the own
        // payment: a second payment to the account number is then money paid twice, under a key
        // of its own, never folded into this one's discrepancy.
        let (kind, key) = (DiscrepancyKind::LatePayment, own_payment_key(id));
        let late = payment_discrepancy(kind, key, Some(record), receipt, paid, account_ref);
        let first_sighting = discrepancies::record(conn, &late).await?;
        return Ok(Credit::LateOwnPayment {
            intent: id,
            first_sighting,
        });
    }
    if own_unseen && record.provider_reference.is_some() {
        return Ok(Credit::OwnPayment(id));
    }
    suspend(
        conn,
        DiscrepancyKind::DuplicatePayment,
        Some(record),
        receipt,
        paid,
        account_ref,
    )
    .await
}

/// Whether a Paybill receipt was already taken as the intent's own payment.
async fn own_payment_seen(conn: &mut PgConnection, intent: Uuid) -> Result<bool, sqlx::Error> {
    reconciliation::own_payment_seen(conn, intent).await
}

/// Parks a payment in suspense with a discrepancy of `kind`, under a key of its own.
async fn suspend(
    conn: &mut PgConnection,
    kind: DiscrepancyKind,
    intent: Option<&IntentRecord>,
    receipt: &str,
    paid: Money,
    account_ref: &str,
) -> anyhow::Result<Credit> {
    let key = format!("payment:mpesa:{receipt}");
    discrepancies::record(
        conn,
        &payment_discrepancy(kind, key, intent, receipt, paid, account_ref),
    )
    .await?;
    Ok(Credit::Discrepancy(kind, intent.map(|i| i.id)))
}

/// The discrepancy that holds a Paybill payment in suspense.
fn payment_discrepancy(
    kind: DiscrepancyKind,
    dedupe_key: String,
    intent: Option<&IntentRecord>,
    receipt: &str,
    paid: Money,
    account_ref: &str,
) -> NewDiscrepancy {
    NewDiscrepancy {
        kind,
        dedupe_key,
        intent_id: intent.map(|i| i.id),
        payout_id: None,
        provider: ProviderKind::Mpesa,
        moved: Moved::In(paid),
        evidence: json!({"receipt": receipt, "account_number": account_ref,
                         "paid": paid.amount().to_string(), "currency": paid.currency().code(),
                         "intent_status": intent.map(|i| i.status),
                         "intent_amount": intent.map(|i| i.amount.amount().to_string())}),
    }
}
