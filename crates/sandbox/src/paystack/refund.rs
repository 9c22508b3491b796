//! Paystack refunds: `POST /refund`, `GET /refund/{id}`, `GET /refund?transaction=…` (Paystack's
//! List Refunds, how a refund whose answer was lost is found), and the `refund.pending` then
//! `refund.processed|failed` webhooks (PROVIDERS.md §1.6).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::charge::{ChargeStatus, Transaction};
use super::{
    INTEGRATION_ID, PaystackState, Store, fail, invalid_json, minor_amount, ok, parse_body, text,
    timestamp, webhook,
};
use crate::delivery::spawn_lie_then_truth;
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome, from_minor};

/// How a refund ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    /// `refund.processed`; a refund of the whole amount turns the transaction `reversed`.
    Processed,
    /// `refund.failed`; the amount becomes refundable again.
    Failed,
}

/// How refund events point at their transaction: the real payload is unconfirmed, so clients
/// must cope with either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEventShape {
    /// `data.transaction_reference`.
    TransactionReference,
    /// `data.transaction: {id, reference}`.
    NestedTransaction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefundStatus {
    Pending,
    Processed,
    Failed,
}

impl RefundStatus {
    fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Processed => "processed",
            RefundStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    id: u64,
    transaction_id: u64,
    transaction_reference: String,
    email: String,
    amount: i64,
    currency: String,
    status: RefundStatus,
    customer_note: String,
    merchant_note: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Refund {
    fn to_json(&self) -> Value {
        json!({
            "integration": INTEGRATION_ID,
            "transaction": self.transaction_id,
            "dispute": null,
            "settlement": null,
            "id": self.id,
            "domain": "test",
            "currency": self.currency,
            "amount": self.amount,
            "status": self.status.as_str(),
            "refunded_by": "sandbox@malipo.test",
            "customer_note": self.customer_note,
            "merchant_note": self.merchant_note,
            "deducted_amount": if self.status == RefundStatus::Processed { self.amount } else { 0 },
            "fully_deducted": self.status == RefundStatus::Processed,
            "createdAt": timestamp(self.created_at),
            "updatedAt": timestamp(self.updated_at),
        })
    }

    fn event_json(&self, shape: RefundEventShape) -> Value {
        let mut data = json!({
            "status": self.status.as_str(),
            "refund_reference": null,
            "amount": self.amount,
            "currency": self.currency,
            "processor": "sandbox",
            "customer": {"first_name": null, "last_name": null, "email": self.email},
            "integration": INTEGRATION_ID,
            "domain": "test",
            "id": self.id,
        });
        if let Some(fields) = data.as_object_mut() {
            let (key, value) = match shape {
                RefundEventShape::TransactionReference => {
                    ("transaction_reference", json!(self.transaction_reference))
                }
                RefundEventShape::NestedTransaction => (
                    "transaction",
                    json!({"id": self.transaction_id, "reference": self.transaction_reference}),
                ),
            };
            fields.insert(key.to_owned(), value);
        }
        data
    }
}

pub(crate) async fn create(State(state): State<Arc<PaystackState>>, body: Bytes) -> Response {
    let Some(body) = parse_body(&body) else {
        return invalid_json();
    };
    // `transaction` is a reference or an id, as a string or a number.
    let wanted = match body.get("transaction") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                "Transaction reference or id is required",
            );
        }
    };
    let shared = Arc::clone(&state.shared);
    let (refund, data) = {
        let mut store = state.store();
        let Some(transaction) = store
            .transactions
            .values_mut()
            .find(|t| t.reference == wanted || t.id.to_string() == wanted)
        else {
            return fail(StatusCode::NOT_FOUND, "Transaction not found");
        };
        if let Err(why) = refundable(transaction) {
            return fail(StatusCode::BAD_REQUEST, why);
        }
        shared
            .counters
            .transfer_attempt(&refund_key(&transaction.reference));
        let amount = match refund_amount(&body, transaction) {
            Ok(amount) => amount,
            Err(why) => return fail(StatusCode::BAD_REQUEST, why),
        };
        transaction.refunded += amount;
        let refund = pending_refund(&state, &body, transaction, amount);
        // The answer embeds the whole transaction where GET /refund has its id.
        let mut data = refund.to_json();
        data["transaction"] = transaction.to_json();
        shared.money.record(MoneyMovement {
            channel: MoneyChannel::PaystackRefund,
            key: refund.transaction_reference.clone(),
            id: refund.id.to_string(),
            amount: from_minor(amount),
            currency: refund.currency.clone(),
            destination: refund.email.clone(),
            outcome: MoneyOutcome::Pending,
        });
        store.refunds.insert(refund.id, refund.clone());
        (refund, data)
    };

    webhook::send_event(
        &state,
        "refund.pending",
        &refund.event_json(state.settings.refund_event_shape),
    );
    let task_state = Arc::clone(&state);
    shared.spawn(async move {
        if task_state
            .shared
            .sleep(task_state.settings.refund_settle_delay)
            .await
        {
            task_state.settle_refund(refund.id);
        }
    });
    ok(
        StatusCode::OK,
        "Refund has been queued for processing",
        data,
    )
}

/// Only a paid transaction not yet fully reversed can be refunded; the error is Paystack's
/// message (a 400).
fn refundable(transaction: &Transaction) -> Result<(), &'static str> {
    match transaction.status {
        ChargeStatus::Success => Ok(()),
        ChargeStatus::Reversed => Err("Transaction has been fully reversed"),
        ChargeStatus::Abandoned | ChargeStatus::Failed => Err("Transaction has not been paid"),
    }
}

/// The amount asked for (all that is still refundable when absent), within what is refundable
/// and in the transaction's currency; the error is Paystack's message (a 400).
fn refund_amount(body: &Value, transaction: &Transaction) -> Result<i64, &'static str> {
    let refundable = transaction.amount - transaction.refunded;
    let amount = match body.get("amount") {
        None | Some(Value::Null) => refundable,
        present => match minor_amount(present) {
            Some(amount) => amount,
            None => return Err("Invalid amount"),
        },
    };
    if amount <= 0 || amount > refundable {
        return Err("Refund amount cannot be greater than transaction amount");
    }
    if text(body, "currency").is_some_and(|c| c != transaction.currency) {
        return Err("Currency does not match the transaction's");
    }
    Ok(amount)
}

fn pending_refund(
    state: &PaystackState,
    body: &Value,
    transaction: &Transaction,
    amount: i64,
) -> Refund {
    let now = Utc::now();
    Refund {
        id: state.shared.numeric_id(),
        transaction_id: transaction.id,
        transaction_reference: transaction.reference.clone(),
        email: transaction.email.clone(),
        amount,
        currency: transaction.currency.clone(),
        status: RefundStatus::Pending,
        customer_note: text(body, "customer_note").unwrap_or_default().to_owned(),
        merchant_note: text(body, "merchant_note").unwrap_or_default().to_owned(),
        created_at: now,
        updated_at: now,
    }
}

impl PaystackState {
    /// Concludes a pending refund by the scripted outcome and sends its event.
    fn settle_refund(self: &Arc<Self>, id: u64) {
        let (event, data, outcome) = {
            let mut store = self.store();
            let outcome = self.draw_refund_outcome(&mut store);
            let Some(refund) = store.refunds.get_mut(&id) else {
                return;
            };
            refund.updated_at = Utc::now();
            refund.status = match outcome {
                RefundOutcome::Processed => RefundStatus::Processed,
                RefundOutcome::Failed => RefundStatus::Failed,
            };
            let refund = refund.clone();
            if let Some(transaction) = store.transactions.get_mut(&refund.transaction_reference) {
                match outcome {
                    RefundOutcome::Failed => transaction.refunded -= refund.amount,
                    RefundOutcome::Processed if transaction.refunded >= transaction.amount => {
                        transaction.status = ChargeStatus::Reversed;
                    }
                    RefundOutcome::Processed => {}
                }
            }
            let event = match outcome {
                RefundOutcome::Processed => "refund.processed",
                RefundOutcome::Failed => "refund.failed",
            };
            self.shared.money.conclude(
                MoneyChannel::PaystackRefund,
                &refund.id.to_string(),
                match outcome {
                    RefundOutcome::Processed => MoneyOutcome::Succeeded,
                    RefundOutcome::Failed => MoneyOutcome::Failed,
                },
            );
            (
                event,
                refund.event_json(self.settings.refund_event_shape),
                outcome,
            )
        };
        self.announce_refund(event, &data, outcome);
    }

    /// How this refund ends: a scripted outcome first, then an injected failure, then a draw.
    fn draw_refund_outcome(&self, store: &mut Store) -> RefundOutcome {
        let failure_probability = self
            .shared
            .faults
            .get(Provider::Paystack)
            .refund_failure_probability;
        match store.refund_script.scripted() {
            Some(outcome) => outcome,
            None if self.shared.chance(failure_probability) => {
                self.shared
                    .counters
                    .injected_failure(MoneyChannel::PaystackRefund.name());
                RefundOutcome::Failed
            }
            None => self.shared.with_rng(|rng| store.refund_script.draw(rng)),
        }
    }

    /// Sends the refund's concluding `event`, preceded by its forged opposite when the fault
    /// plan says Paystack lies this time.
    fn announce_refund(self: &Arc<Self>, event: &str, data: &Value, outcome: RefundOutcome) {
        let lie_probability = self
            .shared
            .faults
            .get(Provider::Paystack)
            .payout_lie_probability;
        if self.shared.chance(lie_probability) {
            // The opposite conclusion, signed like the truth and sent first.
            let mut lie = data.clone();
            let (lie_event, kind) = match outcome {
                RefundOutcome::Processed => {
                    lie["status"] = Value::from("failed");
                    ("refund.failed", "forged_failure")
                }
                RefundOutcome::Failed => {
                    lie["status"] = Value::from("processed");
                    ("refund.processed", "forged_success")
                }
            };
            if let Some(lie) = webhook::outbound(self, lie_event, &lie) {
                let truth = webhook::outbound(self, event, data);
                spawn_lie_then_truth(
                    &self.shared,
                    lie,
                    (MoneyChannel::PaystackRefund.name(), kind),
                    truth,
                );
                return;
            }
        }
        webhook::send_event(self, event, data);
    }
}

/// The key refunds of one transaction are counted under in the transfer counters.
pub fn refund_key(transaction_reference: &str) -> String {
    format!("refund:{transaction_reference}")
}

/// `GET /refund` filters (Paystack's List Refunds; `transaction` is the id, the reference is
/// accepted too).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListFilter {
    transaction: Option<String>,
    currency: Option<String>,
}

pub(crate) async fn list(
    State(state): State<Arc<PaystackState>>,
    Query(filter): Query<ListFilter>,
) -> Response {
    let store = state.store();
    let mut refunds: Vec<&Refund> = store
        .refunds
        .values()
        .filter(|refund| {
            filter.transaction.as_deref().is_none_or(|wanted| {
                refund.transaction_reference == wanted
                    || refund.transaction_id.to_string() == wanted
            }) && filter
                .currency
                .as_deref()
                .is_none_or(|currency| refund.currency == currency)
        })
        .collect();
    refunds.sort_by_key(|refund| std::cmp::Reverse((refund.created_at, refund.id)));
    let data: Vec<Value> = refunds.iter().map(|refund| refund.to_json()).collect();
    let meta = json!({"total": data.len(), "skipped": 0, "perPage": 50, "page": 1, "pageCount": 1});
    axum::response::IntoResponse::into_response(axum::Json(json!({
        "status": true, "message": "Refunds retrieved", "data": data, "meta": meta,
    })))
}

pub(crate) async fn fetch(
    State(state): State<Arc<PaystackState>>,
    Path(id): Path<String>,
) -> Response {
    let lagging = state
        .refund_fetch_lags
        .load(std::sync::atomic::Ordering::Relaxed);
    let refund = id
        .parse::<u64>()
        .ok()
        .filter(|_| !lagging)
        .and_then(|id| state.store().refunds.get(&id).cloned());
    match refund {
        Some(refund) => ok(StatusCode::OK, "Refund retrieved", refund.to_json()),
        None => fail(StatusCode::NOT_FOUND, "Refund not found"),
    }
}
