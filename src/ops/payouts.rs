//! An operator sending a failed commission payout again. The platform's share of a released
//! intent has no client to ask for it, so without this an intent whose commission the provider
//! confirmed failed would stay `released` and flagged for good. The successor goes to the
//! failed payout's own destination unless the operator names another; the audit row is written
//! in the same transaction.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Actor, OpsError,
    audit::{self, Action},
};
use crate::{
    db::{
        intents::{self, IntentView},
        payouts,
    },
    domain::{PayoutDestination, PayoutKind},
    escrow::send_again::{self, SendAgainError},
};

/// Sends failed commission payout `id` again, to `to` or else where it went before; returns
/// its intent as an operator sees it.
pub async fn resend_commission(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    to: Option<PayoutDestination>,
    note: &str,
) -> Result<IntentView, OpsError> {
    if note.trim().is_empty() {
        return Err(OpsError::Invalid(
            "a note saying why the commission is sent again is required".to_owned(),
        ));
    }
    let not_found = || OpsError::NotFound(format!("no payout with id `{id}`"));
    let mut tx = pool.begin().await?;
    // The payout's lock, then its intent's: the order every path applying a provider's answer
    // takes, so a late answer about this payout waits for (or is waited for by) this one.
    let failed = payouts::lock(&mut tx, id).await?.ok_or_else(not_found)?;
    let intent = failed.intent_id.ok_or_else(|| {
        OpsError::Conflict(format!(
            "payout `{id}` is a withdrawal; only an intent's commission is sent again here"
        ))
    })?;
    let redirected = to.is_some();
    let successor = async {
        send_again::may_send_again(&mut tx, &failed, PayoutKind::Commission, "an operator").await?;
        let destination = match to {
            Some(destination) => destination,
            None => send_again::same_destination(&failed)?,
        };
        send_again::destination_can_receive(&destination, failed.amount)?;
        let provider = destination.provider();
        let successor = send_again::send_again(&mut tx, intent, &failed, destination).await?;
        Ok::<_, SendAgainError>((successor, provider))
    };
    let (successor, provider) = successor.await.map_err(|error| match error {
        SendAgainError::Conflict(message) => OpsError::Conflict(message),
        SendAgainError::Unfit { field, message } => OpsError::InvalidField { field, message },
        SendAgainError::Database(error) => OpsError::Database(error),
    })?;
    audit::record(
        &mut *tx,
        &Action {
            actor,
            action: "payout.resend_commission",
            job_id: None,
            queue: None,
            filter: json!({"payout": id}),
            dry_run: false,
            affected: 1,
            detail: json!({"intent": intent, "successor": successor,
                           "provider": provider.as_str(),
                           "destination": if redirected { "given by the operator" } else { "where it went before" },
                           "note": note}),
        },
    )
    .await?;
    let view = intents::view(&mut tx, None, intent)
        .await?
        .ok_or_else(|| OpsError::NotFound(format!("no intent with id `{intent}`")))?;
    tx.commit().await?;
    Ok(view)
}
