//! STK push (Lipa na M-Pesa Online) and STK Push Query (PROVIDERS.md §2.2, §2.4): validate,
//! acknowledge, then settle after a delay by the scripted outcome and POST the callback.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::status::Receipt;
use super::stk_callback::{Paid, callback_body};
use super::wire::{self, Rejection, invalid, is_msisdn, is_url, parse_body, text, whole_amount};
use super::{MpesaState, StkOutcome, StkResult, error};
use crate::delivery::{Outbound, spawn_delivery, spawn_lie_then_truth};
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome};
use rust_decimal::Decimal;

const TRANSACTION_TYPES: [&str; 2] = ["CustomerPayBillOnline", "CustomerBuyGoodsOnline"];

#[derive(Debug, Clone)]
pub(crate) struct StkRecord {
    merchant_request_id: String,
    amount: u64,
    phone: String,
    callback_url: String,
    /// Shown in Pull Transactions as the payment's `billreference`, as for any Paybill payment.
    account_reference: String,
    outcome: StkOutcome,
    created_at: DateTime<Utc>,
    /// Set when the customer's answer is in: the receipt number if they paid.
    settled: Option<Option<String>>,
}

struct PushRequest {
    amount: u64,
    phone: String,
    callback_url: String,
    account_reference: String,
}

impl MpesaState {
    /// `BusinessShortCode`, `Timestamp` and `Password`, as STK push and query both check them.
    fn check_credentials(&self, body: &Value) -> Result<(), Rejection> {
        if text(body, "BusinessShortCode").as_deref() != Some(self.settings.shortcode.as_str()) {
            return Err(Rejection::Invalid("BusinessShortCode"));
        }
        let timestamp = text(body, "Timestamp").unwrap_or_default();
        let well_formed = timestamp.len() == 14
            && NaiveDateTime::parse_from_str(&timestamp, "%Y%m%d%H%M%S").is_ok();
        if !well_formed {
            return Err(Rejection::Invalid("Timestamp"));
        }
        if text(body, "Password") != Some(self.stk_password(&timestamp)) {
            return Err(Rejection::WrongCredentials);
        }
        Ok(())
    }

    fn validate_push(&self, body: &Value) -> Result<PushRequest, Rejection> {
        self.check_credentials(body)?;
        let field = |key: &str| text(body, key).unwrap_or_default();
        if !TRANSACTION_TYPES.contains(&field("TransactionType").as_str()) {
            return Err(Rejection::Invalid("TransactionType"));
        }
        let Some(amount) = whole_amount(body, "Amount") else {
            return Err(Rejection::Invalid("Amount"));
        };
        if !is_msisdn(&field("PartyA")) {
            return Err(Rejection::Invalid("PartyA"));
        }
        let party_b = field("PartyB");
        if party_b.is_empty() || !party_b.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Rejection::Invalid("PartyB"));
        }
        let phone = field("PhoneNumber");
        if !is_msisdn(&phone) {
            return Err(Rejection::Invalid("PhoneNumber"));
        }
        let callback_url = field("CallBackURL");
        if !is_url(&callback_url) {
            return Err(Rejection::Invalid("CallBackURL"));
        }
        if !(1..=12).contains(&field("AccountReference").chars().count()) {
            return Err(Rejection::Invalid("AccountReference"));
        }
        if !(1..=13).contains(&field("TransactionDesc").chars().count()) {
            return Err(Rejection::Invalid("TransactionDesc"));
        }
        Ok(PushRequest {
            amount,
            phone,
            callback_url,
            account_reference: field("AccountReference"),
        })
    }
}

pub(crate) async fn process_request(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = Arc::clone(&state.shared);
    let push = match parse_body(&body).and_then(|body| state.validate_push(&body)) {
        Ok(push) => push,
        Err(rejection) => return rejection.respond(&shared),
    };
    shared.counters.stk_push(&push.account_reference);
    let merchant_request_id = wire::request_id(&shared);
    let checkout_request_id = format!(
        "ws_CO_{}{}",
        wire::eat(Utc::now()).format("%d%m%Y%H%M%S"),
        shared.digits(11)
    );
    {
        let mut store = state.store();
        // Queue first, then standing rules, then the weighted draw.
        let outcome = store.stk_script.scripted().or_else(|| {
            store
                .stk_rules
                .iter()
                .find(|(when, _)| when.matches(&push.phone, push.amount))
                .map(|(_, outcome)| *outcome)
        });
        let outcome = outcome.unwrap_or_else(|| shared.with_rng(|rng| store.stk_script.draw(rng)));
        let record = StkRecord {
            merchant_request_id: merchant_request_id.clone(),
            amount: push.amount,
            phone: push.phone,
            callback_url: push.callback_url,
            account_reference: push.account_reference,
            outcome,
            created_at: Utc::now(),
            settled: None,
        };
        store.stk.insert(checkout_request_id.clone(), record);
    }
    let task_state = Arc::clone(&state);
    let task_checkout_id = checkout_request_id.clone();
    shared.spawn(async move {
        if task_state
            .shared
            .sleep(task_state.settings.callback_delay)
            .await
        {
            task_state.settle_stk(&task_checkout_id);
        }
    });
    let accepted = "Success. Request accepted for processing";
    Json(json!({
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResponseCode": "0",
        "ResponseDescription": accepted,
        "CustomerMessage": accepted,
    }))
    .into_response()
}

impl MpesaState {
    /// The customer has answered: record the result, then send the callback unless the
    /// outcome is silent.
    fn settle_stk(self: &Arc<Self>, checkout_request_id: &str) {
        let shared = &self.shared;
        let (record, receipt) = {
            let mut store = self.store();
            let Some(record) = store.stk.get_mut(checkout_request_id) else {
                return;
            };
            let receipt =
                (record.outcome.result == StkResult::Success).then(|| wire::receipt(shared));
            record.settled = Some(receipt.clone());
            let record = record.clone();
            if let Some(receipt) = &receipt {
                shared.money.record(MoneyMovement {
                    channel: MoneyChannel::MpesaStk,
                    key: checkout_request_id.to_owned(),
                    id: receipt.clone(),
                    amount: Decimal::from(record.amount),
                    currency: "KES".to_owned(),
                    destination: record.phone.clone(),
                    outcome: MoneyOutcome::Succeeded,
                });
                let paid = Receipt {
                    reason: "Pay Bill Online",
                    amount: record.amount,
                    debit_party: format!("{} - Sandbox Customer", record.phone),
                    credit_party: format!("{} - Malipo Sandbox", self.settings.shortcode),
                    initiated: record.created_at,
                    finalised: Utc::now(),
                    charges: "",
                };
                store.receipts.insert(receipt.clone(), paid);
                // An STK payment is a Paybill payment: Pull lists it under its AccountReference.
                let short_code = self.settings.shortcode.clone();
                store.c2b.push(super::c2b::C2bRecord {
                    trans_id: receipt.clone(),
                    at: Utc::now(),
                    short_code,
                    amount: record.amount,
                    msisdn: record.phone.clone(),
                    bill_ref_number: record.account_reference.clone(),
                });
            }
            (record, receipt)
        };
        let truth = if record.outcome.callback {
            let paid = receipt.as_deref().map(|receipt| Paid {
                amount: record.amount,
                receipt,
                phone: &record.phone,
                at: Utc::now(),
            });
            match callback_body(
                self,
                &record.merchant_request_id,
                checkout_request_id,
                record.outcome.result,
                paid,
            ) {
                Ok(body) => Some(Outbound::json(
                    Provider::Mpesa,
                    "stk",
                    &record.callback_url,
                    body,
                )),
                Err(error) => {
                    tracing::warn!(%error, "sandbox: cannot build an STK callback");
                    None
                }
            }
        } else {
            shared.counters.bump(|c| c.callbacks_dropped += 1);
            None
        };
        let lie_probability = shared.faults.get(Provider::Mpesa).deposit_lie_probability;
        if shared.chance(lie_probability)
            && let Some((lie, kind)) = self.stk_lie(checkout_request_id, &record, receipt.is_some())
        {
            spawn_lie_then_truth(shared, lie, (MoneyChannel::MpesaStk.name(), kind), truth);
        } else if let Some(truth) = truth {
            spawn_delivery(shared, truth);
        }
    }

    /// A callback contradicting the truth, on the push's real URL (so its token is valid): a
    /// `1032` or a short amount under a made-up receipt when the buyer paid, a success with a
    /// made-up receipt when they did not.
    fn stk_lie(
        &self,
        checkout_request_id: &str,
        record: &StkRecord,
        paid: bool,
    ) -> Option<(Outbound, &'static str)> {
        let shared = &self.shared;
        let made_up = wire::receipt(shared);
        let (result, amount, kind) = if !paid {
            (StkResult::Success, Some(record.amount), "forged_success")
        } else if shared.chance(0.5) {
            (StkResult::Cancelled, None, "forged_failure")
        } else {
            let short = (record.amount / 2).max(1);
            let amount = if short == record.amount {
                record.amount + 1
            } else {
                short
            };
            (StkResult::Success, Some(amount), "wrong_amount")
        };
        let paid = amount.map(|amount| Paid {
            amount,
            receipt: &made_up,
            phone: &record.phone,
            at: Utc::now(),
        });
        let body = callback_body(
            self,
            &record.merchant_request_id,
            checkout_request_id,
            result,
            paid,
        )
        .ok()?;
        Some((
            Outbound::json(Provider::Mpesa, "stk", &record.callback_url, body),
            kind,
        ))
    }
}

pub(crate) async fn query(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = &state.shared;
    let body =
        match parse_body(&body).and_then(|body| state.check_credentials(&body).map(|()| body)) {
            Ok(body) => body,
            Err(rejection) => return rejection.respond(shared),
        };
    let checkout_request_id = text(&body, "CheckoutRequestID").unwrap_or_default();
    let record = state.store().stk.get(&checkout_request_id).cloned();
    let Some(record) = record else {
        return invalid(shared, "CheckoutRequestID");
    };
    if record.settled.is_none() {
        // Real answer while in progress is unconfirmed; this is the commonly reported one.
        return error(
            shared,
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.001.1001",
            "The transaction is being processed",
        );
    }
    let result = record.outcome.result;
    Json(json!({
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successfully",
        "MerchantRequestID": record.merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": result.code().to_string(),
        "ResultDesc": result.description(),
    }))
    .into_response()
}
