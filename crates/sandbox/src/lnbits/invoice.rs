//! LNbits invoices (PROVIDERS.md §3.1, §3.2, §3.4): `POST /api/v1/payments` with `out:false`,
//! the key-dependent `GET /api/v1/payments/{hash}`, and settlement by the simulated payer,
//! which sends the webhook once.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::payment::{Payment, PaymentStatus};
use super::{KeyType, LnbitsState, bolt11, detail, pay, webhook};
use crate::delivery::{Outbound, deliver, spawn_lie_then_truth};
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome, sats_from_msat};

/// LNbits' longest memo.
const MAX_MEMO: usize = 640;

/// `POST /api/v1/payments`: `out` defaults to true (pay), so receiving needs `out: false`.
pub(crate) async fn create_or_pay(
    State(state): State<Arc<LnbitsState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = state.key_type(&headers, query.get("api-key").map(String::as_str)) else {
        return detail(StatusCode::UNAUTHORIZED, "Invoice (or Admin) key required.");
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return detail(StatusCode::BAD_REQUEST, "Invalid JSON body.");
    };
    let outgoing = body.get("out").and_then(Value::as_bool).unwrap_or(true);
    match (outgoing, key) {
        (true, KeyType::Admin) => pay::pay(&state, &body),
        (true, KeyType::Invoice) => {
            detail(StatusCode::FORBIDDEN, "Invoice (or Admin) key required.")
        }
        (false, _) => create_invoice(&state, &body),
    }
}

/// A whole number of sats, as a JSON number or numeric string.
fn sats(value: Option<&Value>) -> Option<u64> {
    let text = match value? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let amount = Decimal::from_str(&text).ok()?;
    if !amount.fract().is_zero() || amount <= Decimal::ZERO {
        return None;
    }
    amount.trunc().to_string().parse().ok()
}

fn create_invoice(state: &LnbitsState, body: &Value) -> Response {
    if body
        .get("unit")
        .and_then(Value::as_str)
        .is_some_and(|unit| unit != "sat")
    {
        return detail(
            StatusCode::BAD_REQUEST,
            "The sandbox only supports unit 'sat'.",
        );
    }
    let Some(amount_sat) = sats(body.get("amount")) else {
        return detail(
            StatusCode::BAD_REQUEST,
            "Amount must be a positive whole number of sats.",
        );
    };
    let memo = body.get("memo").and_then(Value::as_str).unwrap_or_default();
    if memo.chars().count() > MAX_MEMO {
        return detail(StatusCode::BAD_REQUEST, "Memo is too long.");
    }
    let expiry = match body.get("expiry") {
        None | Some(Value::Null) => 3600,
        Some(value) => match value.as_i64() {
            Some(seconds) if seconds > 0 => seconds,
            _ => {
                return detail(
                    StatusCode::BAD_REQUEST,
                    "Expiry must be a positive number of seconds.",
                );
            }
        },
    };
    let preimage = state.shared.hex_bytes(32);
    let Ok(preimage_bytes) = hex::decode(&preimage) else {
        return detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Invoice creation failed.",
        );
    };
    let hash = Sha256::digest(&preimage_bytes);
    let now = Utc::now();
    let payment = Payment {
        payment_hash: hex::encode(hash),
        bolt11: bolt11::encode(amount_sat, &hash),
        amount_msat: i64::try_from(amount_sat.saturating_mul(1000)).unwrap_or(i64::MAX),
        fee_msat: 0,
        memo: memo.to_owned(),
        status: PaymentStatus::Pending,
        preimage,
        expiry: now + TimeDelta::seconds(expiry),
        webhook: body
            .get("webhook")
            .and_then(Value::as_str)
            .map(str::to_owned),
        webhook_status: None,
        extra: body.get("extra").cloned().unwrap_or_else(|| json!({})),
        created_at: now,
        updated_at: now,
    };
    let json = payment.to_json(&state.settings.wallet_id, PaymentStatus::Pending);
    state
        .store()
        .payments
        .insert(payment.payment_hash.clone(), payment);
    (StatusCode::CREATED, Json(json)).into_response()
}

/// `GET /api/v1/payments/{hash}`: the full shape for the wallet's own keys, `{paid, preimage}`
/// for any other key or none.
pub(crate) async fn check(
    State(state): State<Arc<LnbitsState>>,
    Path(payment_hash): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let owner = state
        .key_type(&headers, query.get("api-key").map(String::as_str))
        .is_some();
    let Some(payment) = state.store().payments.get(&payment_hash).cloned() else {
        return detail(StatusCode::NOT_FOUND, "Payment does not exist.");
    };
    let status = payment.status_now(state.settings.expired_status);
    let paid = status == PaymentStatus::Success;
    let preimage = payment.preimage_json(status);
    let body = if owner {
        json!({
            "paid": paid,
            "status": status.as_str(),
            "preimage": preimage,
            "details": payment.to_json(&state.settings.wallet_id, status),
        })
    } else {
        json!({"paid": paid, "preimage": preimage})
    };
    Json(body).into_response()
}

impl LnbitsState {
    /// The payer pays an invoice: it turns `success` and its webhook is sent, once. Errors for
    /// unknown, outgoing, settled or expired payments.
    pub(crate) fn pay_invoice(self: &Arc<Self>, payment_hash: &str) -> anyhow::Result<()> {
        let (payment, json) = {
            let mut store = self.store();
            let Some(payment) = store.payments.get_mut(payment_hash) else {
                anyhow::bail!("no LNbits invoice with payment hash {payment_hash}");
            };
            anyhow::ensure!(
                !payment.is_outgoing(),
                "{payment_hash} is an outgoing payment"
            );
            anyhow::ensure!(
                payment.status == PaymentStatus::Pending,
                "invoice {payment_hash} is already {}",
                payment.status.as_str()
            );
            anyhow::ensure!(
                Utc::now() < payment.expiry,
                "invoice {payment_hash} has expired"
            );
            payment.status = PaymentStatus::Success;
            payment.updated_at = Utc::now();
            let json = payment.to_json(&self.settings.wallet_id, PaymentStatus::Success);
            (payment.clone(), json)
        };
        self.shared.money.record(MoneyMovement {
            channel: MoneyChannel::LnbitsInvoice,
            key: payment.payment_hash.clone(),
            id: payment.payment_hash.clone(),
            amount: sats_from_msat(payment.amount_msat),
            currency: "SAT".to_owned(),
            destination: self.settings.wallet_id.clone(),
            outcome: MoneyOutcome::Succeeded,
        });
        let Some(url) = payment.webhook else {
            return Ok(());
        };
        let body = webhook::body(self.settings.webhook_body, &json)?;
        let faults = self.shared.faults.get(Provider::Lnbits);
        if self.shared.chance(faults.deposit_lie_probability) {
            // The webhook is unsigned; a lie names the right hash and the wrong amount.
            let mut lie = json.clone();
            lie["amount"] = Value::from((payment.amount_msat / 2).max(1000));
            let lie = webhook::body(self.settings.webhook_body, &lie)?;
            spawn_lie_then_truth(
                &self.shared,
                Outbound::json(Provider::Lnbits, "payment", &url, lie),
                (MoneyChannel::LnbitsInvoice.name(), "wrong_amount"),
                None,
            );
        }
        let task_state = Arc::clone(self);
        self.shared.spawn(async move {
            let out = Outbound::json(Provider::Lnbits, "payment", &url, body);
            let status = deliver(&task_state.shared, out).await;
            if let Some(payment) = task_state.store().payments.get_mut(&payment.payment_hash) {
                payment.webhook_status = status.map(|s| s.as_u16());
            }
        });
        Ok(())
    }
}

/// `POST /_sandbox/pay/{payment_hash}`: the payer's side, for curl.
pub(crate) async fn sandbox_pay(
    State(state): State<Arc<LnbitsState>>,
    Path(payment_hash): Path<String>,
) -> Response {
    match state.pay_invoice(&payment_hash) {
        Ok(()) => Json(json!({"paid": true, "payment_hash": payment_hash})).into_response(),
        Err(error) => detail(StatusCode::BAD_REQUEST, &error.to_string()),
    }
}
