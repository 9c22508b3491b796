//! `POST /v1/intents/{id}/dispute` (`{"reason": "…"}` opens a dispute on a held intent,
//! `{"withdraw": true}` ends the client's own dispute with no movement) and
//! `POST /v1/intents/{id}/auto_release` (`{"at": "<RFC 3339>"}`, or `null` to clear, while held).
//! Both idempotent under their key, answered with the intent.

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
    db::intents,
    domain::escrow_terms::{MAX_AUTO_RELEASE_AHEAD, parse_future_time},
    escrow::{auto_release, dispute},
};

enum DisputeAsk {
    Open(String),
    Withdraw,
}

/// Opens or withdraws a dispute.
#[utoipa::path(post, path = "/v1/intents/{id}/dispute", tag = "intents",
    params(("id" = String, Path, description = "intent id (UUID)"), ("Idempotency-Key" = String, Header, description = "a repeat replays the first answer")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "{reason} opens a dispute on a held intent; {withdraw: true} ends it"),
    responses((status = 200, description = "the intent", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem),
        (status = 409, body = super::openapi::Problem), (status = 422, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id, intent_id = %id))]
pub async fn dispute(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let intent_id = parse_id(&id)?;
    let ask = parse_dispute(&body.object)?;
    let path = format!("/v1/intents/{intent_id}/dispute");
    idempotency::once(&state.pool, caller.id, &key.0, &path, &body.raw, || async {
        let mut tx = state.pool.begin().await?;
        let intent = super::intents::load_owned(&mut tx, &caller, intent_id).await?;
        match &ask {
            DisputeAsk::Open(reason) => dispute::open(&mut tx, &intent, reason).await?,
            DisputeAsk::Withdraw => dispute::withdraw(&mut tx, &intent).await?,
        }
        .map_err(|refusal| ApiError::Conflict(refusal.to_string()))?;
        answer(tx, &caller, &key, intent_id).await
    })
    .await
}

/// Sets or clears the automatic release time.
#[utoipa::path(post, path = "/v1/intents/{id}/auto_release", tag = "intents",
    params(("id" = String, Path, description = "intent id (UUID)"), ("Idempotency-Key" = String, Header, description = "a repeat replays the first answer")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "{at: RFC 3339 time or null}"),
    responses((status = 200, description = "the intent", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem),
        (status = 409, body = super::openapi::Problem), (status = 422, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id, intent_id = %id))]
pub async fn auto_release(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let intent_id = parse_id(&id)?;
    let mut errors: Vec<FieldError> = body
        .object
        .keys()
        .filter(|k| k.as_str() != "at")
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    let at = match body.object.get("at") {
        Some(Value::Null) => None,
        Some(value) => parse_future_time(value, MAX_AUTO_RELEASE_AHEAD)
            .map_err(|why| errors.push(FieldError::new("at", why)))
            .ok(),
        None => {
            errors.push(FieldError::new(
                "at",
                "is required: an RFC 3339 time, or null to clear",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let path = format!("/v1/intents/{intent_id}/auto_release");
    idempotency::once(&state.pool, caller.id, &key.0, &path, &body.raw, || async {
        let mut tx = state.pool.begin().await?;
        let intent = super::intents::load_owned(&mut tx, &caller, intent_id).await?;
        auto_release::set(&mut tx, &intent, at)
            .await?
            .map_err(|refusal| match refusal {
                auto_release::SetRefusal::NotHeld(_) | auto_release::SetRefusal::NoPayee => {
                    ApiError::Conflict(refusal.to_string())
                }
                auto_release::SetRefusal::NeedsInvoice => {
                    ApiError::Validation(vec![FieldError::new("at", refusal.to_string())])
                }
            })?;
        answer(tx, &caller, &key, intent_id).await
    })
    .await
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound(format!("no intent with id `{id}`")))
}

fn parse_dispute(body: &serde_json::Map<String, Value>) -> Result<DisputeAsk, ApiError> {
    let unknown: Vec<FieldError> = body
        .keys()
        .filter(|k| !["reason", "withdraw"].contains(&k.as_str()))
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Validation(unknown));
    }
    match (body.get("reason"), body.get("withdraw")) {
        (Some(Value::String(reason)), None)
            if !reason.trim().is_empty()
                && reason.len() <= dispute::MAX_TEXT
                && !reason.contains('\0') =>
        {
            Ok(DisputeAsk::Open(reason.clone()))
        }
        (None, Some(Value::Bool(true))) => Ok(DisputeAsk::Withdraw),
        (Some(_), None) => Err(ApiError::Validation(vec![FieldError::new(
            "reason",
            "must be 1–1000 characters saying what is disputed",
        )])),
        _ => Err(ApiError::Validation(vec![FieldError::new(
            "reason",
            "give `reason` to open a dispute, or `withdraw: true` to end yours",
        )])),
    }
}

async fn answer(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    caller: &Caller,
    key: &IdempotencyKey,
    id: Uuid,
) -> Result<Response, ApiError> {
    let view = intents::view(&mut tx, Some(caller.id), id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent {id} vanished inside its own transaction"))?;
    idempotency::commit_answer(tx, caller.id, &key.0, StatusCode::OK, &view).await
}
