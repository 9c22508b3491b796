//! Paystack's JSON shapes: the `{status, message, data}` envelope and the bodies we send and read.
//! Amounts are integers in the currency's subunit (kobo); Paystack sometimes writes them as strings.

use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use uuid::Uuid;

/// Every answer: `data` is present on success.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope<T> {
    pub status: bool,
    #[serde(default)]
    pub message: String,
    pub data: Option<T>,
}

/// What an error answer may carry besides `message`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct InitializeBody<'a> {
    pub email: &'a str,
    pub amount: i64,
    pub currency: &'static str,
    pub reference: &'a str,
    pub metadata: Metadata,
}

#[derive(Debug, Serialize)]
pub(super) struct Metadata {
    pub intent_id: Uuid,
}

#[derive(Debug, Deserialize)]
pub(super) struct InitializeData {
    pub authorization_url: String,
    pub access_code: String,
    pub reference: String,
}

/// A transaction as verify (and `charge.success`) describe it.
#[derive(Debug, Deserialize)]
pub(super) struct Transaction {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    pub status: String,
    #[serde(deserialize_with = "integer")]
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub gateway_response: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct RecipientBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub name: &'a str,
    pub account_number: &'a str,
    pub bank_code: &'a str,
    pub currency: &'static str,
}

#[derive(Debug, Deserialize)]
pub(super) struct RecipientData {
    pub recipient_code: String,
    /// Absent in the create answer of older API versions; a fetched recipient has it.
    #[serde(default = "active_by_default")]
    pub active: bool,
    #[serde(default)]
    pub currency: Option<String>,
}

fn active_by_default() -> bool {
    true
}

#[derive(Debug, Serialize)]
pub(super) struct TransferBody<'a> {
    pub source: &'static str,
    pub amount: i64,
    pub recipient: &'a str,
    pub reference: &'a str,
    pub reason: &'a str,
    pub currency: &'static str,
}

#[derive(Debug, Deserialize)]
pub(super) struct TransferData {
    pub status: String,
    #[serde(default)]
    pub transfer_code: Option<String>,
    #[serde(default)]
    pub gateway_response: Option<String>,
    #[serde(default)]
    pub failures: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub(super) struct RefundBody<'a> {
    pub transaction: &'a str,
    pub amount: i64,
    pub currency: &'static str,
    pub merchant_note: &'a str,
}

#[derive(Debug, Deserialize)]
pub(super) struct RefundData {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    pub status: String,
    /// malipo writes its payout reference here; a refund without it was made by someone else
    /// (e.g. by hand in the dashboard) and is never taken for malipo's.
    #[serde(default)]
    pub merchant_note: Option<String>,
}

/// An integer written as a number or as a numeric string (`40333` or `"40333"`).
pub(super) fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Integer {
        Number(i64),
        Text(String),
    }
    match Integer::deserialize(deserializer)? {
        Integer::Number(number) => Ok(number),
        Integer::Text(text) => text.trim().parse().map_err(D::Error::custom),
    }
}

/// An id written as a number or a string, kept as text.
pub(super) fn id_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(i64),
        Text(String),
    }
    Ok(match Id::deserialize(deserializer)? {
        Id::Number(number) => number.to_string(),
        Id::Text(text) => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_sample_parses() {
        let body = r#"{"status":true,"message":"Verification successful","data":{
 "id":4099260516,"domain":"test","status":"success","reference":"re4lyvq3s3",
 "amount":40333,"requested_amount":30050,"currency":"NGN","gateway_response":"Successful",
 "paid_at":"2024-08-22T09:15:02.000Z","created_at":"2024-08-22T09:14:24.000Z","channel":"card",
 "fees":10283,"metadata":"","customer":{"id":181873746,"email":"demo@test.com","customer_code":"CUS_1rkzaqsv4rrhqo6"},
 "authorization":{"authorization_code":"AUTH_uh8bcl3zbn","reusable":true,"signature":"SIG_yEXu7dLBeqG0kU7g95Ke"}}}"#;
        let envelope: Envelope<Transaction> = serde_json::from_str(body).expect("parses");
        let data = envelope.data.expect("data");
        assert_eq!(data.id, "4099260516");
        assert_eq!(data.amount, 40333);
        assert_eq!(data.currency, "NGN");
    }

    #[test]
    fn amounts_as_strings_are_accepted() {
        let body = r#"{"id":"1","status":"success","amount":"20000","currency":"NGN"}"#;
        let data: Transaction = serde_json::from_str(body).expect("parses");
        assert_eq!(data.amount, 20000);
        assert!(
            serde_json::from_str::<Transaction>(
                r#"{"id":1,"status":"x","amount":"2e","currency":"NGN"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn transfer_sample_parses() {
        let body = r#"{"status":true,"message":"Transfer has been queued","data":{"reference":"acv_9ee55786-2323-4760-98e2-6380c9cb3f68","amount":100000,"currency":"NGN",
 "status":"success","transfer_code":"TRF_v5tip3zx8nna9o78","id":860703114,"recipient":56824902,"source":"balance",
 "failures":null,"transferred_at":null,"createdAt":"2025-08-04T10:32:40.000Z"}}"#;
        let envelope: Envelope<TransferData> = serde_json::from_str(body).expect("parses");
        let data = envelope.data.expect("data");
        assert_eq!(data.transfer_code.as_deref(), Some("TRF_v5tip3zx8nna9o78"));
    }
}
