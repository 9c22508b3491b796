//! Client notifications: events (written by `malipo_record_event` in the statement of the
//! change they report; transitions and payout moves queue their deliveries' jobs in that
//! statement too, see `transitions.rs` and `payouts.rs`), the other changes' delivery jobs,
//! and the reads behind `GET /v1/events`.

use chrono::{DateTime, Utc};
use malipo_jobs::DeliverEvent;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// An event as stored.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Also its `sequence` and, as `evt_<id>`, its `webhook-id`.
    pub id: i64,
    /// The client it belongs to.
    pub client_id: Uuid,
    /// `intent.<status>`, `payout.<status>`, `webhook.test`, …
    pub event_type: String,
    /// The intent it is about, when any.
    pub intent_id: Option<Uuid>,
    /// The object's snapshot at the change.
    pub data: Value,
    /// When the change committed (its transaction's time).
    pub created_at: DateTime<Utc>,
}

/// Enqueues a `deliver_event` job per delivery, in the caller's transaction.
pub async fn enqueue_deliveries(
    conn: &mut PgConnection,
    deliveries: &[Uuid],
) -> Result<(), sqlx::Error> {
    let rounds: Vec<(Uuid, i32)> = deliveries.iter().map(|&id| (id, 0)).collect();
    enqueue_rounds(conn, &rounds).await
}

/// Enqueues a `deliver_event` job per `(delivery, round)`, in the caller's transaction.
pub async fn enqueue_rounds(
    conn: &mut PgConnection,
    rounds: &[(Uuid, i32)],
) -> Result<(), sqlx::Error> {
    if rounds.is_empty() {
        return Ok(());
    }
    let jobs: Vec<DeliverEvent> = rounds
        .iter()
        .map(|&(delivery_id, round)| DeliverEvent { delivery_id, round })
        .collect();
    crate::queue::enqueue_batch(conn, &jobs).await?;
    Ok(())
}

/// Records an event outside any state change (`webhook.test`), delivered to `endpoint` only.
pub async fn record_test(
    conn: &mut PgConnection,
    client: Uuid,
    endpoint: Uuid,
    data: Value,
) -> Result<(i64, Uuid), sqlx::Error> {
    let row = sqlx::query!(
        "WITH event AS (
            INSERT INTO events (client_id, type, object_id, data)
            VALUES ($1, $3, $2, $4) RETURNING id)
         INSERT INTO webhook_deliveries (event_id, endpoint_id)
         SELECT id, $2 FROM event RETURNING event_id, id",
        client,
        endpoint,
        crate::domain::event_type::WEBHOOK_TEST,
        data,
    )
    .fetch_one(&mut *conn)
    .await?;
    let (event, delivery) = (row.event_id, row.id);
    enqueue_deliveries(conn, &[delivery]).await?;
    Ok((event, delivery))
}

/// Filters of `GET /v1/events`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this type.
    pub event_type: Option<String>,
    /// Only about this intent.
    pub intent_id: Option<Uuid>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Keyset cursor: only ids beyond this one (below when newest first, above otherwise).
    pub after_id: Option<i64>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    /// Page size.
    pub limit: i64,
}

/// One page of a client's events.
pub async fn list(
    conn: &mut PgConnection,
    client: Uuid,
    filter: &EventFilter,
) -> Result<Vec<EventRow>, sqlx::Error> {
    // Two statements rather than a composed one: each keeps its own plan on the (client, id)
    // index, and the order is a keyword, not a parameter.
    if filter.oldest_first {
        sqlx::query_as!(
            EventRow,
            r#"SELECT id, client_id, type AS event_type, intent_id, data, created_at FROM events
              WHERE client_id = $1 AND ($2::text IS NULL OR type = $2)
                AND ($3::uuid IS NULL OR intent_id = $3) AND ($4::timestamptz IS NULL OR created_at >= $4)
                AND ($5::bigint IS NULL OR id > $5)
              ORDER BY id ASC LIMIT $6"#,
            client,
            filter.event_type.as_deref(),
            filter.intent_id,
            filter.since,
            filter.after_id,
            filter.limit,
        )
        .fetch_all(conn)
        .await
    } else {
        sqlx::query_as!(
            EventRow,
            r#"SELECT id, client_id, type AS event_type, intent_id, data, created_at FROM events
              WHERE client_id = $1 AND ($2::text IS NULL OR type = $2)
                AND ($3::uuid IS NULL OR intent_id = $3) AND ($4::timestamptz IS NULL OR created_at >= $4)
                AND ($5::bigint IS NULL OR id < $5)
              ORDER BY id DESC LIMIT $6"#,
            client,
            filter.event_type.as_deref(),
            filter.intent_id,
            filter.since,
            filter.after_id,
            filter.limit,
        )
        .fetch_all(conn)
        .await
    }
}

/// One of a client's events.
pub async fn get(
    conn: &mut PgConnection,
    client: Uuid,
    id: i64,
) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        "SELECT id, client_id, type AS event_type, intent_id, data, created_at FROM events
          WHERE client_id = $1 AND id = $2",
        client,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// An event by id alone (the delivery job).
pub async fn load(conn: &mut PgConnection, id: i64) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        "SELECT id, client_id, type AS event_type, intent_id, data, created_at FROM events WHERE id = $1",
        id,
    )
    .fetch_optional(conn)
    .await
}
