//! The JSON a client receives (and `GET /v1/events` shows):
//! `{"id","type","timestamp","data":{…,"sequence"}}`, and the `evt_<id>` naming.

use serde_json::{Value, json};

use crate::db::events::EventRow;

/// The public id of event `id`, also its `webhook-id`.
pub fn public_id(id: i64) -> String {
    format!("evt_{id}")
}

/// Event `evt_<id>` back to its row id.
pub fn parse_public_id(text: &str) -> Option<i64> {
    text.strip_prefix("evt_")?.parse().ok().filter(|id| *id > 0)
}

/// The envelope of `event`. `sequence` is the event's id: for one object, a higher sequence is
/// a later state, whatever order deliveries arrive in.
pub fn render(event: &EventRow) -> Value {
    let mut data = event.data.clone();
    if let Some(object) = data.as_object_mut() {
        object.insert("sequence".to_owned(), json!(event.id));
    }
    json!({
        "id": public_id(event.id),
        "type": event.event_type,
        "timestamp": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_junk() {
        assert_eq!(parse_public_id(&public_id(42)), Some(42));
        for junk in ["42", "evt_", "evt_-1", "evt_0", "evt_x", "pi_42"] {
            assert_eq!(parse_public_id(junk), None, "{junk}");
        }
    }
}
