//! The operator audit log: one row per action, written in the action's own transaction so the
//! change and its record commit together; listable newest first.

use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

use super::{Actor, OpsError, cursor};
pub use crate::db::ops_audit::AuditEntry;

/// What is being recorded.
#[derive(Debug, Clone)]
pub struct Action<'a> {
    /// Who.
    pub actor: &'a Actor,
    /// What: `job.retry`, `jobs.discard`, `queue.pause`, …
    pub action: &'static str,
    /// The job, for single-job actions.
    pub job_id: Option<i64>,
    /// The queue, for queue actions.
    pub queue: Option<&'a str>,
    /// The filter of a bulk action.
    pub filter: serde_json::Value,
    /// Whether it only counted.
    pub dry_run: bool,
    /// Rows affected (or that would be, for a dry run).
    pub affected: i64,
    /// Anything else the action reported.
    pub detail: serde_json::Value,
}

impl<'a> Action<'a> {
    /// `action` on job `id`, which was in state `from`.
    pub fn on_job(actor: &'a Actor, action: &'static str, id: i64, from: super::JobState) -> Self {
        Self {
            actor,
            action,
            job_id: Some(id),
            queue: None,
            filter: serde_json::Value::Null,
            dry_run: false,
            affected: 1,
            detail: serde_json::json!({ "from_state": from }),
        }
    }

    /// `action` on the jobs matching `filter`.
    pub fn on_matching(
        actor: &'a Actor,
        action: &'static str,
        filter: &'a super::JobFilter,
        dry_run: bool,
        affected: i64,
    ) -> Self {
        Self {
            actor,
            action,
            job_id: None,
            queue: filter.queue.as_deref(),
            filter: filter.to_json(),
            dry_run,
            affected,
            detail: serde_json::Value::Null,
        }
    }
}

/// One page of the audit log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Writes `action` (pass the action's transaction).
pub async fn record<'c>(
    executor: impl PgExecutor<'c>,
    action: &Action<'_>,
) -> Result<(), sqlx::Error> {
    let actor = action.actor.label();
    let row = crate::db::ops_audit::AuditRow {
        actor: &actor,
        client_id: action.actor.client_id(),
        action: action.action,
        job_id: action.job_id,
        queue: action.queue,
        filter: &action.filter,
        dry_run: action.dry_run,
        affected: action.affected,
        detail: &action.detail,
    };
    crate::db::ops_audit::record_audit(executor, &row).await
}

/// The log after `cursor`, newest first, at most `limit` entries.
pub async fn list(pool: &PgPool, cursor: Option<&str>, limit: i64) -> Result<AuditPage, OpsError> {
    let before = cursor.map(|c| cursor::decode("audit", c)).transpose()?;
    let mut entries = crate::db::ops_audit::audit_page(pool, before, limit + 1).await?;
    let next_cursor = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries
            .last()
            .map(|entry| cursor::encode("audit", entry.id))
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}

/// Every action on job `id`, oldest first.
pub async fn for_job(pool: &PgPool, id: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    crate::db::ops_audit::audit_of_job(pool, id).await
}
