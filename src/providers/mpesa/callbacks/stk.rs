//! The STK Push result callback.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{one_or_many, shillings};
use crate::{
    domain::{Money, Msisdn},
    providers::{
        DepositStatus,
        mpesa::password::parse_timestamp,
        payload::{PayloadError, json, required_text, text},
    },
};

/// An STK Push result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkCallback {
    /// Daraja's request id.
    pub merchant_request_id: String,
    /// The prompt's handle from the push acknowledgement; correlate on it (our
    /// AccountReference is not echoed).
    pub checkout_request_id: String,
    /// `0` for paid; see PROVIDERS.md §2.3 for the rest.
    pub result_code: String,
    /// Daraja's words.
    pub result_desc: String,
    /// What was paid, present exactly when `result_code` is `0`.
    pub payment: Option<StkPayment>,
    /// `stk:{MpesaReceiptNumber}` when paid, else `stk:{CheckoutRequestID}`.
    pub dedupe_key: String,
}

/// The metadata of a paid STK Push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkPayment {
    /// The amount paid, in KES.
    pub amount: Money,
    /// The M-Pesa receipt, globally unique.
    pub receipt: String,
    /// The paying phone, to match against the one prompted.
    pub phone: Option<Msisdn>,
    /// When M-Pesa completed it.
    pub transaction_date: Option<DateTime<Utc>>,
}

impl StkCallback {
    /// The deposit status this result claims (confirm with STK Query before value moves).
    pub fn status(&self) -> DepositStatus {
        match &self.payment {
            Some(payment) => DepositStatus::Succeeded {
                amount: payment.amount,
                provider_ref: payment.receipt.clone(),
            },
            None => unpaid_status(&self.result_code, &self.result_desc),
        }
    }
}

/// Reads `{"Body":{"stkCallback":{…}}}`. Metadata items are found by `Name` in any order; an
/// item without `Value` (such as `Balance`) is ignored.
pub fn parse_stk_callback(raw_body: &[u8]) -> Result<StkCallback, PayloadError> {
    let body = json(raw_body)?;
    let callback = body
        .pointer("/Body/stkCallback")
        .ok_or(PayloadError::Missing("Body.stkCallback"))?;
    let merchant_request_id = required_text(callback, "MerchantRequestID")?;
    let checkout_request_id = required_text(callback, "CheckoutRequestID")?;
    let result_code = required_text(callback, "ResultCode")?;
    let result_desc = callback
        .get("ResultDesc")
        .and_then(text)
        .unwrap_or_default();
    let payment = if result_code == "0" {
        let items = one_or_many(callback.pointer("/CallbackMetadata/Item"));
        Some(payment(&items)?)
    } else {
        None
    };
    let dedupe_key = match &payment {
        Some(payment) => format!("stk:{}", payment.receipt),
        None => format!("stk:{checkout_request_id}"),
    };
    Ok(StkCallback {
        merchant_request_id,
        checkout_request_id,
        result_code,
        result_desc,
        payment,
        dedupe_key,
    })
}

fn payment(items: &[&Value]) -> Result<StkPayment, PayloadError> {
    let item = |name: &str| {
        items
            .iter()
            .find(|item| item.get("Name").and_then(Value::as_str) == Some(name))
            .and_then(|item| item.get("Value"))
            .filter(|value| !value.is_null())
    };
    let amount = shillings(
        item("Amount").ok_or(PayloadError::Missing("Amount"))?,
        "Amount",
    )?;
    let receipt = item("MpesaReceiptNumber")
        .and_then(text)
        .filter(|receipt| !receipt.is_empty())
        .ok_or(PayloadError::Missing("MpesaReceiptNumber"))?;
    Ok(StkPayment {
        amount,
        receipt,
        phone: item("PhoneNumber")
            .and_then(text)
            .and_then(|phone| Msisdn::parse(&phone).ok()),
        transaction_date: item("TransactionDate")
            .and_then(text)
            .and_then(|date| parse_timestamp(&date)),
    })
}

/// The status of an STK Push that did not (yet) pay, from its result code, shared by the
/// callback and STK Query.
pub(in crate::providers::mpesa) fn unpaid_status(code: &str, desc: &str) -> DepositStatus {
    match code {
        // The prompt lapsed unanswered.
        "1019" => DepositStatus::Expired,
        // "Still under processing" answers: not conclusive.
        "4999" | "500.001.1001" => DepositStatus::Pending,
        _ => DepositStatus::Failed {
            code: code.to_owned(),
            reason: desc.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::Currency;

    const PAID: &str = r#"{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925",
 "ResultCode":0,"ResultDesc":"The service request is processed successfully.",
 "CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},
  {"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]}}}}"#;

    #[test]
    fn paid_callback() {
        let callback = parse_stk_callback(PAID.as_bytes()).expect("parses");
        assert_eq!(callback.checkout_request_id, "ws_CO_191220191020363925");
        assert_eq!(callback.dedupe_key, "stk:NLJ7RT61SV");
        let payment = callback.payment.clone().expect("paid");
        assert_eq!(payment.amount, Money::from_minor(100, Currency::Kes));
        assert_eq!(
            payment.phone.map(|p| p.as_str().to_owned()),
            Some("254708374149".into())
        );
        assert_eq!(payment.transaction_date, parse_timestamp("20191219102115"),);
        assert!(payment.transaction_date.is_some());
        assert_eq!(
            callback.status(),
            DepositStatus::Succeeded {
                amount: Money::from_minor(100, Currency::Kes),
                provider_ref: "NLJ7RT61SV".into()
            }
        );
    }

    #[test]
    fn items_in_any_order_with_a_valueless_balance_and_integer_amount() {
        let body = r#"{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1","ResultCode":0,"ResultDesc":"ok",
 "CallbackMetadata":{"Item":[{"Name":"PhoneNumber","Value":254708374149},{"Name":"Balance"},{"Name":"TransactionDate","Value":20191219102115},
  {"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SW"},{"Name":"Amount","Value":1500}]}}}}"#;
        let callback = parse_stk_callback(body.as_bytes()).expect("parses");
        let payment = callback.payment.expect("paid");
        assert_eq!(
            payment.amount.amount(),
            Decimal::from_str("1500").expect("decimal")
        );
        assert_eq!(payment.receipt, "NLJ7RT61SW");
    }

    #[test]
    fn failures_have_no_metadata() {
        let body = r#"{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}"#;
        let callback = parse_stk_callback(body.as_bytes()).expect("parses");
        assert_eq!(callback.payment, None);
        assert_eq!(callback.dedupe_key, "stk:ws_CO_191220191020363925");
        assert_eq!(
            callback.status(),
            DepositStatus::Failed {
                code: "1032".into(),
                reason: "Request cancelled by user".into()
            }
        );
        let expired = body.replace("1032", "1019");
        assert_eq!(
            parse_stk_callback(expired.as_bytes())
                .expect("parses")
                .status(),
            DepositStatus::Expired
        );
    }

    #[test]
    fn success_without_receipt_or_with_fractional_cents_is_rejected() {
        let no_receipt = PAID.replace(r#"{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},"#, "");
        assert_eq!(
            parse_stk_callback(no_receipt.as_bytes()),
            Err(PayloadError::Missing("MpesaReceiptNumber"))
        );
        let odd = PAID.replace("1.00", "1.005");
        assert!(matches!(
            parse_stk_callback(odd.as_bytes()),
            Err(PayloadError::Invalid {
                field: "Amount",
                ..
            })
        ));
        assert_eq!(
            parse_stk_callback(br#"{"Body":{}}"#),
            Err(PayloadError::Missing("Body.stkCallback"))
        );
    }
}
