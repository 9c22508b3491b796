//! The process-wide Prometheus recorder and the helpers the rest of malipo records through;
//! below every other module, so the queue and the provider adapters can record without
//! reaching up into `ops` (which renders the metrics and refreshes the gauges at scrape time).

use std::{sync::OnceLock, time::Duration};

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Buckets for every histogram, in seconds (and attempts): 1 ms to 60 s covers handler runs,
/// provider calls and HTTP requests alike.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once (later calls return the same handle). Metrics recorded
/// before the first call are dropped, so every entry point calls it at startup.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => handle,
            Err(error) => {
                // Another recorder owns the process (an embedding application): render ours empty.
                tracing::warn!(%error, "metrics recorder not installed");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// Records one job run: how long the handler took and the attempt it was, by outcome
/// (`done`, `retried`, `snoozed`, `dead`).
pub fn job_finished(kind: &str, outcome: &'static str, duration: Duration, attempt: i32) {
    let labels = [("kind", kind.to_owned()), ("outcome", outcome.to_owned())];
    histogram!("malipo_job_duration_seconds", &labels).record(duration.as_secs_f64());
    histogram!("malipo_job_attempts", &labels).record(f64::from(attempt));
}

/// Counts one webhook delivery by provider and outcome (`accepted`, `duplicate`,
/// `bad_signature`, `malformed`, …).
pub fn webhook_event(provider: &str, outcome: &str) {
    counter!(
        "malipo_webhook_events_total",
        "provider" => provider.to_owned(),
        "outcome" => outcome.to_owned()
    )
    .increment(1);
}

/// Records one outbound provider call by provider and outcome (`2xx`, `4xx`, `5xx`,
/// `transport_error`).
pub fn provider_call(provider: &str, outcome: &'static str, duration: Duration) {
    histogram!(
        "malipo_provider_request_duration_seconds",
        "provider" => provider.to_owned(),
        "outcome" => outcome
    )
    .record(duration.as_secs_f64());
}

/// Records one HTTP request by method, matched route template and status.
pub fn http_request(method: &str, route: &str, status: u16, duration: Duration) {
    histogram!(
        "malipo_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .record(duration.as_secs_f64());
}
