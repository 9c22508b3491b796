//! `POST /v1/intents/{id}/cancel`: an intent nobody has paid yet (`initiating` or
//! `awaiting_payment`) is closed as `cancelled`. The provider side may still be paid (an STK
//! prompt already on the phone, an open checkout): such a payment is never lost — it is found
//! by the callback's verification, Pull or the polls and becomes a `late_payment` discrepancy.

use axum::{extract::State, http::StatusCode, response::Response};
use serde_json::json;
use uuid::Uuid;

use super::{
    AppState,
    auth::Caller,
    extract::{IdempotencyKey, JsonBody, PathParam},
    idempotency,
    problem::{ApiError, FieldError},
};
use crate::{
    db::{intents, transitions::transition},
    domain::IntentMove,
    queue::enqueue::run_now_for_intent,
};
use malipo_jobs::{ConfirmDeposit, Job, PollLightningInvoice};

/// Cancels an unpaid intent.
#[utoipa::path(post, path = "/v1/intents/{id}/cancel", tag = "intents",
    params(("id" = String, Path, description = "intent id (UUID)"), ("Idempotency-Key" = String, Header, description = "a repeat replays the first answer")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "{} (no fields)"),
    responses((status = 200, description = "the intent", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem),
        (status = 409, body = super::openapi::Problem), (status = 422, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id, intent_id = %id))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no intent with id `{id}`"));
    let intent_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let unknown: Vec<FieldError> = body
        .object
        .keys()
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Validation(unknown));
    }
    let path = format!("/v1/intents/{intent_id}/cancel");
    idempotency::once(&state.pool, caller.id, &key.0, &path, &body.raw, || {
        apply(&state, &caller, &key, intent_id)
    })
    .await
}

async fn apply(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    id: Uuid,
) -> Result<Response, ApiError> {
    let mut tx = state.pool.begin().await?;
    let intent = super::intents::load_owned(&mut tx, caller, id).await?;
    if !IntentMove::Cancelled.from().contains(&intent.status) {
        return Err(ApiError::Conflict(format!(
            "cannot cancel an intent that is `{}`; only unpaid (`initiating`, `awaiting_payment`) intents can be cancelled",
            intent.status
        )));
    }
    transition(&mut tx, id, IntentMove::Cancelled, json!({"by": "client"})).await?;
    // The deposit's verification and polls ask the provider once more, now: a payment made
    // before the cancel becomes a late_payment at once, and nothing waits on a closed intent.
    for kind in [ConfirmDeposit::KIND, PollLightningInvoice::KIND] {
        run_now_for_intent(&mut tx, id, kind).await?;
    }
    let view = intents::view(&mut tx, Some(caller.id), id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent {id} vanished inside its own transaction"))?;
    idempotency::commit_answer(tx, caller.id, &key.0, StatusCode::OK, &view).await
}
