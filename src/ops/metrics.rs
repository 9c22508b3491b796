//! Prometheus metrics: the process-wide recorder, the helpers the rest of malipo records
//! through, and the queue gauges refreshed by one query at scrape time.
//!
//! Series (all prefixed `malipo_`):
//! - `queue_jobs{queue,state}`, `queue_oldest_pending_age_seconds{queue}`, `queue_paused{queue}`,
//!   `dead_jobs{queue}` — gauges read from the database when scraped;
//! - `job_duration_seconds{kind,outcome}`, `job_attempts{kind,outcome}` — histograms per run;
//! - `discrepancies_open{kind}`, `intents_needing_attention{reason}` — gauges read when scraped;
//! - `webhook_events_total{provider,outcome}` — counter;
//! - notifications (`notify::metrics`): `notification_attempts_total{outcome}`,
//!   `webhook_endpoints_disabled_total{reason}`, and gauges read when scraped;
//! - `provider_request_duration_seconds{provider,outcome}` — histogram per outbound call;
//! - `http_request_duration_seconds{method,route,status}` — histogram per request.

use std::{collections::HashSet, sync::OnceLock, time::Duration};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tokio::sync::Mutex;

use super::queues;

/// Buckets for every histogram, in seconds (and attempts): 1 ms to 60 s covers handler runs,
/// provider calls and HTTP requests alike.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Gauge label sets written by the last scrape, so a queue/state that has emptied is set to
/// 0 instead of keeping its old value; the lock also keeps two scrapes from interleaving.
static LAST_GAUGES: Mutex<Option<HashSet<(String, String)>>> = Mutex::const_new(None);

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

/// Refreshes the queue gauges from `pool` and renders every metric in the Prometheus text format.
pub async fn render(pool: &PgPool, stuck_after: Duration) -> Result<String, sqlx::Error> {
    let handle = install();
    let mut last = LAST_GAUGES.lock().await;
    let overview = queues::overview(pool).await?;
    let mut written = HashSet::new();
    for queue in &overview {
        let states = [
            ("pending", queue.pending),
            ("running", queue.running),
            ("done", queue.done),
            ("dead", queue.dead),
            ("discarded", queue.discarded),
        ];
        for (state, count) in states {
            gauge!("malipo_queue_jobs", "queue" => queue.queue.clone(), "state" => state)
                .set(count as f64);
            written.insert((queue.queue.clone(), state.to_owned()));
        }
        gauge!("malipo_queue_oldest_pending_age_seconds", "queue" => queue.queue.clone())
            .set(queue.oldest_pending_age_secs);
        gauge!("malipo_queue_paused", "queue" => queue.queue.clone()).set(if queue.paused {
            1.0
        } else {
            0.0
        });
        gauge!("malipo_dead_jobs", "queue" => queue.queue.clone()).set(queue.dead as f64);
    }
    for (queue, state) in last.iter().flatten() {
        if !written.contains(&(queue.clone(), state.clone())) {
            gauge!("malipo_queue_jobs", "queue" => queue.clone(), "state" => state.clone())
                .set(0.0);
        }
    }
    *last = Some(written);
    for (kind, open) in crate::db::discrepancies::open_counts(pool).await? {
        gauge!("malipo_discrepancies_open", "kind" => kind.as_str()).set(open as f64);
    }
    match super::money::stuck_counts(pool, stuck_after).await {
        Ok(counts) => {
            for (reason, count) in counts {
                gauge!("malipo_intents_needing_attention", "reason" => reason).set(count as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "could not count stuck intents"),
    }
    crate::notify::metrics::refresh(pool).await?;
    handle.run_upkeep();
    Ok(handle.render())
}
