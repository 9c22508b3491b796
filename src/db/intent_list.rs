//! `GET /v1/intents`: one client's intents, newest first, keyset-paged on the id (UUIDv7, so
//! creation order) with no offsets.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Filters of the listing; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct IntentFilter {
    /// Only in this status.
    pub status: Option<String>,
    /// Only through this provider.
    pub provider: Option<String>,
    /// Only with this client reference.
    pub reference: Option<String>,
    /// Created at or after.
    pub created_gte: Option<DateTime<Utc>>,
    /// Created before.
    pub created_lt: Option<DateTime<Utc>>,
    /// Only ids below this one (the previous page's last).
    pub before_id: Option<Uuid>,
    /// Page size.
    pub limit: i64,
}

/// The ids of one page of `client`'s intents, newest first.
pub async fn page(
    conn: &mut PgConnection,
    client: Uuid,
    filter: &IntentFilter,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM intents
          WHERE client_id = $1
            AND ($2::text IS NULL OR status = $2)
            AND ($3::text IS NULL OR provider = $3)
            AND ($4::text IS NULL OR reference = $4)
            AND ($5::timestamptz IS NULL OR created_at >= $5)
            AND ($6::timestamptz IS NULL OR created_at < $6)
            AND ($7::uuid IS NULL OR id < $7)
          ORDER BY id DESC LIMIT $8",
        client,
        filter.status.as_deref(),
        filter.provider.as_deref(),
        filter.reference.as_deref(),
        filter.created_gte,
        filter.created_lt,
        filter.before_id,
        filter.limit,
    )
    .fetch_all(conn)
    .await
}
