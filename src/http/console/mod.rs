//! `/console`: the operator console, server-rendered HTML (maud) with plain forms over the same
//! operator actions as `/ops` and the CLI. Login with an operator key gives a server-side
//! session ([`session`]); every form post is same-origin and carries the session's CSRF token;
//! every answer carries a strict Content-Security-Policy. One small script of our own
//! (`assets/console.js`) refreshes pages while their tab is visible.

mod assets;
mod audit;
mod chart;
mod commission;
mod dead;
mod deliveries;
mod disputes;
mod intent_page;
mod intents;
mod jobs;
mod layout;
mod login;
mod mask;
mod money;
mod queues;
mod reconcile;
pub mod session;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};

use super::AppState;

/// The policy every console answer carries: only our own stylesheet and script, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The `/console` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(queues::overview))
        .route("/console/login", get(login::form).post(login::login))
        .route("/console/logout", post(login::logout))
        .route("/console/assets/console.css", get(assets::css))
        .route("/console/assets/console.js", get(assets::js))
        .route("/console/queues/{queue}/pause", post(queues::pause))
        .route("/console/queues/{queue}/resume", post(queues::resume))
        .route("/console/queues/{queue}/drain", post(queues::drain))
        .route("/console/jobs", get(jobs::list))
        .route("/console/jobs/{id}", get(jobs::show))
        .route("/console/jobs/{id}/reveal", post(jobs::reveal))
        .route("/console/jobs/{id}/retry", post(jobs::retry))
        .route("/console/jobs/{id}/discard", post(jobs::discard))
        .route("/console/dead", get(dead::list))
        .route("/console/dead/preview", post(dead::preview))
        .route("/console/dead/apply", post(dead::apply))
        .route("/console/intents", get(intents::list))
        .route("/console/intents/{id}", get(intents::show))
        .route("/console/intents/{id}/reveal", post(intents::reveal))
        .route("/console/intents/{id}/resolve", post(disputes::resolve))
        .route(
            "/console/intents/{id}/payouts/{payout_id}/ask",
            post(intents::ask_provider),
        )
        .route(
            "/console/intents/{id}/payouts/{payout_id}/resend",
            post(commission::resend),
        )
        .route("/console/discrepancies", get(money::list))
        .route("/console/discrepancies/{id}/resolve", post(money::resolve))
        .route("/console/reconciliations", get(reconcile::list))
        .route("/console/reconciliations/run", post(reconcile::run))
        .route("/console/reconciliations/{id}", get(reconcile::show))
        .route("/console/reconciliations/{id}/csv", get(reconcile::csv))
        .route("/console/audit", get(audit::list))
        .route("/console/deliveries", get(deliveries::list))
        .route("/console/deliveries/{id}/retry", post(deliveries::retry))
        .layer(middleware::from_fn(headers))
}

/// CSP, no caching of pages (they hold account data), no referrer leaving the console.
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
