//! A payee paid through the client's balance (`payee.payout: {"provider": "balance"}`): released
//! escrow — whole, in parts, or by a dispute's resolution — settles its payee share into the
//! client's balance instead of a payout, the client is told, the statement shows it, and the
//! platform later withdraws it through `POST /v1/payouts`. On M-Pesa, Paystack and Lightning.

use std::time::Duration;

use malipo_sandbox::{ChargeOutcome, payee_invoice};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::support::{Harness, lightning_intent, mpesa_intent, paystack_intent};

const LIMIT: Duration = Duration::from_secs(30);

/// `body` with its payee paid through the client's balance.
fn to_balance(mut body: Value) -> Value {
    body["payee"]["payout"] = json!({"provider": "balance"});
    body
}

async fn get_json(harness: &Harness, path: &str) -> Value {
    harness
        .http
        .get(format!("{}{path}", harness.base))
        .bearer_auth(&harness.key)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

async fn available(harness: &Harness, currency: &str) -> String {
    let all = get_json(harness, "/v1/balances").await;
    all.as_array()
        .and_then(|rows| rows.iter().find(|r| r["currency"] == currency))
        .map(|row| row["available"].as_str().expect("available").to_owned())
        .unwrap_or_else(|| "none".to_owned())
}

/// The intent's events of `event_type`, oldest first, from the events API.
async fn events_of(harness: &Harness, id: &str, event_type: &str) -> Vec<Value> {
    let page = get_json(
        harness,
        &format!("/v1/events?intent_id={id}&type={event_type}&order=oldest_first"),
    )
    .await;
    page["data"].as_array().cloned().expect("events")
}

/// The statement's rows belonging to intent `id`.
async fn statement_rows_of(harness: &Harness, id: &str) -> Vec<Value> {
    let page = get_json(harness, "/v1/balance_transactions?limit=100").await;
    page["data"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["intent_id"] == id)
        .cloned()
        .collect()
}

async fn action(harness: &Harness, id: &str, what: &str, body: Value) -> reqwest::Response {
    harness
        .post(
            &format!("/v1/intents/{id}/{what}"),
            &body,
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
}

/// Withdraws `body` from the balance and waits for the payout to succeed.
async fn withdraw_all(harness: &Harness, body: Value) {
    let out = harness
        .post("/v1/payouts", &body, &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(out.status(), 201, "withdrawal of the released money");
    let out: Value = out.json().await.expect("json");
    let id = out["id"].as_str().expect("id");
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let payout = get_json(harness, &format!("/v1/payouts/{id}")).await;
        if payout["status"] == "succeeded" {
            // The fake files a Lightning payment under its invoice, others under the reference.
            let key = body["destination"]["bolt11"]
                .as_str()
                .or(payout["provider_reference"].as_str())
                .expect("a key the fake knows");
            assert_eq!(harness.fakes.counters().transfers_for(key), 1, "{payout}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "withdrawal {id} never succeeded: {payout}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn payouts_of(intent: &Value, kind: &str) -> usize {
    intent["payouts"]
        .as_array()
        .map(|payouts| payouts.iter().filter(|p| p["kind"] == kind).count())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_mpesa_intent_released_in_parts_settles_its_payee_share_into_the_balance() {
    let harness = Harness::start().await;
    let mut body = to_balance(mpesa_intent("1000"));
    body["milestones"] =
        json!([{"id": "design", "amount": "400"}, {"id": "build", "amount": "600"}]);
    let created = harness.create(body).await;
    assert_eq!(created["payee"]["payout"], json!({"provider": "balance"}));
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(
        available(&harness, "KES").await,
        "none",
        "nothing before a release"
    );

    let first = action(&harness, id, "release", json!({"milestone": "design"})).await;
    assert_eq!(first.status(), 202);
    // 10% of 400 is 40 (the commission leaves by M-Pesa): 360 is the client's at once.
    let deadline = tokio::time::Instant::now() + LIMIT;
    while available(&harness, "KES").await != "360.00" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first part never reached the balance"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let parts = events_of(&harness, id, "intent.part_released").await;
    assert_eq!(parts.len(), 1, "{parts:?}");
    let part = &parts[0]["data"];
    assert_eq!(part["milestone"], "design");
    assert_eq!(part["part_amount"], "400.00");
    assert_eq!(part["released_amount"], "400.00");
    assert_eq!(part["remaining"], "600.00");
    assert_eq!(part["payee_to_balance"], true);

    assert_eq!(
        action(&harness, id, "release", json!({"milestone": "build"}))
            .await
            .status(),
        202
    );
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    assert_eq!(
        payouts_of(&settled, "payee"),
        0,
        "no payout for a balance payee"
    );
    assert_eq!(
        payouts_of(&settled, "commission"),
        2,
        "commission leaves as before"
    );
    assert_eq!(available(&harness, "KES").await, "900.00");
    let credited = events_of(&harness, id, "intent.released_to_balance").await;
    let amounts: Vec<&str> = credited
        .iter()
        .map(|e| e["data"]["balance_amount"].as_str().expect("amount"))
        .collect();
    assert_eq!(amounts, ["360.00", "540.00"]);
    let rows = statement_rows_of(&harness, id).await;
    let total: Decimal = rows
        .iter()
        .map(|r| {
            r["amount"]
                .as_str()
                .expect("amount")
                .parse::<Decimal>()
                .expect("decimal")
        })
        .sum();
    assert_eq!((rows.len(), total), (2, Decimal::from(900)), "{rows:?}");
    assert!(rows.iter().all(|r| r["type"] == "release"), "{rows:?}");

    withdraw_all(
        &harness,
        json!({"amount": "900", "currency": "KES", "reference": "sellers-batch-1",
               "destination": {"provider": "mpesa", "msisdn": "254700000002"}}),
    )
    .await;
    assert_eq!(available(&harness, "KES").await, "0.00");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_whole_paystack_release_to_the_balance_settles_with_no_payout() {
    let harness = Harness::start().await;
    let created = harness.create(to_balance(paystack_intent("1000.00"))).await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness.wait_for(id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"].as_str().expect("ref");
    harness
        .fakes
        .paystack_complete_charge(reference, ChargeOutcome::Success)
        .expect("buyer pays");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(
        action(&harness, id, "release", json!({})).await.status(),
        202
    );
    // 2.5% stays in the platform account (no NGN commission payout): nothing leaves.
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    assert!(
        settled["payouts"].as_array().is_some_and(Vec::is_empty),
        "{settled}"
    );
    assert_eq!(available(&harness, "NGN").await, "975.00");
    assert!(
        events_of(&harness, id, "intent.part_released")
            .await
            .is_empty(),
        "a whole release is told by intent.released"
    );
    assert_eq!(
        events_of(&harness, id, "intent.released_to_balance")
            .await
            .len(),
        1
    );
    assert_eq!(statement_rows_of(&harness, id).await.len(), 1);

    let recipient = harness.paystack_recipient().await;
    withdraw_all(
        &harness,
        json!({"amount": "975.00", "currency": "NGN",
               "destination": {"provider": "paystack", "recipient_code": recipient}}),
    )
    .await;
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_lightning_dispute_resolved_with_a_split_credits_the_balance_and_refunds_the_rest() {
    let harness = Harness::start().await;
    let mut body = to_balance(lightning_intent("2100"));
    body["commission_bps"] = json!(1000);
    let created = harness.create(body).await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness.wait_for(id, "awaiting_payment", LIMIT).await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash");
    harness.fakes.lnbits_pay_invoice(hash).expect("buyer pays");
    harness.wait_for(id, "held", LIMIT).await;
    // A balance payee needs no invoice, and takes none.
    let with_invoice = action(
        &harness,
        id,
        "release",
        json!({"amount": "100", "bolt11": payee_invoice(90)}),
    )
    .await;
    assert_eq!(with_invoice.status(), 422);
    assert_eq!(
        action(&harness, id, "dispute", json!({"reason": "half the order"}))
            .await
            .status(),
        200
    );
    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let resolved = harness
        .http
        .post(format!("{}/ops/intents/{id}/resolve", harness.base))
        .bearer_auth(&operator)
        .json(
            &json!({"release": "1000", "refund": "1100", "note": "half delivered",
                      "refund_bolt11": payee_invoice(1100)}),
        )
        .send()
        .await
        .expect("resolve");
    assert_eq!(resolved.status(), 200);
    let refunded = harness.wait_for(id, "refunded", LIMIT).await;
    assert_eq!(payouts_of(&refunded, "payee"), 0);
    assert_eq!(payouts_of(&refunded, "refund"), 1);
    // 10% of 1000 sat stays with the platform; 900 sat is the client's.
    assert_eq!(available(&harness, "SAT").await, "900");
    let resolutions = events_of(&harness, id, "intent.dispute_resolved").await;
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0]["data"]["release"], "1000");
    assert_eq!(resolutions[0]["data"]["refund"], "1100");
    assert_eq!(resolutions[0]["data"]["note"], "half delivered");
    assert_eq!(
        events_of(&harness, id, "intent.part_released").await.len(),
        1
    );

    withdraw_all(
        &harness,
        json!({"amount": "900", "currency": "SAT",
               "destination": {"provider": "lightning", "bolt11": payee_invoice(900)}}),
    )
    .await;
    assert_eq!(available(&harness, "SAT").await, "0");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_balance_payee_of_a_bad_shape_is_refused_naming_the_field() {
    let harness = Harness::start().await;
    let cases = [
        (
            json!({"provider": "balance", "msisdn": "254700000001"}),
            "payee.payout",
        ),
        (json!({"provider": "wallet"}), "payee.payout.provider"),
        (json!("balance"), "payee.payout"),
    ];
    for (payout, field) in cases {
        let mut body = mpesa_intent("1000");
        body["payee"]["payout"] = payout.clone();
        let answer = harness
            .post("/v1/intents", &body, &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(answer.status(), 422, "{payout}");
        let problem: Value = answer.json().await.expect("json");
        let errors = problem["errors"].as_array().expect("errors");
        assert!(
            errors.iter().any(|e| e["field"] == field),
            "{payout}: {problem}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM intents")
        .fetch_one(&harness.pool)
        .await
        .expect("count");
    assert_eq!(count, 0, "nothing was written");
}
