//! `GET /v1/intents`: the caller's own intents, newest first, filtered and keyset-paged, so a
//! client can find an intent by its own `reference`.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AppState, auth::Caller, problem::ApiError};
use crate::{
    db::{
        intent_list::{self, IntentFilter},
        intents,
    },
    domain::{IntentStatus, ProviderKind},
};

/// Query of `GET /v1/intents`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IntentQuery {
    /// Only in this status.
    status: Option<String>,
    /// Only through this provider.
    provider: Option<String>,
    /// Only with this reference (yours, unique per client).
    reference: Option<String>,
    /// Created at or after (RFC 3339).
    created_gte: Option<String>,
    /// Created before (RFC 3339).
    created_lt: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    limit: Option<i64>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

fn time(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad(format!("`{name}` must be an RFC 3339 timestamp")))
    })
    .transpose()
}

/// Lists the caller's intents, newest first.
#[utoipa::path(get, path = "/v1/intents", tag = "intents", params(IntentQuery),
    responses((status = 200, description = "{data: [intent], next_cursor}", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<IntentQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query
        .map_err(|rejection| bad(format!("invalid query string: {}", rejection.body_text())))?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            IntentStatus::parse(s)
                .map(|s| s.as_str().to_owned())
                .ok_or_else(|| bad(format!("`status` {s:?} is not an intent status")))
        })
        .transpose()?;
    let provider = query
        .provider
        .as_deref()
        .map(|p| {
            ProviderKind::parse(p)
                .map(|p| p.as_str().to_owned())
                .ok_or_else(|| bad(format!("`provider` {p:?} is not a provider")))
        })
        .transpose()?;
    let limit = match query.limit {
        None => 20,
        Some(n @ 1..=100) => n,
        Some(n) => return Err(bad(format!("`limit` must be between 1 and 100, not {n}"))),
    };
    let before_id = query
        .cursor
        .as_deref()
        .map(|c| Uuid::parse_str(c).map_err(|_| bad("`cursor` is not one this API gave")))
        .transpose()?;
    let filter = IntentFilter {
        status,
        provider,
        reference: query.reference,
        created_gte: time("created_gte", query.created_gte.as_deref())?,
        created_lt: time("created_lt", query.created_lt.as_deref())?,
        before_id,
        limit,
    };
    let mut conn = state.pool.acquire().await?;
    let ids = intent_list::page(&mut conn, caller.id, &filter).await?;
    let mut data = Vec::with_capacity(ids.len());
    for id in &ids {
        // The same view as GET /v1/intents/{id}; an intent is never deleted, so each is there.
        if let Some(view) = intents::view(&mut conn, Some(caller.id), *id).await? {
            data.push(view);
        }
    }
    let next_cursor = (ids.len() as i64 == limit)
        .then(|| ids.last().map(Uuid::to_string))
        .flatten();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })))
}
