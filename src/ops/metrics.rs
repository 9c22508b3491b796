//! Prometheus metrics: the gauges refreshed by one query at scrape time, and the rendering;
//! the recorder and the helpers the rest of malipo records through are `telemetry::metrics`,
//! re-exported here.
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

use std::{collections::HashSet, time::Duration};

use metrics::gauge;
use sqlx::PgPool;
use tokio::sync::Mutex;

use super::queues;
use crate::queue::filter::JobState;
pub use crate::telemetry::metrics::{
    http_request, install, job_finished, provider_call, webhook_event,
};

/// Gauge label sets written by the last scrape, so a queue/state that has emptied is set to
/// 0 instead of keeping its old value; the lock also keeps two scrapes from interleaving.
static LAST_GAUGES: Mutex<Option<HashSet<(String, String)>>> = Mutex::const_new(None);

/// Refreshes the queue gauges from `pool` and renders every metric in the Prometheus text format.
pub async fn render(pool: &PgPool, stuck_after: Duration) -> Result<String, sqlx::Error> {
    let handle = install();
    let mut last = LAST_GAUGES.lock().await;
    let overview = queues::overview(pool).await?;
    let mut written = HashSet::new();
    for queue in &overview {
        let states = [
            (JobState::Pending, queue.pending),
            (JobState::Running, queue.running),
            (JobState::Done, queue.done),
            (JobState::Dead, queue.dead),
            (JobState::Discarded, queue.discarded),
        ];
        for (state, count) in states {
            let state = state.as_str();
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
