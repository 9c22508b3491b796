//! The HTTP front: routes, extractors, authentication, rate limits and problem+json errors.

pub mod auth;
pub mod console;
pub mod extract;
mod fincra_check;
pub mod health;
pub mod hygiene;
pub mod idempotency;
pub mod intent_actions;
pub mod intent_cancel;
pub mod intent_dispute;
pub mod intent_list;
pub mod intents;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod payout_retry;
pub mod problem;
pub mod rate_limit;
pub mod server;
pub mod webhooks;
pub mod withdrawals;

use std::sync::Arc;

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    middleware,
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

    /// The missing setting that keeps `provider` from taking deposits (Fincra's checkout needs
    /// its public key on top of the payout settings).
    fn missing_deposit_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        self.missing_setting(provider)
    }
}

impl ProviderGate for crate::providers::ProvidersConfig {
    fn missing_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        crate::providers::ProvidersConfig::missing_setting(self, provider)
    }

    fn missing_deposit_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        crate::providers::ProvidersConfig::missing_deposit_setting(self, provider)
    }
}

/// The secrets webhook endpoints verify deliveries with; a provider without one answers 404.
#[derive(Debug, Default, Clone)]
pub struct WebhookSecrets {
    /// Paystack's secret key (HMAC-SHA512 of the raw body).
    pub paystack_secret: Option<crate::providers::Secret>,
    /// The token in Daraja callback URLs.
    pub mpesa_token: Option<crate::providers::Secret>,
    /// Daraja's callback addresses, when restricted.
    pub mpesa_allowed_ips: Option<Vec<crate::providers::Cidr>>,
    /// The token in LNbits webhook URLs.
    pub lnbits_token: Option<crate::providers::Secret>,
    /// Fincra's webhook secret (HMAC-SHA512 of the body).
    pub fincra_secret: Option<crate::providers::Secret>,
}

impl WebhookSecrets {
    /// The secrets of every configured provider.
    pub fn from_config(config: &crate::providers::ProvidersConfig) -> Self {
        Self {
            paystack_secret: config.paystack.as_ref().ok().map(|p| p.secret_key.clone()),
            mpesa_token: config
                .mpesa
                .as_ref()
                .ok()
                .map(|m| m.callbacks.token().clone()),
            mpesa_allowed_ips: config
                .mpesa
                .as_ref()
                .ok()
                .and_then(|m| m.allowed_ips.clone()),
            lnbits_token: config
                .lnbits
                .as_ref()
                .ok()
                .map(|l| l.webhook.token().clone()),
            fincra_secret: config
                .fincra
                .as_ref()
                .ok()
                .map(|f| f.webhook_secret.clone()),
        }
    }
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
    /// Failed authentication per source address, and unknown keys remembered.
    pub failed_auth: auth::failures::FailedAuth,
    /// Which providers are configured.
    pub provider_gate: Arc<dyn ProviderGate>,
    /// Webhook verification secrets.
    pub webhook_secrets: Arc<WebhookSecrets>,
    /// Paystack, asked whether a payout recipient exists when an intent names it (none: not
    /// checked, as where Paystack is not configured).
    pub recipient_checks: Option<Arc<crate::providers::paystack::PaystackClient>>,
    /// Fincra, asked whether a bank account exists when an intent names it (none: not checked).
    pub fincra_checks: Option<Arc<crate::providers::FincraClient>>,
    /// Notification settings: the key that seals endpoint secrets, and which URLs are allowed.
    pub notify: Arc<crate::notify::NotifySettings>,
    /// The workers' state of this process's [`crate::startup::Application`]: what an operator's
    /// drain runs jobs with (none: a front assembled without one, which cannot drain).
    pub workers: Option<crate::worker::WorkerState>,
    /// Wakes the workers for jobs this front committed without notifying from inside the
    /// transaction (`queue::bell`).
    pub bell: crate::queue::bell::JobBell,
}

impl AppState {
    /// State over `pool` with `config`.
    pub fn new(
        pool: PgPool,
        config: Config,
        provider_gate: Arc<dyn ProviderGate>,
        webhook_secrets: WebhookSecrets,
    ) -> Self {
        let rate_limit =
            rate_limit::ClientRateLimit::new(config.rate_limit_per_sec, config.rate_limit_burst);
        let failed_auth = auth::failures::FailedAuth::new(
            config.front.auth_failures_per_min,
            config.front.negative_key_cache,
        );
        let bell = crate::queue::bell::JobBell::new(pool.clone());
        Self {
            pool,
            config: Arc::new(config),
            rate_limit,
            failed_auth,
            provider_gate,
            webhook_secrets: Arc::new(webhook_secrets),
            recipient_checks: None,
            fincra_checks: None,
            notify: Arc::new(crate::notify::NotifySettings::default()),
            workers: None,
            bell,
        }
    }

    /// Uses `settings` for webhook endpoints.
    #[must_use]
    pub fn with_notify(mut self, settings: crate::notify::NotifySettings) -> Self {
        self.notify = Arc::new(settings);
        self
    }

    /// Drains run jobs with `workers`, the same state this process's workers have.
    #[must_use]
    pub fn with_workers(mut self, workers: crate::worker::WorkerState) -> Self {
        self.workers = Some(workers);
        self
    }

    /// The state a drain runs jobs with. A front assembled without one (a bare test or
    /// benchmark front) cannot drain, and says so instead of guessing providers.
    pub fn workers_for_drain(&self) -> Result<crate::worker::WorkerState, ApiError> {
        self.workers.clone().ok_or_else(|| {
            ApiError::Conflict(
                "this process was assembled without workers' state and cannot drain; drain through a process started with `malipo run`, `serve` or `work`".to_owned(),
            )
        })
    }

    /// Checks Paystack payout recipients with `client` when intents are created.
    #[must_use]
    pub fn with_recipient_checks(
        mut self,
        client: Option<crate::providers::paystack::PaystackClient>,
    ) -> Self {
        self.recipient_checks = client.map(Arc::new);
        self
    }

    /// Resolves Fincra bank accounts with `client` when intents name one.
    #[must_use]
    pub fn with_fincra_checks(mut self, client: Option<crate::providers::FincraClient>) -> Self {
        self.fincra_checks = client.map(Arc::new);
        self
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
        .route("/v1/intents", post(intents::create).get(intent_list::list))
        .route("/v1/intents/{id}", get(intents::get))
        .route("/v1/intents/{id}/release", post(intent_actions::release))
        .route("/v1/intents/{id}/refund", post(intent_actions::refund))
        .route("/v1/intents/{id}/cancel", post(intent_cancel::cancel))
        .route("/v1/intents/{id}/dispute", post(intent_dispute::dispute))
        .route("/v1/payouts", post(withdrawals::create))
        .route("/v1/payouts/{id}", get(withdrawals::get))
        .route("/v1/balances", get(withdrawals::list))
        .route("/v1/balance_transactions", get(withdrawals::statement))
        .route(
            "/v1/intents/{id}/auto_release",
            post(intent_dispute::auto_release),
        )
        .route(
            "/v1/intents/{id}/payouts/{payout_id}/retry",
            post(payout_retry::retry),
        )
        .merge(notify_routes())
        .route("/webhooks/paystack", post(webhooks::paystack::receive))
        .route("/webhooks/lnbits/{token}", post(webhooks::lnbits::receive))
        .route("/webhooks/fincra", post(webhooks::fincra::receive))
        .route("/webhooks/mpesa/{token}/stk", post(webhooks::mpesa::stk))
        .route(
            "/webhooks/mpesa/{token}/c2b/validation",
            post(webhooks::mpesa::c2b_validation),
        )
        .route(
            "/webhooks/mpesa/{token}/c2b/confirmation",
            post(webhooks::mpesa::c2b_confirmation),
        )
        .route(
            "/webhooks/mpesa/{token}/b2c/result",
            post(webhooks::mpesa::b2c_result),
        )
        .route(
            "/webhooks/mpesa/{token}/b2c/timeout",
            post(webhooks::mpesa::b2c_timeout),
        )
        .route(
            "/webhooks/mpesa/{token}/status/result",
            post(webhooks::mpesa::status_result),
        )
        .route(
            "/webhooks/mpesa/{token}/status/result/{reference}",
            post(webhooks::mpesa::status_result_about),
        )
        .route(
            "/webhooks/mpesa/{token}/status/timeout",
            post(webhooks::mpesa::status_timeout),
        )
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", get(openapi::document))
        .merge(ops::routes())
        .merge(console::routes())
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
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
        .layer(cors(&state.config.front.cors_origins))
        .layer(middleware::from_fn(hygiene::enforce))
        .with_state(state)
}

/// The client notification API (issue #17).
fn notify_routes() -> Router<AppState> {
    use notify::{deliveries, endpoints, events};
    Router::new()
        .route(
            "/v1/webhook_endpoints",
            post(endpoints::create).get(endpoints::list),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(endpoints::get)
                .patch(endpoints::update)
                .delete(endpoints::delete),
        )
        .route(
            "/v1/webhook_endpoints/{id}/rotate_secret",
            post(endpoints::rotate_secret),
        )
        .route("/v1/webhook_endpoints/{id}/test", post(endpoints::test))
        .route(
            "/v1/webhook_endpoints/{id}/deliveries",
            get(deliveries::list),
        )
        .route(
            "/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry",
            post(deliveries::retry),
        )
        .route(
            "/v1/webhook_endpoints/{id}/recover",
            post(deliveries::recover),
        )
        .route("/v1/events", get(events::list))
        .route("/v1/events/{id}", get(events::get))
}

/// Cross-origin requests are refused (no CORS headers at all) unless origins are configured.
fn cors(
    origins: &[String],
) -> tower::util::Either<tower_http::cors::CorsLayer, tower::layer::util::Identity> {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    if allowed.is_empty() {
        return tower::util::Either::Right(tower::layer::util::Identity::new());
    }
    tower::util::Either::Left(
        tower_http::cors::CorsLayer::new()
            .allow_origin(allowed)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ]),
    )
}
