//! Money in and out without escrow: collections into a client's balance, payouts from it, the
//! database refusing an overdraft, and the statement matching the ledger.

use std::time::Duration;

use malipo_sandbox::{B2cOutcome, B2cResult, ChargeOutcome, payee_invoice};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::support::{Harness, lightning_intent, mpesa_intent, paystack_intent};

const LIMIT: Duration = Duration::from_secs(30);

/// An immediate capture: the body without its payee.
fn collection(mut body: Value) -> Value {
    body.as_object_mut().map(|o| o.remove("payee"));
    body
}

async fn balances(harness: &Harness) -> Value {
    harness
        .http
        .get(format!("{}/v1/balances", harness.base))
        .bearer_auth(&harness.key)
        .send()
        .await
        .expect("balances")
        .json()
        .await
        .expect("json")
}

async fn available(harness: &Harness, currency: &str) -> String {
    let all = balances(harness).await;
    all.as_array()
        .and_then(|rows| rows.iter().find(|r| r["currency"] == currency))
        .map(|row| row["available"].as_str().expect("available").to_owned())
        .unwrap_or_else(|| "none".to_owned())
}

async fn withdraw(harness: &Harness, body: Value) -> reqwest::Response {
    harness
        .post("/v1/payouts", &body, &uuid::Uuid::new_v4().to_string())
        .await
}

async fn wait_for_payout(harness: &Harness, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let payout: Value = harness
            .http
            .get(format!("{}/v1/payouts/{id}", harness.base))
            .bearer_auth(&harness.key)
            .send()
            .await
            .expect("payout")
            .json()
            .await
            .expect("json");
        if payout["status"] == status {
            return payout;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "payout {id} never reached {status}: {payout}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The statement's movements sum to the balance.
async fn assert_statement_matches(harness: &Harness, currency: &str) {
    let mut total = Decimal::ZERO;
    let mut cursor: Option<i64> = None;
    loop {
        let url = match cursor {
            Some(c) => format!(
                "{}/v1/balance_transactions?limit=2&cursor={c}",
                harness.base
            ),
            None => format!("{}/v1/balance_transactions?limit=2", harness.base),
        };
        let page: Value = harness
            .http
            .get(url)
            .bearer_auth(&harness.key)
            .send()
            .await
            .expect("statement")
            .json()
            .await
            .expect("json");
        for row in page["data"].as_array().expect("rows") {
            if row["currency"] == currency {
                total += row["amount"]
                    .as_str()
                    .expect("amount")
                    .parse::<Decimal>()
                    .expect("decimal");
            }
        }
        match page["next_cursor"].as_i64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let balance: Decimal = available(harness, currency).await.parse().expect("decimal");
    assert_eq!(total, balance, "the statement sums to the balance");
}

async fn collect_mpesa(harness: &Harness, amount: &str) {
    let created = harness.create(collection(mpesa_intent(amount))).await;
    assert!(created["payee"].is_null());
    let id = created["id"].as_str().expect("id");
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    assert!(
        settled["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["type"] == "collected")),
        "{settled}"
    );
}

#[tokio::test]
async fn an_mpesa_collection_goes_to_the_balance_and_is_paid_out_from_it() {
    let harness = Harness::start().await;
    collect_mpesa(&harness, "1000").await;
    // 10% commission stays with the platform; 900 is the client's.
    assert_eq!(available(&harness, "KES").await, "900.00");
    let created = withdraw(
        &harness,
        json!({"amount": "500", "currency": "KES", "reference": "w-1",
               "destination": {"provider": "mpesa", "msisdn": "254700000002"}}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    assert_eq!(created["reference"], "w-1");
    assert_eq!(
        available(&harness, "KES").await,
        "400.00",
        "reserved at once"
    );
    let id = created["id"].as_str().expect("id");
    let paid = wait_for_payout(&harness, id, "succeeded").await;
    let reference = paid["provider_reference"].as_str().expect("reference");
    assert_eq!(harness.fakes.counters().transfers_for(reference), 1);
    // The client is told, like for any payout (a withdrawal has no intent: its own reference).
    let told: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT type, data FROM events WHERE object_id = $1 ORDER BY id")
            .bind(uuid::Uuid::parse_str(id).expect("uuid"))
            .fetch_all(&harness.pool)
            .await
            .expect("events");
    let types: Vec<&str> = told.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["payout.in_flight", "payout.succeeded"]);
    assert_eq!(told[1].1["reference"], "w-1");
    assert!(told[1].1["intent_id"].is_null());
    let rows = balances(&harness).await;
    assert_eq!(rows[0]["pending"], "0.00");
    let again = withdraw(
        &harness,
        json!({"amount": "1", "currency": "KES", "reference": "w-1",
               "destination": {"provider": "mpesa", "msisdn": "254700000002"}}),
    )
    .await;
    assert_eq!(again.status(), 409, "a reference names one payout");
    assert_statement_matches(&harness, "KES").await;
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn paystack_and_lightning_collections_are_paid_out_from_their_balances() {
    let harness = Harness::start().await;
    let created = harness.create(collection(paystack_intent("1000.00"))).await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness.wait_for(id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"].as_str().expect("ref");
    harness
        .fakes
        .paystack_complete_charge(reference, ChargeOutcome::Success)
        .expect("pays");
    harness.wait_for(id, "settled", LIMIT).await;
    assert_eq!(available(&harness, "NGN").await, "975.00");
    let recipient = harness.paystack_recipient().await;
    let out = withdraw(
        &harness,
        json!({"amount": "975.00", "currency": "NGN", "destination": {"provider": "paystack", "recipient_code": recipient}}),
    )
    .await;
    assert_eq!(out.status(), 201);
    let out: Value = out.json().await.expect("json");
    wait_for_payout(&harness, out["id"].as_str().expect("id"), "succeeded").await;
    assert_eq!(available(&harness, "NGN").await, "0.00");

    let created = harness.create(collection(lightning_intent("2100"))).await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness.wait_for(id, "awaiting_payment", LIMIT).await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash");
    harness.fakes.lnbits_pay_invoice(hash).expect("pays");
    harness.wait_for(id, "settled", LIMIT).await;
    assert_eq!(available(&harness, "SAT").await, "2100");
    let no_invoice = withdraw(
        &harness,
        json!({"amount": "1000", "currency": "SAT", "destination": {"provider": "lightning"}}),
    )
    .await;
    assert_eq!(no_invoice.status(), 422);
    let out = withdraw(
        &harness,
        json!({"amount": "1000", "currency": "SAT", "destination": {"provider": "lightning", "bolt11": payee_invoice(1000)}}),
    )
    .await;
    assert_eq!(out.status(), 201);
    let out: Value = out.json().await.expect("json");
    wait_for_payout(&harness, out["id"].as_str().expect("id"), "succeeded").await;
    assert_eq!(available(&harness, "SAT").await, "1100");
    assert_statement_matches(&harness, "NGN").await;
    assert_statement_matches(&harness, "SAT").await;
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn two_concurrent_payouts_that_overdraw_the_balance_one_succeeds() {
    let mut harness = Harness::start().await;
    collect_mpesa(&harness, "1000").await;
    // Nothing is sent while the race is judged: only the reservation counts.
    harness.stop_workers().await;
    let body = json!({"amount": "600", "currency": "KES", "destination": {"provider": "mpesa", "msisdn": "254700000002"}});
    let (first, second) = tokio::join!(withdraw(&harness, body.clone()), withdraw(&harness, body));
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 422], "exactly one passes");
    let refused = if first.status() == 422 { first } else { second };
    let problem: Value = refused.json().await.expect("json");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("300.00 KES available")),
        "{problem}"
    );
    assert_eq!(available(&harness, "KES").await, "300.00");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_failed_payout_returns_to_the_balance_only_when_the_provider_confirms_it() {
    let harness = Harness::start().await;
    collect_mpesa(&harness, "1000").await;
    harness
        .fakes
        .mpesa_script_next_b2c(B2cOutcome::new(B2cResult::UnregisteredCustomer));
    let out = withdraw(
        &harness,
        json!({"amount": "700", "currency": "KES", "destination": {"provider": "mpesa", "msisdn": "254700000003"}}),
    )
    .await;
    assert_eq!(out.status(), 201);
    let out: Value = out.json().await.expect("json");
    let failed = wait_for_payout(&harness, out["id"].as_str().expect("id"), "failed").await;
    assert!(failed["failure_reason"].is_string());
    assert_eq!(available(&harness, "KES").await, "900.00", "returned");
    assert_statement_matches(&harness, "KES").await;
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn bad_payout_requests_are_named_and_change_nothing() {
    let harness = Harness::start().await;
    collect_mpesa(&harness, "1000").await;
    let mpesa = json!({"provider": "mpesa", "msisdn": "254700000002"});
    let cases = [
        (json!({"currency": "KES", "destination": mpesa}), "amount"),
        (
            json!({"amount": "10.50", "currency": "KES", "destination": mpesa}),
            "amount",
        ),
        (json!({"amount": "10", "currency": "KES"}), "destination"),
        (
            json!({"amount": "10", "currency": "XYZ", "destination": mpesa}),
            "currency",
        ),
        (
            json!({"amount": "10", "currency": "NGN", "destination": mpesa}),
            "destination.provider",
        ),
        (
            json!({"amount": "10", "currency": "KES", "destination": {"provider": "mpesa", "msisdn": "12"}}),
            "destination.msisdn",
        ),
        (
            json!({"amount": "10", "currency": "KES", "destination": mpesa, "surprise": 1}),
            "surprise",
        ),
        (
            json!({"amount": "5000", "currency": "KES", "destination": mpesa}),
            "amount",
        ),
    ];
    for (body, field) in cases {
        let response = withdraw(&harness, body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let problem: Value = response.json().await.expect("json");
        assert!(
            problem["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == field)),
            "{body} → {problem}"
        );
    }
    assert_eq!(available(&harness, "KES").await, "900.00");
    let rows = balances(&harness).await;
    assert_eq!(rows[0]["pending"], "0.00");
    let with_payee = harness
        .post(
            "/v1/intents",
            &{
                let mut body = mpesa_intent("100");
                body["capture"] = json!("immediate");
                body
            },
            &uuid::Uuid::new_v4().to_string(),
        )
        .await;
    assert_eq!(
        with_payee.status(),
        422,
        "an immediate capture has no payee"
    );
    harness.assert_ledger_sound().await;
}
