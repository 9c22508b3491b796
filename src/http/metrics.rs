//! `GET /metrics` (Prometheus text) and the middleware that times every request.
//!
//! On the main listener the scrape needs an operator key; `MALIPO_METRICS_ADDR` serves it
//! without one on a separate listener, meant for a private network, with the health probes.

use std::{net::SocketAddr, time::Instant};

use anyhow::Context;
use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use sqlx::PgPool;

use super::{AppState, auth::Operator, problem::ApiError};
use crate::ops::metrics;

/// Every metric in the Prometheus text format (operator key required).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")),
    security(("operator_key" = [])))]
pub async fn scrape(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Response, ApiError> {
    render(&state.pool, state.config.stuck_after).await
}

async fn render(pool: &PgPool, stuck_after: std::time::Duration) -> Result<Response, ApiError> {
    let text = metrics::render(pool, stuck_after).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Times a request and records it under its route template (`/v1/intents/{id}`, never the raw
/// path, so ids do not explode the label set).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics::http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves `/metrics` without authentication on `address` until the process ends.
pub async fn serve_standalone(
    address: SocketAddr,
    pool: PgPool,
    stuck_after: std::time::Duration,
) -> anyhow::Result<()> {
    metrics::install();
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to bind MALIPO_METRICS_ADDR={address}"))?;
    tracing::info!(%address, "metrics listening");
    // The probes are here too: this listener is not behind the public port's connection cap,
    // so a flood of connections there never starves a health check here.
    let router = Router::new()
        .route(
            "/metrics",
            get(move |State(pool): State<PgPool>| async move { render(&pool, stuck_after).await }),
        )
        .route("/healthz", get(super::health::healthz))
        .route(
            "/readyz",
            get(|State(pool): State<PgPool>| async move { super::health::ready(&pool).await }),
        )
        .with_state(pool);
    axum::serve(listener, router)
        .await
        .context("metrics server failed")
}
