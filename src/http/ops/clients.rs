//! `/ops/clients`: list API clients, rotate a client's key, revoke a client (audited).

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{actor, bad_query};
use crate::{
    clients::manage::{self, ClientSummary, Revoked, RotatedKey},
    http::{AppState, auth::Operator, extract::PathParam, problem::ApiError},
};

/// Every API client: id, name, role, key prefixes, rotation and revocation; never a key.
#[utoipa::path(get, path = "/ops/clients", tag = "ops",
    responses((status = 200, body = [ClientSummary])), security(("operator_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<Vec<ClientSummary>>, ApiError> {
    Ok(Json(manage::list(&state.pool).await?))
}

/// Options of a rotation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RotateQuery {
    /// How long the previous key keeps working (`0s`, `1h`, `7d`); default
    /// `MALIPO_KEY_ROTATION_GRACE`.
    grace: Option<String>,
}

/// A new key for the client, shown once in the answer; the previous key keeps working for the
/// grace period.
#[utoipa::path(post, path = "/ops/clients/{id}/rotate", tag = "ops",
    params(("id" = String, Path, description = "client id (UUID)"), RotateQuery),
    responses((status = 200, body = RotatedKey), (status = 404, description = "no such client"),
        (status = 409, description = "the client is revoked")),
    security(("operator_key" = [])))]
pub async fn rotate(
    State(state): State<AppState>,
    operator: Operator,
    PathParam(id): PathParam,
    query: Result<Query<RotateQuery>, QueryRejection>,
) -> Result<Json<RotatedKey>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let id = client_id(&id)?;
    let grace = match query.grace.as_deref() {
        Some(text) => crate::config::duration(text)
            .map_err(|error| ApiError::BadRequest(format!("grace: {error}")))?,
        None => state.config.front.key_rotation_grace,
    };
    Ok(Json(
        manage::rotate(&state.pool, &actor(&operator), id, grace).await?,
    ))
}

/// Revokes the client: all its keys stop working at once.
#[utoipa::path(post, path = "/ops/clients/{id}/revoke", tag = "ops",
    params(("id" = String, Path, description = "client id (UUID)")),
    responses((status = 200, body = Revoked), (status = 404, description = "no such client"),
        (status = 409, description = "already revoked")),
    security(("operator_key" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    operator: Operator,
    PathParam(id): PathParam,
) -> Result<Json<Revoked>, ApiError> {
    let id = client_id(&id)?;
    Ok(Json(
        manage::revoke(&state.pool, &actor(&operator), id).await?,
    ))
}

fn client_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::NotFound(format!("no API client with id `{text}`")))
}
