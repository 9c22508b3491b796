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
        // The column's `numeric(20, 2)` text shows sats as "1000.00": show the amount at its
        // currency's scale, as `GET /v1/intents/{id}` does.
        let currency = object
            .get("currency")
            .and_then(Value::as_str)
            .and_then(|code| code.parse::<crate::domain::Currency>().ok());
        let amount = object
            .get("amount")
            .and_then(Value::as_str)
            .and_then(|text| text.parse::<rust_decimal::Decimal>().ok());
        if let (Some(currency), Some(amount)) = (currency, amount) {
            object.insert(
                "amount".to_owned(),
                json!(crate::domain::format_amount(amount, currency)),
            );
        }
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
    fn amounts_are_shown_at_their_currency_scale() {
        let event = |amount: &str, currency: &str| EventRow {
            id: 7,
            client_id: uuid::Uuid::nil(),
            event_type: "intent.held".to_owned(),
            intent_id: None,
            data: json!({"amount": amount, "currency": currency}),
            created_at: chrono::Utc::now(),
        };
        assert_eq!(render(&event("1000.00", "SAT"))["data"]["amount"], "1000");
        assert_eq!(
            render(&event("1500.00", "KES"))["data"]["amount"],
            "1500.00"
        );
        assert_eq!(render(&event("1500.00", "KES"))["data"]["sequence"], 7);
        assert_eq!(render(&event("1500.00", "KES"))["id"], "evt_7");
    }

    #[test]
    fn ids_round_trip_and_refuse_junk() {
        assert_eq!(parse_public_id(&public_id(42)), Some(42));
        for junk in ["42", "evt_", "evt_-1", "evt_0", "evt_x", "pi_42"] {
            assert_eq!(parse_public_id(junk), None, "{junk}");
        }
    }
}
