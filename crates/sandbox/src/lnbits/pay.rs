//! Outgoing LNbits payments (PROVIDERS.md §3.3): admin key, `{"out":true,"bolt11":…}` → 201
//! `success` or `pending`; `webhook` is ignored; no idempotency key, but a payment hash can
//! only be paid once.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::payment::{Payment, PaymentStatus};
use super::{LnbitsState, OutgoingOutcome, Store, bolt11, detail};
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome, sats_from_msat};

/// A payment status as the money book says it.
fn booked(status: PaymentStatus) -> MoneyOutcome {
    match status {
        PaymentStatus::Pending => MoneyOutcome::Pending,
        PaymentStatus::Success => MoneyOutcome::Succeeded,
        PaymentStatus::Failed => MoneyOutcome::Failed,
    }
}

/// LNbits' status for payment errors.
fn payment_error(message: &str) -> Response {
    let status = StatusCode::from_u16(520).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    detail(status, message)
}

pub(crate) fn pay(state: &Arc<LnbitsState>, body: &Value) -> Response {
    let Some(invoice) = body
        .get("bolt11")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
    else {
        return detail(StatusCode::BAD_REQUEST, "Missing BOLT11 invoice");
    };
    let Some(amount_msat) = bolt11::amount_msat(invoice) else {
        return detail(StatusCode::BAD_REQUEST, "Bolt11 decoding failed.");
    };
    let shared = &state.shared;
    shared.counters.transfer_attempt(invoice);
    // LNbits files an outgoing payment under its invoice's payment hash, which is what a client
    // checking on it asks for; only an invoice without a readable one is named by its text.
    let payment_hash = bolt11::payment_hash(invoice)
        .unwrap_or_else(|| hex::encode(Sha256::digest(invoice.as_bytes())));
    let (json, outcome) = {
        let mut store = state.store();
        if let Some(refusal) = refusal(&store, invoice, &payment_hash) {
            return refusal;
        }
        let outcome = draw_outcome(state, &mut store);
        let amount = i64::try_from(amount_msat).unwrap_or(i64::MAX);
        let payment = outgoing_payment(state, body, invoice, &payment_hash, amount, outcome);
        let json = payment.to_json(&state.settings.wallet_id, payment.status);
        shared.money.record(MoneyMovement {
            channel: MoneyChannel::LnbitsPayment,
            key: invoice.to_owned(),
            id: payment_hash.clone(),
            amount: sats_from_msat(amount),
            currency: "SAT".to_owned(),
            destination: invoice.to_owned(),
            outcome: booked(payment.status),
        });
        store.payments.insert(payment_hash.clone(), payment);
        (json, outcome)
    };
    match outcome {
        OutgoingOutcome::Failed => return payment_error("Payment failed: no route found"),
        OutgoingOutcome::Pending | OutgoingOutcome::PendingThenFailed => {
            conclude_later(state, payment_hash, outcome);
        }
        OutgoingOutcome::Success => {}
    }
    shared.counters.bump(|c| c.transfers_created += 1);
    (StatusCode::CREATED, Json(json)).into_response()
}

/// Why LNbits refuses to pay `invoice` at all: it is the wallet's own, or its payment hash was
/// paid or is being paid (a failed one may be tried again).
fn refusal(store: &Store, invoice: &str, payment_hash: &str) -> Option<Response> {
    if store
        .payments
        .values()
        .any(|p| !p.is_outgoing() && p.bolt11 == invoice)
    {
        return Some(payment_error(
            "The sandbox does not pay its own invoices; use lnbits_pay_invoice.",
        ));
    }
    match store.payments.get(payment_hash).map(|p| p.status) {
        Some(PaymentStatus::Success) => Some(payment_error("Payment already paid.")),
        Some(PaymentStatus::Pending) => Some(payment_error("Payment is still pending.")),
        Some(PaymentStatus::Failed) | None => None,
    }
}

/// How this payment ends: a scripted outcome first, then an injected failure, then a draw.
fn draw_outcome(state: &LnbitsState, store: &mut Store) -> OutgoingOutcome {
    let shared = &state.shared;
    let failure_probability = shared
        .faults
        .get(Provider::Lnbits)
        .payout_failure_probability;
    match store.outgoing_script.scripted() {
        Some(outcome) => outcome,
        None if shared.chance(failure_probability) => {
            shared
                .counters
                .injected_failure(MoneyChannel::LnbitsPayment.name());
            OutgoingOutcome::Failed
        }
        None => shared.with_rng(|rng| store.outgoing_script.draw(rng)),
    }
}

/// The outgoing payment as LNbits files it; `amount` in msat, positive.
fn outgoing_payment(
    state: &LnbitsState,
    body: &Value,
    invoice: &str,
    payment_hash: &str,
    amount: i64,
    outcome: OutgoingOutcome,
) -> Payment {
    let now = Utc::now();
    let status = match outcome {
        OutgoingOutcome::Success => PaymentStatus::Success,
        OutgoingOutcome::Pending | OutgoingOutcome::PendingThenFailed => PaymentStatus::Pending,
        OutgoingOutcome::Failed => PaymentStatus::Failed,
    };
    Payment {
        payment_hash: payment_hash.to_owned(),
        bolt11: invoice.to_owned(),
        amount_msat: -amount,
        // Routing fees are negative like the amount.
        fee_msat: -(amount / 1000).max(1000),
        memo: String::new(),
        status,
        preimage: state.shared.hex_bytes(32),
        expiry: now + TimeDelta::hours(1),
        webhook: None,
        webhook_status: None,
        extra: body.get("extra").cloned().unwrap_or_else(|| json!({})),
        created_at: now,
        updated_at: now,
    }
}

/// A pending payment settles after the configured delay: as a success, or failed when scripted
/// `PendingThenFailed`.
fn conclude_later(state: &Arc<LnbitsState>, payment_hash: String, outcome: OutgoingOutcome) {
    let conclusion = if outcome == OutgoingOutcome::Pending {
        PaymentStatus::Success
    } else {
        PaymentStatus::Failed
    };
    let task_state = Arc::clone(state);
    state.shared.spawn(async move {
        if task_state
            .shared
            .sleep(task_state.settings.outgoing_settle_delay)
            .await
            && let Some(payment) = task_state.store().payments.get_mut(&payment_hash)
        {
            payment.status = conclusion;
            payment.updated_at = Utc::now();
            task_state.shared.money.conclude(
                MoneyChannel::LnbitsPayment,
                &payment_hash,
                booked(conclusion),
            );
        }
    });
}
