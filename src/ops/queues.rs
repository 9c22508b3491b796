//! Queue overview and pause/resume.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::PgPool;

use super::{
    Actor, JobState, OpsError,
    audit::{self, Action},
    known_queue, known_queues,
};
use crate::queue::pause;

/// One queue at a glance.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct QueueOverview {
    /// The queue.
    pub queue: String,
    /// Whether workers are told not to claim from it.
    pub paused: bool,
    /// Jobs waiting, runnable now or later.
    pub pending: i64,
    /// Of the pending jobs, those due now.
    pub runnable: i64,
    /// Jobs claimed by a worker.
    pub running: i64,
    /// Finished jobs not yet pruned.
    pub done: i64,
    /// Jobs that failed for good (the dead-letter count).
    pub dead: i64,
    /// Jobs discarded by an operator.
    pub discarded: i64,
    /// Seconds the oldest runnable job has waited since it came due; 0 when none waits.
    pub oldest_pending_age_secs: f64,
}

/// Every known queue (and any other with rows), with counts per state.
pub async fn overview(pool: &PgPool) -> Result<Vec<QueueOverview>, sqlx::Error> {
    let mut by_queue: BTreeMap<String, QueueOverview> = known_queues()
        .into_iter()
        .map(|queue| {
            (
                queue.to_owned(),
                QueueOverview {
                    queue: queue.to_owned(),
                    ..QueueOverview::default()
                },
            )
        })
        .collect();
    let counts = crate::queue::admin::state_counts(pool).await?;
    let paused = crate::queue::admin::pause_flags(pool).await?;
    for crate::queue::admin::StateCount {
        queue,
        state,
        count,
        runnable,
        oldest_runnable_secs: age,
    } in counts
    {
        let row = by_queue
            .entry(queue.clone())
            .or_insert_with(|| QueueOverview {
                queue,
                ..QueueOverview::default()
            });
        match state {
            JobState::Pending => {
                row.pending = count;
                row.runnable = runnable;
                row.oldest_pending_age_secs = age.unwrap_or(0.0).max(0.0);
            }
            JobState::Running => row.running = count,
            JobState::Done => row.done = count,
            JobState::Dead => row.dead = count,
            JobState::Discarded => row.discarded += count,
        }
    }
    for crate::queue::admin::PauseFlag {
        name: queue,
        paused: flag,
    } in paused
    {
        if let Some(row) = by_queue.get_mut(&queue) {
            row.paused = flag;
        }
    }
    Ok(by_queue.into_values().collect())
}

/// Pauses (`paused = true`) or resumes `queue`, with its audit row, in one transaction.
pub async fn set_paused(
    pool: &PgPool,
    actor: &Actor,
    queue: &str,
    paused: bool,
) -> Result<(), OpsError> {
    let queue = known_queue(queue)?;
    let mut tx = pool.begin().await?;
    pause::set_paused(&mut *tx, queue, paused).await?;
    audit::record(
        &mut *tx,
        &Action {
            actor,
            action: if paused {
                "queue.pause"
            } else {
                "queue.resume"
            },
            job_id: None,
            queue: Some(queue),
            filter: serde_json::Value::Null,
            dry_run: false,
            affected: 1,
            detail: serde_json::Value::Null,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
