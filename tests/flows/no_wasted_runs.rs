//! Follow-up jobs whose reason is gone end in the transaction that removed it (issue #21): a
//! payout's next status check once a verified webhook has settled the payout, the next poll of
//! a Lightning invoice once its webhook has confirmed the deposit. Their runs could only find
//! nothing to do.

use std::time::Duration;

use malipo_testing::eventually;
use serde_json::json;

use super::support::{Harness, lightning_intent, mpesa_intent};

const LIMIT: Duration = Duration::from_secs(20);

/// `(state, last_error)` of the jobs of `kind` whose payload names `field` = one of `ids`.
async fn jobs(harness: &Harness, kind: &str, field: &str, ids: &[String]) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT state, coalesce(last_error, '') FROM malipo_jobs
          WHERE kind = $1 AND payload->>$2 = ANY($3)",
    )
    .bind(kind)
    .bind(field)
    .bind(ids)
    .fetch_all(&harness.pool)
    .await
    .expect("jobs")
}

#[tokio::test]
async fn payouts_settled_by_their_webhooks_leave_no_status_check_waiting() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("1500")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    let payouts: Vec<String> = settled["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .map(|p| p["id"].as_str().expect("payout id").to_owned())
        .collect();
    assert_eq!(payouts.len(), 2, "payee and commission: {settled}");
    // Each payout job initiated its B2C and snoozed for its status check (15 s) long before
    // the result came back (the fake answers after 200 ms, then the status query's answer
    // after another 200 ms); the settling transaction ended that check.
    let jobs = jobs(&harness, "payout", "payout_id", &payouts).await;
    assert_eq!(jobs.len(), 2, "one job per payout: {jobs:?}");
    for (state, note) in &jobs {
        assert_eq!(state, "done", "no status check left waiting: {jobs:?}");
        assert!(note.contains("finished early"), "{jobs:?}");
    }
}

#[tokio::test]
async fn a_lightning_deposit_confirmed_by_its_webhook_ends_the_invoice_polls() {
    let harness = Harness::start().await;
    let created = harness.create(lightning_intent("2100")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    harness.fakes.lnbits_pay_invoice(&hash).expect("buyer pays");
    harness.wait_for(&id, "held", LIMIT).await;
    // The poll waits 2 s between polls; ended by the webhook's transaction it is done at once
    // (or, if it was running just then, as soon as that run sees the intent held).
    let ids = [id.clone()];
    let ended = eventually(Duration::from_millis(1000), || async {
        let polls = jobs(&harness, "poll_lightning_invoice", "intent_id", &ids).await;
        !polls.is_empty() && polls.iter().all(|(state, _)| state == "done")
    })
    .await;
    let polls = jobs(&harness, "poll_lightning_invoice", "intent_id", &ids).await;
    assert!(ended, "the invoice polls end with the deposit: {polls:?}");
}
