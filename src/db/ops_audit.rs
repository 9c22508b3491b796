//! The operators' audit log (`malipo_ops_audit`): every operator action, written in the
//! action's own transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// An action as written: `ops::audit::Action` with its actor spelt out.
#[derive(Debug, Clone, Copy)]
pub struct AuditRow<'a> {
    /// `key:<api client id>` or `cli:<os user>`.
    pub actor: &'a str,
    /// The operator key's client id.
    pub client_id: Option<Uuid>,
    /// What was done.
    pub action: &'a str,
    /// The job acted on.
    pub job_id: Option<i64>,
    /// The queue acted on.
    pub queue: Option<&'a str>,
    /// The filter of a bulk action.
    pub filter: &'a serde_json::Value,
    /// Whether it only counted.
    pub dry_run: bool,
    /// Rows affected.
    pub affected: i64,
    /// What else the action reported.
    pub detail: &'a serde_json::Value,
}

/// A recorded action.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The row id.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// `key:<api client id>` or `cli:<os user>`.
    pub actor: String,
    /// The operator key's client id.
    pub client_id: Option<Uuid>,
    /// What was done.
    pub action: String,
    /// The job acted on.
    pub job_id: Option<i64>,
    /// The queue acted on.
    pub queue: Option<String>,
    /// The filter of a bulk action.
    pub filter: serde_json::Value,
    /// Whether it only counted.
    pub dry_run: bool,
    /// Rows affected.
    pub affected: i64,
    /// What else the action reported.
    pub detail: serde_json::Value,
}

/// Writes an operator action to the audit log (`malipo_ops_audit`, migration 0010), in the
/// action's transaction.
pub async fn record_audit(
    executor: impl sqlx::PgExecutor<'_>,
    entry: &AuditRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO malipo_ops_audit (actor, client_id, action, job_id, queue, filter, dry_run, affected, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        entry.actor,
        entry.client_id,
        entry.action,
        entry.job_id,
        entry.queue,
        entry.filter,
        entry.dry_run,
        entry.affected,
        entry.detail,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The audit log below id `before`, newest first, at most `limit` entries.
pub async fn audit_page(
    pool: &PgPool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as!(
        AuditEntry,
        "SELECT id, at, actor, client_id, action, job_id, queue, filter, dry_run, affected, detail
           FROM malipo_ops_audit WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Every audited action on job `id`, oldest first.
pub async fn audit_of_job(pool: &PgPool, id: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as!(
        AuditEntry,
        "SELECT id, at, actor, client_id, action, job_id, queue, filter, dry_run, affected, detail
           FROM malipo_ops_audit WHERE job_id = $1 ORDER BY id",
        id,
    )
    .fetch_all(pool)
    .await
}
