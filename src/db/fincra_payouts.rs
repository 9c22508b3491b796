//! The Fincra payouts reconciliation re-asks about: successful ones inside the re-check window
//! (Fincra documents no reversal event, so a success is asked about again for a while), failed
//! ones in the window, and in-flight ones older than the cutoff.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Ids of the Fincra payouts to ask about again, oldest first.
pub async fn to_recheck(
    conn: &mut PgConnection,
    concluded_since: DateTime<Utc>,
    in_flight_before: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    // State names stay literals here: they must match the partial index's predicate.
    sqlx::query_scalar!(
        "SELECT id FROM payouts
          WHERE provider = 'fincra'
            AND ((status IN ('succeeded', 'failed') AND initiated_at IS NOT NULL
                  AND updated_at >= $1)
                 OR (status = 'in_flight' AND initiated_at <= $2))
          ORDER BY initiated_at, id",
        concluded_since,
        in_flight_before,
    )
    .fetch_all(conn)
    .await
}
