//! Applying a provider's word on a deposit: held (with the clearing → escrow posting), failed,
//! or expired.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::{
        intents::IntentRecord,
        ledger::{self, Account},
        transitions::transition,
    },
    providers::DepositStatus,
};

/// What applying a deposit status did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepositEffect {
    /// The intent is now held and escrow credited.
    Held,
    /// The provider reported another amount or currency; the intent failed.
    Mismatch(String),
    /// The deposit failed or lapsed; the intent says why.
    Closed,
    /// Still waiting for the buyer.
    Pending,
    /// The intent had already left `awaiting_payment` (a duplicate or late event).
    AlreadySettled,
}

/// Applies `status` to `intent` (which the caller loaded, ideally locked, in this transaction).
pub async fn apply(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    status: &DepositStatus,
) -> anyhow::Result<DepositEffect> {
    let from = ["awaiting_payment"];
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
                "amount mismatch: expected {}, provider {} reported {amount} ({provider_ref})",
                intent.amount, intent.provider
            );
            fail(
                conn,
                intent.id,
                &from,
                "failed",
                "deposit_mismatch",
                &reason,
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
