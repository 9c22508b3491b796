//! Fincra checkout collections end to end (issue #19): a paid checkout held and released to a
//! Fincra bank payee; a lost `charge.successful` found by scheduled verification; a forged
//! `charge.successful` for an unpaid checkout ignored; a wrong amount paid is an amount
//! discrepancy; a payment after cancellation a late payment left for an operator; the
//! webhook's signature; bad input.

use std::time::Duration;

use malipo::providers::fincra::fincra_signature;
use malipo_sandbox::MoneyChannel;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::Harness;

const LIMIT: Duration = Duration::from_secs(30);

fn fincra_intent(amount: &str) -> Value {
    json!({"amount": amount, "currency": "NGN", "provider": "fincra",
        "buyer": {"email": "ada@example.com"},
        "payee": {"id": "seller-1", "payout": {"provider": "fincra", "destination": "bank_account",
            "bank_code": "058", "account_number": "0124775489", "account_name": "Hassan Sarz"}},
        "commission_bps": 250})
}

/// Creates a Fincra intent and returns its id and the checkout's merchant reference.
async fn awaiting(harness: &Harness, amount: &str) -> (String, String) {
    let created = harness.create(fincra_intent(amount)).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let action = &waiting["next_action"];
    assert_eq!(action["type"], "checkout_link", "{waiting}");
    assert!(
        action["link"]
            .as_str()
            .is_some_and(|link| link.contains("/checkout/pay/fcr-p-")),
        "{action}"
    );
    let reference = action["reference"].as_str().expect("reference").to_owned();
    assert_eq!(
        harness.fakes.fincra_checkout_status(&reference),
        Some("pending")
    );
    (id, reference)
}

async fn inbox(harness: &Harness) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT status, reason FROM webhook_inbox WHERE provider = 'fincra' ORDER BY received_at",
    )
    .fetch_all(&harness.pool)
    .await
    .expect("inbox")
}

async fn postings(harness: &Harness, id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ledger_transactions WHERE intent_id = $1")
        .bind(Uuid::parse_str(id).expect("uuid"))
        .fetch_one(&harness.pool)
        .await
        .expect("count")
}

/// The discrepancy recorded for intent `id` (kind, amount), once there is one.
async fn discrepancy(harness: &Harness, id: &str) -> (String, String) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT kind, amount::text FROM discrepancies WHERE intent_id = $1")
                .bind(Uuid::parse_str(id).expect("uuid"))
                .fetch_optional(&harness.pool)
                .await
                .expect("discrepancy");
        if let Some(row) = row {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no discrepancy recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_signed(harness: &Harness, body: &str, signature: String) -> reqwest::Response {
    harness
        .http
        .post(format!("{}/webhooks/fincra", harness.base))
        .header("content-type", "application/json")
        .header("signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn a_paid_fincra_checkout_is_held_then_released_to_a_fincra_bank_payee() {
    let harness = Harness::start().await;
    let (id, reference) = awaiting(&harness, "25000.00").await;
    harness
        .fakes
        .fincra_pay_checkout(&reference, None, true)
        .expect("buyer pays");
    harness.wait_for(&id, "held", LIMIT).await;
    let rows = inbox(&harness).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "processed", "{rows:?}");

    // Fincra's refund API is not built: a refund is refused and the money stays held.
    let refund = harness
        .post(&format!("/v1/intents/{id}/refund"), &json!({}), "refund-1")
        .await;
    assert_eq!(refund.status(), 409);
    let problem: Value = refund.json().await.expect("problem");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("fincra refunds are not available")),
        "{problem}"
    );

    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let payee = settled["payouts"]
        .as_array()
        .and_then(|payouts| payouts.iter().find(|p| p["kind"] == "payee"))
        .expect("payee payout");
    assert_eq!(payee["provider"], "fincra");
    assert_eq!(payee["amount"], "24375.00");
    let money = harness.fakes.money();
    let paid: Vec<_> = money.by_key(&reference).collect();
    assert_eq!(paid.len(), 1, "one payment at Fincra");
    assert_eq!(paid[0].channel, MoneyChannel::FincraCharge);
    assert_eq!(paid[0].amount, Decimal::from(25_000));
    let out: Vec<_> = money
        .by_key(payee["reference"].as_str().expect("reference"))
        .collect();
    assert_eq!(out.len(), 1, "one payout at Fincra");
    assert_eq!(out[0].amount, Decimal::from(24_375));
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_fincra_payment_whose_webhook_is_lost_is_found_by_verification() {
    let harness = Harness::start().await;
    harness.fakes.set_fincra_webhook_url(None);
    let (id, reference) = awaiting(&harness, "4000.00").await;
    harness
        .fakes
        .fincra_pay_checkout(&reference, None, true)
        .expect("buyer pays");
    // The first scheduled verification runs 30 s after the checkout opened.
    harness.wait_for(&id, "held", Duration::from_secs(90)).await;
    assert!(inbox(&harness).await.is_empty(), "held without any webhook");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_forged_charge_successful_for_an_unpaid_checkout_holds_nothing() {
    let harness = Harness::start().await;
    let (id, reference) = awaiting(&harness, "7000.00").await;
    let forged = json!({"event": "charge.successful", "data": {"reference": "fcr-p-forged",
        "merchantReference": reference, "amount": 7000, "currency": "NGN", "status": "success"}})
    .to_string();
    let secret = harness.fakes.fincra_webhook_secret().to_owned();
    let posted = post_signed(
        &harness,
        &forged,
        fincra_signature(&secret, forged.as_bytes()),
    )
    .await;
    assert_eq!(posted.status(), 200);
    let deadline = tokio::time::Instant::now() + LIMIT;
    let reason = loop {
        let rows = inbox(&harness).await;
        if let Some((status, reason)) = rows.first().filter(|(status, _)| status != "received") {
            assert_eq!(status, "ignored");
            break reason.clone().unwrap_or_default();
        }
        assert!(tokio::time::Instant::now() < deadline, "never processed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reason.contains("not paid"), "{reason}");
    assert_eq!(harness.get(&id).await["status"], "awaiting_payment");
    assert_eq!(postings(&harness, &id).await, 0);
    assert_eq!(
        harness.fakes.fincra_checkout_status(&reference),
        Some("pending")
    );
}

#[tokio::test]
async fn a_wrong_amount_paid_at_fincra_is_an_amount_discrepancy() {
    let harness = Harness::start().await;
    let (id, reference) = awaiting(&harness, "9000.00").await;
    harness
        .fakes
        .fincra_pay_checkout(&reference, Some(Decimal::from(4500)), true)
        .expect("buyer pays less");
    let (kind, amount) = discrepancy(&harness, &id).await;
    assert_eq!(kind, "amount_mismatch");
    assert_eq!(amount, "4500.00");
    let intent = harness.get(&id).await;
    assert_ne!(intent["status"], "held", "{intent}");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_fincra_payment_for_a_cancelled_intent_is_a_late_payment_for_an_operator() {
    let harness = Harness::start().await;
    let (id, reference) = awaiting(&harness, "3000.00").await;
    let cancelled = harness
        .post(&format!("/v1/intents/{id}/cancel"), &json!({}), "cancel-1")
        .await;
    assert_eq!(cancelled.status(), 200);
    harness
        .fakes
        .fincra_pay_checkout(&reference, None, true)
        .expect("the buyer pays anyway");
    let (kind, amount) = discrepancy(&harness, &id).await;
    assert_eq!(kind, "late_payment");
    assert_eq!(amount, "3000.00");
    // No automatic refund through Fincra: the money waits in suspense for an operator.
    let payouts: i64 = sqlx::query_scalar("SELECT count(*) FROM payouts WHERE intent_id = $1")
        .bind(Uuid::parse_str(&id).expect("uuid"))
        .fetch_one(&harness.pool)
        .await
        .expect("count");
    assert_eq!(payouts, 0);
    assert_eq!(harness.get(&id).await["status"], "cancelled");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_charge_webhook_with_a_bad_signature_is_a_401_and_stores_nothing() {
    let harness = Harness::start().await;
    let (id, reference) = awaiting(&harness, "5000.00").await;
    let body = json!({"event": "charge.successful", "data": {"reference": "fcr-p-1",
        "merchantReference": reference, "amount": 5000, "currency": "NGN", "status": "success"}})
    .to_string();
    let secret = harness.fakes.fincra_webhook_secret().to_owned();
    let wrong_key = post_signed(&harness, &body, fincra_signature("not-it", body.as_bytes())).await;
    assert_eq!(wrong_key.status(), 401);
    let tampered = body.replace("5000", "50");
    let tampered = post_signed(
        &harness,
        &tampered,
        fincra_signature(&secret, body.as_bytes()),
    )
    .await;
    assert_eq!(tampered.status(), 401);
    assert!(inbox(&harness).await.is_empty(), "nothing stored");
    assert_eq!(harness.get(&id).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn bad_fincra_collection_input_is_a_422_naming_it() {
    let harness = Harness::start().await;
    let mut usd = fincra_intent("100.00");
    usd["currency"] = json!("USD");
    usd.as_object_mut().expect("object").remove("payee");
    let mut no_email = fincra_intent("100.00");
    no_email["buyer"] = json!({"msisdn": "254708374149"});
    for (body, field) in [(usd, "currency"), (no_email, "buyer.email")] {
        let answer = harness
            .post("/v1/intents", &body, &format!("bad-{field}"))
            .await;
        assert_eq!(answer.status(), 422);
        let problem: Value = answer.json().await.expect("problem");
        assert!(problem.to_string().contains(field), "{problem}");
    }
    let intents: i64 = sqlx::query_scalar("SELECT count(*) FROM intents")
        .fetch_one(&harness.pool)
        .await
        .expect("count");
    assert_eq!(intents, 0, "nothing stored");
}
