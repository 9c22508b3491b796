//! `ApiError`: every failure the HTTP front answers, as an RFC 9457 problem+json body.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

pub use crate::domain::FieldError;

/// Everything the API answers with other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or malformed `Authorization` header, or an unknown/revoked key.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the key's role may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The body is not JSON, or not valid UTF-8.
    #[error("{0}")]
    MalformedBody(String),
    /// The body is JSON but its fields are wrong.
    #[error("the request body has invalid fields")]
    Validation(Vec<FieldError>),
    /// A query parameter, filter or cursor that does not parse or is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// A required header is missing or invalid.
    #[error("{0}")]
    BadHeader(String),
    /// `Content-Type` is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("the request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// No such resource (or not visible to this client).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The resource is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// The request names something that already exists (an intent reference in use): a
    /// refusal of the request itself, so nothing is stored under its idempotency key.
    #[error("{0}")]
    AlreadyExists(String),
    /// The same idempotency key is being processed by another request.
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    IdempotencyInFlight,
    /// The same idempotency key was used with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    /// A semantic problem that is not a single field (e.g. provider disabled).
    #[error("{0}")]
    Unprocessable(String),
    /// Too many requests from this client.
    #[error("rate limit exceeded; retry after {0} s")]
    RateLimited(u64),
    /// The request took longer than the server allows.
    #[error("the request timed out")]
    Timeout,
    /// The request target is longer than the server reads.
    #[error("the request target exceeds {0} bytes")]
    UriTooLong(usize),
    /// Too many header fields, or too many bytes of them.
    #[error("the request's header fields exceed {0}")]
    HeadersTooLarge(String),
    /// The request is not parseable HTTP/1 (answered by the connection layer).
    #[error("the request is not valid HTTP/1.1")]
    MalformedRequest,
    /// An HTTP/2 connection preface on this HTTP/1.1-only port.
    #[error("this port speaks HTTP/1.1 only (no h2c); use HTTP/1.1")]
    HttpVersionNotSupported,
    /// The server is at its connection limit; only health checks are served.
    #[error("the server is at its connection limit; retry shortly")]
    Overloaded,
    /// Anything unexpected; logged with its cause, answered generically.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(error).context("database error"))
    }
}

impl ApiError {
    /// The HTTP status of each variant.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MalformedBody(_) | Self::BadHeader(_) | Self::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Validation(_) | Self::IdempotencyMismatch | Self::Unprocessable(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::AlreadyExists(_) | Self::IdempotencyInFlight => {
                StatusCode::CONFLICT
            }
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::HttpVersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable slug for the problem `type` URI.
    fn slug(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::MalformedBody(_) => "malformed-body",
            Self::Validation(_) => "validation",
            Self::BadHeader(_) => "bad-header",
            Self::BadRequest(_) => "bad-request",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge(_) => "payload-too-large",
            Self::NotFound(_) => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict(_) => "conflict",
            Self::AlreadyExists(_) => "already-exists",
            Self::IdempotencyInFlight => "idempotency-in-flight",
            Self::IdempotencyMismatch => "idempotency-mismatch",
            Self::Unprocessable(_) => "unprocessable",
            Self::RateLimited(_) => "rate-limited",
            Self::Timeout => "timeout",
            Self::UriTooLong(_) => "uri-too-long",
            Self::HeadersTooLarge(_) => "headers-too-large",
            Self::MalformedRequest => "malformed-request",
            Self::HttpVersionNotSupported => "http-version-not-supported",
            Self::Overloaded => "overloaded",
            Self::Internal(_) => "internal",
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    /// The problem+json document of this error.
    pub fn problem_body(&self) -> Vec<u8> {
        let status = self.status();
        let detail = match self {
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                "an internal error occurred; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let errors = match self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let problem = Problem {
            kind: format!("https://malipo.dev/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            errors,
        };
        serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// Seconds a client should wait before retrying, for the errors that have one.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited(seconds) => Some(*seconds),
            Self::Overloaded => Some(1),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.problem_body()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after()
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
