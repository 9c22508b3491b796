//! HTTP-level tests of the Daraja client against canned answers on loopback: the shared token,
//! the request bodies byte for byte, and how each refusal is classified.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{MemoryTokenStore, MpesaClient, password::stk_password};
use crate::{
    domain::{Currency, Money},
    providers::{
        Buyer, DepositCheck, DepositRequest, DepositStatus, Destination, NextAction, Provider,
        ProviderError, RefundRequest, Secret, TransferRequest, TransferStatus,
        config::{MpesaCallbacks, MpesaConfig, MpesaInitiator},
        testing::{TOO_SLOW, fast_http, serve},
    },
};

const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
const TOKEN: &str = "cbtok_0123456789abcdef";

/// The fake Daraja: issues numbered tokens (each invalidating the last) and records bodies.
#[derive(Default)]
struct Daraja {
    issued: usize,
    bodies: Vec<Value>,
}

type Shared = Arc<Mutex<Daraja>>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"requestId":"1-2-3","errorCode":code,"errorMessage":message})),
    )
        .into_response()
}

async fn oauth(
    State(daraja): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expected = format!("Basic {}", STANDARD.encode("ck:cs"));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str())
        || query.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "400.008.01",
            "Invalid Authentication passed",
        );
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut daraja = daraja.lock().expect("lock");
    daraja.issued += 1;
    // `expires_in` as a string, as Daraja sometimes sends it.
    Json(json!({"access_token": format!("tok{}", daraja.issued), "expires_in": "3599"}))
        .into_response()
}

/// Checks the bearer is the live token (the last issued) and records the body; the refusal
/// to answer otherwise.
fn refuse(daraja: &Shared, headers: &HeaderMap, body: &Value) -> Option<Response> {
    let mut daraja = daraja.lock().expect("lock");
    let live = format!("Bearer tok{}", daraja.issued);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(live.as_str()) {
        return Some(error(
            StatusCode::NOT_FOUND,
            "404.001.03",
            "Invalid Access Token",
        ));
    }
    daraja.bodies.push(body.clone());
    None
}

async fn stk_push(
    State(daraja): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = refuse(&daraja, &headers, &body) {
        return refusal;
    }
    match body["AccountReference"].as_str() {
        Some("spike") => error(StatusCode::INTERNAL_SERVER_ERROR, "500.003.02", "Spike arrest violation"),
        Some("locked") => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the current subscriber",
        ),
        Some("badcode") => error(StatusCode::BAD_REQUEST, "400.002.02", "Bad Request - Invalid BusinessShortCode"),
        Some("slow") => {
            tokio::time::sleep(TOO_SLOW).await;
            Json(json!({})).into_response()
        }
        _ => Json(json!({"MerchantRequestID":"2654-4b64-97ff-b827b542881d3130","CheckoutRequestID":"ws_CO_1007202409152617172396192",
            "ResponseCode":"0","ResponseDescription":"Success. Request accepted for processing","CustomerMessage":"Success. Request accepted for processing"}))
        .into_response(),
    }
}

async fn stk_query(
    State(daraja): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = refuse(&daraja, &headers, &body) {
        return refusal;
    }
    let answer = |code: &str, desc: &str| {
        Json(json!({"ResponseCode":"0","ResponseDescription":"The service request has been accepted successfully",
            "MerchantRequestID":"22205-34066-1","CheckoutRequestID":body["CheckoutRequestID"],"ResultCode":code,"ResultDesc":desc}))
        .into_response()
    };
    match body["CheckoutRequestID"].as_str().unwrap_or_default() {
        "ws_paid" => answer("0", "The service request is processed successfully."),
        "ws_cancelled" => answer("1032", "Request cancelled by user"),
        "ws_expired" => answer("1019", "Transaction has expired"),
        "ws_busy" => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.001.1001",
            "The transaction is being processed",
        ),
        "ws_quota" => error(
            StatusCode::TOO_MANY_REQUESTS,
            "500.003.03",
            "Quota Violation",
        ),
        "ws_slow" => {
            tokio::time::sleep(TOO_SLOW).await;
            answer("0", "late")
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "400.002.02",
            "Bad Request - Invalid CheckoutRequestID",
        ),
    }
}

async fn b2c(
    State(daraja): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = refuse(&daraja, &headers, &body) {
        return refusal;
    }
    let id = body["OriginatorConversationID"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match id.as_str() {
        i if i.starts_with("dup") => error(StatusCode::INTERNAL_SERVER_ERROR, "500.002.1001", "Duplicate OriginatorConversationID."),
        i if i.starts_with("slow") => {
            tokio::time::sleep(TOO_SLOW).await;
            Json(json!({})).into_response()
        }
        i if i.starts_with("bad") => error(StatusCode::BAD_REQUEST, "400.002.02", "Bad Request - Invalid PartyB"),
        _ => Json(json!({"ConversationID":"AG_20240706_2010325b025970fbc403","OriginatorConversationID":id,
            "ResponseCode":"0","ResponseDescription":"Accept the service request successfully."}))
        .into_response(),
    }
}

async fn status(
    State(daraja): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = refuse(&daraja, &headers, &body) {
        return refusal;
    }
    Json(json!({"OriginatorConversationID":"1236-7134259-1","ConversationID":"AG_20210709_1234409f86436c583e3f",
        "ResponseCode":"0","ResponseDescription":"Accept the service request successfully."}))
    .into_response()
}

async fn fake() -> (String, Shared) {
    let daraja = Shared::default();
    let router = Router::new()
        .route("/oauth/v1/generate", get(oauth))
        .route("/mpesa/stkpush/v1/processrequest", post(stk_push))
        .route("/mpesa/stkpushquery/v1/query", post(stk_query))
        .route("/mpesa/b2c/v3/paymentrequest", post(b2c))
        .route("/mpesa/transactionstatus/v1/query", post(status))
        .with_state(Arc::clone(&daraja));
    (serve(router).await, daraja)
}

fn config(base_url: &str) -> MpesaConfig {
    let mut config = MpesaConfig::new(
        base_url,
        Secret::new("ck"),
        Secret::new("cs"),
        174_379,
        Secret::new(PASSKEY),
        MpesaCallbacks::new("https://pay.example.com", Secret::new(TOKEN)),
    );
    config.b2c_shortcode = 600_992;
    config.initiator = Ok(MpesaInitiator {
        name: "testapi".into(),
        security_credential: Secret::new("c2VjcmV0"),
    });
    config
}

fn client(base_url: &str) -> MpesaClient {
    MpesaClient::new(
        &config(base_url),
        &fast_http(),
        Arc::new(MemoryTokenStore::new()),
    )
    .expect("client")
}

fn shillings(n: i64) -> Money {
    Money::from_minor(n * 100, Currency::Kes)
}

fn deposit(reference: &str) -> DepositRequest {
    DepositRequest {
        intent_id: Uuid::nil(),
        reference: reference.into(),
        amount: shillings(10),
        buyer: Buyer::Msisdn("0708 374 149".into()),
        description: "Order #42: two mugs".into(),
    }
}

fn payout(reference: &str) -> TransferRequest {
    TransferRequest {
        reference: reference.into(),
        amount: shillings(250),
        destination: Destination::Mpesa {
            msisdn: "+254705912645".into(),
        },
        reason: "Payout for order 42".into(),
    }
}

#[tokio::test]
async fn stk_push_body_and_answer() {
    let (base, daraja) = fake().await;
    let answer = client(&base)
        .stk_push(&deposit("intent-0190aa7b5cbb7d21"))
        .await;
    assert_eq!(
        answer,
        Ok(NextAction::StkPush {
            checkout_request_id: "ws_CO_1007202409152617172396192".into(),
            merchant_request_id: "2654-4b64-97ff-b827b542881d3130".into(),
            customer_message: "Success. Request accepted for processing".into(),
        })
    );
    let body = daraja.lock().expect("lock").bodies[0].clone();
    let timestamp = body["Timestamp"].as_str().expect("timestamp").to_owned();
    assert_eq!(timestamp.len(), 14);
    assert_eq!(
        body["Password"],
        stk_password("174379", PASSKEY, &timestamp)
    );
    assert_eq!(body["BusinessShortCode"], json!(174379));
    assert_eq!(body["TransactionType"], "CustomerPayBillOnline");
    assert_eq!(body["Amount"], "10");
    assert_eq!(body["PartyA"], "254708374149");
    assert_eq!(body["PartyB"], "174379");
    assert_eq!(body["PhoneNumber"], "254708374149");
    assert_eq!(
        body["CallBackURL"],
        format!("https://pay.example.com/webhooks/mpesa/{TOKEN}/stk")
    );
    assert_eq!(body["AccountReference"], "aa7b5cbb7d21");
    assert_eq!(body["TransactionDesc"], "Order 42 two");
}

#[tokio::test]
async fn stk_push_refusals() {
    let (base, _) = fake().await;
    let client = client(&base);
    assert_eq!(
        client.stk_push(&deposit("spike")).await,
        Err(ProviderError::retry_after(
            "spike arrest: 500.003.02 Spike arrest violation",
            Some(Duration::from_secs(5))
        ))
    );
    assert!(matches!(
        client.stk_push(&deposit("locked")).await,
        Err(ProviderError::Retryable { retry_after: Some(wait), .. }) if wait >= Duration::from_secs(60)
    ));
    assert!(matches!(
        client.stk_push(&deposit("badcode")).await,
        Err(ProviderError::Permanent { .. })
    ));
    // A second push would prompt the buyer twice.
    assert!(matches!(
        client.stk_push(&deposit("slow")).await,
        Err(ProviderError::InDoubt { .. })
    ));
    let mut email = deposit("x");
    email.buyer = Buyer::Email("a@b.c".into());
    assert!(matches!(
        client.stk_push(&email).await,
        Err(ProviderError::Permanent { .. })
    ));
    let mut cents = deposit("x");
    cents.amount = Money::from_minor(1050, Currency::Kes);
    assert!(matches!(
        client.stk_push(&cents).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn one_token_for_concurrent_calls_and_one_refresh_when_rotated() {
    let (base, daraja) = fake().await;
    let client = Arc::new(client(&base));
    let checks = (0..5).map(|_| {
        let client = Arc::clone(&client);
        tokio::spawn(async move { client.stk_query("ws_paid", shillings(10)).await })
    });
    for check in futures::future::join_all(checks).await {
        assert!(matches!(
            check.expect("joined"),
            Ok(DepositStatus::Succeeded { .. })
        ));
    }
    assert_eq!(daraja.lock().expect("lock").issued, 1);

    // Another process fetched a token: ours is now invalid, answered 404.001.03.
    daraja.lock().expect("lock").issued += 1;
    let status = client.stk_query("ws_paid", shillings(10)).await;
    assert!(matches!(status, Ok(DepositStatus::Succeeded { .. })));
    assert_eq!(
        daraja.lock().expect("lock").issued,
        3,
        "exactly one refresh"
    );
}

#[tokio::test]
async fn stk_query_outcomes() {
    let (base, daraja) = fake().await;
    let client = client(&base);
    let check = |handle: &str| DepositCheck {
        reference: "intent-1".into(),
        provider_handle: Some(handle.into()),
        expected: shillings(10),
        expires_at: None,
    };
    assert_eq!(
        client.check_deposit(&check("ws_paid")).await,
        Ok(DepositStatus::Succeeded {
            amount: shillings(10),
            provider_ref: "ws_paid".into()
        })
    );
    let body = daraja.lock().expect("lock").bodies[0].clone();
    assert_eq!(body["BusinessShortCode"], "174379");
    assert_eq!(body["CheckoutRequestID"], "ws_paid");
    assert_eq!(
        client.check_deposit(&check("ws_cancelled")).await,
        Ok(DepositStatus::Failed {
            code: "1032".into(),
            reason: "Request cancelled by user".into()
        })
    );
    assert_eq!(
        client.check_deposit(&check("ws_expired")).await,
        Ok(DepositStatus::Expired)
    );
    assert_eq!(
        client.check_deposit(&check("ws_busy")).await,
        Ok(DepositStatus::Pending)
    );
    assert!(matches!(
        client.check_deposit(&check("ws_quota")).await,
        Err(ProviderError::Retryable {
            retry_after: Some(_),
            ..
        })
    ));
    // A read: a lost answer is simply retried.
    assert!(matches!(
        client.check_deposit(&check("ws_slow")).await,
        Err(ProviderError::Retryable { .. })
    ));
    let mut no_handle = check("x");
    no_handle.provider_handle = None;
    assert!(matches!(
        client.check_deposit(&no_handle).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn b2c_body_and_outcomes() {
    let (base, daraja) = fake().await;
    let client = client(&base);
    assert_eq!(
        client.initiate_transfer(&payout("payout_0190aa7b")).await,
        Ok(TransferStatus::Pending)
    );
    let body = daraja.lock().expect("lock").bodies[0].clone();
    let urls = format!("https://pay.example.com/webhooks/mpesa/{TOKEN}");
    assert_eq!(
        body,
        json!({"OriginatorConversationID":"payout_0190aa7b","InitiatorName":"testapi","SecurityCredential":"c2VjcmV0",
            "CommandID":"BusinessPayment","Amount":"250","PartyA":"600992","PartyB":"254705912645",
            "Remarks":"Payout for order 42","QueueTimeOutURL":format!("{urls}/b2c/timeout"),
            "ResultURL":format!("{urls}/b2c/result"),"Occassion":""})
    );
    assert_eq!(
        client.b2c(&payout("dup_0190aa7b")).await,
        Ok(TransferStatus::Pending),
        "a duplicate OriginatorConversationID means already initiated"
    );
    assert!(matches!(
        client.b2c(&payout("slow_0190aa7b")).await,
        Err(ProviderError::InDoubt { .. })
    ));
    assert!(matches!(
        client.b2c(&payout("bad_0190aa7b")).await,
        Err(ProviderError::Permanent { .. })
    ));

    let mut no_initiator = config(&base);
    no_initiator.initiator = Err(crate::providers::MissingSetting("MPESA_INITIATOR_NAME"));
    let off = MpesaClient::new(
        &no_initiator,
        &fast_http(),
        Arc::new(MemoryTokenStore::new()),
    )
    .expect("client");
    assert_eq!(
        off.b2c(&payout("payout_1")).await,
        Err(ProviderError::permanent(
            "M-Pesa payouts are off: set MPESA_INITIATOR_NAME"
        ))
    );
}

#[tokio::test]
async fn transaction_status_is_asynchronous() {
    let (base, daraja) = fake().await;
    let client = client(&base);
    let ack = client
        .transaction_status("payout_0190aa7b", Some("SG632NMUAB"))
        .await
        .expect("ack");
    assert_eq!(ack.originator_conversation_id, "1236-7134259-1");
    let body = daraja.lock().expect("lock").bodies[0].clone();
    assert_eq!(body["CommandID"], "TransactionStatusQuery");
    assert_eq!(body["TransactionID"], "SG632NMUAB");
    assert_eq!(body["OriginalConversationID"], "payout_0190aa7b");
    assert_eq!(body["PartyA"], "600992");
    assert_eq!(body["IdentifierType"], "4");
    assert_eq!(
        body["ResultURL"],
        format!("https://pay.example.com/webhooks/mpesa/{TOKEN}/status/result/payout_0190aa7b")
    );
    assert_eq!(
        client.check_transfer(&payout("payout_0190aa7b")).await,
        Ok(TransferStatus::Pending)
    );
    let refund = RefundRequest {
        reference: "r".into(),
        deposit_ref: "NLJ7RT61SV".into(),
        amount: shillings(1),
        reason: "x".into(),
    };
    assert!(matches!(
        client.refund(&refund).await,
        Err(ProviderError::Permanent { .. })
    ));
}
