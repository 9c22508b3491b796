//! `POST /v1/intents/{id}/release` and `/refund`: a guarded transition from `held` in the
//! request's own transaction (so a second action under a new key is 409 at once), the job that
//! does the work, and the idempotent 202.

use axum::{extract::State, http::StatusCode, response::Response};
use malipo_jobs::{Refund, ReleaseEscrow};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    AppState,
    auth::Caller,
    extract::{IdempotencyKey, JsonBody, PathParam},
    idempotency,
    problem::{ApiError, FieldError},
};
use crate::{
    db::{intents, payouts, transitions::transition},
    domain::{
        IntentMove, IntentStatus, PayoutDestination, PayoutKind, ProviderKind,
        new_intent::{invoice_pays, looks_like_bolt11},
    },
    queue::{EnqueueOptions, enqueue},
};

#[derive(Clone, Copy)]
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

    fn past(self) -> &'static str {
        match self {
            Self::Release => "released",
            Self::Refund => "refunded",
        }
    }
}

/// Releases a held intent to its payee (minus commission).
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

/// Refunds a held intent to its buyer.
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
    let bolt11 = parse_body(&body.object)?;
    let path = format!("/v1/intents/{intent_id}/{}", action.name());
    // The answer is stored whatever it is (a 404 or 409 included), so it is final here.
    idempotency::once(&state.pool, caller.id, &key.0, &path, &body.raw, || {
        apply(&state, &caller, &key, intent_id, bolt11, action)
    })
    .await
}

fn parse_body(body: &serde_json::Map<String, Value>) -> Result<Option<String>, ApiError> {
    let mut errors = Vec::new();
    for field in body.keys().filter(|k| k.as_str() != "bolt11") {
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
    if errors.is_empty() {
        Ok(bolt11)
    } else {
        Err(ApiError::Validation(errors))
    }
}

async fn apply(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    id: Uuid,
    bolt11: Option<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let mut tx = state.pool.begin().await?;
    let intent = super::intents::load_owned(&mut tx, caller, id).await?;
    if intent.status != IntentStatus::Held {
        return Err(ApiError::Conflict(format!(
            "cannot {} an intent that is `{}`; only `held` intents can be {}",
            action.name(),
            intent.status,
            action.past()
        )));
    }
    match action {
        Action::Release => {
            let payee_needs_invoice = matches!(
                intent.payee.payout,
                PayoutDestination::Lightning { bolt11: None }
            );
            if payee_needs_invoice && bolt11.is_none() {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "bolt11",
                    "the payee has no Lightning invoice on file; give one to release",
                )]));
            }
            if bolt11.is_some()
                && !matches!(intent.payee.payout, PayoutDestination::Lightning { .. })
            {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "bolt11",
                    "only a Lightning payee takes an invoice",
                )]));
            }
            if let Some(invoice) = &bolt11 {
                let share = crate::escrow::release::payee_share(&intent)
                    .map_err(|e| anyhow::anyhow!("payee share of intent {id}: {e}"))?;
                invoice_pays(invoice, share).map_err(|why| {
                    ApiError::Validation(vec![FieldError::new(
                        "bolt11",
                        format!("{why} (the payee's share)"),
                    )])
                })?;
            }
        }
        Action::Refund => match (intent.provider, &bolt11) {
            (ProviderKind::Lightning, None) => {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "bolt11",
                    "a Lightning refund needs the buyer's invoice",
                )]));
            }
            (ProviderKind::Lightning, Some(invoice)) => {
                invoice_pays(invoice, intent.amount)
                    .map_err(|why| ApiError::Validation(vec![FieldError::new("bolt11", why)]))?;
            }
            (ProviderKind::Paystack | ProviderKind::Mpesa, Some(_)) => {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "bolt11",
                    "only Lightning refunds take an invoice",
                )]));
            }
            _ => {}
        },
    }
    // The invoice (if any) is kept on the intent for the job; the request's own effect is the
    // move out of `held`, which makes a second release or refund a 409 at once.
    let (keep_invoice, movement) = match action {
        Action::Release => (
            "UPDATE intents SET release_bolt11 = $2 WHERE id = $1",
            IntentMove::ReleaseRequested,
        ),
        Action::Refund => (
            "UPDATE intents SET refund_bolt11 = $2 WHERE id = $1",
            IntentMove::RefundRequested,
        ),
    };
    if bolt11.is_some() {
        sqlx::query(keep_invoice)
            .bind(id)
            .bind(&bolt11)
            .execute(&mut *tx)
            .await?;
    }
    transition(&mut tx, id, movement, json!({})).await?;
    let options = EnqueueOptions {
        intent_id: Some(id),
        ..Default::default()
    };
    match action {
        Action::Release => enqueue(&mut tx, &ReleaseEscrow { intent_id: id }, options).await?,
        Action::Refund => {
            // A refund asked again after a confirmed failure is a new attempt: its own job and
            // its own payout (a key per intent alone would match the finished first job).
            let attempt = payouts::failed_of_kind(&mut tx, id, PayoutKind::Refund).await?;
            let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
            enqueue(
                &mut tx,
                &Refund {
                    intent_id: id,
                    attempt,
                },
                options,
            )
            .await?
        }
    };
    let view = intents::view(&mut tx, Some(caller.id), id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent {id} vanished inside its own transaction"))?;
    idempotency::commit_answer(tx, caller.id, &key.0, StatusCode::ACCEPTED, &view).await
}
