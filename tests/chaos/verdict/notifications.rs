//! Notifications under the storm: every committed transition has its event, every event reached
//! the flaky endpoint or failed with its attempts logged, and nothing was delivered under two
//! webhook-ids.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use malipo::notify::receiver::Receiver;
use sqlx::PgPool;

use super::{Violation, push};

/// How long the verdict waits for deliveries still on their (compressed) schedule: longer than
/// the whole schedule at the stack's scale (65 s), so a pending delivery after it is stuck, not
/// unlucky.
const PATIENCE: Duration = Duration::from_secs(120);

/// Checks the notification promises, after waiting for pending deliveries.
pub async fn notification_violations(pool: &PgPool, receiver: &Receiver) -> Vec<Violation> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(pool)
                .await
                .expect("pending deliveries");
        if pending == 0 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            push(
                &mut out,
                "event-undelivered",
                format!("{pending} deliveries still pending {PATIENCE:?} after the storm"),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Transitions are counted per intent and status (a status may be reached twice, as held
    // after a failed refund).
    let missing: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "WITH moves AS (SELECT intent_id, to_status, count(*) AS n FROM intent_events
                         WHERE to_status IS NOT NULL AND from_status IS NOT NULL
                         GROUP BY intent_id, to_status),
              told AS (SELECT intent_id, substr(type, 8) AS to_status, count(*) AS n FROM events
                        WHERE type LIKE 'intent.%' GROUP BY intent_id, substr(type, 8))
         SELECT m.intent_id::text, m.to_status, m.n, coalesce(t.n, 0)
           FROM moves m LEFT JOIN told t USING (intent_id, to_status)
          WHERE coalesce(t.n, 0) <> m.n",
    )
    .fetch_all(pool)
    .await
    .expect("transitions without events");
    for (intent, status, moves, events) in missing {
        push(
            &mut out,
            "event-missing",
            format!("intent {intent} moved to {status} {moves} times, {events} events"),
        );
    }
    let payouts_missing: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.id::text, p.status FROM payouts p
          WHERE p.status <> 'pending'
            AND NOT EXISTS (SELECT 1 FROM events e WHERE e.object_id = p.id AND e.type = 'payout.' || p.status)",
    )
    .fetch_all(pool)
    .await
    .expect("payout events");
    for (payout, status) in payouts_missing {
        push(
            &mut out,
            "event-missing",
            format!("payout {payout} is {status} with no payout.{status} event"),
        );
    }
    let failed_without_attempts: Vec<String> = sqlx::query_scalar(
        "SELECT d.id::text FROM webhook_deliveries d
          WHERE d.status = 'failed' AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id)",
    )
    .fetch_all(pool)
    .await
    .expect("failed deliveries");
    for delivery in failed_without_attempts {
        push(
            &mut out,
            "event-undelivered",
            format!("delivery {delivery} failed with no attempt logged"),
        );
    }
    let undelivered: Vec<(String, String)> = sqlx::query_as(
        "SELECT e.id::text, e.type FROM events e
          WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id
                              AND d.status IN ('succeeded', 'failed'))",
    )
    .fetch_all(pool)
    .await
    .expect("events without a finished delivery");
    for (event, kind) in undelivered {
        push(
            &mut out,
            "event-undelivered",
            format!("event evt_{event} ({kind}) neither delivered nor failed"),
        );
    }
    // Each body names its event; a 2xx under another webhook-id would be a second delivery a
    // receiver could not dedupe.
    let mut accepted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for delivery in receiver.log() {
        let body: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap_or_default();
        let event = body["id"].as_str().unwrap_or_default().to_owned();
        if delivery.verified != Some(Ok(())) {
            push(
                &mut out,
                "delivered-twice",
                format!(
                    "a delivery of {event} did not verify: {:?}",
                    delivery.verified
                ),
            );
        }
        if (200..300).contains(&delivery.answered) {
            accepted.entry(event).or_default().insert(delivery.id);
        }
    }
    for (event, ids) in accepted {
        if ids.len() != 1 || !ids.contains(&event) {
            push(
                &mut out,
                "delivered-twice",
                format!("{event} accepted under webhook-ids {ids:?}"),
            );
        }
    }
    out
}
