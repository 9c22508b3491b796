//! Liveness and readiness probes.

use axum::{extract::State, http::StatusCode, response::IntoResponse};

use super::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "ok")))]
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// The database is reachable and fully migrated.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "ready"), (status = 503, description = "database unreachable or not migrated")))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    ready(&state.pool).await
}

/// Readiness of `pool`'s database (also served on `MALIPO_METRICS_ADDR`).
pub async fn ready(pool: &sqlx::PgPool) -> (StatusCode, &'static str) {
    match crate::db::is_migrated(pool).await {
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "database not migrated"),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
