//! The asynchronous `{"Result":{…}}` posts: B2C results, B2C queue timeouts and Transaction
//! Status results. Values under `ResultParameters` mix numbers and strings; a one-element list
//! may come as a bare object.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{one_or_many, shillings};
use crate::{
    domain::Money,
    providers::{
        TransferStatus,
        mpesa::password::{parse_dotted, parse_timestamp},
        payload::{PayloadError, json, required_text, text},
    },
};

/// A B2C result posted to the ResultURL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2cResult {
    /// Our transfer reference.
    pub originator_conversation_id: String,
    /// Daraja's conversation id.
    pub conversation_id: Option<String>,
    /// `0` for paid, `15` for a duplicate request, others failed.
    pub result_code: String,
    /// Daraja's words.
    pub result_desc: String,
    /// Daraja's transaction id.
    pub transaction_id: Option<String>,
    /// `TransactionReceipt`.
    pub receipt: Option<String>,
    /// `TransactionAmount`.
    pub amount: Option<Money>,
    /// `TransactionCompletedDateTime` (`06.07.2024 22:48:52`, Nairobi time).
    pub completed_at: Option<DateTime<Utc>>,
    /// `B2CRecipientIsRegisteredCustomer` (`Y`/`N`).
    pub recipient_registered: Option<bool>,
    /// `b2c:{OriginatorConversationID}:{ResultCode}`.
    pub dedupe_key: String,
}

impl B2cResult {
    /// The transfer status this result reports.
    pub fn status(&self) -> TransferStatus {
        match self.result_code.as_str() {
            "0" => TransferStatus::Succeeded {
                provider_ref: self
                    .receipt
                    .clone()
                    .or_else(|| self.transaction_id.clone())
                    .unwrap_or_else(|| self.originator_conversation_id.clone()),
            },
            // "Duplicate Detected": this request repeated one already made, whose own result
            // decides; it says nothing about whether money moved.
            "15" => TransferStatus::Pending,
            code => TransferStatus::Failed {
                reason: format!("{code}: {}", self.result_desc),
            },
        }
    }
}

/// A B2C request that timed out in Daraja's queue (QueueTimeOutURL). Whether it was processed
/// is unknown: query Transaction Status before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2cTimeout {
    /// Our transfer reference.
    pub originator_conversation_id: String,
    /// Daraja's conversation id.
    pub conversation_id: Option<String>,
    /// Daraja's words, if any.
    pub result_desc: Option<String>,
    /// `b2c-timeout:{OriginatorConversationID}`.
    pub dedupe_key: String,
}

/// Transaction Status's "The transaction receipt number does not exist." (third-party
/// reports; the fake answers it for a reference it never received).
const TRANSACTION_UNKNOWN: &str = "2032";

/// A Transaction Status result posted to the ResultURL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionStatusResult {
    /// The status query's id (from its acknowledgement), not the transfer's.
    pub originator_conversation_id: String,
    /// Daraja's conversation id.
    pub conversation_id: Option<String>,
    /// `0` when the query itself succeeded.
    pub result_code: String,
    /// Daraja's words.
    pub result_desc: String,
    /// Daraja's transaction id.
    pub transaction_id: Option<String>,
    /// `ReceiptNo`.
    pub receipt: Option<String>,
    /// `TransactionStatus` (`Completed`, …).
    pub transaction_status: Option<String>,
    /// `Amount`.
    pub amount: Option<Money>,
    /// When the transaction was finalised (`FinalisedTime`).
    pub finalised_at: Option<DateTime<Utc>>,
    /// The `Occasion` sent with the query (our transfer reference), when echoed.
    pub occasion: Option<String>,
    /// `status:{OriginatorConversationID}:{ResultCode}`.
    pub dedupe_key: String,
}

impl TransactionStatusResult {
    /// The queried transfer's status, or `None` when the query itself failed (a non-zero
    /// result code describes the query, not the transfer) — except "does not exist", which
    /// says Daraja never received the transfer.
    pub fn transfer_status(&self) -> Option<TransferStatus> {
        if self.result_code == TRANSACTION_UNKNOWN {
            return Some(TransferStatus::NotFound);
        }
        if self.result_code != "0" {
            return None;
        }
        let status = self
            .transaction_status
            .as_deref()
            .unwrap_or_default()
            .to_lowercase();
        Some(match status.as_str() {
            "completed" => TransferStatus::Succeeded {
                provider_ref: self
                    .receipt
                    .clone()
                    .or_else(|| self.transaction_id.clone())
                    .unwrap_or_default(),
            },
            s if s.contains("revers") => TransferStatus::Reversed {
                reason: self.transaction_status.clone().unwrap_or_default(),
            },
            "failed" | "cancelled" | "declined" | "expired" => TransferStatus::Failed {
                reason: self.transaction_status.clone().unwrap_or_default(),
            },
            _ => TransferStatus::Pending,
        })
    }
}

/// Reads a B2C result.
pub fn parse_b2c_result(raw_body: &[u8]) -> Result<B2cResult, PayloadError> {
    let result = ResultFields::read(raw_body)?;
    let result_code = result.code()?;
    let registered = result
        .parameter("B2CRecipientIsRegisteredCustomer")
        .and_then(text);
    Ok(B2cResult {
        dedupe_key: format!("b2c:{}:{result_code}", result.originator_conversation_id),
        receipt: result.parameter("TransactionReceipt").and_then(text),
        amount: result.amount("TransactionAmount")?,
        completed_at: result
            .parameter("TransactionCompletedDateTime")
            .and_then(text)
            .and_then(|at| parse_dotted(&at)),
        recipient_registered: registered.map(|flag| flag.eq_ignore_ascii_case("y")),
        result_code,
        result_desc: result.desc,
        transaction_id: result.transaction_id,
        conversation_id: result.conversation_id,
        originator_conversation_id: result.originator_conversation_id,
    })
}

/// Reads a B2C queue timeout; accepts the `Result` envelope or a bare body.
pub fn parse_b2c_timeout(raw_body: &[u8]) -> Result<B2cTimeout, PayloadError> {
    let result = ResultFields::read(raw_body)?;
    Ok(B2cTimeout {
        dedupe_key: format!("b2c-timeout:{}", result.originator_conversation_id),
        result_desc: Some(result.desc).filter(|desc| !desc.is_empty()),
        conversation_id: result.conversation_id,
        originator_conversation_id: result.originator_conversation_id,
    })
}

/// Reads a Transaction Status result.
pub fn parse_transaction_status_result(
    raw_body: &[u8],
) -> Result<TransactionStatusResult, PayloadError> {
    let result = ResultFields::read(raw_body)?;
    let result_code = result.code()?;
    let occasion = result
        .references
        .iter()
        .find(|item| item.get("Key").and_then(Value::as_str) == Some("Occasion"))
        .and_then(|item| item.get("Value"))
        .and_then(text)
        .filter(|occasion| !occasion.is_empty());
    Ok(TransactionStatusResult {
        dedupe_key: format!("status:{}:{result_code}", result.originator_conversation_id),
        receipt: result.parameter("ReceiptNo").and_then(text),
        transaction_status: result.parameter("TransactionStatus").and_then(text),
        amount: result.amount("Amount")?,
        finalised_at: result
            .parameter("FinalisedTime")
            .and_then(text)
            .and_then(|at| parse_timestamp(&at)),
        occasion,
        result_code,
        result_desc: result.desc,
        transaction_id: result.transaction_id,
        conversation_id: result.conversation_id,
        originator_conversation_id: result.originator_conversation_id,
    })
}

/// The common part of every `Result` post.
struct ResultFields {
    originator_conversation_id: String,
    conversation_id: Option<String>,
    result_code: Option<String>,
    desc: String,
    transaction_id: Option<String>,
    parameters: Vec<Value>,
    references: Vec<Value>,
}

impl ResultFields {
    fn read(raw_body: &[u8]) -> Result<Self, PayloadError> {
        let body = json(raw_body)?;
        let result = body.get("Result").unwrap_or(&body);
        let optional = |field| {
            result
                .get(field)
                .and_then(text)
                .filter(|v: &String| !v.is_empty())
        };
        Ok(Self {
            originator_conversation_id: required_text(result, "OriginatorConversationID")?,
            conversation_id: optional("ConversationID"),
            result_code: optional("ResultCode"),
            desc: optional("ResultDesc").unwrap_or_default(),
            transaction_id: optional("TransactionID"),
            parameters: one_or_many(result.pointer("/ResultParameters/ResultParameter"))
                .into_iter()
                .cloned()
                .collect(),
            references: one_or_many(result.pointer("/ReferenceData/ReferenceItem"))
                .into_iter()
                .cloned()
                .collect(),
        })
    }

    fn code(&self) -> Result<String, PayloadError> {
        self.result_code
            .clone()
            .ok_or(PayloadError::Missing("ResultCode"))
    }

    /// A parameter's value by `Key`; absent or null values are `None`.
    fn parameter(&self, key: &str) -> Option<&Value> {
        self.parameters
            .iter()
            .find(|item| item.get("Key").and_then(Value::as_str) == Some(key))
            .and_then(|item| item.get("Value"))
            .filter(|value| !value.is_null())
    }

    fn amount(&self, key: &'static str) -> Result<Option<Money>, PayloadError> {
        self.parameter(key)
            .map(|value| shillings(value, key))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::Currency;

    #[test]
    fn b2c_result_with_mixed_values() {
        let body = r#"{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"The service request is processed successfully.",
 "OriginatorConversationID":"payout_0190aa7b-5cbb-7d21","ConversationID":"AG_20240706_2010325b025970fbc403","TransactionID":"SG632NMUAB",
 "ResultParameters":{"ResultParameter":[{"Key":"TransactionAmount","Value":10},{"Key":"TransactionReceipt","Value":"SG632NMUAB"},
  {"Key":"ReceiverPartyPublicName","Value":"254705912645 - John Doe"},{"Key":"TransactionCompletedDateTime","Value":"06.07.2024 22:48:52"},
  {"Key":"B2CUtilityAccountAvailableFunds","Value":"10116.00"},{"Key":"B2CWorkingAccountAvailableFunds","Value":900000.00},
  {"Key":"B2CRecipientIsRegisteredCustomer","Value":"Y"},{"Key":"B2CChargesPaidAccountAvailableFunds","Value":-4510.00}]},
 "ReferenceData":{"ReferenceItem":{"Key":"QueueTimeoutURL","Value":"https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"}}}}"#;
        let result = parse_b2c_result(body.as_bytes()).expect("parses");
        assert_eq!(result.dedupe_key, "b2c:payout_0190aa7b-5cbb-7d21:0");
        assert_eq!(result.amount, Some(Money::from_minor(1000, Currency::Kes)));
        assert_eq!(result.receipt.as_deref(), Some("SG632NMUAB"));
        assert_eq!(result.recipient_registered, Some(true));
        assert_eq!(
            result.completed_at,
            Utc.with_ymd_and_hms(2024, 7, 6, 19, 48, 52).single()
        );
        assert_eq!(
            result.status(),
            TransferStatus::Succeeded {
                provider_ref: "SG632NMUAB".into()
            }
        );
    }

    #[test]
    fn b2c_failures_and_duplicates() {
        let failed = r#"{"Result":{"ResultType":0,"ResultCode":2001,"ResultDesc":"The initiator information is invalid.","OriginatorConversationID":"p1","ConversationID":"AG_1","TransactionID":"SG6"}}"#;
        let result = parse_b2c_result(failed.as_bytes()).expect("parses");
        assert_eq!(result.dedupe_key, "b2c:p1:2001");
        assert_eq!(
            result.status(),
            TransferStatus::Failed {
                reason: "2001: The initiator information is invalid.".into()
            }
        );
        let duplicate = failed.replace("2001", "15");
        assert_eq!(
            parse_b2c_result(duplicate.as_bytes())
                .expect("parses")
                .status(),
            TransferStatus::Pending
        );
        let string_code = failed.replace("2001", r#""SFC_IC0003""#);
        assert_eq!(
            parse_b2c_result(string_code.as_bytes())
                .expect("parses")
                .result_code,
            "SFC_IC0003"
        );
        assert_eq!(
            parse_b2c_result(br#"{"Result":{"OriginatorConversationID":"p1"}}"#),
            Err(PayloadError::Missing("ResultCode"))
        );
    }

    #[test]
    fn b2c_timeout_in_either_shape() {
        let wrapped = br#"{"Result":{"ResultType":0,"ResultCode":1,"ResultDesc":"The service request timed out.","OriginatorConversationID":"p2","ConversationID":"AG_2"}}"#;
        let timeout = parse_b2c_timeout(wrapped).expect("parses");
        assert_eq!(timeout.dedupe_key, "b2c-timeout:p2");
        assert_eq!(timeout.conversation_id.as_deref(), Some("AG_2"));
        let bare = br#"{"OriginatorConversationID":"p3"}"#;
        assert_eq!(
            parse_b2c_timeout(bare)
                .expect("parses")
                .originator_conversation_id,
            "p3"
        );
        assert_eq!(
            parse_b2c_timeout(br#"{"Result":{}}"#),
            Err(PayloadError::Missing("OriginatorConversationID"))
        );
    }

    #[test]
    fn transaction_status_result() {
        let body = r#"{"Result":{"ConversationID":"AG_20180223_0000493344ae97d86f75","OriginatorConversationID":"3213-416199-2","ResultCode":0,"ResultType":0,
 "ResultDesc":"The service request is processed successfully.","TransactionID":"MBN0000000",
 "ReferenceData":{"ReferenceItem":{"Key":"Occasion"}},
 "ResultParameters":{"ResultParameter":[{"Key":"ReceiptNo","Value":"MBN31H462N"},{"Key":"TransactionStatus","Value":"Completed"},
  {"Key":"Amount","Value":"300"},{"Key":"DebitPartyName","Value":"254708374149 - John Doe"},{"Key":"InitiatedTime","Value":"20180223054112"},
  {"Key":"FinalisedTime","Value":"20180223054112"},{"Key":"DebitPartyCharges","Value":"Fee For B2C Payment|KES|22.40"}]}}}"#;
        let result = parse_transaction_status_result(body.as_bytes()).expect("parses");
        assert_eq!(result.dedupe_key, "status:3213-416199-2:0");
        assert_eq!(result.amount, Some(Money::from_minor(30000, Currency::Kes)));
        assert_eq!(result.occasion, None);
        assert!(result.finalised_at.is_some());
        assert_eq!(
            result.transfer_status(),
            Some(TransferStatus::Succeeded {
                provider_ref: "MBN31H462N".into()
            })
        );
        let echoed = body.replace(
            r#"{"Key":"Occasion"}"#,
            r#"{"Key":"Occasion","Value":"payout_1"}"#,
        );
        let result = parse_transaction_status_result(echoed.as_bytes()).expect("parses");
        assert_eq!(result.occasion.as_deref(), Some("payout_1"));
        let query_failed = body.replace(r#""ResultCode":0"#, r#""ResultCode":2001"#);
        let result = parse_transaction_status_result(query_failed.as_bytes()).expect("parses");
        assert_eq!(result.transfer_status(), None);
    }
}
