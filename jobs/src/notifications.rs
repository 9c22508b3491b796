//! The `notifications` queue's job: delivering one event to one client endpoint.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Job, RetryPolicy, queues};

/// Sends one delivery (an event to one endpoint), signed, and schedules its next attempt on
/// failure by snoozing (the delivery's own schedule, not this policy, spaces the attempts).
///
/// Idempotency: runs only while the delivery is `pending` and still in `round`; every attempt
/// carries the same `webhook-id` (`evt_<event id>`), so a receiver dedupes a repeat caused by a
/// crash between the send and its record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliverEvent {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Which round of the delivery this job serves (0 first; each manual retry adds one).
    #[serde(default)]
    pub round: i32,
}

impl Job for DeliverEvent {
    const KIND: &'static str = "deliver_event";
    const QUEUE: &'static str = queues::NOTIFICATIONS;
    // Spent only by crashes and database errors; failed sends snooze instead.
    const POLICY: RetryPolicy =
        RetryPolicy::new(25, Duration::from_secs(5), Duration::from_secs(600));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!(
            "{}:{}:{}",
            Self::KIND,
            self.delivery_id,
            self.round
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_stable() {
        let id = Uuid::parse_str("0193a6f2-7c1e-7a00-8000-000000000001").expect("uuid");
        let job = DeliverEvent {
            delivery_id: id,
            round: 2,
        };
        assert_eq!(
            serde_json::to_string(&job).expect("json"),
            r#"{"delivery_id":"0193a6f2-7c1e-7a00-8000-000000000001","round":2}"#
        );
        let old: DeliverEvent =
            serde_json::from_str(r#"{"delivery_id":"0193a6f2-7c1e-7a00-8000-000000000001"}"#)
                .expect("decodes");
        assert_eq!(old.round, 0);
    }
}
