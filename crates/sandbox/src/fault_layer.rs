//! The middleware in front of every provider API route: counts the request, then applies the
//! provider's fault knobs (latency, rate limit, injected 429/5xx, held "timeouts") and answers
//! errors in that provider's own shape.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::faults::Provider;
use super::limiter::Admission;
use super::mpesa;
use super::shared::Shared;

/// Paystack's published test-mode limit, reported when no limit is configured.
const PAYSTACK_DEFAULT_LIMIT: u32 = 100;

/// What the middleware needs to know about its provider.
#[derive(Clone)]
pub(crate) struct FaultContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) provider: Provider,
    /// Daraja's spike-arrest status (see `MpesaSettings::spike_arrest_status`).
    pub(crate) spike_arrest_status: StatusCode,
}

pub(crate) async fn apply_faults(
    State(ctx): State<FaultContext>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let shared = &ctx.shared;
    shared
        .counters
        .request(format!("{} {route}", request.method()));
    let faults = shared.faults.get(ctx.provider);

    let latency = faults.latency + shared.duration_between(Duration::ZERO, faults.latency_jitter);
    if !latency.is_zero() && !shared.sleep(latency).await {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }

    let mut quota = None;
    if let Some(rate) = faults.max_requests_per_second {
        match shared.limiter.admit(ctx.provider, rate) {
            Admission::Allowed { remaining } => quota = Some((rate, remaining)),
            Admission::Limited { retry_after } => {
                shared.counters.bump(|c| c.rate_limited += 1);
                return too_many_requests(&ctx, rate, retry_after);
            }
        }
    }
    if shared.chance(faults.rate_limit_probability) {
        shared.counters.bump(|c| c.injected_429 += 1);
        let rate = faults
            .max_requests_per_second
            .unwrap_or(PAYSTACK_DEFAULT_LIMIT);
        return too_many_requests(&ctx, rate, Duration::from_secs(1));
    }
    if shared.chance(faults.server_error_probability) {
        shared.counters.bump(|c| c.injected_5xx += 1);
        return server_error(&ctx);
    }
    if shared.chance(faults.server_error_after_action_probability) {
        // The action runs to the end (a transfer is made), then the answer is lost to a 5xx.
        let _ = next.run(request).await;
        shared.counters.bump(|c| c.injected_5xx_after_action += 1);
        return server_error(&ctx);
    }
    if shared.chance(faults.timeout_probability) {
        shared.counters.bump(|c| c.injected_timeouts += 1);
        // Acting first and holding the answer afterwards is the in-doubt case: the money moved
        // but the client only saw its own timeout.
        let response = if faults.timeout_performs_action {
            next.run(request).await
        } else {
            (StatusCode::GATEWAY_TIMEOUT, "upstream request timeout").into_response()
        };
        shared.sleep(faults.timeout_hold).await;
        return response;
    }

    let mut response = next.run(request).await;
    if let (Provider::Paystack, Some((rate, remaining))) = (ctx.provider, quota) {
        rate_limit_headers(&mut response, rate, remaining, Duration::from_secs(1));
    }
    response
}

/// The provider's 429 (Daraja: spike arrest, with its configured status).
fn too_many_requests(ctx: &FaultContext, rate: u32, retry_after: Duration) -> Response {
    match ctx.provider {
        Provider::Paystack => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "status": false,
                    "message": "Rate limit exceeded!",
                    "meta": {"nextStep": "Wait a few minutes and try the API call again"},
                    "type": "api_error",
                    "code": "rate_limited",
                })),
            )
                .into_response();
            rate_limit_headers(&mut response, rate, 0, retry_after);
            response
        }
        Provider::Mpesa => mpesa::error(
            &ctx.shared,
            ctx.spike_arrest_status,
            "500.003.02",
            "Error: Spike arrest violation",
        ),
        Provider::Fincra => super::fincra::error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "TOO_MANY_REQUESTS",
        ),
        Provider::Lnbits => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": format!("Rate limit exceeded: {rate} per 1 second")})),
        )
            .into_response(),
    }
}

/// `x-ratelimit-*` as Paystack sends them; `reset` in whole seconds, at least 1.
fn rate_limit_headers(response: &mut Response, limit: u32, remaining: u32, reset: Duration) {
    let reset = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset.max(1)));
}

/// A 5xx: half the time the provider's JSON, half the time a gateway's HTML page, because
/// clients meet both.
fn server_error(ctx: &FaultContext) -> Response {
    if ctx.shared.chance(0.5) {
        let html = "<html><head><title>502 Bad Gateway</title></head>\
                    <body><center><h1>502 Bad Gateway</h1></center></body></html>";
        let mut response = (StatusCode::BAD_GATEWAY, html).into_response();
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("text/html"));
        return response;
    }
    match ctx.provider {
        Provider::Paystack => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": false, "message": "An error occurred while processing your request"})),
        )
            .into_response(),
        Provider::Mpesa => mpesa::error(
            &ctx.shared,
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.003.1001",
            "Internal Server Error",
        ),
        Provider::Fincra => super::fincra::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable, please try again",
            "SERVICE_UNAVAILABLE",
        ),
        Provider::Lnbits => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"detail": "Internal Server Error"})),
        )
            .into_response(),
    }
}
