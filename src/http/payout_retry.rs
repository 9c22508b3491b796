//! `POST /v1/intents/{id}/payouts/{payout_id}/retry`: a payee share whose payout the provider
//! confirmed failed is sent again, to the destination given (a new phone number, recipient or
//! invoice). The failed payout stays as it was, linked to its successor; the successor is a new
//! payout with its own reference, so the provider sees a new transfer exactly once.

use axum::{extract::State, http::StatusCode, response::Response};
use serde_json::Value;
use uuid::Uuid;

use super::{
    AppState,
    auth::Caller,
    extract::{IdempotencyKey, JsonBody, PathParam},
    idempotency,
    problem::{ApiError, FieldError},
};
use crate::{
    db::{intents, payouts},
    domain::{PayoutDestination, PayoutKind, new_intent::parse_payout_destination},
    escrow::send_again::{self, SendAgainError},
};

/// Sends a failed payee payout again to a new destination.
#[tracing::instrument(skip_all, fields(client = %caller.id))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    PathParam((intent, payout)): PathParam<(String, String)>,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no payout `{payout}` on intent `{intent}`"));
    let intent_id = Uuid::parse_str(&intent).map_err(|_| not_found())?;
    let payout_id = Uuid::parse_str(&payout).map_err(|_| not_found())?;
    let destination = parse_body(&body.object)?;
    let path = format!("/v1/intents/{intent_id}/payouts/{payout_id}/retry");
    idempotency::once(&state.pool, caller.id, &key.0, &path, &body.raw, || {
        apply(&state, &caller, &key, intent_id, payout_id, destination)
    })
    .await
    .map_err(|error| match error {
        ApiError::NotFound(_) => not_found(),
        other => other,
    })
}

fn parse_body(body: &serde_json::Map<String, Value>) -> Result<PayoutDestination, ApiError> {
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|k| k.as_str() != "payout")
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    let destination = match body.get("payout") {
        Some(Value::Object(payout)) => match parse_payout_destination(payout) {
            Ok(PayoutDestination::Lightning { bolt11: None }) => {
                errors.push(FieldError::new(
                    "payout.bolt11",
                    "is required to pay a Lightning payee again",
                ));
                None
            }
            Ok(destination) => Some(destination),
            Err((field, message)) => {
                errors.push(FieldError::new(field.replacen("payee.", "", 1), message));
                None
            }
        },
        _ => {
            errors.push(FieldError::new(
                "payout",
                "is required and must be an object",
            ));
            None
        }
    };
    match destination {
        Some(destination) if errors.is_empty() => Ok(destination),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Inserts the successor payout and queues it, in one transaction with the idempotent answer.
async fn apply(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    intent_id: Uuid,
    payout_id: Uuid,
    destination: PayoutDestination,
) -> Result<Response, ApiError> {
    let mut tx = state.pool.begin().await?;
    // The payout's lock and then its intent's (`payouts::lock`, the order every path applying
    // a provider's answer takes) order this against a late answer about the payout and against
    // another share settling the intent. Whose they are is checked after: the locks only last
    // until this transaction ends.
    let locked = payouts::lock(&mut tx, payout_id).await?;
    let intent = super::intents::load_owned(&mut tx, caller, intent_id).await?;
    let failed = locked
        .filter(|payout| payout.intent_id == Some(intent.id))
        .ok_or_else(|| ApiError::NotFound(String::new()))?;
    let sent = async {
        send_again::may_send_again(&mut tx, &failed, PayoutKind::Payee, "its client").await?;
        send_again::destination_can_receive(&destination, failed.amount)?;
        send_again::send_again(&mut tx, intent.id, &failed, destination).await
    };
    sent.await.map_err(refused)?;
    let view = intents::view(&mut tx, Some(caller.id), intent.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent {intent_id} vanished inside its own transaction"))?;
    idempotency::commit_answer(tx, caller.id, &key.0, StatusCode::ACCEPTED, &view).await
}

/// A refusal as the client's problem: 409 for the payout's state, 422 for the destination.
fn refused(error: SendAgainError) -> ApiError {
    match error {
        SendAgainError::Conflict(message) => ApiError::Conflict(message),
        SendAgainError::Unfit { field, message } => {
            ApiError::Validation(vec![FieldError::new(field, message)])
        }
        SendAgainError::Database(error) => error.into(),
    }
}
