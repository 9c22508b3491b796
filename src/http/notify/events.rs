//! `GET /v1/events` and `GET /v1/events/{id}`: the caller's event log, for clients that poll or
//! lost their endpoint. Keyset pagination on the event id; kept at least 30 days (events are
//! never pruned today).

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{bad_query, page_size, timestamp};
use crate::{
    db::events::{self, EventFilter},
    http::{AppState, auth::Caller, extract::PathParam, problem::ApiError},
    notify::envelope,
};

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventQuery {
    /// Only this type (`intent.held`, …).
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Only about this intent.
    intent_id: Option<String>,
    /// Only at or after this time (RFC 3339).
    since: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `newest_first` (default) or `oldest_first`.
    order: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<i64>,
}

/// The caller's events, newest first unless `order=oldest_first`.
#[utoipa::path(get, path = "/v1/events", tag = "notifications", params(EventQuery),
    responses((status = 200, description = "{data: [event], next_cursor}", body = serde_json::Value),
        (status = 400, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let oldest_first = match query.order.as_deref() {
        None | Some("newest_first") => false,
        Some("oldest_first") => true,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`order` must be newest_first or oldest_first".to_owned(),
            ));
        }
    };
    let intent_id = query
        .intent_id
        .as_deref()
        .map(|text| {
            Uuid::parse_str(text)
                .map_err(|_| ApiError::BadRequest("`intent_id` must be a UUID".to_owned()))
        })
        .transpose()?;
    let since = query
        .since
        .as_deref()
        .map(|text| timestamp("since", text))
        .transpose()?;
    let after_id = query
        .cursor
        .as_deref()
        .map(|text| {
            envelope::parse_public_id(text)
                .ok_or_else(|| ApiError::BadRequest("`cursor` is not one this API gave".to_owned()))
        })
        .transpose()?;
    let filter = EventFilter {
        event_type: query.event_type,
        intent_id,
        since,
        after_id,
        oldest_first,
        limit: page_size(query.limit)?,
    };
    let mut conn = state.pool.acquire().await?;
    let rows = events::list(&mut conn, caller.id, &filter).await?;
    let next_cursor = (rows.len() as i64 == filter.limit)
        .then(|| rows.last().map(|row| envelope::public_id(row.id)))
        .flatten();
    let data: Vec<Value> = rows.iter().map(envelope::render).collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })))
}

/// One of the caller's events.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "notifications",
    params(("id" = String, Path, description = "event id (evt_…)")),
    responses((status = 200, body = serde_json::Value), (status = 404, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no event `{id}`"));
    let parsed = envelope::parse_public_id(&id).ok_or_else(not_found)?;
    let mut conn = state.pool.acquire().await?;
    let row = events::get(&mut conn, caller.id, parsed)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(envelope::render(&row)))
}
