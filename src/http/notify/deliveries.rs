//! An endpoint's deliveries: listing them with their attempts, sending one again, and
//! recovering every delivery of a time range after an outage. A resend keeps the event's
//! `webhook-id`, so a receiver that already had it recognises it.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::IntoResponse,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{bad_query, endpoints::owned, page_size, timestamp};
use crate::{
    db::{events, webhook_deliveries},
    http::{
        AppState,
        auth::Caller,
        extract::{JsonBody, PathParam},
        problem::{ApiError, FieldError},
    },
    notify::{DeliveryStatus, envelope},
};

/// Query of `GET /v1/webhook_endpoints/{id}/deliveries`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryQuery {
    /// `pending`, `succeeded` or `failed`.
    status: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<i64>,
}

/// A delivery and its attempts as JSON.
pub async fn view(
    conn: &mut sqlx::PgConnection,
    delivery: &webhook_deliveries::DeliveryRow,
) -> Result<Value, sqlx::Error> {
    let attempts = webhook_deliveries::attempts_of(conn, delivery.id).await?;
    let attempts: Vec<Value> = attempts
        .iter()
        .map(|a| {
            json!({
                "attempted_at": a.attempted_at,
                "duration_ms": a.duration_ms,
                "response_status": a.response_status,
                "response_body": a.response_body,
                "error": a.error,
            })
        })
        .collect();
    Ok(json!({
        "id": delivery.id,
        "event_id": envelope::public_id(delivery.event_id),
        "endpoint_id": delivery.endpoint_id,
        "status": delivery.status,
        "attempts_this_round": delivery.attempts,
        "round": delivery.round,
        "next_attempt_at": (delivery.status == DeliveryStatus::Pending).then_some(delivery.next_attempt_at),
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "attempts": attempts,
    }))
}

/// Lists an endpoint's deliveries, newest first, with their attempts.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/deliveries", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id"), DeliveryQuery),
    responses((status = 200, description = "{data: [delivery]}", body = serde_json::Value),
        (status = 404, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let endpoint = owned(&state, &caller, &id).await?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
            ApiError::BadRequest("`status` must be pending, succeeded or failed".to_owned())
        })?),
    };
    let limit = page_size(query.limit)?;
    let mut conn = state.pool.acquire().await?;
    let rows = webhook_deliveries::list_for_endpoint(&mut conn, endpoint.id, status, limit).await?;
    let mut data = Vec::with_capacity(rows.len());
    for row in &rows {
        data.push(view(&mut conn, row).await?);
    }
    Ok(Json(json!({ "data": data })))
}

/// Sends one delivery again now (a new round of attempts, the same `webhook-id`).
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id"), ("delivery_id" = String, Path, description = "delivery id")),
    responses((status = 202, body = serde_json::Value), (status = 404, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    PathParam((id, delivery)): PathParam<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let endpoint = owned(&state, &caller, &id).await?;
    let not_found = || ApiError::NotFound(format!("no delivery `{delivery}` on endpoint `{id}`"));
    let delivery_id = Uuid::parse_str(&delivery).map_err(|_| not_found())?;
    let mut tx = state.pool.begin().await?;
    let round = webhook_deliveries::start_round(&mut tx, endpoint.id, delivery_id)
        .await?
        .ok_or_else(not_found)?;
    events::enqueue_rounds(&mut tx, &[(delivery_id, round)]).await?;
    let row = webhook_deliveries::load(&mut tx, delivery_id)
        .await?
        .ok_or_else(not_found)?;
    let answer = view(&mut tx, &row).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// Sends again every delivery of this endpoint whose event is in `[since, until)`, oldest
/// first (after the client's outage, or to rebuild its state).
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/recover", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "since (RFC 3339), until (optional)"),
    responses((status = 202, description = "{deliveries: n}", body = serde_json::Value),
        (status = 404, body = crate::http::openapi::Problem), (status = 422, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn recover(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    body: JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let endpoint = owned(&state, &caller, &id).await?;
    let field = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        match body.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => timestamp(name, text).map(Some).map_err(|_| {
                ApiError::Validation(vec![FieldError::new(name, "must be an RFC 3339 timestamp")])
            }),
            Some(_) => Err(ApiError::Validation(vec![FieldError::new(
                name,
                "must be an RFC 3339 timestamp",
            )])),
        }
    };
    let since = field("since")?
        .ok_or_else(|| ApiError::Validation(vec![FieldError::new("since", "is required")]))?;
    let until = field("until")?;
    let mut tx = state.pool.begin().await?;
    let rounds = webhook_deliveries::start_rounds_since(&mut tx, endpoint.id, since, until).await?;
    events::enqueue_rounds(&mut tx, &rounds).await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "deliveries": rounds.len() })),
    ))
}
