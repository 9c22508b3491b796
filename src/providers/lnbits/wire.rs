//! LNbits' JSON: amounts go out in sats (`unit: "sat"`) and come back in msat.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/payments` to receive. `out` defaults to *true* server-side, so it is always sent.
#[derive(Debug, Serialize)]
pub(super) struct CreateInvoice<'a> {
    pub out: bool,
    pub amount: i64,
    pub unit: &'static str,
    pub memo: &'a str,
    pub expiry: u64,
    pub webhook: String,
    pub extra: Extra<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct Extra<'a> {
    pub reference: &'a str,
    pub intent_id: String,
}

/// `POST /api/v1/payments` to pay.
#[derive(Debug, Serialize)]
pub(super) struct PayInvoice<'a> {
    pub out: bool,
    pub bolt11: &'a str,
}

/// A `Payment` (v1), or the legacy v0.12 answer with only the first fields.
#[derive(Debug, Deserialize)]
pub(super) struct Payment {
    pub payment_hash: String,
    #[serde(default)]
    pub payment_request: Option<String>,
    #[serde(default)]
    pub bolt11: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub expiry: Option<String>,
    /// msat; negative for outgoing.
    #[serde(default)]
    pub amount: Option<i64>,
}

/// `GET /api/v1/payments/{hash}`: `details` only with the owning wallet's key.
#[derive(Debug, Deserialize)]
pub(super) struct PaymentCheck {
    pub paid: bool,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub details: Option<Payment>,
}

/// LNbits' error body.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_legacy_payments() {
        let v1 = r#"{"checking_id":"c","payment_hash":"aa","wallet_id":"w","amount":1000000,"fee":0,"bolt11":"lnbc10u1x",
 "payment_request":"lnbc10u1x","status":"pending","memo":"order 42","expiry":"2026-03-20T11:41:02+00:00",
 "webhook":"https://x","webhook_status":null,"preimage":null,"time":"t","created_at":"t","updated_at":"t","labels":[],"extra":{}}"#;
        let payment: Payment = serde_json::from_str(v1).expect("parses");
        assert_eq!(payment.amount, Some(1_000_000));
        assert_eq!(payment.status.as_deref(), Some("pending"));
        let legacy = r#"{"payment_hash":"aa","payment_request":"lnbc10u1x","checking_id":"c","lnurl_response":null}"#;
        let payment: Payment = serde_json::from_str(legacy).expect("parses");
        assert_eq!(payment.payment_request.as_deref(), Some("lnbc10u1x"));
        assert_eq!(payment.expiry, None);
    }

    #[test]
    fn create_invoice_always_says_out_false() {
        let body = CreateInvoice {
            out: false,
            amount: 1000,
            unit: "sat",
            memo: "order 42",
            expiry: 3600,
            webhook: "https://pay.example.com/webhooks/lnbits/t".into(),
            extra: Extra {
                reference: "r",
                intent_id: "i".into(),
            },
        };
        let json = serde_json::to_value(&body).expect("serializes");
        assert_eq!(json["out"], serde_json::json!(false));
        assert_eq!(json["unit"], "sat");
        assert_eq!(json["amount"], 1000);
    }
}
