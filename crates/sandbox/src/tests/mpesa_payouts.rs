//! Daraja B2C, Transaction Status, C2B and Pull: idempotent payouts, results that may never
//! come, and the reconciliation paths around them.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use super::mpesa::Daraja;
use super::quick;
use super::receiver::Receiver;
use crate::{B2cOutcome, B2cResult, C2bOutcome, C2bPayment};

pub(super) const B2C: &str = "/mpesa/b2c/v3/paymentrequest";

pub(super) fn b2c(ocid: &str, result_url: &str) -> Value {
    json!({
        "OriginatorConversationID": ocid, "InitiatorName": "testapi", "SecurityCredential": "c2VjcmV0",
        "CommandID": "BusinessPayment", "Amount": "250", "PartyA": "600992", "PartyB": "254705912645",
        "Remarks": "payout", "QueueTimeOutURL": "https://example.test/timeout", "ResultURL": result_url,
        "Occassion": "escrow",
    })
}

fn status_query(result_url: &str, transaction_id: Option<&str>, original: Option<&str>) -> Value {
    json!({
        "Initiator": "testapi", "SecurityCredential": "c2VjcmV0", "CommandID": "TransactionStatusQuery",
        "TransactionID": transaction_id, "OriginalConversationID": original, "PartyA": "600992",
        "IdentifierType": "4", "ResultURL": result_url, "QueueTimeOutURL": "https://example.test/timeout",
        "Remarks": "reconcile", "Occasion": "",
    })
}

fn parameters(result: &Value) -> Vec<(String, Value)> {
    result["Result"]["ResultParameters"]["ResultParameter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["Key"].as_str().unwrap().to_owned(), p["Value"].clone()))
        .collect()
}

#[tokio::test]
async fn b2c_acknowledges_calls_back_and_rejects_a_reused_originator_conversation_id() {
    let mut results = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    let ocid = "payout-7c1f0a52";
    let (status, ack) = daraja
        .post(B2C, &b2c(ocid, &results.url("/b2c/result")))
        .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["OriginatorConversationID"], ocid);
    assert_eq!(ack["ResponseCode"], "0");
    assert!(ack["ConversationID"].as_str().unwrap().starts_with("AG_"));

    let received = results.next().await;
    assert!(
        received
            .text()
            .contains(r#"{"Key":"TransactionAmount","Value":250}"#),
        "{}",
        received.text()
    );
    assert!(
        received
            .text()
            .contains(r#""Key":"B2CUtilityAccountAvailableFunds","Value":9999750.00"#)
    );
    let result = received.json();
    assert_eq!(result["Result"]["ResultCode"], 0);
    assert_eq!(result["Result"]["OriginatorConversationID"], ocid);
    assert_eq!(result["Result"]["ConversationID"], ack["ConversationID"]);
    let receipt = parameters(&result)
        .into_iter()
        .find(|(k, _)| k == "TransactionReceipt")
        .unwrap()
        .1;
    assert_eq!(receipt, result["Result"]["TransactionID"]);

    let (status, duplicate) = daraja
        .post(B2C, &b2c(ocid, &results.url("/b2c/result")))
        .await;
    assert_eq!(status, 500);
    assert_eq!(duplicate["errorCode"], "500.002.1001");
    assert_eq!(
        duplicate["errorMessage"],
        "Duplicate OriginatorConversationID."
    );
    let counters = daraja.fakes.counters();
    assert_eq!(counters.transfers_for(ocid), 2);
    assert_eq!(counters.transfers_created, 1);
    assert!(
        results.quiet_for(Duration::from_millis(100)).await,
        "no result for the duplicate"
    );
}

#[tokio::test]
async fn a_failed_b2c_result_has_no_parameters() {
    let mut results = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .mpesa_script_next_b2c(B2cOutcome::new(B2cResult::InvalidInitiator));
    daraja
        .post(B2C, &b2c("payout-failing-1", &results.url("/r")))
        .await;
    let result = results.next().await.json();
    assert_eq!(result["Result"]["ResultCode"], 2001);
    assert!(result["Result"].get("ResultParameters").is_none());
}

#[tokio::test]
async fn transaction_status_finds_a_payout_whose_result_never_came() {
    let mut results = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .mpesa_script_next_b2c(B2cOutcome::silent(B2cResult::Success));
    daraja
        .post(B2C, &b2c("payout-silent-1", &results.url("/b2c")))
        .await;
    assert!(results.quiet_for(Duration::from_millis(200)).await);

    let (status, ack) = daraja
        .post(
            "/mpesa/transactionstatus/v1/query",
            &status_query(&results.url("/status"), None, Some("payout-silent-1")),
        )
        .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(
        ack["ResponseDescription"],
        "Accept the service request successfully."
    );
    let received = results.next().await;
    assert_eq!(received.path, "/status");
    let result = received.json();
    assert_eq!(result["Result"]["ResultCode"], 0);
    assert_eq!(
        result["Result"]["OriginatorConversationID"],
        ack["OriginatorConversationID"]
    );
    let parameters = parameters(&result);
    let value = |key: &str| {
        parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(value("TransactionStatus"), Some(json!("Completed")));
    assert_eq!(value("Amount"), Some(json!("250")));
    assert_eq!(
        value("ReceiptNo"),
        Some(result["Result"]["TransactionID"].clone())
    );

    daraja
        .post(
            "/mpesa/transactionstatus/v1/query",
            &status_query(&results.url("/status"), Some("NOPE000000"), None),
        )
        .await;
    assert_eq!(results.next().await.json()["Result"]["ResultCode"], 2032);
}

#[tokio::test]
async fn c2b_validates_confirms_and_is_pulled_within_48_hours() {
    let mut hooks = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    let register = json!({
        "ShortCode": "600966", "ResponseType": "Completed",
        "ConfirmationURL": hooks.url("/c2b/confirm"), "ValidationURL": hooks.url("/c2b/validate"),
    });
    let (status, registered) = daraja.post("/mpesa/c2b/v1/registerurl", &register).await;
    assert_eq!(status, 200);
    assert_eq!(registered["ResponseDescription"], "success");
    assert!(
        registered["OriginatorCoversationID"].is_string(),
        "Daraja's own spelling"
    );

    let mut forbidden = register.clone();
    forbidden["ConfirmationURL"] = json!("https://example.test/safaricom/confirm");
    assert_eq!(
        daraja.post("/mpesa/c2b/v1/registerurl", &forbidden).await.0,
        400
    );

    let pull = json!({"ShortCode": "600966", "RequestType": "Pull", "NominatedNumber": "254708374149", "CallBackURL": hooks.url("/pull")});
    assert_eq!(
        daraja.post("/pulltransactions/v1/register", &pull).await.1["ResponseStatus"],
        "1000"
    );
    assert_eq!(
        daraja.post("/pulltransactions/v1/register", &pull).await.1["ResponseStatus"],
        "1001"
    );

    let outcome = daraja
        .fakes
        .mpesa_simulate_c2b(C2bPayment::new("600966", 5, "254708374126", "ORDER42"))
        .await
        .unwrap();
    let C2bOutcome::Completed { trans_id } = outcome else {
        panic!("accepted by validation: {outcome:?}");
    };
    let validation = hooks.next().await;
    assert_eq!(validation.path, "/c2b/validate");
    let confirmation = hooks.next().await;
    assert_eq!(confirmation.path, "/c2b/confirm");
    let (validation, confirmation) = (validation.json(), confirmation.json());
    assert_eq!(validation["OrgAccountBalance"], "", "blank in validation");
    assert_eq!(confirmation["OrgAccountBalance"], "5.00");
    assert_eq!(confirmation["TransID"], trans_id.as_str());
    assert_eq!(confirmation["TransAmount"], "5.00");
    assert_eq!(confirmation["MSISDN"], "2547 ***** 126");
    assert_eq!(confirmation["BillRefNumber"], "ORDER42");

    // A rejecting validation stops the payment: no confirmation, nothing to pull.
    hooks.reply_with(
        axum::http::StatusCode::OK,
        r#"{"ResultCode":"C2B00012","ResultDesc":"Rejected"}"#,
    );
    let rejected = daraja
        .fakes
        .mpesa_simulate_c2b(C2bPayment::new("600966", 7, "254708374126", "BAD"))
        .await
        .unwrap();
    assert_eq!(
        rejected,
        C2bOutcome::Rejected {
            result_code: "C2B00012".into()
        }
    );
    hooks.next().await;
    assert!(hooks.quiet_for(Duration::from_millis(100)).await);

    let old = C2bPayment {
        at: Some(Utc::now() - TimeDelta::hours(49)),
        ..C2bPayment::new("600966", 9, "254708374126", "OLD")
    };
    hooks.reply_with(
        axum::http::StatusCode::OK,
        r#"{"ResultCode":"0","ResultDesc":"Accepted"}"#,
    );
    daraja.fakes.mpesa_simulate_c2b(old).await.unwrap();

    let eat = |t: chrono::DateTime<Utc>| {
        (t + TimeDelta::hours(3))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let query = json!({
        "ShortCode": "600966", "StartDate": eat(Utc::now() - TimeDelta::hours(72)),
        "EndDate": eat(Utc::now() + TimeDelta::minutes(1)), "OffSetValue": "0",
    });
    let (status, pulled) = daraja.post("/pulltransactions/v1/query", &query).await;
    assert_eq!(status, 200, "{pulled}");
    let rows = pulled["Response"][0].as_array().unwrap();
    assert_eq!(rows.len(), 1, "only the last 48 h: {rows:?}");
    assert_eq!(rows[0]["transactionId"], trans_id.as_str());
    assert_eq!(rows[0]["billreference"], "ORDER42");
}
