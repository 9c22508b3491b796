//! C2B validation and confirmation posts (one payload shape for both).

use chrono::{DateTime, Utc};

use super::shillings;
use crate::{
    domain::{Money, Msisdn, msisdn::mask},
    providers::{
        mpesa::password::parse_timestamp,
        payload::{PayloadError, json, required_text, text},
    },
};

/// A customer's paybill or till payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bPayment {
    /// `TransID`: the M-Pesa receipt, globally unique.
    pub trans_id: String,
    /// `Pay Bill`, `Buy Goods`, …
    pub transaction_type: String,
    /// `TransTime` (Nairobi time).
    pub trans_time: Option<DateTime<Utc>>,
    /// `TransAmount`.
    pub amount: Money,
    /// The shortcode paid.
    pub business_shortcode: String,
    /// `BillRefNumber`: the account number the customer typed.
    pub bill_ref_number: String,
    /// `InvoiceNumber`, when not blank.
    pub invoice_number: Option<String>,
    /// The payer's number, masked (Daraja masks it already; older payloads sent it in full).
    pub msisdn_masked: String,
    /// `c2b:{TransID}`.
    pub dedupe_key: String,
}

/// Reads a C2B validation or confirmation payload; values are strings but numbers are accepted.
pub fn parse_c2b(raw_body: &[u8]) -> Result<C2bPayment, PayloadError> {
    let body = json(raw_body)?;
    let trans_id = required_text(&body, "TransID")?;
    let amount = shillings(
        body.get("TransAmount")
            .ok_or(PayloadError::Missing("TransAmount"))?,
        "TransAmount",
    )?;
    let msisdn = body.get("MSISDN").and_then(text).unwrap_or_default();
    Ok(C2bPayment {
        dedupe_key: format!("c2b:{trans_id}"),
        trans_id,
        transaction_type: body
            .get("TransactionType")
            .and_then(text)
            .unwrap_or_default(),
        trans_time: body
            .get("TransTime")
            .and_then(text)
            .and_then(|time| parse_timestamp(&time)),
        amount,
        business_shortcode: required_text(&body, "BusinessShortCode")?,
        bill_ref_number: body.get("BillRefNumber").and_then(text).unwrap_or_default(),
        invoice_number: body
            .get("InvoiceNumber")
            .and_then(text)
            .filter(|invoice| !invoice.is_empty()),
        msisdn_masked: Msisdn::parse(&msisdn)
            .map(|msisdn| msisdn.masked())
            .unwrap_or_else(|_| {
                if msisdn.contains('*') {
                    msisdn
                } else {
                    mask(&msisdn)
                }
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    const CONFIRMATION: &str = r#"{"TransactionType":"Pay Bill","TransID":"RKL51ZDR4F","TransTime":"20231121121325","TransAmount":"5.00",
 "BusinessShortCode":"600966","BillRefNumber":"Sample Transaction","InvoiceNumber":"","OrgAccountBalance":"25.00",
 "ThirdPartyTransID":"","MSISDN":"2547 ***** 126","FirstName":"NICHOLAS","MiddleName":"","LastName":""}"#;

    #[test]
    fn confirmation_payload() {
        let payment = parse_c2b(CONFIRMATION.as_bytes()).expect("parses");
        assert_eq!(payment.dedupe_key, "c2b:RKL51ZDR4F");
        assert_eq!(payment.amount, Money::from_minor(500, Currency::Kes));
        assert_eq!(payment.invoice_number, None);
        assert_eq!(payment.msisdn_masked, "2547 ***** 126");
        assert_eq!(payment.trans_time, parse_timestamp("20231121121325"));
        assert!(payment.trans_time.is_some());
    }

    #[test]
    fn validation_payload_with_blank_balance_and_a_full_number() {
        let validation = CONFIRMATION
            .replace(
                r#""OrgAccountBalance":"25.00""#,
                r#""OrgAccountBalance":"""#,
            )
            .replace("2547 ***** 126", "254708374149")
            .replace(r#""5.00""#, "5");
        let payment = parse_c2b(validation.as_bytes()).expect("parses");
        assert_eq!(payment.msisdn_masked, "2547****149");
        assert_eq!(payment.amount, Money::from_minor(500, Currency::Kes));
        assert_eq!(
            parse_c2b(br#"{"TransAmount":"5"}"#),
            Err(PayloadError::Missing("TransID"))
        );
    }
}
