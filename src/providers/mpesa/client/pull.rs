//! Daraja Pull Transactions: C2B payments of the last 48 hours, for reconciliation when
//! confirmation callbacks were missed (PROVIDERS.md §2.9).

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Answer, MpesaClient};
use crate::{
    domain::{Currency, Money},
    providers::{ProviderError, http::Effect},
};

/// One C2B payment as Pull reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledPayment {
    /// The receipt (`TransID`), globally unique.
    pub receipt: String,
    /// When it happened, if readable.
    pub at: Option<DateTime<Utc>>,
    /// What was paid.
    pub amount: Option<Money>,
    /// The account reference the customer typed.
    pub bill_reference: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryBody {
    short_code: String,
    start_date: String,
    end_date: String,
    off_set_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterBody<'a> {
    short_code: String,
    request_type: &'a str,
    nominated_number: &'a str,
    #[serde(rename = "CallBackURL")]
    callback_url: String,
}

#[derive(Deserialize)]
struct QueryAnswer {
    #[serde(rename = "Response", default)]
    response: Value,
}

/// Daraja dates are Nairobi local time (UTC+3, no daylight saving).
const NAIROBI: FixedOffset = match FixedOffset::east_opt(3 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+3 is a valid offset"),
};

impl MpesaClient {
    /// Registers the shortcode for Pull (idempotent: "already registered" is success).
    pub async fn pull_register(&self, nominated_number: &str) -> Result<(), ProviderError> {
        let body = RegisterBody {
            short_code: self.config.shortcode.to_string(),
            request_type: "Pull",
            nominated_number,
            callback_url: self.config.callbacks.status_result(),
        };
        match self
            .post::<_, Value>("/pulltransactions/v1/register", &body, Effect::Repeatable)
            .await?
        {
            Answer::Ok(_) => Ok(()),
            Answer::Refused(refusal) => Err(refusal.into_error(Effect::Repeatable)),
        }
    }

    /// Every C2B payment between `start` and `end` (Daraja keeps 48 hours), all pages.
    pub async fn pull_transactions(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<PulledPayment>, ProviderError> {
        let mut payments = Vec::new();
        loop {
            let body = QueryBody {
                short_code: self.config.shortcode.to_string(),
                start_date: start
                    .with_timezone(&NAIROBI)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
                end_date: end
                    .with_timezone(&NAIROBI)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
                off_set_value: payments.len().to_string(),
            };
            let answer = match self
                .post::<_, QueryAnswer>("/pulltransactions/v1/query", &body, Effect::Repeatable)
                .await?
            {
                Answer::Ok(answer) => answer,
                Answer::Refused(refusal) => return Err(refusal.into_error(Effect::Repeatable)),
            };
            let page = rows(&answer.response);
            let full_page = page.len() >= 1_000;
            payments.extend(page);
            if !full_page {
                return Ok(payments);
            }
        }
    }
}

/// Rows come nested (`[[row, …]]`) or flat; values are numbers or strings.
fn rows(response: &Value) -> Vec<PulledPayment> {
    let mut out = Vec::new();
    let mut stack = vec![response];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(row) => {
                let text = |key: &str| match row.get(key) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                let Some(receipt) = text("transactionId").filter(|r| !r.is_empty()) else {
                    continue;
                };
                let amount = text("amount")
                    .and_then(|a| a.parse::<rust_decimal::Decimal>().ok())
                    .and_then(|a| Money::new(a, Currency::Kes).ok());
                let at = text("trxDate")
                    .and_then(|d| DateTime::parse_from_rfc3339(&d).ok())
                    .map(|d| d.with_timezone(&Utc));
                out.push(PulledPayment {
                    receipt,
                    at,
                    amount,
                    bill_reference: text("billreference").unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rows_are_read_nested_or_flat_with_mixed_types() {
        let nested = json!([[{"transactionId":"RKL51ZDR4F","trxDate":"2023-11-21T12:13:25.000+03:00","msisdn":254708374149u64,
                              "transactiontype":"c2b-pay-bill-debit","billreference":"order-1","amount":"5.00","organizationname":"X"}]]);
        let read = rows(&nested);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].receipt, "RKL51ZDR4F");
        assert_eq!(read[0].amount, Some(Money::from_minor(500, Currency::Kes)));
        assert_eq!(read[0].bill_reference, "order-1");
        assert!(read[0].at.is_some());
        assert!(
            rows(&json!([{"transactionId":"A","amount":7}]))
                .first()
                .is_some_and(|r| r.amount == Some(Money::from_minor(700, Currency::Kes)))
        );
    }
}
