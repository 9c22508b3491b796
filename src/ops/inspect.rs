//! One job in full: its row, payload, every failed attempt's error, and what operators did to it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::{
    OpsError,
    audit::{self, AuditEntry},
    list::{JobSummary, summary_columns},
};

/// A failed run (or a lease rescue), as `malipo_job_attempts` records it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AttemptRecord {
    /// Which run (1-based; restarts at 1 after an operator retry).
    pub attempt: i32,
    /// When it ended.
    pub at: DateTime<Utc>,
    /// `retry`, `exhausted`, `permanent`, `lease_expired`.
    pub outcome: String,
    /// The error.
    pub error: String,
    /// The worker that ran it.
    pub worker: Option<String>,
}

/// A job with everything an operator needs to decide what to do with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobDetail {
    /// The row.
    #[serde(flatten)]
    pub job: JobSummary,
    /// The payload as stored.
    pub payload: serde_json::Value,
    /// The dedupe key, when the job has one.
    pub dedupe_key: Option<String>,
    /// Every recorded attempt, oldest first.
    pub attempt_log: Vec<AttemptRecord>,
    /// Operator actions on this job, oldest first.
    pub operator_actions: Vec<AuditEntry>,
}

/// The job `id`, or `NotFound`.
pub async fn show_job(pool: &PgPool, id: i64) -> Result<JobDetail, OpsError> {
    let job: Option<JobSummary> = sqlx::query_as(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM malipo_jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let job = job.ok_or_else(|| OpsError::NotFound(format!("no job with id {id}")))?;
    let (payload, dedupe_key): (serde_json::Value, Option<String>) =
        sqlx::query_as("SELECT payload, dedupe_key FROM malipo_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await?;
    let attempt_log = sqlx::query_as(
        "SELECT attempt, at, outcome, error, worker FROM malipo_job_attempts
          WHERE job_id = $1 ORDER BY at, attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let operator_actions = audit::for_job(pool, id).await?;
    Ok(JobDetail {
        job,
        payload,
        dedupe_key,
        attempt_log,
        operator_actions,
    })
}
