//! The operators' audit log (`malipo_ops_audit`): every operator action, written in the
//! action's own transaction.

use sqlx::PgPool;

use crate::ops::audit::{Action, AuditEntry};

/// Writes an operator action to the audit log (`malipo_ops_audit`, migration 0010), in the
/// action's transaction.
pub async fn record_audit(
    executor: impl sqlx::PgExecutor<'_>,
    entry: &Action<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO malipo_ops_audit (actor, client_id, action, job_id, queue, filter, dry_run, affected, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        entry.actor.label(),
        entry.actor.client_id(),
        entry.action,
        entry.job_id,
        entry.queue,
        &entry.filter,
        entry.dry_run,
        entry.affected,
        &entry.detail,
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
