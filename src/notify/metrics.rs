//! Notification gauges, read from the database when `/metrics` is scraped:
//! `malipo_notification_deliveries{status}` (pending, failed), `malipo_notification_oldest_undelivered_age_seconds`
//! and `malipo_webhook_endpoints{state}` (`enabled`, `disabled`, `failing`). The counters
//! `malipo_notification_attempts_total{outcome}` and
//! `malipo_webhook_endpoints_disabled_total{reason}` are counted as attempts happen.

use metrics::gauge;
use sqlx::PgPool;

use crate::domain::DeliveryStatus;

/// Refreshes the gauges.
pub async fn refresh(pool: &PgPool) -> Result<(), sqlx::Error> {
    let crate::db::webhook_deliveries::Gauges {
        pending,
        failed,
        oldest_pending_secs: oldest,
        enabled,
        disabled,
        failing,
    } = crate::db::webhook_deliveries::gauges(pool).await?;
    // Succeeded deliveries are not counted here (the table only grows; the attempts counter
    // has them); pending and failed are read through partial indexes.
    for (status, count) in [
        (DeliveryStatus::Pending, pending),
        (DeliveryStatus::Failed, failed),
    ] {
        gauge!("malipo_notification_deliveries", "status" => status.as_str()).set(count as f64);
    }
    gauge!("malipo_notification_oldest_undelivered_age_seconds").set(oldest);
    for (state, count) in [
        ("enabled", enabled),
        ("disabled", disabled),
        ("failing", failing),
    ] {
        gauge!("malipo_webhook_endpoints", "state" => state).set(count as f64);
    }
    Ok(())
}
