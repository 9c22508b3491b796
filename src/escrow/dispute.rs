//! Disputes: a client freezes a held intent (no release, no refund, no automatic release);
//! the client withdraws it, or an operator resolves it by releasing part to the payee (with
//! commission) and refunding the rest to the buyer, in one transaction.

use serde_json::json;
use sqlx::PgConnection;

use super::{
    refund,
    release::{self, Refusal, ReleaseAsk},
};
use crate::{
    db::{
        intent_notices,
        intents::{self, IntentRecord},
        releases::{self, ReleaseSource},
        transitions::transition,
    },
    domain::{IntentMove, IntentStatus, Money, format_amount},
    notify::event_type,
};

/// Longest dispute reason or resolution note kept.
pub const MAX_TEXT: usize = 1_000;

/// Why a dispute action cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputeRefusal {
    /// Only a held intent can be disputed.
    #[error("only a `held` intent can be disputed (it is `{0}`)")]
    NotHeld(IntentStatus),
    /// Only a disputed intent can be withdrawn or resolved.
    #[error("the intent is not disputed (it is `{0}`)")]
    NotDisputed(IntentStatus),
    /// The resolution does not account for exactly what is held.
    #[error("release {release} and refund {refund} must sum to what is held ({held})")]
    DoesNotSum {
        /// Asked to release.
        release: Money,
        /// Asked to refund.
        refund: Money,
        /// Still held.
        held: Money,
    },
    /// The release part was refused.
    #[error("release: {0}")]
    Release(Refusal),
    /// The refund part was refused.
    #[error("refund: {0}")]
    Refund(refund::Refusal),
}

/// Opens a dispute on `intent` (locked by the caller); its automatic release is cancelled.
pub async fn open(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    reason: &str,
) -> anyhow::Result<Result<(), DisputeRefusal>> {
    if intent.status != IntentStatus::Held {
        return Ok(Err(DisputeRefusal::NotHeld(intent.status)));
    }
    releases::set_dispute_reason(conn, intent.id, Some(reason)).await?;
    releases::set_auto_release(conn, intent.id, None).await?;
    transition(
        conn,
        intent.id,
        IntentMove::DisputeOpened,
        json!({"reason": reason, "auto_release_cancelled": intent.auto_release_at}),
    )
    .await?;
    Ok(Ok(()))
}

/// Withdraws the client's dispute: held again, nothing moved.
pub async fn withdraw(
    conn: &mut PgConnection,
    intent: &IntentRecord,
) -> anyhow::Result<Result<(), DisputeRefusal>> {
    if intent.status != IntentStatus::Disputed {
        return Ok(Err(DisputeRefusal::NotDisputed(intent.status)));
    }
    releases::set_dispute_reason(conn, intent.id, None).await?;
    transition(conn, intent.id, IntentMove::DisputeWithdrawn, json!({})).await?;
    Ok(Ok(()))
}

/// How an operator settles a dispute.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// To the payee, minus commission.
    pub release: Money,
    /// Back to the buyer.
    pub refund: Money,
    /// Invoice for the payee's share (Lightning payees).
    pub release_bolt11: Option<String>,
    /// The buyer's invoice (Lightning refunds).
    pub refund_bolt11: Option<String>,
    /// Why, for the record.
    pub note: String,
    /// Who resolved it.
    pub operator: String,
}

/// Resolves the dispute on `intent` (locked by the caller). On a refusal the caller rolls back.
pub async fn resolve(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    resolution: &Resolution,
) -> anyhow::Result<Result<(), DisputeRefusal>> {
    if intent.status != IntentStatus::Disputed {
        return Ok(Err(DisputeRefusal::NotDisputed(intent.status)));
    }
    let held = intent.remaining();
    if resolution.release.checked_add(resolution.refund).ok() != Some(held) {
        return Ok(Err(DisputeRefusal::DoesNotSum {
            release: resolution.release,
            refund: resolution.refund,
            held,
        }));
    }
    releases::set_dispute_reason(conn, intent.id, None).await?;
    transition(
        conn,
        intent.id,
        IntentMove::DisputeResolved,
        json!({"release": resolution.release.amount().to_string(),
               "refund": resolution.refund.amount().to_string(),
               "note": resolution.note, "by": resolution.operator}),
    )
    .await?;
    // The move back to `held` is `intent.held`; the split is what the client needs to know.
    intent_notices::notify(
        conn,
        intent.id,
        event_type::INTENT_DISPUTE_RESOLVED,
        json!({"release": format_amount(resolution.release.amount(), resolution.release.currency()),
               "refund": format_amount(resolution.refund.amount(), resolution.refund.currency()),
               "note": resolution.note}),
    )
    .await?;
    if resolution.release.is_positive() {
        let held_again = reload(conn, intent.id).await?;
        let ask = ReleaseAsk {
            amount: Some(resolution.release),
            milestone: None,
            bolt11: resolution.release_bolt11.clone(),
        };
        if let Err(refusal) =
            release::request(conn, &held_again, &ask, ReleaseSource::DisputeResolution).await?
        {
            return Ok(Err(DisputeRefusal::Release(refusal)));
        }
    }
    if resolution.refund.is_positive() {
        let rest = reload(conn, intent.id).await?;
        if let Err(refusal) =
            refund::request(conn, &rest, resolution.refund_bolt11.as_deref()).await?
        {
            return Ok(Err(DisputeRefusal::Refund(refusal)));
        }
    }
    Ok(Ok(()))
}

async fn reload(conn: &mut PgConnection, id: uuid::Uuid) -> anyhow::Result<IntentRecord> {
    intents::load(conn, id, true)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent {id} vanished"))
}
