//! Applying a provider's word on a deposit: held (with the clearing → escrow posting), failed,
//! or expired — and, for money that arrived where the escrow model has no place for it (another
//! amount, an intent already closed), a discrepancy with the money parked in suspense.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::{
        discrepancies::{self, DiscrepancyKind, Moved, NewDiscrepancy},
        intents::IntentRecord,
        ledger::{Account, Posting, TransactionKind},
        transitions::{transition, transition_posting},
    },
    domain::{IntentMove, IntentStatus, Money},
    providers::DepositStatus,
};

/// What applying a deposit status did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepositEffect {
    /// The intent is now held and escrow credited.
    Held,
    /// The provider reported another amount or currency: the intent failed and the money paid
    /// waits in suspense with an `amount_mismatch` discrepancy.
    Mismatch(String),
    /// The deposit failed or lapsed; the intent says why.
    Closed,
    /// Still waiting for the buyer.
    Pending,
    /// The intent had already left `awaiting_payment` (a duplicate or late event) and the
    /// provider's answer adds nothing.
    AlreadySettled,
    /// The buyer paid an intent that was already failed, expired or cancelled: the money waits
    /// in suspense with a `late_payment` discrepancy.
    LatePayment,
}

/// The dedupe key of an intent's own deposit payment (its checkout, STK push or invoice can be
/// paid once), shared by every path that may discover it late (STK Query, Pull, verify).
pub fn own_payment_key(intent: Uuid) -> String {
    format!("deposit_payment:{intent}")
}

/// Records that the buyer paid `amount` for `intent`, which is closed: suspense + discrepancy.
pub async fn late_payment(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    amount: Money,
    provider_ref: &str,
    dedupe_key: String,
) -> anyhow::Result<bool> {
    discrepancies::record(
        conn,
        &NewDiscrepancy {
            kind: DiscrepancyKind::LatePayment,
            dedupe_key,
            intent_id: Some(intent.id),
            payout_id: None,
            provider: intent.provider,
            moved: Moved::In(amount),
            evidence: json!({"intent_status": intent.status, "provider_ref": provider_ref,
                             "paid": amount.amount().to_string(), "currency": amount.currency().code()}),
        },
    )
    .await
}

/// Applies `status` to `intent` (which the caller loaded, ideally locked, in this transaction).
pub async fn apply(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    status: &DepositStatus,
) -> anyhow::Result<DepositEffect> {
    if intent.status.is_closed_unpaid() {
        return match status {
            DepositStatus::Succeeded {
                amount,
                provider_ref,
            } => paid_after_closing(conn, intent, *amount, provider_ref).await,
            _ => Ok(DepositEffect::AlreadySettled),
        };
    }
    if intent.status != IntentStatus::AwaitingPayment {
        return Ok(DepositEffect::AlreadySettled);
    }
    match status {
        DepositStatus::Pending => Ok(DepositEffect::Pending),
        DepositStatus::Succeeded {
            amount,
            provider_ref,
        } if *amount == intent.amount => hold(conn, intent, *amount, provider_ref).await,
        DepositStatus::Succeeded {
            amount,
            provider_ref,
        } => mismatch(conn, intent, *amount, provider_ref).await,
        DepositStatus::Failed { code, reason } => {
            let text = format!("deposit failed ({code}): {reason}");
            Ok(closed(
                fail(conn, intent.id, IntentMove::DepositFailed, &text).await?,
            ))
        }
        DepositStatus::Expired => Ok(closed(
            fail(
                conn,
                intent.id,
                IntentMove::DepositExpired,
                "the buyer did not pay before the deadline",
            )
            .await?,
        )),
    }
}

/// `Closed` when the intent made its closing move, `AlreadySettled` when it could not.
fn closed(moved: bool) -> DepositEffect {
    if moved {
        DepositEffect::Closed
    } else {
        DepositEffect::AlreadySettled
    }
}

/// The intent's own deposit, paid after it closed: its payer is known, so the money goes back
/// where the provider can send it.
async fn paid_after_closing(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    amount: Money,
    provider_ref: &str,
) -> anyhow::Result<DepositEffect> {
    let key = own_payment_key(intent.id);
    if late_payment(conn, intent, amount, provider_ref, key.clone()).await? {
        super::late_refund::start(conn, intent, amount, &key).await?;
    }
    Ok(DepositEffect::LatePayment)
}

/// Holds `intent` when `status` says its full amount was paid and the hold is the only thing
/// to write: an escrow capture with no release time set, of a provider with no polls to end.
/// `intent` may be unlocked and read before the provider was asked: the move is guarded by
/// `awaiting_payment`, and what else the decision reads (amount, provider, capture, release
/// time) does not change while an intent awaits payment (a release time is set only on a held
/// intent), so a move that happens is the one [`apply`] would make under the intent's lock —
/// in one statement, without a transaction around it. `None`, with nothing written, when the
/// answer is another or the move did not happen: [`apply`] decides, under the lock.
pub async fn hold_alone(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    status: &DepositStatus,
) -> anyhow::Result<Option<DepositEffect>> {
    let DepositStatus::Succeeded {
        amount,
        provider_ref,
    } = status
    else {
        return Ok(None);
    };
    if !is_lone_hold(intent, status) || !post_hold(conn, intent, *amount, provider_ref).await? {
        return Ok(None);
    }
    Ok(Some(DepositEffect::Held))
}

/// Whether `status` would hold `intent` (as read) with nothing else to write: the case
/// [`hold_alone`] takes.
pub fn is_lone_hold(intent: &IntentRecord, status: &DepositStatus) -> bool {
    matches!(status, DepositStatus::Succeeded { amount, .. } if *amount == intent.amount)
        && intent.status == IntentStatus::AwaitingPayment
        && intent.capture == crate::domain::Capture::Escrow
        && intent.auto_release_at.is_none()
        && intent.provider != crate::domain::ProviderKind::Lightning
}

/// The right amount arrived: the intent is `held` and the money posted from the provider's
/// clearing account into the intent's escrow; its polls end, and its capture or release timer
/// starts.
async fn hold(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    amount: Money,
    provider_ref: &str,
) -> anyhow::Result<DepositEffect> {
    if !post_hold(conn, intent, amount, provider_ref).await? {
        return Ok(DepositEffect::AlreadySettled);
    }
    end_the_polls(conn, intent).await?;
    if intent.capture == crate::domain::Capture::Immediate {
        super::collect::collect(conn, intent).await?;
        return Ok(DepositEffect::Held);
    }
    // A release time given at creation starts counting now that there is money.
    if let Some(at) = intent.auto_release_at {
        super::auto_release::schedule(conn, intent.id, at).await?;
    }
    Ok(DepositEffect::Held)
}

/// The `held` move with its deposit posting, in one statement; false when the intent was not
/// awaiting payment.
async fn post_hold(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    amount: Money,
    provider_ref: &str,
) -> anyhow::Result<bool> {
    let deposit = Posting::new(
        &format!("deposit:{}", intent.id),
        TransactionKind::Deposit,
        Some(intent.id),
        &format!("deposit {provider_ref}"),
        &[
            (
                Account::clearing(intent.provider, amount.currency()),
                amount.amount(),
            ),
            (
                Account::escrow(intent.id, amount.currency()),
                -amount.amount(),
            ),
        ],
    )?;
    // A deposit posted before its intent was held is refused (`AlreadyPosted`): in a caller's
    // transaction the move rolls back with it; alone (`hold_alone`) the move has committed by
    // then, beside the posting that was already there, and only the error tells (an intent
    // never returns to `awaiting_payment`, so neither should happen).
    Ok(transition_posting(
        conn,
        intent.id,
        IntentMove::DepositConfirmed,
        json!({"provider_ref": provider_ref}),
        Some(&deposit),
    )
    .await?
    .is_some())
}

/// Another amount than the intent's arrived: the intent closes, and the money waits in
/// suspense under an `amount_mismatch` discrepancy for an operator.
async fn mismatch(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    amount: Money,
    provider_ref: &str,
) -> anyhow::Result<DepositEffect> {
    let reason = format!(
        "amount mismatch: expected {}, provider {} reported {amount} ({provider_ref}); the payment waits in suspense for an operator",
        intent.amount, intent.provider
    );
    if !fail(conn, intent.id, IntentMove::DepositMismatch, &reason).await? {
        return Ok(DepositEffect::AlreadySettled);
    }
    discrepancies::record(
        conn,
        &NewDiscrepancy {
            kind: DiscrepancyKind::AmountMismatch,
            dedupe_key: own_payment_key(intent.id),
            intent_id: Some(intent.id),
            payout_id: None,
            provider: intent.provider,
            moved: Moved::In(amount),
            evidence: json!({"expected": intent.amount.amount().to_string(), "expected_currency": intent.amount.currency().code(),
                             "paid": amount.amount().to_string(), "currency": amount.currency().code(),
                             "provider_ref": provider_ref}),
        },
    )
    .await?;
    Ok(DepositEffect::Mismatch(reason))
}

/// Closes the intent by `movement` (failed, expired) with a reason; false if it could not make
/// that move from where it stands.
pub async fn fail(
    conn: &mut PgConnection,
    intent: Uuid,
    movement: IntentMove,
    reason: &str,
) -> anyhow::Result<bool> {
    let moved = transition(conn, intent, movement, json!({"reason": reason}))
        .await?
        .is_some();
    if moved {
        crate::db::intents::set_failure_reason(&mut *conn, intent, reason).await?;
    }
    Ok(moved)
}

/// A Lightning invoice is polled until it is paid; once a verified webhook has confirmed the
/// deposit, the next poll could only find that out, so it ends in this transaction instead of
/// running. (Other providers' deposit checks exist only when a callback went missing.)
async fn end_the_polls(conn: &mut PgConnection, intent: &IntentRecord) -> anyhow::Result<()> {
    if intent.provider == crate::domain::ProviderKind::Lightning {
        let poll = malipo_jobs::PollLightningInvoice {
            intent_id: intent.id,
            polls: 0,
        };
        crate::queue::finish_waiting(conn, &poll).await?;
    }
    Ok(())
}
