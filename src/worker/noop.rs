//! `noop`: the benchmark and test job. An empty tag succeeds at once; other tags script a
//! behaviour so tests can drive the queue through real worker processes:
//! `sleep:<ms>`, `effect-then-sleep:<ms>`, `fail` (retryable), `permanent`, `snooze:<ms>`,
//! `panic`.

use std::time::Duration;

use malipo_jobs::Noop;

use super::WorkerState;
use crate::queue::{JobContext, JobError};

/// Does what the tag says.
pub async fn run(job: Noop, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let (verb, argument) = job.tag.split_once(':').unwrap_or((job.tag.as_str(), ""));
    let millis = || Duration::from_millis(argument.parse().unwrap_or(0));
    match verb {
        "" => Ok(()),
        "sleep" => {
            tokio::time::sleep(millis()).await;
            // Record the run so tests can count executions per job.
            crate::queue::admin::record_noop_run(
                &context.app.pool,
                context.job_id,
                context.attempt,
            )
            .await?;
            Ok(())
        }
        "effect-then-sleep" => {
            // The run's record is its effect, committed with the job's own completion; the
            // sleep after it is the window in which a test kills the process.
            let mut tx = context.app.pool.begin().await?;
            crate::queue::admin::record_noop_run(&mut *tx, context.job_id, context.attempt).await?;
            context.complete_within(&mut tx).await?;
            tx.commit().await?;
            tokio::time::sleep(millis()).await;
            Ok(())
        }
        "fail" => Err(JobError::Retry(
            anyhow::anyhow!("scripted failure on attempt {}", context.attempt),
            None,
        )),
        "permanent" => Err(JobError::permanent("scripted permanent failure")),
        "snooze" => Err(JobError::Snooze(millis())),
        "panic" => panic!("scripted panic"),
        other => Err(JobError::permanent(format!("unknown noop tag `{other}`"))),
    }
}
