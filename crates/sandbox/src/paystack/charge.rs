//! Paystack transactions: initialize, verify, the fake checkout that completes them, and the
//! `charge.success` webhook (PROVIDERS.md §1.1, §1.2, §1.5).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::delivery::spawn_lie_then_truth;
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome, from_minor};

use super::{
    PaystackState, fail, invalid_json, minor_amount, ok, parse_body, text, timestamp, webhook,
};

/// Currencies a Paystack merchant can charge in.
const CURRENCIES: [&str; 7] = ["NGN", "GHS", "ZAR", "KES", "USD", "XOF", "EGP"];

/// How a buyer's checkout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Paid: `status: success`, and a `charge.success` webhook.
    Success,
    /// Declined: `status: failed`, no webhook.
    Failed,
    /// Left unpaid: stays `abandoned`, no webhook.
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChargeStatus {
    /// Paystack shows an initialized, unpaid transaction as `abandoned`.
    Abandoned,
    Success,
    Failed,
    /// Fully refunded.
    Reversed,
}

impl ChargeStatus {
    fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Abandoned => "abandoned",
            ChargeStatus::Success => "success",
            ChargeStatus::Failed => "failed",
            ChargeStatus::Reversed => "reversed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub(crate) id: u64,
    pub(crate) reference: String,
    access_code: String,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) email: String,
    pub(crate) status: ChargeStatus,
    metadata: Value,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    customer_id: u64,
    customer_code: String,
    authorization_code: String,
    /// Refunds pending or processed, in minor units.
    pub(crate) refunded: i64,
}

impl Transaction {
    /// The Transaction object of verify and `charge.success` (§1.2).
    pub(crate) fn to_json(&self) -> Value {
        let paid = self.paid_at.is_some();
        json!({
            "id": self.id,
            "domain": "test",
            "status": self.status.as_str(),
            "reference": self.reference,
            "amount": self.amount,
            "requested_amount": self.amount,
            "currency": self.currency,
            "gateway_response": match self.status {
                ChargeStatus::Abandoned => "The transaction was not completed",
                ChargeStatus::Failed => "Declined",
                ChargeStatus::Success | ChargeStatus::Reversed => "Successful",
            },
            "paid_at": self.paid_at.map(timestamp),
            "created_at": timestamp(self.created_at),
            "channel": "card",
            "fees": if paid { Value::from(fees(self.amount)) } else { Value::Null },
            "metadata": self.metadata,
            "customer": {
                "id": self.customer_id,
                "email": self.email,
                "customer_code": self.customer_code,
            },
            "authorization": if paid {
                json!({
                    "authorization_code": self.authorization_code,
                    "reusable": true,
                    "signature": format!("SIG_{}", self.authorization_code.trim_start_matches("AUTH_")),
                })
            } else {
                json!({})
            },
        })
    }
}

/// Paystack's local card fee: 1.5 %, plus 100 NGN from 2,500 NGN, capped at 2,000 NGN.
fn fees(amount: i64) -> i64 {
    let extra = if amount >= 250_000 { 10_000 } else { 0 };
    (amount * 15 / 1000 + extra).min(200_000)
}

/// References: alphanumerics and `-.=` (§1.1).
fn valid_reference(reference: &str) -> bool {
    reference
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'='))
}

pub(crate) async fn initialize(State(state): State<Arc<PaystackState>>, body: Bytes) -> Response {
    let Some(body) = parse_body(&body) else {
        return invalid_json();
    };
    let Some(email) = text(&body, "email").filter(|e| e.contains('@')) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid Email Address Passed");
    };
    let Some(amount) = minor_amount(body.get("amount")) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid Amount Sent");
    };
    let currency = text(&body, "currency").unwrap_or("NGN");
    if !CURRENCIES.contains(&currency) {
        return fail(
            StatusCode::BAD_REQUEST,
            "Currency not supported by merchant",
        );
    }
    let shared = &state.shared;
    let reference = match text(&body, "reference") {
        Some(r) if valid_reference(r) => r.to_owned(),
        Some(_) => return fail(StatusCode::BAD_REQUEST, "Invalid transaction reference"),
        None => shared.lower_alnum(10),
    };
    let transaction = Transaction {
        id: shared.numeric_id(),
        reference: reference.clone(),
        access_code: shared.lower_alnum(15),
        amount,
        currency: currency.to_owned(),
        email: email.to_owned(),
        status: ChargeStatus::Abandoned,
        metadata: body
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| Value::from("")),
        created_at: Utc::now(),
        paid_at: None,
        customer_id: shared.numeric_id(),
        customer_code: format!("CUS_{}", shared.lower_alnum(15)),
        authorization_code: format!("AUTH_{}", shared.lower_alnum(10)),
        refunded: 0,
    };
    let access_code = transaction.access_code.clone();
    {
        let mut store = state.store();
        if store.transactions.contains_key(&reference) {
            return fail(StatusCode::BAD_REQUEST, "Duplicate Transaction Reference");
        }
        store
            .access_codes
            .insert(access_code.clone(), reference.clone());
        store.transactions.insert(reference.clone(), transaction);
    }
    ok(
        StatusCode::OK,
        "Authorization URL created",
        json!({
            "authorization_url": format!("{}/checkout/{access_code}", state.base_url),
            "access_code": access_code,
            "reference": reference,
        }),
    )
}

pub(crate) async fn verify(
    State(state): State<Arc<PaystackState>>,
    Path(reference): Path<String>,
) -> Response {
    match state.store().transactions.get(&reference) {
        Some(transaction) => ok(
            StatusCode::OK,
            "Verification successful",
            transaction.to_json(),
        ),
        None => fail(StatusCode::BAD_REQUEST, "Transaction reference not found"),
    }
}

impl PaystackState {
    /// Ends a buyer's checkout; a success sends `charge.success`. Errors if the reference is
    /// unknown or the transaction is no longer awaiting payment.
    pub(crate) fn complete_charge(
        self: &Arc<Self>,
        reference: &str,
        outcome: ChargeOutcome,
    ) -> anyhow::Result<()> {
        let paid = {
            let mut store = self.store();
            let Some(transaction) = store.transactions.get_mut(reference) else {
                anyhow::bail!("no Paystack transaction with reference {reference}");
            };
            if transaction.status != ChargeStatus::Abandoned {
                anyhow::bail!(
                    "transaction {reference} is already {}",
                    transaction.status.as_str()
                );
            }
            match outcome {
                ChargeOutcome::Success => {
                    transaction.status = ChargeStatus::Success;
                    transaction.paid_at = Some(Utc::now());
                    Some(transaction.to_json())
                }
                ChargeOutcome::Failed => {
                    transaction.status = ChargeStatus::Failed;
                    None
                }
                ChargeOutcome::Abandoned => None,
            }
        };
        if let Some(data) = paid {
            self.record_charge(reference);
            self.send_charge_success(&data);
        }
        Ok(())
    }

    /// Books a paid transaction in the fakes' money book.
    fn record_charge(&self, reference: &str) {
        let Some(transaction) = self.store().transactions.get(reference).cloned() else {
            return;
        };
        self.shared.money.record(MoneyMovement {
            channel: MoneyChannel::PaystackCharge,
            key: transaction.reference.clone(),
            id: transaction.id.to_string(),
            amount: from_minor(transaction.amount),
            currency: transaction.currency.clone(),
            destination: transaction.email.clone(),
            outcome: MoneyOutcome::Succeeded,
        });
    }

    /// `charge.success`, preceded now and then (`deposit_lie_probability`) by a signed one
    /// claiming the wrong amount.
    fn send_charge_success(self: &Arc<Self>, data: &Value) {
        let faults = self.shared.faults.get(Provider::Paystack);
        if self.shared.chance(faults.deposit_lie_probability) {
            let mut lie = data.clone();
            let amount = data["amount"].as_i64().unwrap_or(100);
            lie["amount"] = Value::from((amount / 2).max(1));
            lie["requested_amount"] = lie["amount"].clone();
            if let Some(lie) = webhook::outbound(self, "charge.success", &lie) {
                let truth = webhook::outbound(self, "charge.success", data);
                spawn_lie_then_truth(
                    &self.shared,
                    lie,
                    (MoneyChannel::PaystackCharge.name(), "wrong_amount"),
                    truth,
                );
                return;
            }
        }
        webhook::send_event(self, "charge.success", data);
    }

    fn reference_for_access_code(&self, access_code: &str) -> Option<String> {
        self.store().access_codes.get(access_code).cloned()
    }
}

/// The fake hosted checkout: says how to pay with curl.
pub(crate) async fn checkout_page(
    State(state): State<Arc<PaystackState>>,
    Path(access_code): Path<String>,
) -> Response {
    let Some(reference) = state.reference_for_access_code(&access_code) else {
        return (StatusCode::NOT_FOUND, Html("Unknown checkout")).into_response();
    };
    Html(format!(
        "<html><body><h1>Sandbox checkout</h1><p>Transaction <code>{reference}</code>.</p>\
         <p>Pay: <code>curl -X POST '{}/checkout/{access_code}?outcome=success'</code> \
         (or <code>failed</code>, <code>abandoned</code>).</p></body></html>",
        state.base_url
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct CheckoutQuery {
    outcome: Option<String>,
}

/// `POST /checkout/{access_code}?outcome=success|failed|abandoned`: the buyer pays.
pub(crate) async fn checkout_pay(
    State(state): State<Arc<PaystackState>>,
    Path(access_code): Path<String>,
    Query(query): Query<CheckoutQuery>,
) -> Response {
    let outcome = match query.outcome.as_deref().unwrap_or("success") {
        "success" => ChargeOutcome::Success,
        "failed" => ChargeOutcome::Failed,
        "abandoned" => ChargeOutcome::Abandoned,
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                "outcome must be success, failed or abandoned",
            );
        }
    };
    let Some(reference) = state.reference_for_access_code(&access_code) else {
        return fail(StatusCode::NOT_FOUND, "Unknown checkout");
    };
    match state.complete_charge(&reference, outcome) {
        Ok(()) => ok(
            StatusCode::OK,
            "Checkout completed",
            json!({"reference": reference}),
        ),
        Err(error) => fail(StatusCode::BAD_REQUEST, &error.to_string()),
    }
}
