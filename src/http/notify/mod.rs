//! The client notification API: webhook endpoints (`endpoints.rs`), their deliveries
//! (`deliveries.rs`) and the events log (`events.rs`). Every handler filters by the caller:
//! another client's endpoint, delivery or event is a 404.

pub mod deliveries;
pub mod endpoints;
pub mod events;

use axum::extract::rejection::QueryRejection;
use chrono::{DateTime, Utc};

use super::problem::ApiError;

fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {}", rejection.body_text()))
}

fn timestamp(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::BadRequest(format!("`{name}` must be an RFC 3339 timestamp")))
}

fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=200) => Ok(n),
        Some(n) => Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and 200, not {n}"
        ))),
    }
}

/// The notification API's part of the OpenAPI document (merged into `openapi::ApiDoc`'s).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        endpoints::create, endpoints::list, endpoints::get, endpoints::update, endpoints::delete,
        endpoints::rotate_secret, endpoints::test, deliveries::list, deliveries::retry,
        deliveries::recover, events::list, events::get, crate::http::intent_list::list,
        crate::http::ops::notifications::retry, crate::http::ops::notifications::recover,
    ),
    tags((name = "notifications", description = "Webhook endpoints, deliveries and the event log (client keys); signed with Standard Webhooks"))
)]
pub struct NotifyDoc;
