//! An operator resolving a disputed intent: release part to the payee, refund the rest, with
//! the audit row in the same transaction as the money decision.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Actor, OpsError,
    audit::{self, Action},
};
use crate::{
    db::intents::{self, IntentView},
    escrow::dispute::{self, Resolution},
};

/// What the operator asked, before the intent's currency is known.
#[derive(Debug, Clone)]
pub struct ResolutionAsk {
    /// Decimal amount to the payee.
    pub release: rust_decimal::Decimal,
    /// Decimal amount back to the buyer.
    pub refund: rust_decimal::Decimal,
    /// Invoice for the payee's share (Lightning payees).
    pub release_bolt11: Option<String>,
    /// The buyer's invoice (Lightning refunds).
    pub refund_bolt11: Option<String>,
    /// Why.
    pub note: String,
}

/// Resolves the dispute on intent `id`; returns the intent as its client sees it.
pub async fn resolve(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    ask: ResolutionAsk,
) -> Result<IntentView, OpsError> {
    let mut tx = pool.begin().await?;
    let intent = intents::load(&mut tx, id, true)
        .await?
        .ok_or_else(|| OpsError::NotFound(format!("no intent with id `{id}`")))?;
    let currency = intent.amount.currency();
    let money = |amount, field: &str| {
        crate::domain::Money::new(amount, currency)
            .map_err(|e| OpsError::Invalid(format!("{field}: {e}")))
    };
    let resolution = Resolution {
        release: money(ask.release, "release")?,
        refund: money(ask.refund, "refund")?,
        release_bolt11: ask.release_bolt11,
        refund_bolt11: ask.refund_bolt11,
        note: ask.note,
        operator: actor.label(),
    };
    if let Err(refusal) = dispute::resolve(&mut tx, &intent, &resolution).await? {
        return Err(match refusal {
            dispute::DisputeRefusal::NotDisputed(_) => OpsError::Conflict(refusal.to_string()),
            _ => OpsError::Invalid(refusal.to_string()),
        });
    }
    audit::record(
        &mut *tx,
        &Action {
            actor,
            action: "intent.resolve_dispute",
            job_id: None,
            queue: None,
            filter: json!({"intent": id}),
            dry_run: false,
            affected: 1,
            detail: json!({"release": resolution.release.amount().to_string(),
                           "refund": resolution.refund.amount().to_string(),
                           "note": resolution.note}),
        },
    )
    .await?;
    let view = intents::view(&mut tx, None, id)
        .await?
        .ok_or_else(|| OpsError::NotFound(format!("no intent with id `{id}`")))?;
    tx.commit().await?;
    Ok(view)
}
