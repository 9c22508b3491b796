//! `GET /ops/discrepancies`, `POST /ops/discrepancies/{id}/resolve` and `GET /ops/intents/stuck`:
//! the money problems an operator settles (thin handlers over [`crate::ops::money`]).

use std::time::Duration;

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{actor, bad_query};
use crate::{
    db::discrepancies::{DiscrepancyRow, Resolution},
    http::{
        AppState,
        auth::Operator,
        extract::{JsonBody, PathParam},
        problem::{ApiError, FieldError},
    },
    ops::money::{self, StuckIntent},
};

/// Which discrepancies to list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscrepancyQuery {
    /// Resolved ones too.
    #[serde(default)]
    all: bool,
    /// Rows, 1–500 (default 50).
    limit: Option<i64>,
}

/// Open discrepancies (all with `?all=true`), newest first.
pub async fn list(
    State(state): State<AppState>,
    _operator: Operator,
    query: Result<Query<DiscrepancyQuery>, QueryRejection>,
) -> Result<Json<Vec<DiscrepancyRow>>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    Ok(Json(
        money::discrepancies(&state.pool, query.all, query.limit).await?,
    ))
}

/// Resolves one: body `{"resolution": "refunded_to_payer|applied_to_intent|written_off|acknowledged", "note": "…"}`.
pub async fn resolve(
    State(state): State<AppState>,
    operator: Operator,
    PathParam(id): PathParam,
    body: JsonBody,
) -> Result<Json<DiscrepancyRow>, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::NotFound(format!("no discrepancy with id `{id}`")))?;
    let mut errors: Vec<FieldError> = body
        .object
        .keys()
        .filter(|k| !["resolution", "note"].contains(&k.as_str()))
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    let resolution = match body
        .object
        .get("resolution")
        .cloned()
        .map(serde_json::from_value::<Resolution>)
    {
        Some(Ok(resolution)) => Some(resolution),
        _ => {
            errors.push(FieldError::new(
                "resolution",
                "must be refunded_to_payer, applied_to_intent, written_off or acknowledged",
            ));
            None
        }
    };
    let note = match body.object.get("note") {
        Some(Value::String(note)) if !note.trim().is_empty() && note.len() <= 2_000 => {
            Some(note.clone())
        }
        _ => {
            errors.push(FieldError::new(
                "note",
                "is required: 1–2000 characters saying how the money was settled",
            ));
            None
        }
    };
    let (Some(resolution), Some(note), true) = (resolution, note, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    Ok(Json(
        money::resolve(&state.pool, &actor(&operator), id, resolution, &note).await?,
    ))
}

/// How old a non-terminal state must be to count as stuck.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StuckQuery {
    /// Seconds (default: the `MALIPO_STUCK_AFTER` setting).
    older_than_secs: Option<u64>,
    /// Rows, 1–500 (default 50).
    limit: Option<i64>,
}

/// Intents stuck in `releasing`/`refunding`, with a payout in doubt, or flagged.
pub async fn stuck(
    State(state): State<AppState>,
    _operator: Operator,
    query: Result<Query<StuckQuery>, QueryRejection>,
) -> Result<Json<Vec<StuckIntent>>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let older_than = query
        .older_than_secs
        .map_or(state.config.stuck_after, Duration::from_secs);
    Ok(Json(
        money::stuck_intents(&state.pool, older_than, query.limit).await?,
    ))
}
