//! C2B (PROVIDERS.md §2.5): URL registration, and simulated customer payments that call the
//! registered validation URL, then the confirmation URL, and are kept for Pull Transactions.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::MpesaState;
use super::status::Receipt;
use super::wire::{
    self, compact_time, invalid, is_url, mask_msisdn, parse_body, text, whole_amount,
};
use crate::delivery::{Outbound, exchange, spawn_delivery};
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome};
use rust_decimal::Decimal;

/// Words Daraja refuses in callback URLs.
const FORBIDDEN_IN_URLS: [&str; 6] = ["m-pesa", "safaricom", "exe", "cmd", "sql", "query"];

/// A customer paying the business, for `FakeProviders::mpesa_simulate_c2b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bPayment {
    /// The paybill or till paid.
    pub short_code: String,
    /// Whole KES.
    pub amount: u64,
    /// The payer, `2547…`.
    pub msisdn: String,
    /// The account number the customer typed.
    pub bill_ref_number: String,
    /// The payer's first name.
    pub first_name: String,
    /// When it happened; now by default. An older time tests Pull's 48-hour window.
    pub at: Option<DateTime<Utc>>,
}

impl C2bPayment {
    /// A payment now, from a customer called `SANDBOX`.
    pub fn new(
        short_code: impl Into<String>,
        amount: u64,
        msisdn: impl Into<String>,
        bill_ref_number: impl Into<String>,
    ) -> Self {
        Self {
            short_code: short_code.into(),
            amount,
            msisdn: msisdn.into(),
            bill_ref_number: bill_ref_number.into(),
            first_name: "SANDBOX".to_owned(),
            at: None,
        }
    }
}

/// What became of a simulated C2B payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum C2bOutcome {
    /// Paid; the confirmation callback is on its way (unless dropped).
    Completed {
        /// The M-Pesa receipt, `TransID`.
        trans_id: String,
    },
    /// Refused by the validation URL's `ResultCode`, or by `ResponseType: Cancelled` when the
    /// validation URL did not answer (then `C2B00016`).
    Rejected {
        /// The refusing code.
        result_code: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct C2bUrls {
    response_type: String,
    confirmation_url: String,
    validation_url: String,
}

#[derive(Debug, Clone)]
pub(crate) struct C2bRecord {
    pub(crate) trans_id: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) short_code: String,
    pub(crate) amount: u64,
    pub(crate) msisdn: String,
    pub(crate) bill_ref_number: String,
}

/// The validation and confirmation payload: all strings, MSISDN masked.
#[derive(Serialize)]
struct C2bPayload<'a> {
    #[serde(rename = "TransactionType")]
    transaction_type: &'a str,
    #[serde(rename = "TransID")]
    trans_id: &'a str,
    #[serde(rename = "TransTime")]
    trans_time: String,
    #[serde(rename = "TransAmount")]
    trans_amount: String,
    #[serde(rename = "BusinessShortCode")]
    business_short_code: &'a str,
    #[serde(rename = "BillRefNumber")]
    bill_ref_number: &'a str,
    #[serde(rename = "InvoiceNumber")]
    invoice_number: &'a str,
    #[serde(rename = "OrgAccountBalance")]
    org_account_balance: String,
    #[serde(rename = "ThirdPartyTransID")]
    third_party_trans_id: &'a str,
    #[serde(rename = "MSISDN")]
    msisdn: String,
    #[serde(rename = "FirstName")]
    first_name: &'a str,
    #[serde(rename = "MiddleName")]
    middle_name: &'a str,
    #[serde(rename = "LastName")]
    last_name: &'a str,
}

fn payload(
    payment: &C2bPayment,
    trans_id: &str,
    at: DateTime<Utc>,
    balance: String,
) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&C2bPayload {
        transaction_type: "Pay Bill",
        trans_id,
        trans_time: compact_time(at),
        trans_amount: format!("{}.00", payment.amount),
        business_short_code: &payment.short_code,
        bill_ref_number: &payment.bill_ref_number,
        invoice_number: "",
        org_account_balance: balance,
        third_party_trans_id: "",
        msisdn: mask_msisdn(&payment.msisdn),
        first_name: &payment.first_name,
        middle_name: "",
        last_name: "",
    })
}

fn acceptable_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    is_url(url) && !FORBIDDEN_IN_URLS.iter().any(|word| lower.contains(word))
}

pub(crate) async fn register_url(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = &state.shared;
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(rejection) => return rejection.respond(shared),
    };
    let field = |key: &str| text(&body, key).unwrap_or_default();
    let short_code = field("ShortCode");
    if short_code.is_empty() {
        return invalid(shared, "ShortCode");
    }
    let response_type = field("ResponseType");
    if response_type != "Completed" && response_type != "Cancelled" {
        return invalid(shared, "ResponseType");
    }
    let (confirmation_url, validation_url) = (field("ConfirmationURL"), field("ValidationURL"));
    if !acceptable_url(&confirmation_url) {
        return invalid(shared, "ConfirmationURL");
    }
    if !acceptable_url(&validation_url) {
        return invalid(shared, "ValidationURL");
    }
    let urls = C2bUrls {
        response_type,
        confirmation_url,
        validation_url,
    };
    state.store().c2b_urls.insert(short_code, urls);
    // "Coversation" is Daraja's own spelling.
    Json(json!({
        "OriginatorCoversationID": wire::request_id(shared),
        "ResponseCode": "0",
        "ResponseDescription": "success",
    }))
    .into_response()
}

/// Daraja sandbox's `POST /mpesa/c2b/v1/simulate`: a customer pays, asynchronously.
pub(crate) async fn simulate(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = Arc::clone(&state.shared);
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(rejection) => return rejection.respond(&shared),
    };
    let field = |key: &str| text(&body, key).unwrap_or_default();
    let short_code = field("ShortCode");
    if short_code.is_empty() {
        return invalid(&shared, "ShortCode");
    }
    if !["CustomerPayBillOnline", "CustomerBuyGoodsOnline"].contains(&field("CommandID").as_str()) {
        return invalid(&shared, "CommandID");
    }
    let Some(amount) = whole_amount(&body, "Amount") else {
        return invalid(&shared, "Amount");
    };
    let msisdn = field("Msisdn");
    if !wire::is_msisdn(&msisdn) {
        return invalid(&shared, "Msisdn");
    }
    let payment = C2bPayment::new(short_code, amount, msisdn, field("BillRefNumber"));
    let task_state = Arc::clone(&state);
    shared.spawn(async move {
        if let Err(error) = task_state.simulate_c2b(payment).await {
            tracing::warn!(%error, "sandbox: simulated C2B payment failed");
        }
    });
    Json(json!({
        "OriginatorCoversationID": wire::request_id(&shared),
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    }))
    .into_response()
}

impl MpesaState {
    /// Runs one C2B payment: validation (when a validation URL is registered), then the
    /// record, then the confirmation callback.
    pub(crate) async fn simulate_c2b(
        self: &Arc<Self>,
        payment: C2bPayment,
    ) -> anyhow::Result<C2bOutcome> {
        anyhow::ensure!(payment.amount > 0, "a C2B payment needs a positive amount");
        let shared = &self.shared;
        let trans_id = wire::receipt(shared);
        let at = payment.at.unwrap_or_else(Utc::now);
        let urls = self.store().c2b_urls.get(&payment.short_code).cloned();

        if let Some(urls) = &urls {
            let body = payload(&payment, &trans_id, at, String::new())?;
            let out = Outbound::json(
                Provider::Mpesa,
                "c2b validation",
                &urls.validation_url,
                body,
            );
            let verdict = exchange(shared, &out)
                .await
                .and_then(|(_, reply)| serde_json::from_slice::<Value>(&reply).ok())
                .and_then(|reply| text(&reply, "ResultCode"));
            match verdict {
                Some(code) if code == "0" => {}
                Some(code) => return Ok(C2bOutcome::Rejected { result_code: code }),
                // No usable answer: the registered ResponseType decides.
                None if urls.response_type == "Cancelled" => {
                    return Ok(C2bOutcome::Rejected {
                        result_code: "C2B00016".to_owned(),
                    });
                }
                None => {}
            }
        }

        let balance = {
            let mut store = self.store();
            let balance = store
                .org_balances
                .entry(payment.short_code.clone())
                .or_default();
            *balance += payment.amount;
            let balance = *balance;
            store.c2b.push(C2bRecord {
                trans_id: trans_id.clone(),
                at,
                short_code: payment.short_code.clone(),
                amount: payment.amount,
                msisdn: payment.msisdn.clone(),
                bill_ref_number: payment.bill_ref_number.clone(),
            });
            let receipt = Receipt {
                reason: "Pay Bill",
                amount: payment.amount,
                debit_party: format!("{} - {}", payment.msisdn, payment.first_name),
                credit_party: format!("{} - Malipo Sandbox", payment.short_code),
                initiated: at,
                finalised: at,
                charges: "",
            };
            store.receipts.insert(trans_id.clone(), receipt);
            shared.money.record(MoneyMovement {
                channel: MoneyChannel::MpesaC2b,
                key: payment.bill_ref_number.clone(),
                id: trans_id.clone(),
                amount: Decimal::from(payment.amount),
                currency: "KES".to_owned(),
                destination: payment.msisdn.clone(),
                outcome: MoneyOutcome::Succeeded,
            });
            balance
        };
        if let Some(urls) = urls {
            let body = payload(&payment, &trans_id, at, format!("{balance}.00"))?;
            let out = Outbound::json(
                Provider::Mpesa,
                "c2b confirmation",
                &urls.confirmation_url,
                body,
            );
            spawn_delivery(shared, out);
        }
        Ok(C2bOutcome::Completed { trans_id })
    }
}
