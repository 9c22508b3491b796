//! `GET /ops/audit`: the operator audit log.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use serde::Deserialize;

use super::bad_query;
use crate::{
    http::{AppState, auth::Operator, problem::ApiError},
    ops::{
        audit::{self, AuditPage},
        page_size,
    },
};

/// Paging of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Entries per page, 1–500 (default 50).
    limit: Option<i64>,
}

/// Operator actions, newest first.
#[utoipa::path(get, path = "/ops/audit", tag = "ops", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, description = "bad cursor or limit")),
    security(("operator_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _operator: Operator,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let limit = page_size(query.limit)?;
    Ok(Json(
        audit::list(&state.pool, query.cursor.as_deref(), limit).await?,
    ))
}
