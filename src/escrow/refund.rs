//! Asking for a refund of what a held intent still holds (everything, or what is left after
//! releases in parts): the guarded `held → refunding` move and the job that makes the refund.

use malipo_jobs::Refund;
use serde_json::json;
use sqlx::PgConnection;

use crate::{
    db::{intents::IntentRecord, payouts, transitions::transition},
    domain::{IntentMove, IntentStatus, PayoutKind, ProviderKind, new_intent::invoice_pays},
    queue::{EnqueueOptions, enqueue},
};

/// Why a refund cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only `held` intents refund.
    #[error("cannot refund an intent that is `{0}`; only `held` intents can be refunded")]
    NotHeld(IntentStatus),
    /// A dispute blocks every refund until it is resolved.
    #[error(
        "the intent is disputed; it can be refunded only when the dispute is resolved or withdrawn"
    )]
    Disputed,
    /// The invoice is missing, not needed, or for another amount.
    #[error("{0}")]
    Invoice(String),
    /// The deposit's provider cannot return money through malipo (Fincra: its refund API is
    /// not built), so the money stays held for a release or an operator.
    #[error("{0} refunds are not available; release the intent or ask an operator")]
    NotRefundable(ProviderKind),
}

/// Asks for the refund of `intent` (locked by the caller); `bolt11` is the buyer's invoice for
/// a Lightning refund, for exactly what is still held.
pub async fn request(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    bolt11: Option<&str>,
) -> anyhow::Result<Result<(), Refusal>> {
    match intent.status {
        IntentStatus::Held => {}
        IntentStatus::Disputed => return Ok(Err(Refusal::Disputed)),
        other => return Ok(Err(Refusal::NotHeld(other))),
    }
    let remaining = intent.remaining();
    if intent.provider == ProviderKind::Fincra {
        return Ok(Err(Refusal::NotRefundable(intent.provider)));
    }
    match (intent.provider, bolt11) {
        (ProviderKind::Lightning, None) => {
            return Ok(Err(Refusal::Invoice(
                "a Lightning refund needs the buyer's invoice".to_owned(),
            )));
        }
        (ProviderKind::Lightning, Some(invoice)) => {
            if let Err(why) = invoice_pays(invoice, remaining) {
                return Ok(Err(Refusal::Invoice(why)));
            }
            crate::db::intents::keep_refund_invoice(&mut *conn, intent.id, invoice).await?;
        }
        (_, Some(_)) => {
            return Ok(Err(Refusal::Invoice(
                "only Lightning refunds take an invoice".to_owned(),
            )));
        }
        (_, None) => {}
    }
    transition(
        conn,
        intent.id,
        IntentMove::RefundRequested,
        json!({"amount": remaining.amount().to_string()}),
    )
    .await?;
    // A refund asked again after a confirmed failure is a new attempt: its own job and its own
    // payout (a key per intent alone would match the finished first job).
    let attempt = payouts::failed_of_kind(conn, intent.id, PayoutKind::Refund).await?;
    enqueue(
        conn,
        &Refund {
            intent_id: intent.id,
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        },
        EnqueueOptions {
            intent_id: Some(intent.id),
            ..Default::default()
        },
    )
    .await?;
    Ok(Ok(()))
}
