//! `POST /ops/payouts/{id}/resend`: an operator sends a failed commission payout again (thin
//! handler over [`crate::ops::payouts`]). Body: `{"note": "…"}` to send it where it went
//! before, or with `"payout": {"provider": "mpesa", "msisdn": "2547…"}` (the shape a client
//! gives a payee) to send it somewhere else.

use axum::{Json, extract::State};
use serde_json::Value;
use uuid::Uuid;

use super::actor;
use crate::{
    db::intents::IntentView,
    domain::{PayoutDestination, new_intent::parse_payout_destination},
    http::{
        AppState,
        auth::Operator,
        extract::{JsonBody, PathParam},
        problem::{ApiError, FieldError},
    },
    ops::payouts,
};

/// Sends one failed commission payout again.
#[utoipa::path(post, path = "/ops/payouts/{id}/resend", tag = "ops",
    params(("id" = String, Path, description = "the failed commission payout's id (UUID)")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "note (required), payout (optional destination; default: where the failed payout went)"),
    responses((status = 200, description = "the intent, with the new payout", body = serde_json::Value),
        (status = 400, body = crate::http::openapi::Problem), (status = 404, body = crate::http::openapi::Problem),
        (status = 409, body = crate::http::openapi::Problem), (status = 422, body = crate::http::openapi::Problem)),
    security(("operator_key" = [])))]
pub async fn resend(
    State(state): State<AppState>,
    operator: Operator,
    PathParam(id): PathParam,
    body: JsonBody,
) -> Result<Json<IntentView>, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::NotFound(format!("no payout with id `{id}`")))?;
    let (to, note) = parse(&body.object)?;
    Ok(Json(
        payouts::resend_commission(&state.pool, &actor(&operator), id, to, &note).await?,
    ))
}

fn parse(
    body: &serde_json::Map<String, Value>,
) -> Result<(Option<PayoutDestination>, String), ApiError> {
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|k| !["note", "payout"].contains(&k.as_str()))
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    let note = match body.get("note") {
        Some(Value::String(note)) if !note.trim().is_empty() => note.clone(),
        _ => {
            errors.push(FieldError::new(
                "note",
                "is required: say why the commission is sent again",
            ));
            String::new()
        }
    };
    let to = match body.get("payout") {
        None | Some(Value::Null) => None,
        Some(Value::Object(payout)) => match parse_payout_destination(payout) {
            Ok(destination) => Some(destination),
            Err((field, message)) => {
                errors.push(FieldError::new(field.replacen("payee.", "", 1), message));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("payout", "must be an object"));
            None
        }
    };
    if errors.is_empty() {
        Ok((to, note))
    } else {
        Err(ApiError::Validation(errors))
    }
}
