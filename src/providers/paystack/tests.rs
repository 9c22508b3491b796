//! HTTP-level tests of the Paystack client against canned answers on loopback.

use std::{
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::PaystackClient;
use crate::{
    domain::{Currency, Money},
    providers::{
        Buyer, DepositInitiation, DepositRequest, DepositStatus, Destination, NextAction, Provider,
        ProviderError, RefundRequest, RefundStatus, Secret, TransferRequest, TransferStatus,
        config::PaystackConfig,
        testing::{TOO_SLOW, closed_port, fast_http, serve},
    },
};

/// What the fake saw: (Authorization header, JSON body).
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

fn client(base_url: &str) -> PaystackClient {
    let config = PaystackConfig::new(base_url, Secret::new("sk_test_fake"));
    PaystackClient::new(&config, &fast_http()).expect("client")
}

fn naira(text: &str) -> Money {
    Money::new(Decimal::from_str(text).expect("decimal"), Currency::Ngn).expect("money")
}

fn deposit(reference: &str) -> DepositRequest {
    DepositRequest {
        intent_id: Uuid::nil(),
        reference: reference.into(),
        amount: naira("500.25"),
        buyer: Buyer::Email("demo@test.com".into()),
        description: "order 42".into(),
    }
}

fn transfer(reference: &str) -> TransferRequest {
    TransferRequest {
        reference: reference.into(),
        amount: naira("1000"),
        destination: Destination::Paystack {
            recipient_code: "RCP_gd9vgag7n5lr5ix".into(),
        },
        reason: "Payout for order 42".into(),
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn remember(seen: &Seen, headers: &HeaderMap, body: Value) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.lock().expect("lock").push((auth, body));
}

async fn initialize(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    remember(&seen, &headers, body.clone());
    if body["reference"] == "intent-duplicate" {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"status":false,"message":"Duplicate Transaction Reference"}),
        );
    }
    reply(
        StatusCode::OK,
        json!({"status":true,"message":"Authorization URL created","data":{
            "authorization_url":"https://checkout.paystack.com/3ni8kdavz62431k",
            "access_code":"3ni8kdavz62431k","reference": body["reference"]}}),
    )
}

async fn verify(Path(reference): Path<String>) -> Response {
    let data = |status: &str| {
        json!({"status":true,"message":"Verification successful","data":{
            "id":4099260516_u64,"status":status,"reference":reference,"amount":50025,
            "currency":"NGN","gateway_response":"Declined"}})
    };
    match reference.as_str() {
        "intent-duplicate" | "paid" => reply(StatusCode::OK, data("success")),
        "abandoned" => reply(StatusCode::OK, data("abandoned")),
        "failed" => reply(StatusCode::OK, data("failed")),
        "created" => reply(StatusCode::CREATED, data("success")),
        "badkey" => reply(StatusCode::UNAUTHORIZED, json!({"status":false,"message":"Invalid key"})),
        "limited" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-ratelimit-reset", "7"), ("x-ratelimit-remaining", "0")],
            Json(json!({"status":false,"message":"Rate limit exceeded!","meta":{"nextStep":"Wait a few minutes and try the API call again"},"type":"api_error","code":"rate_limited"})),
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(TOO_SLOW).await;
            reply(StatusCode::OK, data("success"))
        }
        "proxied" => reply(
            StatusCode::BAD_GATEWAY,
            json!({"status":false,"message":"upstream not found"}),
        ),
        _ => reply(
            StatusCode::BAD_REQUEST,
            json!({"status":false,"message":"Transaction reference not found"}),
        ),
    }
}

async fn create_transfer(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    remember(&seen, &headers, body.clone());
    let reference = body["reference"].as_str().unwrap_or_default().to_owned();
    match reference.as_str() {
        r if r.starts_with("slow") => {
            tokio::time::sleep(TOO_SLOW).await;
            reply(StatusCode::OK, json!({"status":true}))
        }
        r if r.starts_with("down") => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"status":false,"message":"Server error"}),
        ),
        r if r.starts_with("again") => reply(
            StatusCode::BAD_REQUEST,
            json!({"status":false,"message":"Transfer reference already exists"}),
        ),
        r if r.starts_with("poor") => reply(
            StatusCode::BAD_REQUEST,
            json!({"status":false,"message":"Your balance is not enough to fulfil this request"}),
        ),
        _ => reply(
            StatusCode::OK,
            json!({"status":true,"message":"Transfer has been queued","data":{"reference":reference,"amount":100000,"currency":"NGN",
                "status":"success","transfer_code":"TRF_v5tip3zx8nna9o78","id":860703114,"recipient":56824902,"source":"balance",
                "failures":null,"transferred_at":null,"createdAt":"2025-08-04T10:32:40.000Z"}}),
        ),
    }
}

async fn verify_transfer(Path(reference): Path<String>) -> Response {
    let data = |status: &str| {
        json!({"status":true,"message":"Transfer retrieved","data":{"reference":reference,"status":status,
            "transfer_code":"TRF_v5tip3zx8nna9o78","gateway_response":"Account closed"}})
    };
    match reference.as_str() {
        r if r.starts_with("unknown") => reply(
            StatusCode::NOT_FOUND,
            json!({"status":false,"message":"Transfer not found"}),
        ),
        r if r.starts_with("reversed") => reply(StatusCode::OK, data("reversed")),
        r if r.starts_with("otp") => reply(StatusCode::OK, data("otp")),
        r if r.starts_with("rejected") => reply(StatusCode::OK, data("rejected")),
        _ => reply(StatusCode::OK, data("success")),
    }
}

async fn refund(State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    remember(&seen, &headers, body.clone());
    match body["transaction"].as_str() {
        Some("flaky") => reply(
            StatusCode::BAD_GATEWAY,
            json!({"status":false,"message":"Bad gateway"}),
        ),
        Some("slow") => {
            tokio::time::sleep(TOO_SLOW).await;
            reply(StatusCode::OK, json!({"status":true}))
        }
        _ => reply(
            StatusCode::OK,
            json!({"status":true,"message":"Refund has been queued for processing","data":{
                "transaction":{"id":1004723697,"reference":"T685312322670591"},
                "amount":10000,"currency":"NGN","status":"pending","id":3018284}}),
        ),
    }
}

async fn fetch_refund(Path(id): Path<String>) -> Response {
    match id.as_str() {
        "3018284" => reply(
            StatusCode::OK,
            json!({"status":true,"message":"Refund retrieved","data":{"id":3018284,"status":"processed"}}),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"status":false,"message":"Refund not found"}),
        ),
    }
}

async fn fake() -> (String, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .route("/transaction/initialize", post(initialize))
        .route("/transaction/verify/{reference}", get(verify))
        .route("/transfer", post(create_transfer))
        .route("/transfer/verify/{reference}", get(verify_transfer))
        .route("/refund", post(refund))
        .route("/refund/{id}", get(fetch_refund))
        .with_state(Arc::clone(&seen));
    (serve(router).await, seen)
}

#[tokio::test]
async fn initialize_sends_kobo_and_answers_a_redirect() {
    let (base, seen) = fake().await;
    let answer = client(&base)
        .initiate_deposit(&deposit("intent-0190aa7b"))
        .await;
    assert_eq!(
        answer,
        Ok(DepositInitiation::Started {
            action: NextAction::Redirect {
                authorization_url: "https://checkout.paystack.com/3ni8kdavz62431k".into(),
                access_code: "3ni8kdavz62431k".into(),
                reference: "intent-0190aa7b".into(),
            }
        })
    );
    let seen = seen.lock().expect("lock");
    let (auth, body) = &seen[0];
    assert_eq!(auth, "Bearer sk_test_fake");
    assert_eq!(body["amount"], json!(50025));
    assert_eq!(body["currency"], "NGN");
    assert_eq!(body["email"], "demo@test.com");
    assert_eq!(body["metadata"]["intent_id"], Uuid::nil().to_string());
}

#[tokio::test]
async fn duplicate_reference_is_verified_instead() {
    let (base, _) = fake().await;
    let answer = client(&base).initialize(&deposit("intent-duplicate")).await;
    assert_eq!(
        answer,
        Ok(DepositInitiation::AlreadyInitiated {
            status: DepositStatus::Succeeded {
                amount: naira("500.25"),
                provider_ref: "4099260516".into()
            }
        })
    );
}

#[tokio::test]
async fn initialize_refuses_bad_input_without_calling() {
    let client = client(&closed_port().await);
    let mut no_email = deposit("intent-1");
    no_email.buyer = Buyer::Msisdn("254708374149".into());
    assert!(matches!(
        client.initialize(&no_email).await,
        Err(ProviderError::Permanent { .. })
    ));
    let mut sats = deposit("intent-1");
    sats.amount = Money::from_minor(1000, Currency::Sat);
    assert!(matches!(
        client.initialize(&sats).await,
        Err(ProviderError::Permanent { .. })
    ));
    assert!(matches!(
        client.initialize(&deposit("bad/reference")).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn verify_confirms_only_success_on_200() {
    let (base, _) = fake().await;
    let client = client(&base);
    assert_eq!(
        client.verify("paid").await,
        Ok(DepositStatus::Succeeded {
            amount: naira("500.25"),
            provider_ref: "4099260516".into()
        })
    );
    assert!(matches!(
        client.verify("created").await,
        Err(ProviderError::Retryable { .. })
    ));
    assert_eq!(client.verify("abandoned").await, Ok(DepositStatus::Pending));
    assert_eq!(
        client.verify("failed").await,
        Ok(DepositStatus::Failed {
            code: "failed".into(),
            reason: "Declined".into()
        })
    );
    assert!(matches!(
        client.verify("nosuchref").await,
        Ok(DepositStatus::Failed { ref code, .. }) if code == "not_found"
    ));
    assert_eq!(
        client.verify("badkey").await,
        Err(ProviderError::permanent("HTTP 401: Invalid key"))
    );
}

#[tokio::test]
async fn rate_limits_and_timeouts_on_reads_are_retryable() {
    let (base, _) = fake().await;
    let client = client(&base);
    assert_eq!(
        client.verify("limited").await,
        Err(ProviderError::retry_after(
            "HTTP 429: Rate limit exceeded! (rate_limited)",
            Some(Duration::from_secs(7))
        ))
    );
    assert!(matches!(
        client.verify("slow").await,
        Err(ProviderError::Retryable { .. })
    ));
}

#[tokio::test]
async fn transfer_is_keyed_by_reference_and_never_taken_as_done() {
    let (base, seen) = fake().await;
    let client = client(&base);
    let reference = "acv_9ee55786-2323-4760-98e2-6380c9cb3f68";
    assert_eq!(
        client.initiate_transfer(&transfer(reference)).await,
        Ok(TransferStatus::Pending)
    );
    let body = seen.lock().expect("lock")[0].1.clone();
    assert_eq!(
        body,
        json!({"source":"balance","amount":100000,"recipient":"RCP_gd9vgag7n5lr5ix",
               "reference":reference,"reason":"Payout for order 42","currency":"NGN"})
    );
    assert_eq!(
        client.transfer(&transfer("again-0190aa7b-5cbb")).await,
        Ok(TransferStatus::Pending),
        "a reused reference means already initiated"
    );
    assert!(matches!(
        client.transfer(&transfer("poor-0190aa7b-5cbb")).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn transfer_failures_are_classified() {
    let (base, _) = fake().await;
    let client = client(&base);
    assert!(matches!(
        client.transfer(&transfer("slow-0190aa7b-5cbb")).await,
        Err(ProviderError::InDoubt { .. })
    ));
    // Paystack dedupes on the reference, so a 5xx may be retried with the same one.
    assert!(matches!(
        client.transfer(&transfer("down-0190aa7b-5cbb")).await,
        Err(ProviderError::Retryable { .. })
    ));
    for bad in [
        "Short_ref",
        "UPPERCASE-0190aa7b-5cbb",
        "spaces in ref 0190aa7b",
    ] {
        assert!(
            matches!(
                client.transfer(&transfer(bad)).await,
                Err(ProviderError::Permanent { .. })
            ),
            "{bad}"
        );
    }
    let refused = super::PaystackClient::new(
        &PaystackConfig::new(&closed_port().await, Secret::new("sk")),
        &fast_http(),
    )
    .expect("client");
    assert!(matches!(
        refused.transfer(&transfer("acv_9ee55786-2323")).await,
        Err(ProviderError::Retryable { .. })
    ));
}

#[tokio::test]
async fn transfer_verification() {
    let (base, _) = fake().await;
    let client = client(&base);
    assert_eq!(
        client
            .check_transfer(&transfer("unknown-0190aa7b-5cbb"))
            .await,
        Ok(TransferStatus::NotFound)
    );
    assert_eq!(
        client.check_transfer(&transfer("done-0190aa7b-5cbb")).await,
        Ok(TransferStatus::Succeeded {
            provider_ref: "TRF_v5tip3zx8nna9o78".into()
        })
    );
    assert_eq!(
        client
            .check_transfer(&transfer("reversed-0190aa7b-5cbb"))
            .await,
        Ok(TransferStatus::Reversed {
            reason: "Account closed".into()
        })
    );
    assert_eq!(
        client.check_transfer(&transfer("otp-0190aa7b-5cbb")).await,
        Ok(TransferStatus::Pending)
    );
    assert!(matches!(
        client
            .check_transfer(&transfer("rejected-0190aa7b-5cbb"))
            .await,
        Ok(TransferStatus::Failed { .. })
    ));
}

#[tokio::test]
async fn refunds_are_unkeyed_so_ambiguity_is_in_doubt() {
    let (base, seen) = fake().await;
    let client = client(&base);
    let request = |transaction: &str| RefundRequest {
        reference: "refund-1".into(),
        deposit_ref: transaction.into(),
        amount: naira("100"),
        reason: "buyer cancelled".into(),
    };
    assert_eq!(
        client.refund(&request("T685312322670591")).await,
        Ok(RefundStatus::Pending {
            provider_ref: "3018284".into()
        })
    );
    assert_eq!(
        seen.lock().expect("lock")[0].1,
        json!({"transaction":"T685312322670591","amount":10000,"currency":"NGN","merchant_note":"buyer cancelled"})
    );
    assert!(matches!(
        client.refund(&request("flaky")).await,
        Err(ProviderError::InDoubt { .. })
    ));
    assert!(matches!(
        client.refund(&request("slow")).await,
        Err(ProviderError::InDoubt { .. })
    ));
    assert_eq!(
        client.check_refund("3018284").await,
        Ok(RefundStatus::Succeeded {
            provider_ref: "3018284".into()
        })
    );
    assert_eq!(client.check_refund("999").await, Ok(RefundStatus::NotFound));
    assert!(matches!(
        client.check_refund("../x").await,
        Err(ProviderError::Permanent { .. })
    ));
}

/// A transaction whose refunds are one made by hand in the dashboard (processed) and, when
/// `ours` is set, malipo's own (pending, its payout reference in the merchant note).
async fn refunds_fake(ours: bool) -> String {
    let refunds = move || {
        let mut list = vec![
            json!({"id": 7001, "transaction": 42, "amount": 500_000, "currency": "NGN",
                                   "status": "processed", "merchant_note": "refunded by hand", "refunded_by": "ops@example.com"}),
        ];
        if ours {
            list.insert(
                0,
                json!({"id": 7002, "transaction": 42, "amount": 500_000, "currency": "NGN",
                                  "status": "pending", "merchant_note": "malipo refund po_ours"}),
            );
        }
        Json(json!({"status": true, "message": "Refunds retrieved", "data": list}))
    };
    serve(
        Router::new()
            .route(
                "/transaction/verify/{reference}",
                get(|| async {
                    Json(json!({"status": true, "message": "Verification successful", "data": {
                        "id": 42, "status": "reversed", "reference": "dp-1", "amount": 500_000, "currency": "NGN"}}))
                }),
            )
            .route("/refund", get(move || async move { refunds() })),
    )
    .await
}

#[tokio::test]
async fn a_refund_made_by_hand_is_never_taken_for_malipos() {
    let base = refunds_fake(false).await;
    let found = client(&base).find_refund("dp-1", "po_ours").await;
    assert_eq!(found, Ok(RefundStatus::NotFound));
    let base = refunds_fake(true).await;
    let found = client(&base).find_refund("dp-1", "po_ours").await;
    assert_eq!(
        found,
        Ok(RefundStatus::Pending {
            provider_ref: "7002".into()
        })
    );
}
