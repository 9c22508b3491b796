//! `/ops`: the operator API (operator-role keys only). Thin handlers over [`crate::ops`], which
//! the CLI shares; this module maps their errors to problem+json.

pub mod audit;
pub mod clients;
pub mod disputes;
pub mod fincra;
pub mod jobs;
pub mod money;
pub mod notifications;
pub mod payouts;
pub mod queues;
pub mod reconciliations;

use axum::{
    Router,
    extract::rejection::QueryRejection,
    routing::{get, post},
};

use super::{AppState, auth::Operator, problem::ApiError};
use crate::ops::{Actor, OpsError};

/// The `/ops` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ops/queues", get(queues::overview))
        .route("/ops/queues/{queue}/pause", post(queues::pause))
        .route("/ops/queues/{queue}/resume", post(queues::resume))
        .route("/ops/queues/{queue}/drain", post(queues::drain))
        .route("/ops/jobs", get(jobs::list))
        .route("/ops/jobs/retry", post(jobs::retry_matching))
        .route("/ops/jobs/discard", post(jobs::discard_matching))
        .route("/ops/jobs/{id}", get(jobs::show))
        .route("/ops/jobs/{id}/retry", post(jobs::retry))
        .route("/ops/jobs/{id}/discard", post(jobs::discard))
        .route("/ops/audit", get(audit::list))
        .route("/ops/clients", get(clients::list))
        .route("/ops/clients/{id}/rotate", post(clients::rotate))
        .route("/ops/clients/{id}/revoke", post(clients::revoke))
        .route(
            "/ops/reconciliations/mpesa",
            post(reconciliations::queue_mpesa),
        )
        .route("/ops/reconciliations/{id}", get(reconciliations::show))
        .route("/ops/discrepancies", get(money::list))
        .route("/ops/discrepancies/{id}/resolve", post(money::resolve))
        .route("/ops/intents/stuck", get(money::stuck))
        .route("/ops/fincra/banks/refresh", post(fincra::refresh_banks))
        .route("/ops/intents/{id}/resolve", post(disputes::resolve))
        .route("/ops/payouts/{id}/resend", post(payouts::resend))
        .route(
            "/ops/webhook_deliveries/{id}/retry",
            post(notifications::retry),
        )
        .route(
            "/ops/webhook_endpoints/{id}/recover",
            post(notifications::recover),
        )
}

impl From<OpsError> for ApiError {
    fn from(error: OpsError) -> Self {
        match error {
            OpsError::Invalid(message) => Self::BadRequest(message),
            OpsError::InvalidField { field, message } => {
                Self::Validation(vec![super::problem::FieldError::new(field, message)])
            }
            OpsError::NotFound(message) => Self::NotFound(message),
            OpsError::Conflict(message) => Self::Conflict(message),
            OpsError::Database(error) => error.into(),
            OpsError::Internal(error) => Self::Internal(error),
        }
    }
}

/// The audit actor of an operator key.
fn actor(operator: &Operator) -> Actor {
    Actor::Key(operator.0.id)
}

/// A query string that failed to parse, as a 400 naming the problem.
fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {}", rejection.body_text()))
}
