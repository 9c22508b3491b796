//! The HTTP front: routes, extractors, authentication, rate limits and problem+json errors.

pub mod auth;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod intents;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod rate_limit;

use std::sync::Arc;

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    middleware,
    response::IntoResponse,
    routing::{get, post},
};
use sqlx::PgPool;
use tower::ServiceBuilder;

use crate::{config::Config, domain::ProviderKind};

pub use problem::ApiError;

/// Which providers this server can use; the API refuses intents for the others.
pub trait ProviderGate: Send + Sync {
    /// The missing setting that disables `provider`, or `None` when it is configured.
    fn missing_setting(&self, provider: ProviderKind) -> Option<&'static str>;
}

/// A gate that lets every provider through (tests of the API alone).
pub struct AllProviders;

impl ProviderGate for AllProviders {
    fn missing_setting(&self, _provider: ProviderKind) -> Option<&'static str> {
        None
    }
}

/// Shared state of every request.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Per-client rate limit.
    pub rate_limit: rate_limit::ClientRateLimit,
    /// Which providers are configured.
    pub provider_gate: Arc<dyn ProviderGate>,
}

impl AppState {
    /// State over `pool` with `config`.
    pub fn new(pool: PgPool, config: Config, provider_gate: Arc<dyn ProviderGate>) -> Self {
        let rate_limit =
            rate_limit::ClientRateLimit::new(config.rate_limit_per_sec, config.rate_limit_burst);
        Self {
            pool,
            config: Arc::new(config),
            rate_limit,
            provider_gate,
        }
    }
}

/// The whole router, with body limit, timeout and problem+json fallbacks.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit_bytes;
    crate::ops::metrics::install();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/intents", post(intents::create))
        .route("/v1/intents/{id}", get(intents::get))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", get(openapi::document))
        .merge(ops::routes())
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .method_not_allowed_fallback(|| async {
            (
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                ApiError::NotFound("method not allowed on this route".to_owned()),
            )
                .into_response()
        })
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::Timeout
                }))
                .timeout(timeout),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::from_fn(metrics::track))
        .with_state(state)
}
