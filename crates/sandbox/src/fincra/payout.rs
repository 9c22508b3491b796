//! Fincra payouts: initiation deduped on `customerReference`, `processing` first and then the
//! conclusive status with its webhook, and the query by customer reference (PROVIDERS.md §4.1,
//! §4.2, §6).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{FincraState, Store, error, ok, webhook};
use crate::delivery::{spawn_delivery, spawn_lie_then_truth};
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome};
use crate::shared::Shared;

/// How a payout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FincraPayoutOutcome {
    /// `successful`, then `payout.successful`.
    Successful,
    /// `failed`, then `payout.failed` (the wallet gets the money back).
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Processing,
    Successful,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Processing => "processing",
            Status::Successful => "successful",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Payout {
    id: u64,
    reference: String,
    customer_reference: String,
    amount: Decimal,
    currency: String,
    destination: String,
    account_number: String,
    holder: String,
    status: Status,
    reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Payout {
    /// The webhook's `data` (§4.3); the query answers the same shape.
    fn json(&self) -> Value {
        let amount = number(self.amount);
        json!({
            "id": self.id,
            "amountCharged": amount,
            "amountReceived": amount,
            "recipient": {"name": self.holder, "accountNumber": self.account_number,
                "type": "individual", "email": null},
            "fee": 0,
            "rate": 1,
            "paymentScheme": null,
            "paymentDestination": self.destination,
            "sourceCurrency": self.currency,
            "destinationCurrency": self.currency,
            "status": self.status.as_str(),
            "createdAt": timestamp(self.created_at),
            "updatedAt": timestamp(self.updated_at),
            "reference": self.reference,
            "customerReference": self.customer_reference,
            "reason": self.reason,
            "traceId": null,
            "valuedAt": timestamp(self.updated_at),
        })
    }

    /// The initiation answer (§4.1).
    fn initiate_json(&self) -> Value {
        json!({
            "id": self.id,
            "reference": self.reference,
            "customerReference": self.customer_reference,
            "status": self.status.as_str(),
            "isDocumentRequired": false,
            "documentsRequired": [],
        })
    }
}

fn number(amount: Decimal) -> Value {
    serde_json::from_str(&amount.normalize().to_string()).unwrap_or(Value::Null)
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn text<'a>(body: &'a Value, pointer: &str) -> Option<&'a str> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What a valid payout request names.
struct Request {
    customer_reference: String,
    amount: Decimal,
    currency: String,
    destination: String,
    account_number: String,
    holder: String,
}

/// Validates the body as Fincra would, or says why it answers 422 `VALIDATION_FAILED`.
fn validate(state: &FincraState, body: &Value) -> Result<Request, &'static str> {
    let invalid = |message: &'static str| message;
    if text(body, "/business") != Some(state.settings.business_id.as_str()) {
        return Err(invalid("business is invalid"));
    }
    let amount = match body.get("amount") {
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
    .filter(|amount| *amount > Decimal::ZERO)
    .ok_or_else(|| invalid("amount must be a positive number"))?;
    let currency = text(body, "/sourceCurrency").unwrap_or_default().to_owned();
    if text(body, "/destinationCurrency") != Some(currency.as_str()) {
        return Err(invalid("a cross-currency payout needs a quoteReference"));
    }
    let customer_reference = text(body, "/customerReference")
        .ok_or_else(|| invalid("customerReference is required"))?
        .to_owned();
    let account_number = text(body, "/beneficiary/accountNumber")
        .ok_or_else(|| invalid("beneficiary.accountNumber is required"))?
        .to_owned();
    let destination = text(body, "/paymentDestination")
        .unwrap_or_default()
        .to_owned();
    match (destination.as_str(), currency.as_str()) {
        ("bank_account", "NGN") => {
            if text(body, "/beneficiary/bankCode").is_none()
                || text(body, "/beneficiary/country") != Some("NG")
            {
                return Err(invalid("beneficiary.bankCode and country NG are required"));
            }
        }
        ("mobile_money_wallet", "KES") => {
            if text(body, "/beneficiary/mobileMoneyCode") != Some("MPESA")
                || text(body, "/beneficiary/country") != Some("KE")
                || !account_number.starts_with("+254")
            {
                return Err(invalid(
                    "beneficiary.accountNumber (+254…), mobileMoneyCode MPESA and country KE are required",
                ));
            }
        }
        _ => return Err(invalid("unsupported paymentDestination or currency")),
    }
    let holder = text(body, "/beneficiary/accountHolderName")
        .unwrap_or("Beneficiary")
        .to_owned();
    Ok(Request {
        customer_reference,
        amount,
        currency,
        destination,
        account_number,
        holder,
    })
}

pub(crate) async fn initiate(State(state): State<Arc<FincraState>>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON body",
            "VALIDATION_FAILED",
        );
    };
    let request = match validate(&state, &body) {
        Ok(request) => request,
        Err(why) => return error(StatusCode::UNPROCESSABLE_ENTITY, why, "VALIDATION_FAILED"),
    };
    let shared = Arc::clone(&state.shared);
    shared
        .counters
        .transfer_attempt(&request.customer_reference);
    let (data, outcome, reference) = {
        let mut store = state.store();
        if store.payouts.contains_key(&request.customer_reference) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "A payout with this customer reference already exists",
                "DUPLICATE_CUSTOMER_REFERENCE",
            );
        }
        if !debit_wallet(&mut store, &request) {
            shared.counters.injected_failure("fincra underfunded");
            return error(
                StatusCode::BAD_REQUEST,
                "You do not have enough money in your wallet",
                "NO_ENOUGH_MONEY_IN_WALLET",
            );
        }
        let payout = processing_payout(&shared, request);
        shared.money.record(MoneyMovement {
            channel: MoneyChannel::FincraPayout,
            key: payout.customer_reference.clone(),
            id: payout.reference.clone(),
            amount: payout.amount,
            currency: payout.currency.clone(),
            destination: payout.account_number.clone(),
            outcome: MoneyOutcome::Pending,
        });
        let data = payout.initiate_json();
        let outcome = draw_payout_outcome(&shared, &mut store);
        let reference = payout.customer_reference.clone();
        store.payouts.insert(reference.clone(), payout);
        (data, outcome, reference)
    };
    shared.counters.bump(|c| c.transfers_created += 1);
    let task_state = Arc::clone(&state);
    shared.spawn(async move { settle(&task_state, &reference, outcome).await });
    ok("Payout initiated successfully.", data)
}

/// Takes the payout's amount from the wallet of its currency (a currency without a configured
/// wallet is not limited); false, taking nothing, when the wallet holds too little.
fn debit_wallet(store: &mut Store, request: &Request) -> bool {
    if let Some(balance) = store.balances.get_mut(&request.currency) {
        if *balance < request.amount {
            return false;
        }
        *balance -= request.amount;
    }
    true
}

fn processing_payout(shared: &Shared, request: Request) -> Payout {
    let now = Utc::now();
    Payout {
        id: shared.numeric_id(),
        reference: shared.hex_bytes(8),
        customer_reference: request.customer_reference,
        amount: request.amount,
        currency: request.currency,
        destination: request.destination,
        account_number: request.account_number,
        holder: request.holder,
        status: Status::Processing,
        reason: None,
        created_at: now,
        updated_at: now,
    }
}

/// How this payout ends: a scripted outcome first, then an injected failure, then a draw.
fn draw_payout_outcome(shared: &Shared, store: &mut Store) -> FincraPayoutOutcome {
    let failure_probability = shared
        .faults
        .get(Provider::Fincra)
        .payout_failure_probability;
    match store.script.scripted() {
        Some(outcome) => outcome,
        None if shared.chance(failure_probability) => {
            shared
                .counters
                .injected_failure(MoneyChannel::FincraPayout.name());
            FincraPayoutOutcome::Failed
        }
        None => shared.with_rng(|rng| store.script.draw(rng)),
    }
}

/// After the settle delay the payout concludes and its webhook is sent — now and then
/// (`payout_lie_probability`) after a signed lie claiming the opposite.
async fn settle(state: &Arc<FincraState>, reference: &str, outcome: FincraPayoutOutcome) {
    if !state.shared.sleep(state.settings.settle_delay).await {
        return;
    }
    let (status, event) = match outcome {
        FincraPayoutOutcome::Successful => (Status::Successful, "payout.successful"),
        FincraPayoutOutcome::Failed => (Status::Failed, "payout.failed"),
    };
    let Some(data) = state.conclude(reference, status) else {
        return;
    };
    let lie_probability = state
        .shared
        .faults
        .get(Provider::Fincra)
        .payout_lie_probability;
    if state.shared.chance(lie_probability) {
        let mut lie = data.clone();
        let (lie_event, kind) = if status == Status::Failed {
            lie["status"] = Value::from("successful");
            lie["reference"] = Value::from(state.shared.hex_bytes(8));
            ("payout.successful", "forged_success")
        } else {
            lie["status"] = Value::from("failed");
            lie["reason"] = Value::from("Beneficiary account is invalid");
            ("payout.failed", "forged_failure")
        };
        if let Some(lie) = webhook::outbound(state, lie_event, &lie) {
            let truth = webhook::outbound(state, event, &data);
            spawn_lie_then_truth(
                &state.shared,
                lie,
                (MoneyChannel::FincraPayout.name(), kind),
                truth,
            );
            return;
        }
    }
    if let Some(out) = webhook::outbound(state, event, &data) {
        spawn_delivery(&state.shared, out);
    }
}

impl FincraState {
    /// Moves a payout to its conclusive `status` (a failure refunds the wallet); returns its
    /// event data.
    fn conclude(&self, reference: &str, status: Status) -> Option<Value> {
        let mut store = self.store();
        let store = &mut *store;
        let payout = store.payouts.get_mut(reference)?;
        payout.status = status;
        payout.updated_at = Utc::now();
        let booked = if status == Status::Failed {
            payout.reason = Some("Beneficiary bank declined the transfer".to_owned());
            if let Some(balance) = store.balances.get_mut(&payout.currency) {
                *balance += payout.amount;
            }
            MoneyOutcome::Failed
        } else {
            payout.reason = Some("Disbursement was successful".to_owned());
            MoneyOutcome::Succeeded
        };
        self.shared
            .money
            .conclude(MoneyChannel::FincraPayout, &payout.reference, booked);
        Some(payout.json())
    }

    /// Turns a successful payout into a failed one, as an (undocumented) reversal by the
    /// beneficiary's bank would: no webhook, only the query tells. Whether it was successful.
    pub(crate) fn reverse(&self, customer_reference: &str) -> bool {
        let mut store = self.store();
        let Some(payout) = store
            .payouts
            .get_mut(customer_reference)
            .filter(|payout| payout.status == Status::Successful)
        else {
            return false;
        };
        payout.status = Status::Failed;
        payout.reason = Some("Reversed by the beneficiary bank".to_owned());
        payout.updated_at = Utc::now();
        self.shared.money.conclude(
            MoneyChannel::FincraPayout,
            &payout.reference,
            MoneyOutcome::Reversed,
        );
        true
    }

    /// A payout's status as the query would answer it.
    pub(crate) fn status_of(&self, customer_reference: &str) -> Option<&'static str> {
        self.store()
            .payouts
            .get(customer_reference)
            .map(|payout| payout.status.as_str())
    }
}

pub(crate) async fn query(
    State(state): State<Arc<FincraState>>,
    Path(reference): Path<String>,
) -> Response {
    let lagging = state
        .query_lag
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    match state.store().payouts.get(&reference).filter(|_| !lagging) {
        Some(payout) => ok("Payout fetched successfully", payout.json()),
        None => error(
            StatusCode::NOT_FOUND,
            "Payout not found",
            "RESOURCE_NOT_FOUND",
        ),
    }
}
