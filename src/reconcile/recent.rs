//! The latest reconciliation reports, for the operator console's list.

use sqlx::PgPool;

pub use crate::db::reconciliation::ReportLine;

/// The newest `limit` reports.
pub async fn latest(pool: &PgPool, limit: i64) -> Result<Vec<ReportLine>, sqlx::Error> {
    crate::db::reconciliation::latest_reports(pool, limit).await
}
