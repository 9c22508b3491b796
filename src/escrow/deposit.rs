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
        ledger::{self, Account},
        transitions::transition,
    },
    domain::Money,
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

/// Statuses an intent can be closed in without its money: a payment for one is late.
pub const CLOSED: [&str; 3] = ["failed", "expired", "cancelled"];

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
    let from = ["awaiting_payment"];
    if CLOSED.contains(&intent.status.as_str()) {
        return match status {
            DepositStatus::Succeeded {
                amount,
                provider_ref,
            } => {
                late_payment(
                    conn,
                    intent,
                    *amount,
                    provider_ref,
                    own_payment_key(intent.id),
                )
                .await?;
                Ok(DepositEffect::LatePayment)
            }
            _ => Ok(DepositEffect::AlreadySettled),
        };
    }
    if intent.status != "awaiting_payment" {
        return Ok(DepositEffect::AlreadySettled);
    }
    match status {
        DepositStatus::Pending => Ok(DepositEffect::Pending),
        DepositStatus::Succeeded {
            amount,
            provider_ref,
        } if *amount == intent.amount => {
            if transition(
                conn,
                intent.id,
                &from,
                "held",
                "deposit_confirmed",
                json!({"provider_ref": provider_ref}),
            )
            .await?
            .is_none()
            {
                return Ok(DepositEffect::AlreadySettled);
            }
            let posted = ledger::post(
                conn,
                &format!("deposit:{}", intent.id),
                "deposit",
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
            )
            .await?;
            if !posted {
                anyhow::bail!(
                    "deposit for intent {} was already posted while it awaited payment",
                    intent.id
                );
            }
            Ok(DepositEffect::Held)
        }
        DepositStatus::Succeeded {
            amount,
            provider_ref,
        } => {
            let reason = format!(
                "amount mismatch: expected {}, provider {} reported {amount} ({provider_ref}); the payment waits in suspense for an operator",
                intent.amount, intent.provider
            );
            if !fail(
                conn,
                intent.id,
                &from,
                "failed",
                "deposit_mismatch",
                &reason,
            )
            .await?
            {
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
                    moved: Moved::In(*amount),
                    evidence: json!({"expected": intent.amount.amount().to_string(), "expected_currency": intent.amount.currency().code(),
                                     "paid": amount.amount().to_string(), "currency": amount.currency().code(),
                                     "provider_ref": provider_ref}),
                },
            )
            .await?;
            Ok(DepositEffect::Mismatch(reason))
        }
        DepositStatus::Failed { code, reason } => {
            let text = format!("deposit failed ({code}): {reason}");
            if fail(conn, intent.id, &from, "failed", "deposit_failed", &text).await? {
                Ok(DepositEffect::Closed)
            } else {
                Ok(DepositEffect::AlreadySettled)
            }
        }
        DepositStatus::Expired => {
            if fail(
                conn,
                intent.id,
                &from,
                "expired",
                "deposit_expired",
                "the buyer did not pay before the deadline",
            )
            .await?
            {
                Ok(DepositEffect::Closed)
            } else {
                Ok(DepositEffect::AlreadySettled)
            }
        }
    }
}

/// Moves the intent to a closed status with a reason; false if it was not in `from`.
pub async fn fail(
    conn: &mut PgConnection,
    intent: Uuid,
    from: &[&str],
    to: &str,
    event: &str,
    reason: &str,
) -> anyhow::Result<bool> {
    let moved = transition(conn, intent, from, to, event, json!({"reason": reason}))
        .await?
        .is_some();
    if moved {
        sqlx::query("UPDATE intents SET failure_reason = $2 WHERE id = $1")
            .bind(intent)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
    }
    Ok(moved)
}
