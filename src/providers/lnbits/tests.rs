//! HTTP-level tests of the LNbits client against canned answers on loopback.

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::LnbitsClient;
use crate::{
    domain::{Currency, Money},
    providers::{
        Buyer, DepositCheck, DepositRequest, DepositStatus, Destination, NextAction, Provider,
        ProviderError, Secret, TransferRequest, TransferStatus,
        config::{LnbitsConfig, LnbitsWebhook},
        testing::{TOO_SLOW, fast_http, serve},
    },
};

/// A 12-sat mainnet invoice and its payment hash.
const INVOICE: &str = "lnbc120n1pskxyl3pp5uwfjlx3mx9w2gnqx2ckjgzs3gyrflhwqt8rys6u3pd4mcxdqt99qdq20paxxcthv5xqyjw5qcqzyssp56grhkv8ztlf6s9swde8kguzwx84vnru7cyc6s7yw227kafa86afqrzjq0zn80anhfz2vp4qve4svppq7h8y2tsja03wq68re7a55ga2ks95zz4utvqqnpsqqyqqqqlgqqqqqqgq9q9qxsqyssq9qp2zvahzalxeegdshejjxsytwqhau3s6pwupyl5hpc6854xc6qsh3a2xyz9hhrhhtky9m8jss6jq9t2syagruw3y5dqnjye7uwnkfcppyj8v3";
const HASH: &str = "e3932f9a3b315ca44c06562d240a1141069fddc059c6486b910b6bbc19a0594a";
const WEBHOOK_TOKEN: &str = "ln_0123456789abcdef";

/// (X-API-KEY, body) of each POST.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;
/// The answer the fake gives to `POST /api/v1/payments` with `out: true`.
type PayScript = Arc<Mutex<&'static str>>;

#[derive(Clone, Default)]
struct Fake {
    seen: Seen,
    pay: PayScript,
}

fn hash_of(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

async fn payments(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    fake.seen
        .lock()
        .expect("lock")
        .push((key.clone(), body.clone()));
    if body["out"] == json!(false) {
        if key != "inv" {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({"detail":"Invoice (or Admin) key required."})),
            )
                .into_response();
        }
        if body["memo"] == "legacy" {
            return (StatusCode::CREATED, Json(json!({"payment_hash": hash_of(2), "payment_request": "lnbc10u1legacy", "checking_id": "c", "lnurl_response": null}))).into_response();
        }
        return (StatusCode::CREATED, Json(json!({"checking_id":"c","payment_hash":hash_of(1),"wallet_id":"w","amount":1_000_000,"fee":0,
            "bolt11":"lnbc10u1new","payment_request":"lnbc10u1new","status":"pending","memo":body["memo"],
            "expiry":"2026-03-20T11:41:02+00:00","webhook":body["webhook"],"webhook_status":null,"preimage":null,
            "time":"t","created_at":"t","updated_at":"t","labels":[],"extra":{}}))).into_response();
    }
    if key != "adm" {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"detail":"Admin key required."})),
        )
            .into_response();
    }
    let script = *fake.pay.lock().expect("lock");
    match script {
        "slow" => {
            tokio::time::sleep(TOO_SLOW).await;
            StatusCode::CREATED.into_response()
        }
        "broke" => (
            StatusCode::from_u16(520).expect("status"),
            Json(json!({"detail":"Payment failed: no route"})),
        )
            .into_response(),
        "poor" => (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail":"Insufficient balance."})),
        )
            .into_response(),
        status => (
            StatusCode::CREATED,
            Json(json!({"payment_hash":HASH,"status":status,"amount":-12000,"fee":0})),
        )
            .into_response(),
    }
}

async fn payment(Path(hash): Path<String>) -> Response {
    let details = |amount: i64, expiry: &str| json!({"payment_hash":hash,"amount":amount,"status":"pending","expiry":expiry});
    let past = (Utc::now() - Duration::minutes(5)).to_rfc3339();
    let future = (Utc::now() + Duration::minutes(5)).to_rfc3339();
    let body = match hash.chars().next() {
        Some('a') => {
            json!({"paid":true,"status":"success","preimage":"p","details":details(1_000_000, &past)})
        }
        Some('b') => {
            json!({"paid":true,"status":"success","preimage":"p","details":details(1_000_500, &past)})
        }
        Some('c') => json!({"paid":true,"preimage":"p"}),
        Some('d') => {
            json!({"paid":false,"status":"pending","preimage":null,"details":details(1_000_000, &past)})
        }
        Some('e') if hash == HASH => {
            json!({"paid":true,"status":"success","preimage":"p","details":details(-12000, &past)})
        }
        Some('e') => {
            json!({"paid":false,"status":"pending","preimage":null,"details":details(1_000_000, &future)})
        }
        Some('f') => {
            json!({"paid":false,"status":"failed","preimage":null,"details":details(1_000_000, &future)})
        }
        _ => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"detail":"Payment does not exist."})),
            )
                .into_response();
        }
    };
    Json(body).into_response()
}

async fn fake() -> (String, Fake) {
    let fake = Fake::default();
    *fake.pay.lock().expect("lock") = "success";
    let router = Router::new()
        .route("/api/v1/payments", post(payments))
        .route("/api/v1/payments/{hash}", get(payment))
        .with_state(fake.clone());
    (serve(router).await, fake)
}

fn client(base_url: &str, admin: bool) -> LnbitsClient {
    let webhook = LnbitsWebhook::new("https://pay.example.com", Secret::new(WEBHOOK_TOKEN));
    let mut config = LnbitsConfig::new(base_url, Secret::new("inv"), webhook);
    config.admin_key = admin.then(|| Secret::new("adm"));
    LnbitsClient::new(&config, &fast_http()).expect("client")
}

fn deposit(memo: &str) -> DepositRequest {
    DepositRequest {
        intent_id: Uuid::nil(),
        reference: "intent-1".into(),
        amount: Money::from_minor(1000, Currency::Sat),
        buyer: Buyer::None,
        description: memo.into(),
    }
}

fn check(hash: &str) -> DepositCheck {
    DepositCheck {
        reference: "intent-1".into(),
        provider_handle: Some(hash.into()),
        expected: Money::from_minor(1000, Currency::Sat),
        expires_at: None,
    }
}

fn payout(sats: i64) -> TransferRequest {
    TransferRequest {
        reference: "payout-1".into(),
        amount: Money::from_minor(sats, Currency::Sat),
        destination: Destination::Lightning {
            bolt11: INVOICE.into(),
        },
        reason: "payout".into(),
    }
}

#[tokio::test]
async fn invoices_are_created_with_out_false_in_sats() {
    let (base, fake) = fake().await;
    let client = client(&base, false);
    let action = client
        .create_invoice(&deposit("order 42"))
        .await
        .expect("invoice");
    assert_eq!(
        action,
        NextAction::LightningInvoice {
            bolt11: "lnbc10u1new".into(),
            payment_hash: hash_of(1),
            expires_at: chrono::DateTime::parse_from_rfc3339("2026-03-20T11:41:02+00:00")
                .expect("date")
                .with_timezone(&Utc),
        }
    );
    let (key, body) = fake.seen.lock().expect("lock")[0].clone();
    assert_eq!(key, "inv");
    assert_eq!(body["out"], json!(false));
    assert_eq!(body["amount"], json!(1000));
    assert_eq!(body["unit"], "sat");
    assert_eq!(body["expiry"], json!(3600));
    assert_eq!(
        body["webhook"],
        format!("https://pay.example.com/webhooks/lnbits/{WEBHOOK_TOKEN}")
    );

    let legacy = client
        .create_invoice(&deposit("legacy"))
        .await
        .expect("invoice");
    let expires_at = legacy.expires_at().expect("expiry");
    assert!(expires_at > Utc::now() + Duration::minutes(59));
    assert_eq!(legacy.provider_handle(), hash_of(2));

    let mut kes = deposit("x");
    kes.amount = Money::from_minor(1000, Currency::Kes);
    assert!(matches!(
        client.create_invoice(&kes).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn checks_convert_msat_and_notice_expiry() {
    let (base, _) = fake().await;
    let client = client(&base, false);
    assert_eq!(
        client.check_deposit(&check(&hash_of(0xaa))).await,
        Ok(DepositStatus::Succeeded {
            amount: Money::from_minor(1000, Currency::Sat),
            provider_ref: hash_of(0xaa)
        })
    );
    assert!(matches!(
        client.check_deposit(&check(&hash_of(0xbb))).await,
        Err(ProviderError::Permanent { reason }) if reason.contains("mismatch")
    ));
    assert!(matches!(
        client.check_deposit(&check(&hash_of(0xcc))).await,
        Err(ProviderError::Permanent { .. })
    ));
    assert_eq!(
        client.check_deposit(&check(&hash_of(0xdd))).await,
        Ok(DepositStatus::Expired)
    );
    assert_eq!(
        client.check_deposit(&check(&hash_of(0xee))).await,
        Ok(DepositStatus::Pending)
    );
    assert!(matches!(
        client.check_deposit(&check(&hash_of(0xff))).await,
        Ok(DepositStatus::Failed { .. })
    ));
    assert!(matches!(
        client.check_deposit(&check(&hash_of(0x11))).await,
        Ok(DepositStatus::Failed { code, .. }) if code == "not_found"
    ));
    assert!(matches!(
        client.check_deposit(&check("../../wallet")).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn paying_uses_the_admin_key_and_checks_the_amount() {
    let (base, fake) = fake().await;
    let client = client(&base, true);
    assert_eq!(
        client.initiate_transfer(&payout(12)).await,
        Ok(TransferStatus::Succeeded {
            provider_ref: HASH.into()
        })
    );
    let (key, body) = fake.seen.lock().expect("lock")[0].clone();
    assert_eq!(key, "adm");
    assert_eq!(body, json!({"out": true, "bolt11": INVOICE}));
    assert!(matches!(
        client.pay(&payout(13)).await,
        Err(ProviderError::Permanent { .. })
    ));
    assert_eq!(
        fake.seen.lock().expect("lock").len(),
        1,
        "a mismatched invoice is never sent"
    );
    assert_eq!(
        self::client(&base, false).pay(&payout(12)).await,
        Err(ProviderError::permanent(
            "Lightning payouts are off: set LNBITS_ADMIN_KEY"
        ))
    );
}

#[tokio::test]
async fn ambiguous_payments_are_in_doubt() {
    let (base, fake) = fake().await;
    let client = client(&base, true);
    for (script, expected) in [
        ("pending", Ok(TransferStatus::Pending)),
        (
            "failed",
            Ok(TransferStatus::Failed {
                reason: "LNbits could not pay the invoice".into(),
            }),
        ),
    ] {
        *fake.pay.lock().expect("lock") = script;
        assert_eq!(client.pay(&payout(12)).await, expected, "{script}");
    }
    *fake.pay.lock().expect("lock") = "slow";
    assert!(matches!(
        client.pay(&payout(12)).await,
        Err(ProviderError::InDoubt { .. })
    ));
    *fake.pay.lock().expect("lock") = "broke";
    assert!(matches!(
        client.pay(&payout(12)).await,
        Err(ProviderError::InDoubt { .. })
    ));
    *fake.pay.lock().expect("lock") = "poor";
    assert!(matches!(
        client.pay(&payout(12)).await,
        Err(ProviderError::Permanent { .. })
    ));
    assert_eq!(
        client.check_transfer(&payout(12)).await,
        Ok(TransferStatus::Succeeded {
            provider_ref: HASH.into()
        })
    );
}
