//! Sending a share again after its provider confirmed the payout failed: a new payout with its
//! own reference (so the provider sees a new transfer exactly once), linked from the failed
//! one, in the intent's history and queued. The failed payout stays as it was. A client sends
//! its payee's share again (`POST /v1/intents/{id}/payouts/{payout_id}/retry`); an operator
//! sends the platform's commission again (`crate::ops::payouts`).

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::{
        intents,
        payouts::{self, NewPayout, PayoutRecord, PayoutTarget},
    },
    domain::{
        IntentNote, Money, PayoutDestination, PayoutKind, PayoutStatus, new_intent::invoice_pays,
    },
};

/// Why a payout may not be sent again, or not to that destination; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SendAgainError {
    /// The payout is of another kind, not failed, or was sent again already.
    #[error("{0}")]
    Conflict(String),
    /// The destination cannot receive the share (`field` names the part of it).
    #[error("{field}: {message}")]
    Unfit {
        /// The destination's field at fault (`payout.provider`, `payout.bolt11`, …).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Refuses unless `failed` is a `kind` payout the provider confirmed failed and that was not
/// sent again yet. The caller holds the payout's lock (`payouts::lock`), so the answer stands
/// until its transaction ends.
pub async fn may_send_again(
    conn: &mut PgConnection,
    failed: &PayoutRecord,
    kind: PayoutKind,
    who_sends: &str,
) -> Result<(), SendAgainError> {
    let payout_id = failed.id;
    if failed.kind != kind {
        return Err(SendAgainError::Conflict(format!(
            "payout `{payout_id}` is a {} payout; {who_sends} sends only the {kind} share again",
            failed.kind
        )));
    }
    if failed.status != PayoutStatus::Failed {
        return Err(SendAgainError::Conflict(format!(
            "payout `{payout_id}` is `{}`; only a payout the provider confirmed failed can be sent again",
            failed.status
        )));
    }
    if let Some(successor) = payouts::successor_of(conn, failed.id).await? {
        return Err(SendAgainError::Conflict(format!(
            "payout `{payout_id}` was already sent again as `{successor}`"
        )));
    }
    Ok(())
}

/// The failed payout's own destination, for sending it again to the same place.
pub fn same_destination(failed: &PayoutRecord) -> Result<PayoutDestination, SendAgainError> {
    match &failed.target {
        PayoutTarget::Destination(destination) => Ok(destination.clone()),
        PayoutTarget::Refund { .. } => Err(SendAgainError::Conflict(format!(
            "payout `{}` refunds a deposit and has no destination to send to again",
            failed.id
        ))),
    }
}

/// What stops `destination` from receiving `amount`: a provider that does not carry the
/// currency, a Fincra destination for another currency, an invoice for another amount, or a
/// Lightning destination without an invoice.
pub fn destination_can_receive(
    destination: &PayoutDestination,
    amount: Money,
) -> Result<(), SendAgainError> {
    let unfit = |field, message: String| Err(SendAgainError::Unfit { field, message });
    if !destination.provider().carries(amount.currency()) {
        return unfit(
            "payout.provider",
            format!(
                "cannot pay {} through {}",
                amount.currency(),
                destination.provider()
            ),
        );
    }
    match destination {
        PayoutDestination::Fincra(fincra) => {
            if let Err(message) =
                crate::domain::fincra_destination::pays_out(fincra, amount.currency())
            {
                return unfit("payout.destination", message);
            }
        }
        PayoutDestination::Lightning {
            bolt11: Some(invoice),
        } => {
            if let Err(why) = invoice_pays(invoice, amount) {
                return unfit("payout.bolt11", why);
            }
        }
        PayoutDestination::Lightning { bolt11: None } => {
            return unfit(
                "payout.bolt11",
                "is required to pay a Lightning destination again".to_owned(),
            );
        }
        _ => {}
    }
    Ok(())
}

/// The successor of `failed` to `destination`: inserted with its `payout` job, linked from
/// `failed`, and noted in the intent's history. Returns its id. Refused (the caller rolls back)
/// when the share turns out to be covered already.
pub async fn send_again(
    conn: &mut PgConnection,
    intent: Uuid,
    failed: &PayoutRecord,
    destination: PayoutDestination,
) -> Result<Uuid, SendAgainError> {
    let provider = destination.provider();
    let successor = payouts::insert(
        &mut *conn,
        &NewPayout {
            intent,
            release_seq: failed.release_seq,
            kind: failed.kind,
            amount: failed.amount,
            provider,
            target: &PayoutTarget::Destination(destination),
        },
        crate::queue::bell::Wake::Trigger,
    )
    .await?;
    // Under the failed payout's lock neither can happen; refused rather than linking a live
    // payout that was not made here, or leaving a successor unlinked.
    if !successor.new {
        return Err(SendAgainError::Conflict(format!(
            "a live {} payout `{}` already covers this share",
            failed.kind, successor.id
        )));
    }
    let successor = successor.id;
    if !payouts::supersede(&mut *conn, failed.id, successor).await? {
        return Err(SendAgainError::Conflict(format!(
            "payout `{}` is no longer a failed payout without a successor",
            failed.id
        )));
    }
    intents::record_event(
        &mut *conn,
        intent,
        IntentNote::PayoutRetried,
        json!({"failed": failed.id, "payout": successor, "provider": provider.as_str(),
               "kind": failed.kind.to_string()}),
    )
    .await?;
    Ok(successor)
}
