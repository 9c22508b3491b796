//! Listing jobs by filter, newest first, one keyset page at a time.

use serde::Serialize;
use sqlx::PgPool;

use super::{JobFilter, OpsError, cursor};
pub use crate::queue::admin::JobSummary;

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
