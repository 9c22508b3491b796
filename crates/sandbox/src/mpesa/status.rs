//! Transaction Status (PROVIDERS.md §2.6), Daraja's reconciliation path when a callback never
//! came: acknowledge, then POST a Result describing the payment behind a receipt number or a
//! B2C `OriginatorConversationID`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::result::{self, Parameters, ResultBody};
use super::wire::{self, compact_time, invalid, is_url, parse_body, text};
use super::{B2cResult, MpesaState};
use crate::delivery::{Outbound, spawn_delivery};
use crate::faults::Provider;

/// The answer for a receipt Daraja does not know (third-party reports; unconfirmed).
const NOT_FOUND: (u32, &str) = (2032, "The transaction receipt number does not exist.");

/// A completed payment, as Transaction Status describes it.
#[derive(Debug, Clone)]
pub(crate) struct Receipt {
    pub(crate) reason: &'static str,
    pub(crate) amount: u64,
    pub(crate) debit_party: String,
    pub(crate) credit_party: String,
    pub(crate) initiated: DateTime<Utc>,
    pub(crate) finalised: DateTime<Utc>,
    pub(crate) charges: &'static str,
}

/// What the query asked about.
struct Lookup {
    transaction_id: Option<String>,
    original_conversation_id: Option<String>,
    result_url: String,
}

pub(crate) async fn query(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = Arc::clone(&state.shared);
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(rejection) => return rejection.respond(&shared),
    };
    let field = |key: &str| text(&body, key).unwrap_or_default();
    for key in [
        "Initiator",
        "SecurityCredential",
        "PartyA",
        "IdentifierType",
    ] {
        if field(key).is_empty() {
            return invalid(&shared, key);
        }
    }
    if field("CommandID") != "TransactionStatusQuery" {
        return invalid(&shared, "CommandID");
    }
    for key in ["ResultURL", "QueueTimeOutURL"] {
        if !is_url(&field(key)) {
            return invalid(&shared, key);
        }
    }
    let lookup = Lookup {
        transaction_id: text(&body, "TransactionID"),
        original_conversation_id: text(&body, "OriginalConversationID"),
        result_url: field("ResultURL"),
    };
    if lookup.transaction_id.is_none() && lookup.original_conversation_id.is_none() {
        return invalid(&shared, "TransactionID");
    }
    let ocid = wire::request_id(&shared);
    let conversation_id = wire::conversation_id(&shared);
    let ack = json!({
        "OriginatorConversationID": ocid,
        "ConversationID": conversation_id,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    });
    let task_state = Arc::clone(&state);
    shared.spawn(async move {
        if !task_state
            .shared
            .sleep(task_state.settings.callback_delay)
            .await
        {
            return;
        }
        let body = task_state.status_result(&lookup, ocid, conversation_id);
        match body.and_then(|body| body.to_bytes()) {
            Ok(body) => spawn_delivery(
                &task_state.shared,
                Outbound::json(
                    Provider::Mpesa,
                    "transaction status result",
                    &lookup.result_url,
                    body,
                ),
            ),
            Err(error) => tracing::warn!(%error, "sandbox: cannot build a status result"),
        }
    });
    Json(ack).into_response()
}

impl MpesaState {
    fn status_result(
        &self,
        lookup: &Lookup,
        ocid: String,
        conversation_id: String,
    ) -> serde_json::Result<ResultBody> {
        let store = self.store();
        // A B2C payment named by its OriginatorConversationID, or a settled one by its
        // TransactionID; one still in the queue is reported pending, not unknown.
        let named = store.b2c.iter().find(|(key, record)| {
            lookup.original_conversation_id.as_deref() == Some(key.as_str())
                || record.settled.as_ref().is_some_and(|settled| {
                    lookup.transaction_id.as_deref() == Some(settled.transaction_id.as_str())
                })
        });
        let b2c = named.and_then(|(_, record)| record.settled.as_ref());
        let queued = named.is_some() && b2c.is_none();
        let receipt_no = match (&lookup.transaction_id, b2c) {
            (_, Some(settled)) => Some(settled.transaction_id.clone()),
            (Some(id), None) => Some(id.clone()),
            (None, None) => None,
        };
        let receipt = receipt_no
            .as_ref()
            .and_then(|no| Some((no, store.receipts.get(no)?)));
        let mut body = ResultBody {
            result_type: 0,
            result_code: NOT_FOUND.0,
            result_desc: NOT_FOUND.1.to_owned(),
            originator_conversation_id: ocid,
            conversation_id,
            transaction_id: receipt_no.clone().unwrap_or_default(),
            result_parameters: None,
            reference_data: json!({"ReferenceItem": {"Key": "Occasion"}}),
        };
        if let Some((receipt_no, receipt)) = receipt {
            body.result_code = 0;
            body.result_desc = "The service request is processed successfully.".to_owned();
            body.result_parameters = Some(completed_parameters(receipt_no, receipt)?);
        } else if let Some(settled) = b2c.filter(|s| s.result != B2cResult::Success) {
            // The query succeeded; the transaction it found did not.
            body.result_code = 0;
            body.result_desc = "The service request is processed successfully.".to_owned();
            body.result_parameters = Some(Parameters::new(vec![
                result::text("TransactionStatus", "Failed")?,
                result::text("ReasonType", settled.result.description())?,
            ]));
        } else if queued {
            body.result_code = 0;
            body.result_desc = "The service request is processed successfully.".to_owned();
            body.result_parameters = Some(Parameters::new(vec![result::text(
                "TransactionStatus",
                "Pending",
            )?]));
        }
        Ok(body)
    }
}

fn completed_parameters(receipt_no: &str, receipt: &Receipt) -> serde_json::Result<Parameters> {
    Ok(Parameters::new(vec![
        result::text("DebitPartyName", &receipt.debit_party)?,
        result::text("CreditPartyName", &receipt.credit_party)?,
        result::text("InitiatedTime", &compact_time(receipt.initiated))?,
        result::text("DebitAccountType", "Utility Account")?,
        result::text("DebitPartyCharges", receipt.charges)?,
        result::text("TransactionReason", "")?,
        result::text("ReasonType", receipt.reason)?,
        result::text("TransactionStatus", "Completed")?,
        result::text("FinalisedTime", &compact_time(receipt.finalised))?,
        result::text("Amount", &receipt.amount.to_string())?,
        result::text("ReceiptNo", receipt_no)?,
    ]))
}
