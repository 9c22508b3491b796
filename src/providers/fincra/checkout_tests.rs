//! Fincra checkout against canned answers on loopback: the request body byte for byte, and one
//! test per UNCERTAIN mapping of `checkout_wire.rs`, named after its doubt.

use std::{
    str::FromStr,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{FincraClient, FincraEventKind, parse_webhook};
use crate::{
    domain::{Currency, Money},
    providers::{
        Buyer, DepositCheck, DepositInitiation, DepositRequest, DepositStatus, NextAction,
        ProviderError, Secret,
        config::FincraConfig,
        testing::{fast_http, serve},
    },
};

type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

fn client(base_url: &str, public_key: Option<&str>) -> FincraClient {
    let mut config = FincraConfig::new(
        base_url,
        Secret::new("sk_fincra"),
        "0123456789abcdef01234567",
        Secret::new("whsec"),
    );
    config.public_key = public_key.map(Secret::new);
    FincraClient::new(&config, &fast_http()).expect("client")
}

fn ngn(text: &str) -> Money {
    Money::new(Decimal::from_str(text).expect("decimal"), Currency::Ngn).expect("money")
}

fn deposit(reference: &str) -> DepositRequest {
    DepositRequest {
        intent_id: uuid::Uuid::nil(),
        reference: reference.into(),
        amount: ngn("25000.50"),
        buyer: Buyer::Email("ada@example.com".into()),
        description: "order 7".into(),
    }
}

fn check(reference: &str) -> DepositCheck {
    DepositCheck {
        reference: reference.into(),
        provider_handle: Some(reference.into()),
        expected: ngn("25000.50"),
        expires_at: None,
    }
}

/// A canned Fincra checkout: opening answers `open`, verification answers `verify`.
async fn canned(open: (StatusCode, Value), verify: (StatusCode, Value)) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = Router::new()
        .route(
            "/checkout-core/payments",
            post(
                move |State(seen): State<Seen>, headers: HeaderMap, body: String| {
                    let (status, answer) = open.clone();
                    async move {
                        seen.lock().expect("lock").push((headers, body));
                        (status, Json(answer)).into_response()
                    }
                },
            ),
        )
        .route(
            "/checkout/payments/merchant-reference/{reference}",
            get(move |State(seen): State<Seen>, headers: HeaderMap| {
                let (status, answer) = verify.clone();
                async move {
                    seen.lock().expect("lock").push((headers, "GET".into()));
                    (status, Json(answer)).into_response()
                }
            }),
        )
        .with_state(Arc::clone(&seen));
    (serve(router).await, seen)
}

fn opened() -> Value {
    json!({"status": true, "message": "Payment transaction initiated",
        "data": {"reference": "fcr-p-eyza908ne", "link": "https://checkout.fincra.com/pay/fcr-p-eyza908ne"}})
}

fn payment(status: &str, amount: Value) -> Value {
    json!({"status": true, "message": "ok", "data": {"reference": "fcr-p-eyza908ne",
        "merchantReference": "dp-abc", "amount": amount, "currency": "NGN", "status": status}})
}

#[tokio::test]
async fn the_checkout_body_is_pinned_and_sent_with_the_public_key() {
    let (base, seen) = canned((StatusCode::OK, opened()), (StatusCode::OK, json!({}))).await;
    let answer = client(&base, Some("pk_test_x"))
        .open_checkout(&deposit("dp-abc"))
        .await
        .expect("opened");
    assert_eq!(
        answer,
        DepositInitiation::Started {
            action: NextAction::CheckoutLink {
                link: "https://checkout.fincra.com/pay/fcr-p-eyza908ne".into(),
                reference: "dp-abc".into(),
                fincra_reference: "fcr-p-eyza908ne".into(),
            }
        }
    );
    let seen = seen.lock().expect("lock");
    let (headers, body) = &seen[0];
    assert_eq!(headers["x-pub-key"], "pk_test_x");
    assert_eq!(
        body,
        r#"{"amount":25000.5,"currency":"NGN","customer":{"name":"ada","email":"ada@example.com"},"reference":"dp-abc","feeBearer":"business","paymentMethods":["card","bank_transfer"]}"#
    );
}

#[tokio::test]
async fn without_the_public_key_a_checkout_is_refused_for_good_without_a_call() {
    let (base, seen) = canned((StatusCode::OK, opened()), (StatusCode::OK, json!({}))).await;
    let error = client(&base, None)
        .open_checkout(&deposit("dp-abc"))
        .await
        .expect_err("no public key");
    assert!(
        matches!(error, ProviderError::Permanent { .. }),
        "{error:?}"
    );
    assert!(error.reason().contains("FINCRA_PUBLIC_KEY"));
    assert!(seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn uncertain_checkout_envelope_status_true_or_success_true_both_mean_taken() {
    let success_shaped = json!({"success": true, "message": "ok",
        "data": {"reference": "fcr-p-1", "link": "https://checkout.fincra.com/pay/fcr-p-1"}});
    let (base, _) = canned(
        (StatusCode::OK, success_shaped),
        (StatusCode::OK, json!({})),
    )
    .await;
    assert!(matches!(
        client(&base, Some("pk"))
            .open_checkout(&deposit("dp-abc"))
            .await,
        Ok(DepositInitiation::Started { .. })
    ));
    let not_taken = json!({"status": false, "message": "no", "data": null});
    let (base, _) = canned((StatusCode::OK, not_taken), (StatusCode::OK, json!({}))).await;
    assert!(
        client(&base, Some("pk"))
            .open_checkout(&deposit("dp-abc"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_duplicate_reference_is_verified_instead_of_opened_again() {
    let duplicate =
        json!({"success": false, "error": "Duplicate reference", "errorType": "VALIDATION_FAILED"});
    let (base, seen) = canned(
        (StatusCode::UNPROCESSABLE_ENTITY, duplicate),
        (StatusCode::OK, payment("pending", json!(25000.5))),
    )
    .await;
    let answer = client(&base, Some("pk"))
        .open_checkout(&deposit("dp-abc"))
        .await
        .expect("adopted");
    assert_eq!(
        answer,
        DepositInitiation::AlreadyInitiated {
            status: DepositStatus::Pending
        }
    );
    assert_eq!(
        seen.lock().expect("lock").len(),
        2,
        "opened once, then verified"
    );
}

#[tokio::test]
async fn uncertain_verify_status_words_success_and_successful_are_both_paid() {
    for word in ["success", "successful", "SUCCESS"] {
        let (base, seen) = canned(
            (StatusCode::OK, opened()),
            (StatusCode::OK, payment(word, json!(25000.5))),
        )
        .await;
        let status = client(&base, Some("pk"))
            .verify_checkout(&check("dp-abc"))
            .await
            .expect("verified");
        assert_eq!(
            status,
            DepositStatus::Succeeded {
                amount: ngn("25000.50"),
                provider_ref: "fcr-p-eyza908ne".into()
            },
            "{word}"
        );
        // Verification authenticates with the secret key and business id, not the public key.
        let seen = seen.lock().expect("lock");
        assert_eq!(seen[0].0["api-key"], "sk_fincra");
        assert!(seen[0].0.get("x-business-id").is_some());
    }
    for (word, expected) in [
        ("pending", DepositStatus::Pending),
        ("initiated", DepositStatus::Pending),
        ("expired", DepositStatus::Expired),
        ("abandoned", DepositStatus::Expired),
    ] {
        let (base, _) = canned(
            (StatusCode::OK, opened()),
            (StatusCode::OK, payment(word, json!(25000.5))),
        )
        .await;
        let status = client(&base, Some("pk"))
            .verify_checkout(&check("dp-abc"))
            .await
            .expect("verified");
        assert_eq!(status, expected, "{word}");
    }
    let (base, _) = canned(
        (StatusCode::OK, opened()),
        (StatusCode::OK, payment("failed", json!(25000.5))),
    )
    .await;
    assert!(matches!(
        client(&base, Some("pk"))
            .verify_checkout(&check("dp-abc"))
            .await,
        Ok(DepositStatus::Failed { .. })
    ));
}

#[tokio::test]
async fn uncertain_verify_amount_field_is_read_exactly_and_a_different_one_is_reported_not_hidden()
{
    // A numeric string is read exactly; another amount is passed on for the comparison with
    // the intent (an amount discrepancy there), never replaced by the expected one.
    let (base, _) = canned(
        (StatusCode::OK, opened()),
        (StatusCode::OK, payment("success", json!("12500.25"))),
    )
    .await;
    assert_eq!(
        client(&base, Some("pk"))
            .verify_checkout(&check("dp-abc"))
            .await
            .expect("verified"),
        DepositStatus::Succeeded {
            amount: ngn("12500.25"),
            provider_ref: "fcr-p-eyza908ne".into()
        }
    );
    // A paid answer without an amount decides nothing: asked again later.
    let (base, _) = canned(
        (StatusCode::OK, opened()),
        (StatusCode::OK, payment("success", Value::Null)),
    )
    .await;
    assert!(matches!(
        client(&base, Some("pk"))
            .verify_checkout(&check("dp-abc"))
            .await,
        Err(ProviderError::Retryable { .. })
    ));
}

#[tokio::test]
async fn uncertain_verify_answer_about_another_merchant_reference_or_none_at_all() {
    // An answer naming another merchant reference is not about this deposit.
    let (base, _) = canned(
        (StatusCode::OK, opened()),
        (StatusCode::OK, payment("success", json!(25000.5))),
    )
    .await;
    assert!(matches!(
        client(&base, Some("pk"))
            .verify_checkout(&check("dp-other"))
            .await,
        Err(ProviderError::Retryable { .. })
    ));
    // 404: nobody has paid under this reference yet.
    let (base, _) = canned(
        (StatusCode::OK, opened()),
        (
            StatusCode::NOT_FOUND,
            json!({"success": false, "error": "Payment not found", "errorType": "RESOURCE_NOT_FOUND"}),
        ),
    )
    .await;
    assert_eq!(
        client(&base, Some("pk"))
            .verify_checkout(&check("dp-abc"))
            .await
            .expect("verified"),
        DepositStatus::Pending
    );
}

#[test]
fn uncertain_charge_webhook_names_the_checkout_by_merchant_reference() {
    let body = json!({"event": "charge.successful", "data": {"reference": "fcr-p-1",
        "merchantReference": "dp-abc", "amount": 25000.5, "currency": "NGN", "status": "success"}});
    let event = parse_webhook(body.to_string().as_bytes()).expect("parsed");
    assert_eq!(event.dedupe_key, "charge.successful:fcr-p-1");
    assert_eq!(
        event.kind,
        FincraEventKind::Charge {
            merchant_reference: "dp-abc".into()
        }
    );
    // Without the merchant reference it is stored without effect (verification on a schedule
    // still finds the payment).
    let nameless = json!({"event": "charge.successful", "data": {"reference": "fcr-p-1"}});
    assert_eq!(
        parse_webhook(nameless.to_string().as_bytes())
            .expect("parsed")
            .kind,
        FincraEventKind::Other
    );
    let other = json!({"event": "collection.successful", "data": {"reference": "fcr-c-1"}});
    assert_eq!(
        parse_webhook(other.to_string().as_bytes())
            .expect("parsed")
            .kind,
        FincraEventKind::Other
    );
}
