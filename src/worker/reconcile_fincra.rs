//! `reconcile_fincra`: one Fincra reconciliation run (periodic, one per window across all
//! workers, or queued by an operator).

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_jobs::ReconcileFincra;

use super::WorkerState;
use crate::config::ReconcileSettings;
use crate::{
    queue::{JobContext, JobError},
    reconcile::fincra::{self, Options},
};

/// Reconciles the window the job names.
#[tracing::instrument(skip_all, fields(window = %job.window_start))]
pub async fn run(job: ReconcileFincra, context: JobContext<WorkerState>) -> Result<(), JobError> {
    fincra::run(&context.app, options(&job, &context.app.reconcile)?).await?;
    Ok(())
}

/// The job's options: `since`, else the recheck window before now.
pub fn options(job: &ReconcileFincra, settings: &ReconcileSettings) -> Result<Options, JobError> {
    let until = Utc::now();
    let since = match &job.since {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| JobError::permanent(format!("bad time `{text}`: {e}")))?,
        None => {
            until - chrono::Duration::from_std(settings.fincra_recheck_window).unwrap_or_default()
        }
    };
    Ok(Options {
        since,
        until,
        pending_after: job
            .pending_after_secs
            .map(Duration::from_secs)
            .unwrap_or(settings.fincra_pending_after),
    })
}

/// Enqueues one `reconcile_fincra` per period; its dedupe key is the period's start, so
/// however many workers run this, each window is reconciled once.
pub fn spawn_schedule(pool: sqlx::PgPool, period: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30).min(period));
        loop {
            tick.tick().await;
            let period_secs = i64::try_from(period.as_secs().max(1)).unwrap_or(600);
            let now = Utc::now().timestamp();
            let Some(slot) = DateTime::from_timestamp(now - now.rem_euclid(period_secs), 0) else {
                continue;
            };
            let job = ReconcileFincra {
                window_start: slot.to_rfc3339(),
                since: None,
                pending_after_secs: None,
            };
            let enqueued = async {
                let mut conn = pool.acquire().await?;
                crate::queue::enqueue(&mut conn, &job, crate::queue::EnqueueOptions::default())
                    .await
            };
            if let Err(error) = enqueued.await {
                tracing::warn!(%error, "could not schedule Fincra reconciliation");
            }
        }
    });
}
