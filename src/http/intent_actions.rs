//! `POST /v1/intents/{id}/release` and `/refund`: recorded in the request's own transaction
//! with the job that does the work (`escrow::release::request`, `escrow::refund::request`), so
//! a second action under a new key sees the first at once, and the idempotent 202. A release
//! takes everything still held, an `amount`, or a named `milestone`.

use axum::{extract::State, http::StatusCode, response::Response};
use rust_decimal::Decimal;
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
    db::{intents, releases::ReleaseSource},
    domain::{
        Money,
        escrow_terms::is_milestone_id,
        new_intent::{looks_like_bolt11, parse_amount},
    },
    escrow::{
        refund,
        release::{self, Refusal, ReleaseAsk},
    },
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Release,
    Refund,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Refund => "refund",
        }
    }
}

/// Releases a held intent to its payee (minus commission): everything still held, an
/// `amount`, or a `milestone`.
#[utoipa::path(post, path = "/v1/intents/{id}/release", tag = "intents",
    params(("id" = String, Path, description = "intent id (UUID)"), ("Idempotency-Key" = String, Header, description = "a repeat replays the first answer")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "optional amount (decimal string) or milestone, bolt11 (Lightning payees)"),
    responses((status = 202, description = "the intent", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem),
        (status = 409, body = super::openapi::Problem), (status = 422, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id, intent_id = %id))]
pub async fn release(
    state: State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    act(state, caller, id, key, body, Action::Release).await
}

/// Refunds what a held intent still holds to its buyer.
#[utoipa::path(post, path = "/v1/intents/{id}/refund", tag = "intents",
    params(("id" = String, Path, description = "intent id (UUID)"), ("Idempotency-Key" = String, Header, description = "a repeat replays the first answer")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "bolt11 (Lightning refunds: the buyer's invoice for what is held)"),
    responses((status = 202, description = "the intent", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem),
        (status = 409, body = super::openapi::Problem), (status = 422, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id, intent_id = %id))]
pub async fn refund(
    state: State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    act(state, caller, id, key, body, Action::Refund).await
}

async fn act(
    State(state): State<AppState>,
    caller: Caller,
    id: String,
    key: IdempotencyKey,
    body: JsonBody,
    action: Action,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no intent with id `{id}`"));
    let intent_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let ask = parse_body(&body.object, action)?;
    let path = format!("/v1/intents/{intent_id}/{}", action.name());
    // The answer is stored whatever it is (a 404 or 409 included), so it is final here.
    idempotency::once(&state.pool, caller.id, &key.0, &path, &body.raw, || {
        apply(&state, &caller, &key, intent_id, ask, action)
    })
    .await
}

/// The body as given: `bolt11` for both; `amount` (a decimal string) or `milestone` for a
/// release in parts.
struct Ask {
    bolt11: Option<String>,
    amount: Option<Decimal>,
    milestone: Option<String>,
}

fn parse_body(body: &serde_json::Map<String, Value>, action: Action) -> Result<Ask, ApiError> {
    let known: &[&str] = match action {
        Action::Release => &["bolt11", "amount", "milestone"],
        Action::Refund => &["bolt11"],
    };
    let mut errors = Vec::new();
    for field in body.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(FieldError::new(field.clone(), "is not a known field"));
    }
    let bolt11 = match body.get("bolt11") {
        None | Some(Value::Null) => None,
        Some(Value::String(invoice)) if looks_like_bolt11(invoice) => Some(invoice.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                "bolt11",
                "must be a BOLT 11 invoice (lnbc…)",
            ));
            None
        }
    };
    let amount = match body.get("amount") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match parse_amount(Some(&format!("\"{text}\""))) {
            Ok(amount) if amount > Decimal::ZERO => Some(amount),
            Ok(_) => {
                errors.push(FieldError::new("amount", "must be more than zero"));
                None
            }
            Err(why) => {
                errors.push(FieldError::new("amount", why));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new(
                "amount",
                "must be a decimal string like \"400.00\"",
            ));
            None
        }
    };
    let milestone = match body.get("milestone") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if is_milestone_id(id) => Some(id.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                "milestone",
                "must name one of the intent's milestones",
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(Ask {
            bolt11,
            amount,
            milestone,
        })
    } else {
        Err(ApiError::Validation(errors))
    }
}

async fn apply(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    id: Uuid,
    ask: Ask,
    action: Action,
) -> Result<Response, ApiError> {
    let mut tx = state.pool.begin().await?;
    let intent = super::intents::load_owned(&mut tx, caller, id).await?;
    match action {
        Action::Release => {
            let amount = ask
                .amount
                .map(|amount| Money::new(amount, intent.amount.currency()))
                .transpose()
                .map_err(|e| {
                    ApiError::Validation(vec![FieldError::new("amount", e.to_string())])
                })?;
            let release = ReleaseAsk {
                amount,
                milestone: ask.milestone,
                bolt11: ask.bolt11,
            };
            release::request(&mut tx, &intent, &release, ReleaseSource::Client)
                .await?
                .map_err(refusal)?;
        }
        Action::Refund => refund::request(&mut tx, &intent, ask.bolt11.as_deref())
            .await?
            .map_err(|refusal| match refusal {
                refund::Refusal::Invoice(why) => {
                    ApiError::Validation(vec![FieldError::new("bolt11", why)])
                }
                other => ApiError::Conflict(other.to_string()),
            })?,
    }
    let view = intents::view(&mut tx, Some(caller.id), id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent {id} vanished inside its own transaction"))?;
    // `release::request` left the wake-up for a client's release to this ring, which goes out
    // once the commit below is over, however this handler ends.
    let _ring = (action == Action::Release).then(|| {
        state
            .bell
            .ring_when_dropped(<malipo_jobs::ReleaseEscrow as malipo_jobs::Job>::QUEUE)
    });
    idempotency::commit_answer(tx, caller.id, &key.0, StatusCode::ACCEPTED, &view).await
}

/// A release refusal as the API tells it: 409 for the intent's state, 422 naming the field.
pub fn refusal(refusal: Refusal) -> ApiError {
    if refusal.is_conflict() {
        ApiError::Conflict(refusal.to_string())
    } else {
        ApiError::Validation(vec![FieldError::new(refusal.field(), refusal.to_string())])
    }
}
