//! Client webhook endpoints: where a client's events are sent, with sealed signing secrets.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// An endpoint as stored (the secrets stay sealed).
#[derive(Debug, Clone)]
pub struct EndpointRow {
    /// The id.
    pub id: Uuid,
    /// Its owner.
    pub client_id: Uuid,
    /// Where events go.
    pub url: String,
    /// The types it wants; empty means all.
    pub event_types: Vec<String>,
    /// The client's note.
    pub description: Option<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Why malipo disabled it (410, or failing for days).
    pub disabled_reason: Option<String>,
    /// The current secret, sealed.
    pub secret_sealed: Vec<u8>,
    /// The secret before the last rotation, sealed, while its grace lasts.
    pub previous_secret_sealed: Option<Vec<u8>>,
    /// When the previous secret stops being used.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Since when every attempt has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// An [`EndpointRow`] query: `$before` + the column list + `$after`, spelt as literals so the
/// macro checks the whole statement.
macro_rules! endpoint_query {
    ($before:literal, $after:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            EndpointRow,
            $before
                + "id, client_id, url, event_types, description, enabled, disabled_reason, secret_sealed,
                   previous_secret_sealed, previous_secret_until, failing_since, created_at"
                + $after
            $(, $arg)*
        )
    };
}

/// What a client asks for when creating an endpoint.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// Where events go (already checked).
    pub url: String,
    /// The types wanted; empty means all.
    pub event_types: Vec<String>,
    /// A note.
    pub description: Option<String>,
}

/// Inserts an endpoint with its sealed secret.
pub async fn insert(
    conn: &mut PgConnection,
    client: Uuid,
    new: &NewEndpoint,
    secret_sealed: &[u8],
) -> Result<EndpointRow, sqlx::Error> {
    endpoint_query!(
        "INSERT INTO webhook_endpoints (id, client_id, url, event_types, description, secret_sealed)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        "",
        Uuid::now_v7(),
        client,
        &new.url,
        &new.event_types,
        new.description.as_deref(),
        secret_sealed,
    )
    .fetch_one(conn)
    .await
}

/// A client's endpoints (not deleted), oldest first.
pub async fn list(conn: &mut PgConnection, client: Uuid) -> Result<Vec<EndpointRow>, sqlx::Error> {
    endpoint_query!(
        "SELECT ",
        " FROM webhook_endpoints WHERE client_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
        client,
    )
    .fetch_all(conn)
    .await
}

/// One of a client's endpoints (`None` for another client's, or a deleted one).
pub async fn get(
    conn: &mut PgConnection,
    client: Uuid,
    id: Uuid,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    endpoint_query!(
        "SELECT ",
        " FROM webhook_endpoints WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL",
        id,
        client,
    )
    .fetch_optional(conn)
    .await
}

/// An endpoint by id alone, deleted or not (the delivery job).
pub async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Option<EndpointRow>, sqlx::Error> {
    endpoint_query!(
        "SELECT ",
        " FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL",
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The fields `PATCH` may change; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    /// A new URL (already checked).
    pub url: Option<String>,
    /// New types.
    pub event_types: Option<Vec<String>>,
    /// Enable or disable; enabling clears the reason and the failure streak.
    pub enabled: Option<bool>,
    /// A new note.
    pub description: Option<String>,
}

/// Applies `change` to one of a client's endpoints.
pub async fn update(
    conn: &mut PgConnection,
    client: Uuid,
    id: Uuid,
    change: &EndpointChange,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    endpoint_query!(
        "UPDATE webhook_endpoints SET
            url = coalesce($3, url),
            event_types = coalesce($4, event_types),
            description = coalesce($6, description),
            enabled = coalesce($5, enabled),
            disabled_reason = CASE WHEN $5 THEN NULL WHEN $5 = false THEN 'disabled by the client' ELSE disabled_reason END,
            failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END,
            updated_at = now()
          WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL
          RETURNING ",
        "",
        id,
        client,
        change.url.as_deref(),
        change.event_types.as_deref(),
        change.enabled,
        change.description.as_deref(),
    )
    .fetch_optional(conn)
    .await
}

/// Deletes an endpoint (kept for its deliveries' history; never delivered to again).
pub async fn delete(conn: &mut PgConnection, client: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE webhook_endpoints SET deleted_at = now(), enabled = false, updated_at = now()
          WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL",
        id,
        client,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the secret; the old one keeps signing (second in the header) for `grace_secs`.
pub async fn rotate(
    conn: &mut PgConnection,
    client: Uuid,
    id: Uuid,
    new_sealed: &[u8],
    grace_secs: i64,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    endpoint_query!(
        "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed,
                previous_secret_until = now() + make_interval(secs => $4),
                secret_sealed = $3, updated_at = now()
          WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL
          RETURNING ",
        "",
        id,
        client,
        new_sealed,
        grace_secs as f64,
    )
    .fetch_optional(conn)
    .await
}

/// Disables an endpoint with malipo's reason (410 Gone, or failing for days).
pub async fn disable(conn: &mut PgConnection, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
          WHERE id = $1 AND enabled",
        id,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an attempt's outcome on the endpoint's failure streak; returns since when it has
/// been failing (`None` after a success).
pub async fn note_outcome(
    conn: &mut PgConnection,
    id: Uuid,
    succeeded: bool,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE webhook_endpoints
            SET failing_since = CASE WHEN $2 THEN NULL ELSE coalesce(failing_since, now()) END
          WHERE id = $1 RETURNING failing_since",
        id,
        succeeded,
    )
    .fetch_one(conn)
    .await
}

/// Whether any endpoint exists (startup refuses to run without `MALIPO_SECRETS_KEY` then).
pub async fn any_exist(pool: &sqlx::PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE deleted_at IS NULL) AS "exists!""#
    )
    .fetch_one(pool)
    .await
}

/// Whether endpoint `id` exists (any client's, deleted or not: operators recover history).
pub async fn exists(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1) AS "exists!""#,
        id
    )
    .fetch_one(conn)
    .await
}
