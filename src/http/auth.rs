//! API key authentication: `Authorization: Bearer <key>`, looked up by its SHA-256.

use axum::{extract::FromRequestParts, http::request::Parts};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{AppState, problem::ApiError};

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Creates and manages its own intents.
    Client,
    /// Operates the queues (`/ops`).
    Operator,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API client's id.
    pub id: Uuid,
    /// Its role.
    pub role: Role,
    /// Its default commission, in basis points.
    pub commission_bps: i32,
}

/// The stored form of an API key: lowercase hex SHA-256.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header =
            parts
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .ok_or(ApiError::Unauthorized(
                    "missing Authorization header; send `Authorization: Bearer <api key>`",
                ))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or(ApiError::Unauthorized(
                "malformed Authorization header; expected `Bearer <api key>`",
            ))?;
        // Keys are looked up by hash: a timing difference reveals nothing about a stored key.
        let row: Option<(Uuid, String, i32)> =
            sqlx::query_as("SELECT id, role, commission_bps FROM api_clients WHERE key_hash = $1 AND revoked_at IS NULL")
                .bind(hash_key(key))
                .fetch_optional(&state.pool)
                .await?;
        let (id, role, commission_bps) =
            row.ok_or(ApiError::Unauthorized("unknown or revoked API key"))?;
        let role = if role == "operator" {
            Role::Operator
        } else {
            Role::Client
        };
        state.rate_limit.check(id)?;
        Ok(Caller {
            id,
            role,
            commission_bps,
        })
    }
}

/// An authenticated caller with the operator role.
#[derive(Debug, Clone)]
pub struct Operator(pub Caller);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.role != Role::Operator {
            return Err(ApiError::Forbidden(
                "this endpoint needs an operator API key",
            ));
        }
        Ok(Self(caller))
    }
}
