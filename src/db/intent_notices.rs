//! Notifications about an intent that are not status changes — a part released, a dispute
//! resolved, a payee share settled into the client's balance — written in the caller's
//! transaction by `malipo_record_event` with their deliveries, like a transition's event.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Records the event `event_type` about `intent` with `detail` merged over the intent's
/// snapshot (`object`, `id`, `status`, `amount`, `currency`, `provider`, `reference`,
/// `metadata`), and enqueues its deliveries.
pub async fn notify(
    conn: &mut PgConnection,
    intent: Uuid,
    event_type: &str,
    detail: Value,
) -> Result<(), sqlx::Error> {
    let deliveries: Option<Vec<Uuid>> = sqlx::query_scalar!(
        r#"SELECT malipo_record_event(client_id, $2, id, id, jsonb_build_object(
                    'object', 'intent', 'id', id, 'status', status, 'amount', amount::text,
                    'currency', currency, 'provider', provider, 'reference', reference,
                    'metadata', metadata) || $3) AS "deliveries!"
           FROM intents WHERE id = $1"#,
        intent,
        event_type,
        detail,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(deliveries) = deliveries {
        super::events::enqueue_deliveries(conn, &deliveries).await?;
    }
    Ok(())
}

/// The milestone release `seq` of `intent` took, if it named one.
pub async fn milestone_of(
    conn: &mut PgConnection,
    intent: Uuid,
    seq: i32,
) -> Result<Option<String>, sqlx::Error> {
    let milestone: Option<Option<String>> = sqlx::query_scalar!(
        "SELECT milestone FROM intent_releases WHERE intent_id = $1 AND seq = $2",
        intent,
        seq,
    )
    .fetch_optional(conn)
    .await?;
    Ok(milestone.flatten())
}
