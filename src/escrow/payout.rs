//! A payout's money movements: recorded as in flight before the provider call (so it is never
//! initiated twice), then settled as succeeded, failed or reversed by the provider's answer.

use serde_json::json;
use sqlx::PgConnection;

use crate::{
    db::{
        discrepancies::{self, DiscrepancyKind, Moved, NewDiscrepancy},
        ledger::{self, Account, Posting, PostingError, TransactionKind},
        payouts::{self, LockedPayout, PayoutRecord},
        share_settlement::DeliveredShare,
        transitions::transition,
    },
    domain::{IntentMove, IntentNote, PayoutKind, PayoutStatus},
    providers::{RefundStatus, TransferStatus},
};

/// The account a payout's money comes from.
fn source(payout: &PayoutRecord) -> Account {
    let currency = payout.amount.currency();
    match (payout.kind, payout.intent_id) {
        (PayoutKind::Commission, _) => Account::commission(currency),
        // Money of a closed intent, parked with its discrepancy.
        (PayoutKind::LateRefund, _) => Account::suspense(currency),
        (PayoutKind::Refund, Some(intent)) => Account::escrow(intent, currency),
        (PayoutKind::Payee, Some(intent)) => Account::payable(intent, currency),
        // A withdrawal (the schema gives every payee share and refund an intent): reserved
        // from the client's balance when it was asked for.
        _ => Account::withdrawals_reserved(currency),
    }
}

/// A failed (or reversed) withdrawal's money goes back to its client's balance, once.
async fn return_to_balance(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    why: &str,
) -> anyhow::Result<()> {
    let (PayoutKind::Withdrawal, Some(client)) = (payout.kind, payout.client_id) else {
        return Ok(());
    };
    let currency = payout.amount.currency();
    ledger::post(
        conn,
        &format!("payout:{}:returned", payout.id),
        TransactionKind::WithdrawalReturned,
        None,
        &format!(
            "withdrawal {} returned to the balance: {why}",
            payout.reference
        ),
        &[
            (
                Account::withdrawals_reserved(currency),
                payout.amount.amount(),
            ),
            (
                Account::client_balance(client, currency),
                -payout.amount.amount(),
            ),
        ],
    )
    .await?;
    Ok(())
}

/// Where in-flight money waits for the provider's answer.
fn in_flight(payout: &PayoutRecord) -> Account {
    if matches!(payout.kind, PayoutKind::Refund | PayoutKind::LateRefund) {
        Account::refunds_in_flight(payout.amount.currency())
    } else {
        Account::payouts_in_flight(payout.amount.currency())
    }
}

/// A step of a payout that moves its money: it ends the posting's idempotency key
/// (`payout:<id>:sent`) and names the transaction's kind.
#[derive(Debug, Clone, Copy)]
enum Step {
    Sent,
    Succeeded,
    Failed,
    Reversed,
}

impl Step {
    fn key_part(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Reversed => "reversed",
        }
    }

    fn kind(self) -> TransactionKind {
        match self {
            Self::Sent => TransactionKind::PayoutSent,
            Self::Succeeded => TransactionKind::PayoutSucceeded,
            Self::Failed => TransactionKind::PayoutFailed,
            Self::Reversed => TransactionKind::PayoutReversed,
        }
    }
}

/// The posting of a payout's `step` (once per step, by its key): its amount moves from `from`
/// to `to` (debit `from`, credit `to`); `what` ends the memo. Written with the status move
/// that makes the step, in one statement.
fn step_posting(
    payout: &PayoutRecord,
    step: Step,
    what: &str,
    from: Account,
    to: Account,
) -> Result<Posting, PostingError> {
    let amount = payout.amount.amount();
    Posting::new(
        &format!("payout:{}:{}", payout.id, step.key_part()),
        step.kind(),
        payout.intent_id,
        &format!("{} payout {}{what}", payout.kind, payout.reference),
        &[(from, amount), (to, -amount)],
    )
}

/// Marks a pending payout in flight and posts source → in flight, in one statement (complete
/// without a transaction around it). Returns true only for the caller that made the move: that
/// caller, and only it, may call the provider to initiate.
pub async fn begin(conn: &mut PgConnection, payout: &PayoutRecord) -> anyhow::Result<bool> {
    let sent = step_posting(payout, Step::Sent, "", source(payout), in_flight(payout))?;
    Ok(payouts::set_status(
        conn,
        payout.id,
        &[PayoutStatus::Pending],
        PayoutStatus::InFlight,
        None,
        None,
        Some(&sent),
    )
    .await?)
}

/// What applying a provider answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutEffect {
    /// Not conclusive; check again later.
    Pending,
    /// Conclusive, applied now.
    Settled,
    /// Already applied before (duplicate or late event).
    Unchanged,
    /// Conclusive, and contradicting the conclusion malipo recorded earlier: a discrepancy
    /// was recorded (with the money that really moved put through suspense).
    Contradicted,
}

/// Applies a transfer status to a payout (locked by the caller in this transaction).
pub async fn apply_transfer(
    conn: &mut PgConnection,
    payout: &LockedPayout,
    status: &TransferStatus,
) -> anyhow::Result<PayoutEffect> {
    // A settling move ends the payout's waiting status check in its own statement
    // (`payouts::set_status`).
    transfer_effect(conn, payout, status).await
}

async fn transfer_effect(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    status: &TransferStatus,
) -> anyhow::Result<PayoutEffect> {
    match status {
        TransferStatus::Pending => Ok(PayoutEffect::Pending),
        TransferStatus::NotFound => Ok(PayoutEffect::Pending),
        TransferStatus::Succeeded { provider_ref } => {
            match succeed(conn, payout, provider_ref).await? {
                PayoutEffect::Unchanged => contradiction(conn, payout, true, provider_ref).await,
                effect => Ok(effect),
            }
        }
        TransferStatus::Failed { reason } => match fail(conn, payout, reason).await? {
            PayoutEffect::Unchanged => contradiction(conn, payout, false, reason).await,
            effect => Ok(effect),
        },
        TransferStatus::Reversed { reason } => {
            // A reversal may arrive before (or instead of) the success it undoes.
            succeed(conn, payout, "reversed").await?;
            reverse(conn, payout, reason).await
        }
    }
}

/// Applies a refund status to a refund payout (locked by the caller).
pub async fn apply_refund(
    conn: &mut PgConnection,
    payout: &LockedPayout,
    status: &RefundStatus,
) -> anyhow::Result<PayoutEffect> {
    refund_effect(conn, payout, status).await
}

async fn refund_effect(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    status: &RefundStatus,
) -> anyhow::Result<PayoutEffect> {
    match status {
        RefundStatus::Pending { provider_ref } => {
            crate::db::payouts::note_provider_ref(&mut *conn, payout.id, provider_ref).await?;
            Ok(PayoutEffect::Pending)
        }
        RefundStatus::NotFound => Ok(PayoutEffect::Pending),
        RefundStatus::Succeeded { provider_ref } => {
            match succeed(conn, payout, provider_ref).await? {
                PayoutEffect::Unchanged => contradiction(conn, payout, true, provider_ref).await,
                effect => Ok(effect),
            }
        }
        RefundStatus::Failed { reason } => match fail(conn, payout, reason).await? {
            PayoutEffect::Unchanged => contradiction(conn, payout, false, reason).await,
            effect => Ok(effect),
        },
    }
}

/// A conclusive provider answer for a payout that already has a conclusion: when the two
/// disagree (the provider delivered a payout malipo recorded failed, or failed one it recorded
/// delivered) the money's real movement goes through suspense with a discrepancy, and the
/// intent is flagged. Agreeing answers change nothing.
async fn contradiction(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    provider_delivered: bool,
    evidence: &str,
) -> anyhow::Result<PayoutEffect> {
    let moved = match (payout.status, provider_delivered) {
        (PayoutStatus::Failed, true) => Moved::Out(payout.amount),
        (PayoutStatus::Succeeded, false) => Moved::In(payout.amount),
        _ => return Ok(PayoutEffect::Unchanged),
    };
    let says = if provider_delivered {
        "delivered"
    } else {
        "failed"
    };
    let recorded = discrepancies::record(
        conn,
        &NewDiscrepancy {
            kind: DiscrepancyKind::PayoutContradiction,
            dedupe_key: format!("payout_contradiction:{}:{says}", payout.id),
            intent_id: payout.intent_id,
            payout_id: Some(payout.id),
            provider: payout.provider,
            moved,
            evidence: json!({"recorded": payout.status, "provider_says": says, "provider_evidence": evidence,
                             "reference": payout.reference, "kind": payout.kind}),
        },
    )
    .await?;
    if recorded {
        flag_intent(
            conn,
            payout,
            &format!(
                "{} payout {} is recorded {} but the provider says {says}",
                payout.kind, payout.reference, payout.status
            ),
        )
        .await?;
    }
    Ok(PayoutEffect::Contradicted)
}

/// A payout's money, delivered: in flight → the provider's clearing account.
fn delivered_posting(payout: &PayoutRecord, provider_ref: &str) -> Result<Posting, PostingError> {
    let clearing = Account::clearing(payout.provider, payout.amount.currency());
    let what = format!(" delivered ({provider_ref})");
    step_posting(payout, Step::Succeeded, &what, in_flight(payout), clearing)
}

/// A delivery the provider answered for a payee or commission share that was in flight when
/// read (`payout`, locked by nobody), as one call to make: exactly what [`apply_transfer`]
/// writes for it (the share's move and posting, then the intent's `settled` move, which waits
/// for every live share), but without a transaction and locks held across round trips. The
/// call locks and moves under the same guards, and writes nothing when the payout has left
/// `in_flight` since: the caller then goes the locked way. `None` for any other payout
/// (refunds, withdrawals, one not in flight), which goes the locked way at once.
pub fn delivered_share(
    payout: &PayoutRecord,
    provider_ref: &str,
) -> anyhow::Result<Option<DeliveredShare>> {
    let (PayoutStatus::InFlight, PayoutKind::Payee | PayoutKind::Commission, Some(intent)) =
        (payout.status, payout.kind, payout.intent_id)
    else {
        return Ok(None);
    };
    Ok(Some(DeliveredShare {
        payout: payout.id,
        reference: payout.reference.clone(),
        intent,
        provider_ref: provider_ref.to_owned(),
        posting: delivered_posting(payout, provider_ref)?,
    }))
}

async fn succeed(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    provider_ref: &str,
) -> anyhow::Result<PayoutEffect> {
    // The caller locked the intent with the payout ([`LockedPayout`]): two payouts of one intent
    // succeeding at once must not each see the other still in flight (write skew) and both
    // skip settling it.
    let delivered = delivered_posting(payout, provider_ref)?;
    if !payouts::set_status(
        conn,
        payout.id,
        &[PayoutStatus::InFlight],
        PayoutStatus::Succeeded,
        Some(provider_ref),
        None,
        Some(&delivered),
    )
    .await?
    {
        return Ok(PayoutEffect::Unchanged);
    }
    if payout.kind == PayoutKind::LateRefund {
        // The payer has the money back: its discrepancy is settled by this refund.
        discrepancies::settle_by_late_refund(conn, payout.id, provider_ref).await?;
        return Ok(PayoutEffect::Settled);
    }
    let Some(intent) = payout.intent_id else {
        return Ok(PayoutEffect::Settled);
    };
    if payout.kind == PayoutKind::Refund {
        transition(
            conn,
            intent,
            IntentMove::Refunded,
            json!({"payout": payout.id, "provider_ref": provider_ref}),
        )
        .await?;
    } else {
        // Settled once every live share is delivered (the move itself checks): a failed share
        // that was sent again counts through its successor; one not yet followed keeps the
        // intent `released`.
        transition(
            conn,
            intent,
            IntentMove::Settled,
            json!({"payout": payout.id}),
        )
        .await?;
    }
    Ok(PayoutEffect::Settled)
}

async fn fail(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    reason: &str,
) -> anyhow::Result<PayoutEffect> {
    // Only money that went in flight comes back (`begin` moved it there). The caller locked
    // the payout, so the status it read is the one the move starts from.
    let what = format!(" failed: {reason}");
    let returned = (payout.status == PayoutStatus::InFlight)
        .then(|| {
            step_posting(
                payout,
                Step::Failed,
                &what,
                in_flight(payout),
                source(payout),
            )
        })
        .transpose()?;
    if !payouts::set_status(
        conn,
        payout.id,
        &[PayoutStatus::InFlight, PayoutStatus::Pending],
        PayoutStatus::Failed,
        None,
        Some(reason),
        returned.as_ref(),
    )
    .await?
    {
        return Ok(PayoutEffect::Unchanged);
    }
    return_to_balance(conn, payout, reason).await?;
    let Some(intent) = payout.intent_id else {
        return Ok(PayoutEffect::Settled);
    };
    let flag = format!("{} payout failed: {reason}", payout.kind);
    if payout.kind == PayoutKind::Refund {
        transition(
            conn,
            intent,
            IntentMove::RefundFailed,
            json!({"payout": payout.id, "reason": reason}),
        )
        .await?;
    } else {
        crate::db::intents::record_event(
            &mut *conn,
            intent,
            IntentNote::PayoutFailed,
            json!({"payout": payout.id, "reason": reason}),
        )
        .await?;
    }
    flag_intent(conn, payout, &flag).await?;
    Ok(PayoutEffect::Settled)
}

async fn reverse(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    reason: &str,
) -> anyhow::Result<PayoutEffect> {
    // The money is back at the provider and owed to the payee again.
    let clearing = Account::clearing(payout.provider, payout.amount.currency());
    let what = format!(" reversed: {reason}");
    let returned = step_posting(payout, Step::Reversed, &what, clearing, source(payout))?;
    if !payouts::set_status(
        conn,
        payout.id,
        &[PayoutStatus::Succeeded],
        PayoutStatus::Reversed,
        None,
        Some(reason),
        Some(&returned),
    )
    .await?
    {
        return Ok(PayoutEffect::Unchanged);
    }
    return_to_balance(conn, payout, reason).await?;
    if payout.kind == PayoutKind::LateRefund {
        discrepancies::reopen_after_late_refund(conn, payout.id).await?;
    }
    let Some(intent) = payout.intent_id else {
        return Ok(PayoutEffect::Settled);
    };
    transition(
        conn,
        intent,
        IntentMove::PayoutReversed,
        json!({"payout": payout.id, "reason": reason}),
    )
    .await?;
    flag_intent(
        conn,
        payout,
        &format!("{} payout reversed: {reason}", payout.kind),
    )
    .await?;
    Ok(PayoutEffect::Settled)
}

async fn flag_intent(
    conn: &mut PgConnection,
    payout: &PayoutRecord,
    reason: &str,
) -> Result<(), sqlx::Error> {
    match payout.intent_id {
        Some(intent) => crate::db::intents::flag(conn, intent, reason).await,
        None => Ok(()),
    }
}
