//! Daraja's request and answer bodies, field names byte for byte as Daraja spells them
//! (including `Occassion` in B2C and `Occasion` in Transaction Status).

use serde::{Deserialize, Deserializer, Serialize};

/// `GET /oauth/v1/generate` answer; `expires_in` comes as a number or a string.
#[derive(Debug, Deserialize)]
pub(super) struct TokenAnswer {
    pub access_token: String,
    #[serde(deserialize_with = "number_or_text")]
    pub expires_in: String,
}

/// Daraja's gateway error body.
#[derive(Debug, Default, Deserialize)]
pub(super) struct GatewayError {
    #[serde(rename = "errorCode", default)]
    pub code: String,
    #[serde(rename = "errorMessage", default)]
    pub message: String,
}

#[derive(Debug, Serialize)]
pub(super) struct StkPushBody {
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: u32,
    #[serde(rename = "Password")]
    pub password: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "TransactionType")]
    pub transaction_type: &'static str,
    #[serde(rename = "Amount")]
    pub amount: String,
    #[serde(rename = "PartyA")]
    pub party_a: String,
    #[serde(rename = "PartyB")]
    pub party_b: String,
    #[serde(rename = "PhoneNumber")]
    pub phone_number: String,
    #[serde(rename = "CallBackURL")]
    pub callback_url: String,
    #[serde(rename = "AccountReference")]
    pub account_reference: String,
    #[serde(rename = "TransactionDesc")]
    pub transaction_desc: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct StkPushAck {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    #[serde(rename = "ResponseCode", deserialize_with = "number_or_text")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    #[serde(rename = "CustomerMessage", default)]
    pub customer_message: String,
}

#[derive(Debug, Serialize)]
pub(super) struct StkQueryBody<'a> {
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: String,
    #[serde(rename = "Password")]
    pub password: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: &'a str,
}

/// `ResultCode` is a string here (a number in the callback); absent while in progress.
#[derive(Debug, Deserialize)]
pub(super) struct StkQueryAnswer {
    #[serde(
        rename = "ResultCode",
        default,
        deserialize_with = "optional_number_or_text"
    )]
    pub result_code: Option<String>,
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: String,
}

#[derive(Debug, Serialize)]
pub(super) struct B2cBody<'a> {
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: &'a str,
    #[serde(rename = "InitiatorName")]
    pub initiator_name: &'a str,
    #[serde(rename = "SecurityCredential")]
    pub security_credential: &'a str,
    #[serde(rename = "CommandID")]
    pub command_id: &'static str,
    #[serde(rename = "Amount")]
    pub amount: String,
    #[serde(rename = "PartyA")]
    pub party_a: String,
    #[serde(rename = "PartyB")]
    pub party_b: &'a str,
    #[serde(rename = "Remarks")]
    pub remarks: String,
    #[serde(rename = "QueueTimeOutURL")]
    pub queue_timeout_url: String,
    #[serde(rename = "ResultURL")]
    pub result_url: String,
    #[serde(rename = "Occassion")]
    pub occassion: String,
}

#[derive(Debug, Serialize)]
pub(super) struct TransactionStatusBody<'a> {
    #[serde(rename = "Initiator")]
    pub initiator: &'a str,
    #[serde(rename = "SecurityCredential")]
    pub security_credential: &'a str,
    #[serde(rename = "CommandID")]
    pub command_id: &'static str,
    #[serde(rename = "TransactionID")]
    pub transaction_id: &'a str,
    #[serde(rename = "OriginalConversationID")]
    pub original_conversation_id: &'a str,
    #[serde(rename = "PartyA")]
    pub party_a: String,
    #[serde(rename = "IdentifierType")]
    pub identifier_type: &'static str,
    #[serde(rename = "ResultURL")]
    pub result_url: String,
    #[serde(rename = "QueueTimeOutURL")]
    pub queue_timeout_url: String,
    #[serde(rename = "Remarks")]
    pub remarks: &'static str,
    #[serde(rename = "Occasion")]
    pub occasion: &'a str,
}

/// The synchronous acknowledgement of B2C and Transaction Status.
#[derive(Debug, Deserialize)]
pub(super) struct AsyncAck {
    #[serde(rename = "OriginatorConversationID", default)]
    pub originator_conversation_id: String,
    #[serde(rename = "ConversationID", default)]
    pub conversation_id: String,
    #[serde(rename = "ResponseCode", deserialize_with = "number_or_text")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Integer(i64),
    Text(String),
}

impl From<NumberOrText> for String {
    fn from(value: NumberOrText) -> Self {
        match value {
            NumberOrText::Integer(number) => number.to_string(),
            NumberOrText::Text(text) => text,
        }
    }
}

fn number_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    NumberOrText::deserialize(deserializer).map(String::from)
}

fn optional_number_or_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Option::<NumberOrText>::deserialize(deserializer).map(|value| value.map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_expiry_as_number_or_string() {
        let number: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"c9SQxWWhmdVRlyh0zh8gZDTkubVF","expires_in":3599}"#,
        )
        .expect("parses");
        assert_eq!(number.expires_in, "3599");
        let text: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"x","expires_in":"3599"}"#).expect("parses");
        assert_eq!(text.expires_in, "3599");
    }

    #[test]
    fn stk_push_body_matches_the_reference_shape() {
        let body = StkPushBody {
            business_short_code: 174379,
            password: "pw".into(),
            timestamp: "20210628092408".into(),
            transaction_type: "CustomerPayBillOnline",
            amount: "1".into(),
            party_a: "254722000000".into(),
            party_b: "174379".into(),
            phone_number: "254722000000".into(),
            callback_url: "https://mydomain.com/path".into(),
            account_reference: "accountref".into(),
            transaction_desc: "txndesc".into(),
        };
        assert_eq!(
            serde_json::to_string(&body).expect("serializes"),
            r#"{"BusinessShortCode":174379,"Password":"pw","Timestamp":"20210628092408","TransactionType":"CustomerPayBillOnline","Amount":"1","PartyA":"254722000000","PartyB":"174379","PhoneNumber":"254722000000","CallBackURL":"https://mydomain.com/path","AccountReference":"accountref","TransactionDesc":"txndesc"}"#
        );
    }

    #[test]
    fn query_answer_codes() {
        let done: StkQueryAnswer = serde_json::from_str(r#"{"ResponseCode":"0","ResponseDescription":"The service request has been accepted successfully","MerchantRequestID":"22205-34066-1","CheckoutRequestID":"ws_CO_13012021093521236557","ResultCode":"0","ResultDesc":"The service request is processed successfully."}"#).expect("parses");
        assert_eq!(done.result_code.as_deref(), Some("0"));
        let numeric: StkQueryAnswer =
            serde_json::from_str(r#"{"ResultCode":1032,"ResultDesc":"Request cancelled by user"}"#)
                .expect("parses");
        assert_eq!(numeric.result_code.as_deref(), Some("1032"));
        let pending: StkQueryAnswer =
            serde_json::from_str(r#"{"ResponseCode":"0"}"#).expect("parses");
        assert_eq!(pending.result_code, None);
    }
}
