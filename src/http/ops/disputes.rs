//! `POST /ops/intents/{id}/resolve`: an operator settles a dispute (thin handler over
//! [`crate::ops::disputes`]). Body: `{"release": "600.00", "refund": "400.00", "note": "…"}`
//! (plus `release_bolt11` / `refund_bolt11` for Lightning); the two parts sum to what is held.

use axum::{Json, extract::State};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use super::actor;
use crate::{
    db::intents::IntentView,
    domain::new_intent::{looks_like_bolt11, parse_amount},
    http::{
        AppState,
        auth::Operator,
        extract::{JsonBody, PathParam},
        problem::{ApiError, FieldError},
    },
    ops::disputes::{self, ResolutionAsk},
};

/// Resolves the dispute on one intent.
#[utoipa::path(post, path = "/ops/intents/{id}/resolve", tag = "ops",
    params(("id" = String, Path, description = "intent id (UUID)")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "release and refund (decimal strings summing to what is held), note, release_bolt11/refund_bolt11 for Lightning"),
    responses((status = 200, description = "the intent", body = serde_json::Value),
        (status = 400, body = crate::http::openapi::Problem), (status = 404, body = crate::http::openapi::Problem),
        (status = 409, body = crate::http::openapi::Problem), (status = 422, body = crate::http::openapi::Problem)),
    security(("operator_key" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    operator: Operator,
    PathParam(id): PathParam,
    body: JsonBody,
) -> Result<Json<IntentView>, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::NotFound(format!("no intent with id `{id}`")))?;
    let ask = parse(&body.object)?;
    Ok(Json(
        disputes::resolve(&state.pool, &actor(&operator), id, ask).await?,
    ))
}

fn parse(body: &serde_json::Map<String, Value>) -> Result<ResolutionAsk, ApiError> {
    const KNOWN: [&str; 5] = [
        "release",
        "refund",
        "note",
        "release_bolt11",
        "refund_bolt11",
    ];
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    let mut amount = |field: &str| match body.get(field) {
        None | Some(Value::Null) => Some(Decimal::ZERO),
        Some(Value::String(text)) => parse_amount(Some(&format!("\"{text}\"")))
            .ok()
            .filter(|amount| !amount.is_sign_negative())
            .or_else(|| {
                errors.push(FieldError::new(
                    field,
                    "must be a decimal string like \"400.00\", zero or more",
                ));
                None
            }),
        Some(_) => {
            errors.push(FieldError::new(
                field,
                "must be a decimal string like \"400.00\"",
            ));
            None
        }
    };
    let release = amount("release");
    let refund = amount("refund");
    let mut invoice = |field: &str| match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if looks_like_bolt11(text) => Some(text.clone()),
        Some(_) => {
            errors.push(FieldError::new(field, "must be a BOLT 11 invoice (lnbc…)"));
            None
        }
    };
    let release_bolt11 = invoice("release_bolt11");
    let refund_bolt11 = invoice("refund_bolt11");
    let note = match body.get("note") {
        Some(Value::String(note))
            if !note.trim().is_empty() && note.len() <= crate::escrow::dispute::MAX_TEXT =>
        {
            Some(note.clone())
        }
        _ => {
            errors.push(FieldError::new(
                "note",
                "is required: 1–1000 characters saying why the money goes where it goes",
            ));
            None
        }
    };
    match (release, refund, note) {
        (Some(release), Some(refund), Some(note)) if errors.is_empty() => Ok(ResolutionAsk {
            release,
            refund,
            release_bolt11,
            refund_bolt11,
            note,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}
