//! Marketplace escrow: releases in parts and milestones, disputes and their resolution, the
//! automatic release — on M-Pesa, Paystack and Lightning, each ending with a sound ledger.

use std::time::Duration;

use malipo::{
    clients,
    queue::{QueueSettings, Runner},
    worker,
};
use malipo_sandbox::{ChargeOutcome, payee_invoice};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::support::{Harness, lightning_intent, mpesa_intent, paystack_intent};

const LIMIT: Duration = Duration::from_secs(30);

fn payouts_of<'a>(intent: &'a Value, kind: &str) -> Vec<&'a Value> {
    intent["payouts"]
        .as_array()
        .map(|payouts| payouts.iter().filter(|p| p["kind"] == kind).collect())
        .unwrap_or_default()
}

fn sum(payouts: &[&Value]) -> Decimal {
    payouts
        .iter()
        .map(|p| {
            p["amount"]
                .as_str()
                .expect("amount")
                .parse::<Decimal>()
                .expect("decimal")
        })
        .sum()
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

/// Waits until every payout of the intent has succeeded and there are `count` of them.
async fn wait_for_payouts(harness: &Harness, id: &str, count: usize) -> Value {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let intent = harness.get(id).await;
        let payouts = intent["payouts"].as_array().cloned().unwrap_or_default();
        if payouts.len() == count && payouts.iter().all(|p| p["status"] == "succeeded") {
            return intent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "payouts of {id} never all succeeded: {intent}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn paystack_paid(harness: &Harness, amount: &str) -> String {
    let mut intent = paystack_intent(amount);
    intent["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    let created = harness.create(intent).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"].as_str().expect("ref");
    harness
        .fakes
        .paystack_complete_charge(reference, ChargeOutcome::Success)
        .expect("buyer pays");
    harness.wait_for(&id, "held", LIMIT).await;
    id
}

#[tokio::test]
async fn milestones_release_in_parts_once_each_and_sum_to_the_whole_split() {
    let harness = Harness::start().await;
    let mut body = mpesa_intent("1000");
    body["milestones"] =
        json!([{"id": "design", "amount": "333"}, {"id": "build", "amount": "667"}]);
    let created = harness.create(body).await;
    assert_eq!(created["milestones"][0]["released"], false);
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;

    let first = action(&harness, id, "release", json!({"milestone": "design"})).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["status"], "held", "the rest stays held");
    assert_eq!(first["released_amount"], "333.00");
    assert_eq!(first["remaining"], "667.00");
    assert_eq!(first["milestones"][0]["released"], true);
    wait_for_payouts(&harness, id, 2).await;

    let again = action(&harness, id, "release", json!({"milestone": "design"})).await;
    assert_eq!(again.status(), 409, "a milestone is released once");
    let problem: Value = again.json().await.expect("json");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("design"))
    );

    assert_eq!(
        action(&harness, id, "release", json!({"milestone": "build"}))
            .await
            .status(),
        202
    );
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    // The whole release would give 900 + 100 (whole shillings: commission goes by M-Pesa).
    let payee = payouts_of(&settled, "payee");
    let commission = payouts_of(&settled, "commission");
    assert_eq!((payee.len(), commission.len()), (2, 2));
    assert_eq!(sum(&payee), Decimal::from(900));
    assert_eq!(sum(&commission), Decimal::from(100));
    // 10% of 333 is 33.3: the first part's commission is rounded down to 33, the last takes 67.
    assert_eq!(commission[0]["amount"], "33.00");
    assert_eq!(settled["remaining"], "0.00");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn part_of_a_paystack_intent_is_released_and_the_rest_refunded() {
    let harness = Harness::start().await;
    let id = paystack_paid(&harness, "1000.00").await;
    let part = action(&harness, &id, "release", json!({"amount": "400.50"})).await;
    assert_eq!(part.status(), 202);
    wait_for_payouts(&harness, &id, 1).await;
    assert_eq!(
        action(&harness, &id, "refund", json!({})).await.status(),
        202
    );
    let refunded = harness.wait_for(&id, "refunded", LIMIT).await;
    // 2.5% of 400.50 = 10.0125: the part's commission is rounded down, stays with the platform.
    assert_eq!(payouts_of(&refunded, "payee")[0]["amount"], "390.49");
    assert_eq!(payouts_of(&refunded, "refund")[0]["amount"], "599.50");
    assert_eq!(refunded["released_amount"], "400.50");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_lightning_payee_gives_an_invoice_per_part() {
    let harness = Harness::start().await;
    let mut body = lightning_intent("2100");
    body["commission_bps"] = json!(1000);
    let created = harness.create(body).await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness.wait_for(id, "awaiting_payment", LIMIT).await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash");
    harness.fakes.lnbits_pay_invoice(hash).expect("buyer pays");
    harness.wait_for(id, "held", LIMIT).await;

    let without = action(&harness, id, "release", json!({"amount": "1000"})).await;
    assert_eq!(without.status(), 422, "a part needs its own invoice");
    // 10% of 1000 sat = 100: the payee's share of this part is 900.
    let wrong = action(
        &harness,
        id,
        "release",
        json!({"amount": "1000", "bolt11": payee_invoice(1000)}),
    )
    .await;
    assert_eq!(
        wrong.status(),
        422,
        "the invoice must be for the part's payee share"
    );
    let part = action(
        &harness,
        id,
        "release",
        json!({"amount": "1000", "bolt11": payee_invoice(900)}),
    )
    .await;
    assert_eq!(part.status(), 202);
    let rest = action(
        &harness,
        id,
        "release",
        json!({"bolt11": payee_invoice(990)}),
    )
    .await;
    assert_eq!(rest.status(), 202);
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    assert_eq!(sum(&payouts_of(&settled, "payee")), Decimal::from(1890));
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_dispute_blocks_release_and_refund_until_an_operator_splits_it() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("1000")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;

    let opened = action(
        &harness,
        id,
        "dispute",
        json!({"reason": "item never arrived"}),
    )
    .await;
    assert_eq!(opened.status(), 200);
    let opened: Value = opened.json().await.expect("json");
    assert_eq!(opened["status"], "disputed");
    assert_eq!(opened["dispute_reason"], "item never arrived");
    for what in ["release", "refund"] {
        let blocked = action(&harness, id, what, json!({})).await;
        assert_eq!(blocked.status(), 409, "{what} while disputed");
        let problem: Value = blocked.json().await.expect("json");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("disputed")),
            "{problem}"
        );
    }

    let operator = clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let resolve = |body: Value| {
        harness
            .http
            .post(format!("{}/ops/intents/{id}/resolve", harness.base))
            .bearer_auth(&operator)
            .json(&body)
            .send()
    };
    let uneven = resolve(json!({"release": "600", "refund": "300", "note": "split"}))
        .await
        .expect("resolve");
    assert_eq!(uneven.status(), 400, "the parts must sum to what is held");
    assert_eq!(harness.get(id).await["status"], "disputed", "nothing moved");
    let by_client = harness
        .http
        .post(format!("{}/ops/intents/{id}/resolve", harness.base))
        .bearer_auth(&harness.key)
        .json(&json!({"release": "600", "refund": "400", "note": "split"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(by_client.status(), 403, "only operators resolve");

    let resolved = resolve(json!({"release": "600", "refund": "400", "note": "half delivered"}))
        .await
        .expect("resolve");
    assert_eq!(resolved.status(), 200);
    let refunded = harness.wait_for(id, "refunded", LIMIT).await;
    wait_for_payouts(&harness, id, 3).await;
    assert_eq!(payouts_of(&refunded, "payee")[0]["amount"], "540.00");
    assert_eq!(payouts_of(&refunded, "commission")[0]["amount"], "60.00");
    assert_eq!(payouts_of(&refunded, "refund")[0]["amount"], "400.00");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM malipo_ops_audit WHERE action = 'intent.resolve_dispute'",
    )
    .fetch_one(&harness.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_withdrawn_dispute_moves_nothing_and_the_intent_can_be_released() {
    let harness = Harness::start().await;
    let id = paystack_paid(&harness, "500.00").await;
    assert_eq!(
        action(&harness, &id, "dispute", json!({"reason": "late"}))
            .await
            .status(),
        200
    );
    let withdrawn = action(&harness, &id, "dispute", json!({"withdraw": true})).await;
    assert_eq!(withdrawn.status(), 200);
    let withdrawn: Value = withdrawn.json().await.expect("json");
    assert_eq!(withdrawn["status"], "held");
    assert!(withdrawn["payouts"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(
        action(&harness, &id, "release", json!({})).await.status(),
        202
    );
    harness.wait_for(&id, "settled", LIMIT).await;
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_automatic_release_fires_once_with_three_workers() {
    let harness = Harness::start().await;
    // Two more worker runners on the same database compete for the timer's job.
    let mut extra = Vec::new();
    for _ in 0..2 {
        let settings = QueueSettings {
            poll_interval: Duration::from_millis(50),
            ..QueueSettings::default()
        };
        extra.push(
            Runner::start(
                harness.pool.clone(),
                settings,
                worker::handlers(),
                harness.worker_state.clone(),
            )
            .await
            .expect("workers"),
        );
    }
    let mut body = mpesa_intent("1000");
    body["auto_release_at"] =
        json!((chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339());
    let created = harness.create(body).await;
    let id = created["id"].as_str().expect("id");
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    assert_eq!(payouts_of(&settled, "payee").len(), 1);
    let requests: Vec<&Value> = settled["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "release_requested")
        .collect();
    assert_eq!(requests.len(), 1, "released once: {settled}");
    assert_eq!(requests[0]["detail"]["source"], "auto_release");
    for runner in extra {
        runner.shutdown(Duration::from_secs(5)).await;
    }
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_dispute_cancels_the_automatic_release() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("1000")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let set = action(&harness, id, "auto_release", json!({"at": soon})).await;
    assert_eq!(set.status(), 200);
    assert_eq!(
        action(&harness, id, "dispute", json!({"reason": "broken"}))
            .await
            .status(),
        200
    );
    // The timer's job comes due and finds the intent disputed: wait until it has run.
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM malipo_jobs WHERE kind = 'auto_release' AND intent_id = $1 AND state = 'done'",
        )
        .bind(uuid::Uuid::parse_str(id).expect("uuid"))
        .fetch_one(&harness.pool)
        .await
        .expect("jobs");
        if done == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the timer never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let intent = harness.get(id).await;
    assert_eq!(intent["status"], "disputed");
    assert!(intent["auto_release_at"].is_null());
    assert!(intent["payouts"].as_array().is_some_and(Vec::is_empty));
}

#[tokio::test]
async fn bad_release_requests_are_named_and_change_nothing() {
    let harness = Harness::start().await;
    let mut body = mpesa_intent("1000");
    body["milestones"] = json!([{"id": "m1", "amount": "400"}, {"id": "m2", "amount": "600"}]);
    let created = harness.create(body).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    let cases = [
        (json!({"amount": "1000.01"}), "amount"),
        (json!({"amount": "0"}), "amount"),
        (json!({"amount": 400}), "amount"),
        (json!({"amount": "400.50"}), "amount"),
        (json!({"amount": "400", "milestone": "m1"}), "amount"),
        (json!({"milestone": "m9"}), "milestone"),
        (json!({"surprise": true}), "surprise"),
    ];
    for (body, field) in cases {
        let response = action(&harness, id, "release", body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let problem: Value = response.json().await.expect("json");
        assert!(
            problem["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == field)),
            "{body} → {problem}"
        );
    }
    let unchanged = harness.get(id).await;
    assert_eq!(unchanged["status"], "held");
    assert_eq!(unchanged["released_amount"], "0.00");
    let mut uneven = mpesa_intent("1000");
    uneven["milestones"] = json!([{"id": "m1", "amount": "400"}]);
    let refused = harness
        .post("/v1/intents", &uneven, &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(refused.status(), 422, "milestones must sum to the amount");
    let bad_dispute = action(&harness, id, "dispute", json!({"reason": ""})).await;
    assert_eq!(bad_dispute.status(), 422);
    let past = action(
        &harness,
        id,
        "auto_release",
        json!({"at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(past.status(), 422);
    assert_eq!(harness.get(id).await["status"], "held");
}

#[tokio::test]
async fn unpaid_intents_expire_at_the_clients_deadline_on_paystack_and_lightning() {
    let harness = Harness::start().await;
    let deadline = || json!((chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339());
    let mut paystack = paystack_intent("1000.00");
    paystack["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    paystack["expires_at"] = deadline();
    let mut lightning = lightning_intent("2100");
    lightning["expires_at"] = deadline();
    let mut ids = Vec::new();
    for body in [paystack, lightning] {
        let created = harness.create(body).await;
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    for id in &ids {
        let expired = harness.wait_for(id, "expired", LIMIT).await;
        assert!(expired["payouts"].as_array().is_some_and(Vec::is_empty));
    }
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_payment_after_cancel_goes_back_to_the_payer_and_settles_its_discrepancy() {
    let harness = Harness::start().await;
    let mut body = paystack_intent("1000.00");
    body["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    let created = harness.create(body).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("ref")
        .to_owned();
    assert_eq!(
        action(&harness, &id, "cancel", json!({})).await.status(),
        200
    );
    harness
        .fakes
        .paystack_complete_charge(&reference, ChargeOutcome::Success)
        .expect("the buyer pays anyway");
    let uuid = uuid::Uuid::parse_str(&id).expect("uuid");
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, resolution FROM discrepancies WHERE intent_id = $1 AND kind = 'late_payment'",
        )
        .bind(uuid)
        .fetch_optional(&harness.pool)
        .await
        .expect("discrepancy");
        if let Some((status, resolution)) = &row
            && status == "resolved"
        {
            assert_eq!(resolution.as_deref(), Some("refunded_to_payer"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the late payment was never refunded: {row:?}; {}; jobs {:?}",
            harness.get(&id).await,
            sqlx::query_as::<_, (String, String, Option<String>)>(
                "SELECT j.kind, j.state, (SELECT string_agg(a.error, ' | ') FROM malipo_job_attempts a WHERE a.job_id = j.id)
                   FROM malipo_jobs j WHERE j.intent_id = $1"
            )
            .bind(uuid)
            .fetch_all(&harness.pool)
            .await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let intent = harness.get(&id).await;
    assert_eq!(intent["status"], "cancelled");
    let refund = payouts_of(&intent, "late_refund");
    assert_eq!(refund.len(), 1);
    assert_eq!(refund[0]["status"], "succeeded");
    assert_eq!(refund[0]["amount"], "1000.00");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn terms_that_could_never_be_kept_are_refused_at_creation() {
    let harness = Harness::start().await;
    let soon = json!((chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339());
    let mut lightning = lightning_intent("2100");
    lightning["auto_release_at"] = soon.clone();
    let mut collection = mpesa_intent("1000");
    collection.as_object_mut().map(|o| o.remove("payee"));
    collection["milestones"] = json!([{"id": "m1", "amount": "1000"}]);
    for (body, field) in [(lightning, "auto_release_at"), (collection, "milestones")] {
        let refused = harness
            .post("/v1/intents", &body, &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(refused.status(), 422, "{body}");
        let problem: Value = refused.json().await.expect("json");
        assert!(
            problem["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == field)),
            "{problem}"
        );
    }
    let intents: i64 = sqlx::query_scalar("SELECT count(*) FROM intents")
        .fetch_one(&harness.pool)
        .await
        .expect("count");
    assert_eq!(intents, 0, "nothing written");
}
