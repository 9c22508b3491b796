//! One job in full: its row, payload, every failed attempt's error, and what operators did to it.

use serde::Serialize;
use sqlx::PgPool;

use super::{
    OpsError,
    audit::{self, AuditEntry},
    list::JobSummary,
};
use crate::queue::admin;
pub use crate::queue::admin::AttemptRecord;

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
    let job = admin::summary(pool, id).await?;
    let job = job.ok_or_else(|| OpsError::NotFound(format!("no job with id {id}")))?;
    let admin::Payload {
        payload,
        dedupe_key,
    } = admin::payload(pool, id).await?;
    let attempt_log = admin::attempts(pool, id).await?;
    let operator_actions = audit::for_job(pool, id).await?;
    Ok(JobDetail {
        job,
        payload,
        dedupe_key,
        attempt_log,
        operator_actions,
    })
}
