//! `reconcile_mpesa`: one reconciliation run (periodic, one per window across all workers, or
//! queued by an operator).

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_jobs::ReconcileMpesa;

use super::WorkerState;
use crate::config::ReconcileSettings;
use crate::{
    queue::{JobContext, JobError},
    reconcile::mpesa::{self, Options},
};

/// Reconciles from `since` (default: one period before the window) until now.
#[tracing::instrument(skip_all, fields(window = %job.window_start))]
pub async fn run(job: ReconcileMpesa, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let options = options(&job, &context.app.reconcile)?;
    mpesa::run(&context.app, options).await?;
    Ok(())
}

/// The job's options: `since`, else one period before its window start.
pub fn options(job: &ReconcileMpesa, settings: &ReconcileSettings) -> Result<Options, JobError> {
    let period = settings.mpesa_every;
    let parse = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| JobError::permanent(format!("bad time `{text}`: {e}")))
    };
    let window_start = parse(&job.window_start)?;
    let since = match &job.since {
        Some(since) => parse(since)?,
        None => window_start - chrono::Duration::from_std(period).unwrap_or_default(),
    };
    Ok(Options {
        since,
        until: Utc::now(),
        pending_after: job
            .pending_after_secs
            .map(Duration::from_secs)
            .unwrap_or(settings.mpesa_pending_after),
    })
}
