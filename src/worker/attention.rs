//! Marking an intent for an operator: the reason is shown on the intent, listed by `/ops`, and
//! counted in `/metrics`, so nothing stuck is silent.

use sqlx::PgPool;
use uuid::Uuid;

/// Sets the intent's attention reason (the latest one wins; the event history keeps all).
pub async fn flag(pool: &PgPool, intent: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    crate::db::intents::flag(&mut tx, intent, reason).await?;
    crate::db::intents::record_event(
        &mut *tx,
        intent,
        crate::domain::IntentNote::NeedsAttention,
        serde_json::json!({"reason": reason}),
    )
    .await?;
    tx.commit().await
}
