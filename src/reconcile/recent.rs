//! The latest reconciliation reports, for the operator console's list.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// A stored report without its items.
#[derive(Debug, Clone)]
pub struct ReportLine {
    /// The report id.
    pub id: Uuid,
    /// Which provider it reconciled.
    pub provider: String,
    /// From.
    pub window_start: DateTime<Utc>,
    /// Until.
    pub window_end: DateTime<Utc>,
    /// Items per class.
    pub summary: Value,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// The newest `limit` reports.
pub async fn latest(pool: &PgPool, limit: i64) -> Result<Vec<ReportLine>, sqlx::Error> {
    crate::db::reconciliation::latest_reports(pool, limit).await
}
