//! Paystack transfers: initiation keyed by `reference`, verify, and the later
//! `transfer.success|failed|reversed` webhooks (PROVIDERS.md §1.4, §1.5).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::recipient::Recipient;
use super::{
    INTEGRATION_ID, PaystackState, Store, fail, invalid_json, minor_amount, ok, parse_body, text,
    timestamp, webhook,
};
use crate::delivery::spawn_lie_then_truth;
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome, from_minor};
use crate::shared::Shared;

/// The answer to re-posting an existing transfer reference. Paystack documents retrying a
/// non-conclusive transfer with the same reference but not the exact answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateTransferPolicy {
    /// 400 `{"status":false,"message":"Duplicate Transfer Reference"}`; nothing is created.
    /// The default: it forces the client to verify rather than trust the retry's answer.
    Reject,
    /// 200 with the existing transfer as it is now; the new body is ignored.
    ReturnExisting,
}

/// How a transfer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// `transfer.success`.
    Success,
    /// `transfer.failed`.
    Failed,
    /// `transfer.success`, then `transfer.reversed`.
    Reversed,
}

impl TransferOutcome {
    /// The conclusive statuses the transfer goes through, each with its event.
    fn steps(self) -> &'static [(TransferStatus, &'static str)] {
        const SUCCESS: (TransferStatus, &str) = (TransferStatus::Success, "transfer.success");
        match self {
            TransferOutcome::Success => &[SUCCESS],
            TransferOutcome::Failed => &[(TransferStatus::Failed, "transfer.failed")],
            TransferOutcome::Reversed => {
                &[SUCCESS, (TransferStatus::Reversed, "transfer.reversed")]
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferStatus {
    Pending,
    Success,
    Failed,
    Reversed,
}

impl TransferStatus {
    fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Pending => "pending",
            TransferStatus::Success => "success",
            TransferStatus::Failed => "failed",
            TransferStatus::Reversed => "reversed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    id: u64,
    reference: String,
    transfer_code: String,
    amount: i64,
    currency: String,
    reason: String,
    recipient: Recipient,
    status: TransferStatus,
    session_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    transferred_at: Option<DateTime<Utc>>,
}

impl Transfer {
    /// The `POST /transfer` answer (§1.4): `recipient` is the recipient's id.
    fn initiate_json(&self) -> Value {
        json!({
            "reference": self.reference,
            "integration": INTEGRATION_ID,
            "domain": "test",
            "amount": self.amount,
            "currency": self.currency,
            "source": "balance",
            "reason": self.reason,
            "recipient": self.recipient.id,
            "status": self.status.as_str(),
            "transfer_code": self.transfer_code,
            "id": self.id,
            "failures": null,
            "transferred_at": self.transferred_at.map(timestamp),
            "createdAt": timestamp(self.created_at),
            "updatedAt": timestamp(self.updated_at),
        })
    }

    /// The `transfer.*` event data (§1.5), with snake_case dates.
    fn event_json(&self) -> Value {
        json!({
            "amount": self.amount,
            "currency": self.currency,
            "domain": "test",
            "failures": null,
            "id": self.id,
            "integration": {"id": INTEGRATION_ID, "is_live": false, "business_name": "Malipo Sandbox"},
            "reason": self.reason,
            "reference": self.reference,
            "source": "balance",
            "status": self.status.as_str(),
            "transfer_code": self.transfer_code,
            "transferred_at": self.transferred_at.map(timestamp),
            "recipient": {
                "recipient_code": self.recipient.code,
                "type": self.recipient.kind,
                "details": self.recipient.details(),
            },
            "session": {"provider": "nip", "id": self.session_id},
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
        })
    }

    /// The verify answer: the event shape with the camelCase dates other samples use, so
    /// clients meet both spellings.
    fn verify_json(&self) -> Value {
        let mut data = self.event_json();
        if let Some(fields) = data.as_object_mut() {
            for (snake, camel) in [("created_at", "createdAt"), ("updated_at", "updatedAt")] {
                if let Some(value) = fields.remove(snake) {
                    fields.insert(camel.to_owned(), value);
                }
            }
        }
        data
    }
}

/// Transfer references: lowercase alphanumerics, `-` and `_`, at least 16 characters (§1.4).
fn valid_reference(reference: &str) -> bool {
    reference.len() >= 16
        && reference
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

pub(crate) async fn initiate(State(state): State<Arc<PaystackState>>, body: Bytes) -> Response {
    let Some(body) = parse_body(&body) else {
        return invalid_json();
    };
    if text(&body, "source") != Some("balance") {
        return fail(StatusCode::BAD_REQUEST, "Invalid transfer source");
    }
    let Some(amount) = minor_amount(body.get("amount")) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid amount");
    };
    let shared = Arc::clone(&state.shared);
    let reference = match transfer_reference(&shared, &body) {
        Ok(reference) => reference,
        Err(why) => return fail(StatusCode::BAD_REQUEST, why),
    };
    shared.counters.transfer_attempt(&reference);

    let (data, outcome) = {
        let mut store = state.store();
        let recipient_code = text(&body, "recipient").unwrap_or_default();
        let Some(recipient) = store.recipients.get(recipient_code).cloned() else {
            return fail(StatusCode::BAD_REQUEST, "Recipient specified is invalid");
        };
        if let Some(existing) = store.transfers.get(&reference) {
            return match state.settings.duplicate_transfer {
                DuplicateTransferPolicy::Reject => {
                    fail(StatusCode::BAD_REQUEST, "Duplicate Transfer Reference")
                }
                DuplicateTransferPolicy::ReturnExisting => ok(
                    StatusCode::OK,
                    "Transfer has been queued",
                    existing.initiate_json(),
                ),
            };
        }
        let transfer = pending_transfer(&shared, &body, &reference, amount, recipient);
        let data = transfer.initiate_json();
        shared.money.record(MoneyMovement {
            channel: MoneyChannel::PaystackTransfer,
            key: reference.clone(),
            id: transfer.transfer_code.clone(),
            amount: from_minor(amount),
            currency: transfer.currency.clone(),
            destination: transfer.recipient.code.clone(),
            outcome: MoneyOutcome::Pending,
        });
        store.transfers.insert(reference.clone(), transfer);
        (data, draw_transfer_outcome(&shared, &mut store))
    };
    shared.counters.bump(|c| c.transfers_created += 1);

    let faults = shared.faults.get(Provider::Paystack);
    if shared.chance(faults.out_of_order_probability) {
        settle_out_of_order(&state, &reference, outcome).await;
    } else {
        let task_state = Arc::clone(&state);
        shared.spawn(async move { settle_in_order(&task_state, &reference, outcome).await });
    }
    ok(StatusCode::OK, "Transfer has been queued", data)
}

/// The client's reference when it is valid, or one Paystack makes up when there is none; the
/// error is Paystack's message (a 400).
fn transfer_reference(shared: &Shared, body: &Value) -> Result<String, &'static str> {
    match text(body, "reference") {
        Some(r) if valid_reference(r) => Ok(r.to_owned()),
        Some(_) => Err("Invalid reference: use at least 16 lowercase alphanumerics, '-' or '_'"),
        None => Ok(shared.lower_alnum(20)),
    }
}

fn pending_transfer(
    shared: &Shared,
    body: &Value,
    reference: &str,
    amount: i64,
    recipient: Recipient,
) -> Transfer {
    let now = Utc::now();
    Transfer {
        id: shared.numeric_id(),
        reference: reference.to_owned(),
        transfer_code: format!("TRF_{}", shared.lower_alnum(16)),
        amount,
        currency: text(body, "currency")
            .unwrap_or(&recipient.currency)
            .to_owned(),
        reason: text(body, "reason").unwrap_or_default().to_owned(),
        recipient,
        status: TransferStatus::Pending,
        session_id: shared.digits(30),
        created_at: now,
        updated_at: now,
        transferred_at: None,
    }
}

/// How this transfer ends: a scripted outcome first, then an injected failure, then a draw.
fn draw_transfer_outcome(shared: &Shared, store: &mut Store) -> TransferOutcome {
    let failure_probability = shared
        .faults
        .get(Provider::Paystack)
        .payout_failure_probability;
    match store.transfer_script.scripted() {
        Some(outcome) => outcome,
        None if shared.chance(failure_probability) => {
            shared
                .counters
                .injected_failure(MoneyChannel::PaystackTransfer.name());
            TransferOutcome::Failed
        }
        None => shared.with_rng(|rng| store.transfer_script.draw(rng)),
    }
}

/// The normal course: each conclusive status after a delay, its webhook sent as it happens.
/// Now and then (`payout_lie_probability`) the first conclusive event is preceded by a signed
/// lie: `transfer.failed` for a transfer that succeeded, `transfer.success` (with a made-up
/// transfer code) for one that failed.
async fn settle_in_order(state: &Arc<PaystackState>, reference: &str, outcome: TransferOutcome) {
    for (step, (status, event)) in outcome.steps().iter().enumerate() {
        if !state
            .shared
            .sleep(state.settings.transfer_settle_delay)
            .await
        {
            return;
        }
        let Some(data) = state.set_transfer_status(reference, *status) else {
            continue;
        };
        let lie_probability = state
            .shared
            .faults
            .get(Provider::Paystack)
            .payout_lie_probability;
        if step == 0 && state.shared.chance(lie_probability) {
            let mut lie = data.clone();
            let (lie_event, kind) = if *status == TransferStatus::Failed {
                lie["status"] = Value::from("success");
                lie["transfer_code"] = Value::from(format!("TRF_{}", state.shared.lower_alnum(16)));
                ("transfer.success", "forged_success")
            } else {
                lie["status"] = Value::from("failed");
                lie["transferred_at"] = Value::Null;
                ("transfer.failed", "forged_failure")
            };
            if let Some(lie) = webhook::outbound(state, lie_event, &lie) {
                let truth = webhook::outbound(state, event, &data);
                spawn_lie_then_truth(
                    &state.shared,
                    lie,
                    (MoneyChannel::PaystackTransfer.name(), kind),
                    truth,
                );
                continue;
            }
        }
        webhook::send_event(state, event, &data);
    }
}

/// The out-of-order course: the transfer concludes at once and its webhooks are delivered,
/// last first, before the `POST /transfer` answer leaves.
async fn settle_out_of_order(state: &PaystackState, reference: &str, outcome: TransferOutcome) {
    let events: Vec<(&str, Value)> = outcome
        .steps()
        .iter()
        .filter_map(|(status, event)| {
            Some((*event, state.set_transfer_status(reference, *status)?))
        })
        .collect();
    for (event, data) in events.iter().rev() {
        webhook::deliver_event(state, event, data).await;
    }
}

impl PaystackState {
    /// Moves a transfer to `status`; returns its event data.
    fn set_transfer_status(&self, reference: &str, status: TransferStatus) -> Option<Value> {
        let mut store = self.store();
        let transfer = store.transfers.get_mut(reference)?;
        let now = Utc::now();
        let booked = match status {
            TransferStatus::Pending => MoneyOutcome::Pending,
            TransferStatus::Success => MoneyOutcome::Succeeded,
            TransferStatus::Failed => MoneyOutcome::Failed,
            TransferStatus::Reversed => MoneyOutcome::Reversed,
        };
        self.shared.money.conclude(
            MoneyChannel::PaystackTransfer,
            &transfer.transfer_code,
            booked,
        );
        transfer.status = status;
        transfer.updated_at = now;
        if status == TransferStatus::Success {
            transfer.transferred_at = Some(now);
        }
        Some(transfer.event_json())
    }
}

pub(crate) async fn verify(
    State(state): State<Arc<PaystackState>>,
    Path(reference): Path<String>,
) -> Response {
    match state.store().transfers.get(&reference) {
        Some(transfer) => ok(StatusCode::OK, "Transfer retrieved", transfer.verify_json()),
        None => fail(StatusCode::NOT_FOUND, "Transfer not found"),
    }
}
