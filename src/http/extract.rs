//! Request extractors that fail with problem+json: the raw body (bounded), the JSON body (raw
//! bytes kept for hashing), a path parameter, and the `Idempotency-Key` header.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts},
};

use super::{AppState, problem::ApiError};

/// A JSON object body, with the exact bytes it came in (idempotency hashes the bytes).
pub struct JsonBody {
    /// The parsed top-level object.
    pub object: serde_json::Map<String, serde_json::Value>,
    /// The raw bytes.
    pub raw: Bytes,
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|media| {
                let media = media.trim();
                media.eq_ignore_ascii_case("application/json")
                    || media.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let RawBody(raw) = RawBody::from_request(request, state).await?;
        parse_object(raw)
    }
}

/// The body's bytes, at most the configured limit.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.body_limit_bytes;
        // A declared length over the limit is refused before reading: otherwise a client that
        // claims megabytes and sends nothing holds the request open until the timeout (a 503).
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        let raw = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::MalformedBody(format!("could not read the body: {rejection}"))
                }
            })?;
        Ok(Self(raw))
    }
}

/// A route's path parameters: one (an intent id, a callback token) or a tuple. Percent-escapes
/// that do not decode to UTF-8 cannot name anything malipo issued: 404, as for an unknown route.
pub struct PathParam<T = String>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| {
                ApiError::NotFound(format!("no such route: {}", rejection.body_text()))
            })
    }
}

/// Parses `raw` as one JSON object; anything else is a 400 naming the problem.
pub fn parse_object(raw: Bytes) -> Result<JsonBody, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|error| ApiError::MalformedBody(format!("the body is not valid JSON: {error}")))?;
    match value {
        serde_json::Value::Object(object) => Ok(JsonBody { object, raw }),
        _ => Err(ApiError::MalformedBody(
            "the body must be a JSON object".to_owned(),
        )),
    }
}

/// The `Idempotency-Key` header: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl TryFrom<&str> for IdempotencyKey {
    type Error = ApiError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        let valid_chars = value.bytes().all(|byte| byte.is_ascii_graphic());
        if value.is_empty() || value.len() > 255 || !valid_chars {
            return Err(ApiError::BadHeader("Idempotency-Key must be 1–255 visible ASCII characters (no spaces or control characters)".to_owned()));
        }
        Ok(Self(value.to_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get("idempotency-key").ok_or_else(|| {
            ApiError::BadHeader(
                "the Idempotency-Key header is required on every POST under /v1".to_owned(),
            )
        })?;
        let text = header
            .to_str()
            .map_err(|_| ApiError::BadHeader("Idempotency-Key must be visible ASCII".to_owned()))?;
        IdempotencyKey::try_from(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_bounded_and_visible() {
        assert!(IdempotencyKey::try_from("order-981-create").is_ok());
        assert!(IdempotencyKey::try_from("").is_err());
        assert!(IdempotencyKey::try_from("a b").is_err());
        assert!(IdempotencyKey::try_from("a\r\nSet-Cookie: x").is_err());
        assert!(IdempotencyKey::try_from(&*"k".repeat(256)).is_err());
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(parse_object(Bytes::from_static(b"{\"a\":1}")).is_ok());
        assert!(matches!(
            parse_object(Bytes::from_static(b"[1]")),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            parse_object(Bytes::from_static(b"{\"a\":")),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            parse_object(Bytes::from_static(b"{\"a\":\"\xff\"}")),
            Err(ApiError::MalformedBody(_))
        ));
    }
}
