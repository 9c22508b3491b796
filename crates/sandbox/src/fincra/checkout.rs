//! Fincra checkout collections: a hosted checkout opened with `x-pub-key`
//! (`POST /checkout-core/payments`), the page a buyer (a test, the chaos driver, a person with
//! curl) pays on, the verification by merchant reference, and the signed `charge.successful`
//! webhook — sent once or not at all, duplicated, or preceded by a forged one, as the fault
//! knobs say. The verification always answers the truth.

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{FincraState, error, webhook};
use crate::delivery::{spawn_delivery, spawn_lie_then_truth};
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Opened, not paid.
    Pending,
    Success,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Success => "success",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Checkout {
    /// Fincra's reference (`fcr-p-…`), in the link.
    reference: String,
    /// Ours.
    merchant_reference: String,
    /// What the checkout asks for.
    amount: Decimal,
    /// What the buyer paid, once paid (a test may make it differ).
    paid: Option<Decimal>,
    currency: String,
    email: String,
    status: Status,
    created_at: DateTime<Utc>,
}

impl Checkout {
    /// The verification's `data`, and the webhook's.
    fn json(&self) -> Value {
        json!({
            "reference": self.reference,
            "merchantReference": self.merchant_reference,
            "amount": number(self.paid.unwrap_or(self.amount)),
            "amountExpected": number(self.amount),
            "currency": self.currency,
            "status": self.status.as_str(),
            "customer": {"email": self.email},
            "createdAt": self.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        })
    }
}

fn number(amount: Decimal) -> Value {
    serde_json::from_str(&amount.normalize().to_string()).unwrap_or(Value::Null)
}

/// Checkout calls carry the public key as `x-pub-key` (the secret key is not needed).
pub(crate) async fn require_pub_key(
    State(state): State<Arc<FincraState>>,
    request: Request,
    next: Next,
) -> Response {
    let matches = request
        .headers()
        .get("x-pub-key")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|key| key == state.settings.public_key);
    if !matches {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid public key",
            "UNAUTHORIZED",
        );
    }
    next.run(request).await
}

fn text<'a>(body: &'a Value, pointer: &str) -> Option<&'a str> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `POST /checkout-core/payments`.
pub(crate) async fn open(State(state): State<Arc<FincraState>>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON body",
            "VALIDATION_FAILED",
        );
    };
    let amount = match body.get("amount") {
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string()).ok(),
        Some(Value::String(s)) => Decimal::from_str(s).ok(),
        _ => None,
    }
    .filter(|amount| *amount > Decimal::ZERO);
    let invalid = |why: &str| error(StatusCode::UNPROCESSABLE_ENTITY, why, "VALIDATION_FAILED");
    let Some(amount) = amount else {
        return invalid("amount must be a positive number");
    };
    let currency = text(&body, "/currency").unwrap_or_default().to_owned();
    if !matches!(currency.as_str(), "NGN" | "KES") {
        return invalid("currency is not supported for checkout");
    }
    let (Some(_name), Some(email)) = (
        text(&body, "/customer/name"),
        text(&body, "/customer/email"),
    ) else {
        return invalid("customer.name and customer.email are required");
    };
    let Some(merchant_reference) = text(&body, "/reference") else {
        return invalid("reference is required");
    };
    let shared = &state.shared;
    let checkout = Checkout {
        reference: format!("fcr-p-{}", shared.hex_bytes(8)),
        merchant_reference: merchant_reference.to_owned(),
        amount,
        paid: None,
        currency,
        email: email.to_owned(),
        status: Status::Pending,
        created_at: Utc::now(),
    };
    let reference = checkout.reference.clone();
    {
        let mut store = state.store();
        if store.checkouts.contains_key(merchant_reference) {
            return invalid("Duplicate reference: a payment with this reference exists");
        }
        store
            .checkout_links
            .insert(reference.clone(), merchant_reference.to_owned());
        store
            .checkouts
            .insert(merchant_reference.to_owned(), checkout);
    }
    (
        StatusCode::OK,
        axum::Json(json!({"status": true, "message": "Payment transaction initiated",
            "data": {"reference": reference, "link": format!("{}/checkout/pay/{reference}", state.base_url)}})),
    )
        .into_response()
}

/// `GET /checkout/payments/merchant-reference/{reference}` (behind `api-key`).
pub(crate) async fn verify(
    State(state): State<Arc<FincraState>>,
    Path(reference): Path<String>,
) -> Response {
    match state.store().checkouts.get(&reference) {
        Some(checkout) => (
            StatusCode::OK,
            axum::Json(
                json!({"status": true, "message": "Payment fetched successfully",
                "data": checkout.json()}),
            ),
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "Payment not found",
            "RESOURCE_NOT_FOUND",
        ),
    }
}

impl FincraState {
    /// The buyer pays the checkout opened under `merchant_reference` (`paid`: another amount
    /// than asked, for tests of a wrong amount), or the payment fails. A payment is booked in
    /// the fakes' money book and announced by `charge.successful`.
    pub(crate) fn pay_checkout(
        self: &Arc<Self>,
        merchant_reference: &str,
        paid: Option<Decimal>,
        succeed: bool,
    ) -> anyhow::Result<()> {
        let data = {
            let mut store = self.store();
            let Some(checkout) = store.checkouts.get_mut(merchant_reference) else {
                anyhow::bail!("no Fincra checkout with merchant reference {merchant_reference}");
            };
            if checkout.status != Status::Pending {
                anyhow::bail!(
                    "checkout {merchant_reference} is already {}",
                    checkout.status.as_str()
                );
            }
            if !succeed {
                checkout.status = Status::Failed;
                return Ok(());
            }
            checkout.status = Status::Success;
            checkout.paid = Some(paid.unwrap_or(checkout.amount));
            self.shared.money.record(MoneyMovement {
                channel: MoneyChannel::FincraCharge,
                key: checkout.merchant_reference.clone(),
                id: checkout.reference.clone(),
                amount: checkout.paid.unwrap_or(checkout.amount),
                currency: checkout.currency.clone(),
                destination: checkout.email.clone(),
                outcome: MoneyOutcome::Succeeded,
            });
            checkout.json()
        };
        self.send_charge_successful(&data);
        Ok(())
    }

    /// `charge.successful`, preceded now and then (`deposit_lie_probability`) by a signed
    /// one with half the amount under a made-up reference (so the truth is not deduped).
    fn send_charge_successful(self: &Arc<Self>, data: &Value) {
        let faults = self.shared.faults.get(Provider::Fincra);
        if self.shared.chance(faults.deposit_lie_probability) {
            let mut lie = data.clone();
            let amount = Decimal::from_str(&data["amount"].to_string()).unwrap_or(Decimal::ONE);
            lie["amount"] = number((amount / Decimal::TWO).round_dp(2));
            lie["reference"] = Value::from(format!("fcr-p-{}", self.shared.hex_bytes(8)));
            if let Some(lie) = webhook::outbound(self, "charge.successful", &lie) {
                let truth = webhook::outbound(self, "charge.successful", data);
                spawn_lie_then_truth(
                    &self.shared,
                    lie,
                    (MoneyChannel::FincraCharge.name(), "wrong_amount"),
                    truth,
                );
                return;
            }
        }
        if let Some(out) = webhook::outbound(self, "charge.successful", data) {
            spawn_delivery(&self.shared, out);
        }
    }

    /// The merchant reference behind Fincra's checkout reference.
    fn merchant_reference_of(&self, reference: &str) -> Option<String> {
        self.store().checkout_links.get(reference).cloned()
    }

    /// Where a checkout stands (`pending`, `success`, `failed`), if it exists.
    pub(crate) fn checkout_status(&self, merchant_reference: &str) -> Option<&'static str> {
        self.store()
            .checkouts
            .get(merchant_reference)
            .map(|checkout| checkout.status.as_str())
    }
}

/// The hosted page: says how to pay with curl.
pub(crate) async fn page(
    State(state): State<Arc<FincraState>>,
    Path(reference): Path<String>,
) -> Response {
    let Some(merchant_reference) = state.merchant_reference_of(&reference) else {
        return (StatusCode::NOT_FOUND, Html("Unknown checkout")).into_response();
    };
    Html(format!(
        "<html><body><h1>Sandbox Fincra checkout</h1><p>Payment <code>{merchant_reference}</code>.</p>\
         <p>Pay: <code>curl -X POST '{}/checkout/pay/{reference}?outcome=success'</code> \
         (or <code>failed</code>).</p></body></html>",
        state.base_url
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct PayQuery {
    outcome: Option<String>,
}

/// `POST /checkout/pay/{reference}?outcome=success|failed`: the buyer pays.
pub(crate) async fn pay(
    State(state): State<Arc<FincraState>>,
    Path(reference): Path<String>,
    Query(query): Query<PayQuery>,
) -> Response {
    let succeed = match query.outcome.as_deref().unwrap_or("success") {
        "success" => true,
        "failed" => false,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "outcome must be success or failed",
                "VALIDATION_FAILED",
            );
        }
    };
    let Some(merchant_reference) = state.merchant_reference_of(&reference) else {
        return error(
            StatusCode::NOT_FOUND,
            "Unknown checkout",
            "RESOURCE_NOT_FOUND",
        );
    };
    match state.pay_checkout(&merchant_reference, None, succeed) {
        Ok(()) => super::ok(
            "Checkout completed",
            json!({"merchantReference": merchant_reference}),
        ),
        Err(why) => error(
            StatusCode::BAD_REQUEST,
            &why.to_string(),
            "VALIDATION_FAILED",
        ),
    }
}
