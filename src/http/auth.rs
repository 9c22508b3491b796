//! API key authentication: one `Authorization: Bearer <key>` header (scheme in any case),
//! failures bounded per source address before the database, keys looked up by their SHA-256,
//! and the one role each key has: [`Caller`] for `/v1`, [`Operator`] for `/ops` and `/metrics`.

pub mod failures;

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use uuid::Uuid;

use super::{AppState, problem::ApiError};
pub use crate::clients::{Role, hash_key};

/// The authenticated client (tenant) of a `/v1` request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API client's id.
    pub id: Uuid,
    /// Its role.
    pub role: Role,
    /// Its default commission, in basis points.
    pub commission_bps: i32,
}

/// The key in the request's one `Authorization` header.
fn bearer_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let header = values.next().ok_or(ApiError::Unauthorized(
        "missing Authorization header; send `Authorization: Bearer <api key>`",
    ))?;
    if values.next().is_some() {
        // Which one a proxy or a framework would pick differs; neither is guessed.
        return Err(ApiError::BadHeader(
            "more than one Authorization header; send exactly one".to_owned(),
        ));
    }
    let malformed =
        || ApiError::Unauthorized("malformed Authorization header; expected `Bearer <api key>`");
    let text = header.to_str().map_err(|_| malformed())?;
    let (scheme, key) = text.trim().split_once(' ').ok_or_else(malformed)?;
    // RFC 9110 §11.1: the scheme is case-insensitive.
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(malformed());
    }
    Ok(key)
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// Authenticates the request's key, whatever its role.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let key = bearer_key(&parts.headers)?;
    let peer = peer(parts);
    let key_hash = hash_key(key);
    state.failed_auth.before_lookup(peer, &key_hash)?;
    // Keys are looked up by hash: a timing difference reveals nothing about a stored key. A
    // rotated key's predecessor works until its grace ends; a revoked client's keys never do.
    let row = crate::db::clients::by_key_hash(&state.pool, &key_hash).await?;
    let Some(crate::db::clients::KeyHolder {
        id,
        role,
        commission_bps,
    }) = row
    else {
        return Err(state.failed_auth.unknown(peer, key_hash));
    };
    state.failed_auth.valid(key_hash);
    state.rate_limit.check(id)?;
    Ok(Caller {
        id,
        role,
        commission_bps,
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, state).await?;
        if caller.role != Role::Client {
            return Err(ApiError::Forbidden(
                "operator keys cannot act as a client; use a client API key under /v1",
            ));
        }
        Ok(caller)
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
        let caller = authenticate(parts, state).await?;
        if caller.role != Role::Operator {
            return Err(ApiError::Forbidden(
                "this endpoint needs an operator API key",
            ));
        }
        Ok(Self(caller))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        for value in ["Bearer k1", "bearer k1", "BEARER k1", "bEaReR   k1 "] {
            assert_eq!(bearer_key(&headers(&[value])).ok(), Some("k1"), "{value}");
        }
        for value in ["Basic k1", "Bearer", "Bearer ", "Bearerk1"] {
            assert!(
                matches!(
                    bearer_key(&headers(&[value])),
                    Err(ApiError::Unauthorized(_))
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        assert!(matches!(
            bearer_key(&headers(&["Bearer a", "Bearer b"])),
            Err(ApiError::BadHeader(_))
        ));
    }
}
