//! Listing jobs by filter, newest first, one keyset page at a time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{JobFilter, OpsError, cursor};

/// One job as listings show it (no payload; see [`super::inspect`]).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobSummary {
    /// The job id.
    pub id: i64,
    /// Its queue.
    pub queue: String,
    /// Its kind.
    pub kind: String,
    /// `pending`, `running`, `done`, `dead` or `discarded`.
    pub state: String,
    /// Runs so far since it was enqueued or last retried by an operator.
    pub attempts: i32,
    /// Runs allowed before it is dead.
    pub max_attempts: i32,
    /// When it may run next (pending jobs).
    pub run_at: DateTime<Utc>,
    /// The intent it works on, when it has one.
    pub intent_id: Option<Uuid>,
    /// The last failure's error.
    pub last_error: Option<String>,
    /// The worker holding it (running jobs).
    pub locked_by: Option<String>,
    /// Enqueued at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// Done, dead or discarded at.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One page of jobs and the cursor of the next, if there is one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobPage {
    /// Jobs, newest first.
    pub jobs: Vec<JobSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The jobs matching `filter` after `cursor`, at most `limit` of them.
pub async fn list_jobs(
    pool: &PgPool,
    filter: &JobFilter,
    cursor: Option<&str>,
    limit: i64,
) -> Result<JobPage, OpsError> {
    let before = cursor.map(|c| cursor::decode("jobs", c)).transpose()?;
    // One row more than asked says whether another page follows.
    let mut jobs = crate::queue::admin::list(pool, filter, before, limit + 1).await?;
    let next_cursor = if jobs.len() as i64 > limit {
        jobs.truncate(limit as usize);
        jobs.last().map(|job| cursor::encode("jobs", job.id))
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}
