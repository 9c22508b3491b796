//! B2C payments (PROVIDERS.md §2.7): `OriginatorConversationID` is the idempotency key, a reuse
//! is rejected with `500.002.1001`; the acknowledgement is followed by a Result callback, or
//! by none.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::result::{self, Parameters, ResultBody};
use super::status::Receipt;
use super::wire::{self, Rejection, is_msisdn, is_url, parse_body, text, whole_amount};
use super::{B2cOutcome, B2cResult, MpesaState, error};
use crate::delivery::{Outbound, spawn_delivery, spawn_lie_then_truth};
use crate::faults::Provider;
use crate::money::{MoneyChannel, MoneyMovement, MoneyOutcome};
use rust_decimal::Decimal;

const COMMAND_IDS: [&str; 3] = ["BusinessPayment", "SalaryPayment", "PromotionPayment"];

#[derive(Debug, Clone)]
pub(crate) struct B2cRecord {
    conversation_id: String,
    amount: u64,
    party_a: String,
    party_b: String,
    result_url: String,
    outcome: B2cOutcome,
    created_at: DateTime<Utc>,
    pub(crate) settled: Option<B2cSettled>,
}

#[derive(Debug, Clone)]
pub(crate) struct B2cSettled {
    pub(crate) result: B2cResult,
    pub(crate) transaction_id: String,
}

struct B2cRequest {
    originator_conversation_id: String,
    amount: u64,
    party_a: String,
    party_b: String,
    result_url: String,
}

fn validate(body: &Value) -> Result<B2cRequest, Rejection> {
    let field = |key: &str| text(body, key).unwrap_or_default();
    let originator_conversation_id = field("OriginatorConversationID");
    if originator_conversation_id.is_empty() {
        return Err(Rejection::Invalid("OriginatorConversationID"));
    }
    if field("InitiatorName").is_empty() {
        return Err(Rejection::Invalid("InitiatorName"));
    }
    let credential = field("SecurityCredential");
    if credential.is_empty()
        || base64::engine::general_purpose::STANDARD
            .decode(&credential)
            .is_err()
    {
        return Err(Rejection::Invalid("SecurityCredential"));
    }
    if !COMMAND_IDS.contains(&field("CommandID").as_str()) {
        return Err(Rejection::Invalid("CommandID"));
    }
    let Some(amount) = whole_amount(body, "Amount") else {
        return Err(Rejection::Invalid("Amount"));
    };
    let party_a = field("PartyA");
    if party_a.is_empty() || !party_a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::Invalid("PartyA"));
    }
    let party_b = field("PartyB");
    if !is_msisdn(&party_b) {
        return Err(Rejection::Invalid("PartyB"));
    }
    if field("Remarks").is_empty() {
        return Err(Rejection::Invalid("Remarks"));
    }
    if !is_url(&field("QueueTimeOutURL")) {
        return Err(Rejection::Invalid("QueueTimeOutURL"));
    }
    let result_url = field("ResultURL");
    if !is_url(&result_url) {
        return Err(Rejection::Invalid("ResultURL"));
    }
    Ok(B2cRequest {
        originator_conversation_id,
        amount,
        party_a,
        party_b,
        result_url,
    })
}

pub(crate) async fn payment_request(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = Arc::clone(&state.shared);
    let request = match parse_body(&body).and_then(|body| validate(&body)) {
        Ok(request) => request,
        Err(rejection) => return rejection.respond(&shared),
    };
    let ocid = request.originator_conversation_id;
    shared.counters.transfer_attempt(&ocid);
    let conversation_id = wire::conversation_id(&shared);
    {
        let mut store = state.store();
        if store.b2c.contains_key(&ocid) {
            return error(
                &shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "500.002.1001",
                "Duplicate OriginatorConversationID.",
            );
        }
        let failure_probability = shared
            .faults
            .get(Provider::Mpesa)
            .payout_failure_probability;
        let for_this_msisdn = store
            .b2c_to
            .iter()
            .position(|(msisdn, _)| *msisdn == request.party_b)
            .map(|at| store.b2c_to.remove(at).1);
        let outcome = match for_this_msisdn.or_else(|| store.b2c_script.scripted()) {
            Some(outcome) => outcome,
            None if shared.chance(failure_probability) => {
                shared
                    .counters
                    .injected_failure(MoneyChannel::MpesaB2c.name());
                B2cOutcome::new(B2cResult::DebitPartyInvalid)
            }
            None => shared.with_rng(|rng| store.b2c_script.draw(rng)),
        };
        shared.money.record(MoneyMovement {
            channel: MoneyChannel::MpesaB2c,
            key: ocid.clone(),
            id: conversation_id.clone(),
            amount: Decimal::from(request.amount),
            currency: "KES".to_owned(),
            destination: request.party_b.clone(),
            outcome: MoneyOutcome::Pending,
        });
        let record = B2cRecord {
            conversation_id: conversation_id.clone(),
            amount: request.amount,
            party_a: request.party_a,
            party_b: request.party_b,
            result_url: request.result_url,
            outcome,
            created_at: Utc::now(),
            settled: None,
        };
        store.b2c.insert(ocid.clone(), record);
    }
    shared.counters.bump(|c| c.transfers_created += 1);
    let task_state = Arc::clone(&state);
    let task_ocid = ocid.clone();
    shared.spawn(async move {
        if task_state
            .shared
            .sleep(task_state.settings.callback_delay)
            .await
        {
            task_state.settle_b2c(&task_ocid);
        }
    });
    Json(json!({
        "ConversationID": conversation_id,
        "OriginatorConversationID": ocid,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    }))
    .into_response()
}

impl MpesaState {
    /// Pays out (or fails) by the scripted outcome, then sends the Result unless silent.
    fn settle_b2c(self: &Arc<Self>, ocid: &str) {
        let shared = &self.shared;
        let Some((record, settled, balance)) = self.conclude_b2c(ocid) else {
            return;
        };
        let truth = if record.outcome.callback {
            b2c_result(&record, ocid, &settled, balance)
        } else {
            shared.counters.bump(|c| c.callbacks_dropped += 1);
            None
        };
        let lie_probability = shared.faults.get(Provider::Mpesa).payout_lie_probability;
        if shared.chance(lie_probability) {
            // The opposite result on the real ResultURL: 2001 for money that moved, a success
            // with a made-up receipt for money that did not.
            let (result, kind) = if settled.result == B2cResult::Success {
                (B2cResult::InvalidInitiator, "forged_failure")
            } else {
                (B2cResult::Success, "forged_success")
            };
            let forged = B2cSettled {
                result,
                transaction_id: wire::receipt(shared),
            };
            match result_body(&record, ocid, &forged, balance).and_then(|body| body.to_bytes()) {
                Ok(body) => {
                    let lie =
                        Outbound::json(Provider::Mpesa, "b2c result", &record.result_url, body);
                    spawn_lie_then_truth(shared, lie, (MoneyChannel::MpesaB2c.name(), kind), truth);
                    return;
                }
                Err(error) => tracing::warn!(%error, "sandbox: cannot build a B2C lie"),
            }
        }
        if let Some(truth) = truth {
            spawn_delivery(shared, truth);
        }
    }

    /// Concludes the payout `ocid` by its scripted result (insufficient funds when the utility
    /// account cannot cover it), paying it from the utility account on success; the record, its
    /// conclusion and the balance after it.
    fn conclude_b2c(&self, ocid: &str) -> Option<(B2cRecord, B2cSettled, u64)> {
        let shared = &self.shared;
        let mut store = self.store();
        let balance = store.utility_balance;
        let record = store.b2c.get_mut(ocid)?;
        let mut result = record.outcome.result;
        if result == B2cResult::Success && record.amount > balance {
            result = B2cResult::InsufficientFunds;
        }
        let settled = B2cSettled {
            result,
            transaction_id: wire::receipt(shared),
        };
        record.settled = Some(settled.clone());
        shared.money.conclude(
            MoneyChannel::MpesaB2c,
            &record.conversation_id,
            if result == B2cResult::Success {
                MoneyOutcome::Succeeded
            } else {
                MoneyOutcome::Failed
            },
        );
        let record = record.clone();
        if result == B2cResult::Success {
            store.utility_balance -= record.amount;
            let paid = Receipt {
                reason: "Business Payment to Individual via API",
                amount: record.amount,
                debit_party: format!("{} - Malipo Sandbox", record.party_a),
                credit_party: format!("{} - Sandbox Customer", record.party_b),
                initiated: record.created_at,
                finalised: Utc::now(),
                charges: "Fee For B2C Payment|KES|22.40",
            };
            store.receipts.insert(settled.transaction_id.clone(), paid);
        }
        Some((record, settled, store.utility_balance))
    }
}

/// The Result as Daraja posts it to the payout's ResultURL.
fn b2c_result(
    record: &B2cRecord,
    ocid: &str,
    settled: &B2cSettled,
    balance: u64,
) -> Option<Outbound> {
    match result_body(record, ocid, settled, balance).and_then(|body| body.to_bytes()) {
        Ok(body) => Some(Outbound::json(
            Provider::Mpesa,
            "b2c result",
            &record.result_url,
            body,
        )),
        Err(error) => {
            tracing::warn!(%error, "sandbox: cannot build a B2C result");
            None
        }
    }
}

fn result_body(
    record: &B2cRecord,
    ocid: &str,
    settled: &B2cSettled,
    balance: u64,
) -> serde_json::Result<ResultBody> {
    let result_parameters = if settled.result == B2cResult::Success {
        let completed = wire::eat(Utc::now())
            .format("%d.%m.%Y %H:%M:%S")
            .to_string();
        Some(Parameters::new(vec![
            result::number("TransactionAmount", record.amount.to_string())?,
            result::text("TransactionReceipt", &settled.transaction_id)?,
            result::text("B2CRecipientIsRegisteredCustomer", "Y")?,
            result::number("B2CChargesPaidAccountAvailableFunds", "-4510.00".to_owned())?,
            result::text(
                "ReceiverPartyPublicName",
                &format!("{} - Sandbox Customer", record.party_b),
            )?,
            result::text("TransactionCompletedDateTime", &completed)?,
            result::number("B2CUtilityAccountAvailableFunds", format!("{balance}.00"))?,
            result::number("B2CWorkingAccountAvailableFunds", "900000.00".to_owned())?,
        ]))
    } else {
        None
    };
    Ok(ResultBody {
        result_type: 0,
        result_code: settled.result.code(),
        result_desc: settled.result.description().to_owned(),
        originator_conversation_id: ocid.to_owned(),
        conversation_id: record.conversation_id.clone(),
        transaction_id: settled.transaction_id.clone(),
        result_parameters,
        reference_data: json!({"ReferenceItem": {
            "Key": "QueueTimeoutURL",
            "Value": "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit",
        }}),
    })
}
