//! The webhook inbox: signatures and tokens, duplicates, unknown ids, malformed bodies.

use std::time::Duration;

use malipo_sandbox::{Provider, paystack_signature};
use serde_json::json;

use super::support::{Harness, mpesa_intent};

async fn inbox_rows(harness: &Harness) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_inbox")
        .fetch_one(&harness.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn paystack_signatures_are_checked_on_the_raw_bytes() {
    let harness = Harness::start().await;
    let body = r#"{"event":"charge.success","data":{"reference":"ref_123","amount":10000,"currency":"NGN","status":"success"}}"#;
    let url = format!("{}/webhooks/paystack", harness.base);
    let forged = harness
        .http
        .post(&url)
        .header("x-paystack-signature", "00".repeat(64))
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 401);
    let unsigned = harness
        .http
        .post(&url)
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 401);
    assert_eq!(
        inbox_rows(&harness).await,
        0,
        "nothing stored for bad signatures"
    );

    let secret = harness.fakes.paystack_secret_key().to_owned();
    let signed = harness
        .http
        .post(&url)
        .header(
            "x-paystack-signature",
            paystack_signature(&secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(signed.status(), 200);
    let again = harness
        .http
        .post(&url)
        .header(
            "x-paystack-signature",
            paystack_signature(&secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(again.status(), 200, "a replay is acknowledged");
    assert_eq!(inbox_rows(&harness).await, 1, "and stored once");

    let garbage = b"{\"event\": 42}";
    let malformed = harness
        .http
        .post(&url)
        .header("x-paystack-signature", paystack_signature(&secret, garbage))
        .body(&garbage[..])
        .send()
        .await
        .expect("post");
    assert_eq!(malformed.status(), 400);
    let rejected: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE status = 'rejected'")
            .fetch_one(&harness.pool)
            .await
            .expect("count");
    assert_eq!(rejected, 1, "signed but malformed is stored as rejected");
}

#[tokio::test]
async fn mpesa_callbacks_need_the_secret_token_and_an_id_we_issued() {
    let harness = Harness::start().await;
    let stk = json!({"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_unknown","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}});
    let wrong = harness
        .http
        .post(format!("{}/webhooks/mpesa/not-the-token/stk", harness.base))
        .json(&stk)
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 401);
    assert_eq!(inbox_rows(&harness).await, 0);

    // With the real token (it reaches the fake in the STK push's CallBackURL) callbacks land.
    let created = harness.create(mpesa_intent("500")).await;
    harness
        .wait_for(
            created["id"].as_str().expect("id"),
            "held",
            Duration::from_secs(20),
        )
        .await;
    let callback_url: String = sqlx::query_scalar("SELECT endpoint FROM webhook_inbox LIMIT 1")
        .fetch_one(&harness.pool)
        .await
        .expect("endpoint");
    assert_eq!(callback_url, "mpesa/stk");
}

#[tokio::test]
async fn duplicate_callbacks_are_absorbed() {
    let harness = Harness::start().await;
    harness
        .fakes
        .faults()
        .update_all(|faults| faults.duplicate_webhook_probability = 1.0);
    let created = harness.create(mpesa_intent("650")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", Duration::from_secs(20)).await;
    // Both copies of the STK callback reached malipo and were answered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while harness.fakes.counters().answered_of("mpesa stk") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the duplicate was not delivered: {:?}",
            harness.fakes.counters()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        harness.fakes.counters().webhooks_duplicated >= 1,
        "the fake sent duplicates"
    );
    wait_for_jobs(&harness).await;
    let deposits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ledger_transactions WHERE kind = 'deposit'")
            .fetch_one(&harness.pool)
            .await
            .expect("count");
    assert_eq!(deposits, 1);
    let stk_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE endpoint = 'mpesa/stk'")
            .fetch_one(&harness.pool)
            .await
            .expect("count");
    assert_eq!(stk_rows, 1, "one inbox row per event");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn lnbits_webhooks_with_a_string_body_confirm_after_a_check() {
    let harness = Harness::start().await;
    let created = harness
        .create(super::support::lightning_intent("5000"))
        .await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness
        .wait_for(id, "awaiting_payment", Duration::from_secs(20))
        .await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    harness.fakes.faults().update(Provider::Lnbits, |faults| {
        faults.webhook_delay = (Duration::ZERO, Duration::ZERO)
    });
    harness.fakes.lnbits_pay_invoice(&hash).expect("pay");
    harness.wait_for(id, "held", Duration::from_secs(20)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while harness.fakes.counters().answered_of("lnbits payment") < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_jobs(&harness).await;
    let events: Vec<String> =
        sqlx::query_scalar("SELECT status FROM webhook_inbox WHERE endpoint = 'lnbits'")
            .fetch_all(&harness.pool)
            .await
            .expect("rows");
    assert_eq!(events.len(), 1, "the webhook was stored once: {events:?}");
    assert_ne!(events[0], "rejected", "the string body parsed: {events:?}");
    harness.assert_ledger_sound().await;
}

/// Waits (up to 20 s) until no job is pending or running.
async fn wait_for_jobs(harness: &Harness) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM malipo_jobs WHERE state IN ('pending', 'running') AND run_at <= now()",
        )
        .fetch_one(&harness.pool)
        .await
        .expect("open jobs");
        if open == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} jobs still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
