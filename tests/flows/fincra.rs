//! Fincra payouts end to end (issue #19): escrow released to a Nigerian bank account and to a
//! Kenyan M-Pesa wallet through Fincra; a lost initiation answer, a duplicate customer
//! reference, an underfunded wallet and a forged `payout.failed`; the webhook's signature.

use std::time::Duration;

use malipo::providers::fincra::fincra_signature;
use malipo_sandbox::{ChargeOutcome, MoneyChannel, Provider};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::support::{Harness, mpesa_intent, paystack_intent};

const LIMIT: Duration = Duration::from_secs(30);

fn payee_payout(intent: &Value) -> &Value {
    intent["payouts"]
        .as_array()
        .and_then(|payouts| payouts.iter().find(|p| p["kind"] == "payee"))
        .unwrap_or(&Value::Null)
}

fn fincra_bank() -> Value {
    json!({"provider": "fincra", "destination": "bank_account", "bank_code": "058",
        "account_number": "0124775489", "account_name": "Hassan Sarz"})
}

/// An NGN intent paid by Paystack checkout and paid out to a bank account through Fincra;
/// returns its id once held.
async fn held_ngn_intent(harness: &Harness) -> String {
    let mut intent = paystack_intent("25000.00");
    intent["payee"]["payout"] = fincra_bank();
    let created = harness.create(intent).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("paystack reference")
        .to_owned();
    harness
        .fakes
        .paystack_complete_charge(&reference, ChargeOutcome::Success)
        .expect("buyer pays");
    harness.wait_for(&id, "held", LIMIT).await;
    id
}

/// Fincra payouts the fake has recorded (any reference).
fn fincra_payouts_at_the_fake(harness: &Harness) -> usize {
    harness
        .fakes
        .money()
        .transfers()
        .filter(|m| m.channel == MoneyChannel::FincraPayout)
        .count()
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Answers to a payout's first send are lost: the fake acts, then holds its answer past the
/// client's read timeout (1 s in these tests).
fn lose_answers(harness: &Harness) {
    harness.fakes.faults().update(Provider::Fincra, |f| {
        f.timeout_probability = 1.0;
        f.timeout_performs_action = true;
        f.timeout_hold = Duration::from_secs(3);
    });
}

fn answer_again(harness: &Harness) {
    harness
        .fakes
        .faults()
        .update(Provider::Fincra, |f| f.timeout_probability = 0.0);
}

async fn start() -> Harness {
    Harness::start_with(super::support::Options {
        read_timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn escrow_released_to_a_bank_account_is_paid_out_through_fincra() {
    let harness = start().await;
    let id = held_ngn_intent(&harness).await;
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let payout = payee_payout(&settled);
    assert_eq!(payout["provider"], "fincra");
    assert_eq!(payout["amount"], "24375.00");
    assert_eq!(payout["status"], "succeeded");
    let reference = payout["reference"].as_str().expect("reference");
    let money = harness.fakes.money();
    let sent: Vec<_> = money.by_key(reference).collect();
    assert_eq!(sent.len(), 1, "one payout at Fincra");
    assert_eq!(sent[0].amount, Decimal::from(24_375));
    assert_eq!(sent[0].currency, "NGN");
    assert_eq!(sent[0].destination, "0124775489");
    harness.assert_ledger_sound().await;

    // `/metrics` carries Fincra's provider series (calls, and the webhook that came in).
    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let metrics = harness
        .http
        .get(format!("{}/metrics", harness.base))
        .bearer_auth(operator)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            r#"malipo_provider_request_duration_seconds_count{provider="fincra",outcome="2xx"}"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(r#"provider="fincra""#));
}

#[tokio::test]
async fn escrow_released_to_an_mpesa_wallet_is_paid_out_through_fincra() {
    let harness = start().await;
    let mut intent = mpesa_intent("1500");
    intent["payee"]["payout"] =
        json!({"provider": "fincra", "destination": "mobile_money", "msisdn": "254700000001"});
    let created = harness.create(intent).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    let payout = payee_payout(&settled);
    assert_eq!(payout["provider"], "fincra");
    assert_eq!(payout["amount"], "1350.00");
    let reference = payout["reference"].as_str().expect("reference");
    let money = harness.fakes.money();
    let sent: Vec<_> = money.by_key(reference).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].currency, "KES");
    assert_eq!(sent[0].destination, "+254700000001");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_lost_initiation_answer_leaves_one_payout_at_fincra() {
    let harness = start().await;
    let id = held_ngn_intent(&harness).await;
    lose_answers(&harness);
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    wait_until("the fake recorded the payout", || {
        fincra_payouts_at_the_fake(&harness) >= 1
    })
    .await;
    answer_again(&harness);
    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let reference = payee_payout(&settled)["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_eq!(harness.fakes.money().by_key(&reference).count(), 1);
    assert_eq!(
        harness.fakes.counters().transfers_for(&reference),
        1,
        "the query found it: never sent again"
    );
    assert!(harness.fakes.counters().injected_timeouts >= 1);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_duplicate_customer_reference_is_adopted_not_sent_twice() {
    let harness = start().await;
    let id = held_ngn_intent(&harness).await;
    // No webhook, so only the payout job asks; its first query meets a lagging Fincra that
    // does not find the payout yet, so it sends again and meets the 422.
    harness.fakes.set_fincra_webhook_url(None);
    harness.fakes.fincra_lag_next_queries(1);
    lose_answers(&harness);
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    wait_until("the fake recorded the payout", || {
        fincra_payouts_at_the_fake(&harness) >= 1
    })
    .await;
    answer_again(&harness);
    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let reference = payee_payout(&settled)["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_eq!(
        harness.fakes.counters().transfers_for(&reference),
        2,
        "sent, then refused as a duplicate"
    );
    assert_eq!(
        harness.fakes.money().by_key(&reference).count(),
        1,
        "one payout at Fincra"
    );
    assert_eq!(payee_payout(&settled)["status"], "succeeded");
    // The 422 was adopted in the run that met it: the job's only failed run is the lost answer.
    let failed_runs: Vec<String> = sqlx::query_scalar(
        "SELECT a.error FROM malipo_job_attempts a JOIN malipo_jobs j ON j.id = a.job_id
          WHERE j.kind = 'payout' ORDER BY a.attempt",
    )
    .fetch_all(&harness.pool)
    .await
    .expect("attempts");
    assert_eq!(failed_runs.len(), 1, "{failed_runs:?}");
    assert!(failed_runs[0].contains("in doubt"), "{failed_runs:?}");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn an_underfunded_wallet_is_flagged_and_the_payout_retried_once_funded() {
    let harness = start().await;
    let id = held_ngn_intent(&harness).await;
    harness
        .fakes
        .fincra_set_balance("NGN", Some(Decimal::from(100)));
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let deadline = tokio::time::Instant::now() + LIMIT;
    let flagged = loop {
        let intent = harness.get(&id).await;
        if intent["attention"]
            .as_str()
            .is_some_and(|reason| reason.contains("NO_ENOUGH_MONEY_IN_WALLET"))
        {
            break intent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never flagged: {intent}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(flagged["status"], "released", "waiting, not failed");
    assert_ne!(payee_payout(&flagged)["status"], "failed");
    assert_eq!(fincra_payouts_at_the_fake(&harness), 0);

    harness
        .fakes
        .fincra_set_balance("NGN", Some(Decimal::from(1_000_000)));
    let settled = harness
        .wait_for(&id, "settled", Duration::from_secs(60))
        .await;
    assert_eq!(payee_payout(&settled)["status"], "succeeded");
    assert_eq!(fincra_payouts_at_the_fake(&harness), 1);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_forged_payout_failed_for_a_successful_payout_fails_nothing() {
    let harness = start().await;
    let id = held_ngn_intent(&harness).await;
    // The fake signs a `payout.failed` for a payout it has already made, then the truth.
    harness
        .fakes
        .faults()
        .update(Provider::Fincra, |f| f.payout_lie_probability = 1.0);
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let reference = payee_payout(&settled)["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    let pool = harness.pool.clone();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_inbox WHERE provider = 'fincra'
               AND event_key LIKE 'payout.failed:%' AND status <> 'received'",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        if done == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lie never processed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(harness.fakes.counters().lies_of_kind("forged_failure"), 1);
    let after = harness.get(&id).await;
    assert_eq!(after["status"], "settled");
    assert_eq!(payee_payout(&after)["status"], "succeeded");
    assert_eq!(
        harness.fakes.fincra_payout_status(&reference),
        Some("successful")
    );
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_fincra_webhook_with_a_bad_signature_is_refused_and_nothing_is_stored() {
    let harness = start().await;
    let url = format!("{}/webhooks/fincra", harness.base);
    let body = r#"{"event":"payout.failed","data":{"id":1,"status":"failed","reference":"f00d","customerReference":"po_unknown"}}"#;
    let post = |body: String, signature: String| {
        harness
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("signature", signature)
            .body(body)
            .send()
    };
    let secret = harness.fakes.fincra_webhook_secret().to_owned();
    let wrong_key = post(
        body.to_owned(),
        fincra_signature("not-the-secret", body.as_bytes()),
    )
    .await
    .expect("post");
    assert_eq!(wrong_key.status(), 401);
    let tampered = body.replace("po_unknown", "po_other");
    let tampered = post(tampered, fincra_signature(&secret, body.as_bytes()))
        .await
        .expect("post");
    assert_eq!(tampered.status(), 401);
    let unsigned = post(body.to_owned(), String::new()).await.expect("post");
    assert_eq!(unsigned.status(), 401);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE provider = 'fincra'")
            .fetch_one(&harness.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0, "nothing stored for a refused delivery");

    // Signed right: stored once (deduped on event + reference), and, naming no payout of
    // malipo's, it moves nothing.
    for _ in 0..2 {
        let accepted = post(body.to_owned(), fincra_signature(&secret, body.as_bytes()))
            .await
            .expect("post");
        assert_eq!(accepted.status(), 200);
    }
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE provider = 'fincra'")
            .fetch_one(&harness.pool)
            .await
            .expect("count");
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn a_fincra_destination_is_checked_at_intent_creation() {
    let harness = start().await;
    let mut unknown_account = paystack_intent("1000.00");
    unknown_account["payee"]["payout"] = fincra_bank();
    unknown_account["payee"]["payout"]["account_number"] = json!("9900000000");
    let refused = harness
        .post("/v1/intents", &unknown_account, "fincra-unknown-account")
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert!(
        problem.to_string().contains("payee.payout.account_number"),
        "{problem}"
    );

    let mut wrong_currency = mpesa_intent("1000");
    wrong_currency["payee"]["payout"] = fincra_bank();
    let refused = harness
        .post("/v1/intents", &wrong_currency, "fincra-wrong-currency")
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert!(problem.to_string().contains("NGN"), "{problem}");

    let mut fincra_deposit = paystack_intent("1000.00");
    fincra_deposit["provider"] = json!("fincra");
    let refused = harness
        .post("/v1/intents", &fincra_deposit, "fincra-deposit")
        .await;
    assert_eq!(refused.status(), 422);

    let intents: i64 = sqlx::query_scalar("SELECT count(*) FROM intents")
        .fetch_one(&harness.pool)
        .await
        .expect("count");
    assert_eq!(intents, 0, "no partial write");
}

#[tokio::test]
async fn reconciliation_re_queries_successful_payouts_and_reports_a_silent_reversal() {
    let harness = start().await;
    let mut references = Vec::new();
    for _ in 0..2 {
        let id = held_ngn_intent(&harness).await;
        assert_eq!(harness.release(&id, json!({})).await.status(), 202);
        let settled = harness.wait_for(&id, "settled", LIMIT).await;
        let payout = payee_payout(&settled);
        references.push((
            payout["id"].as_str().expect("payout id").to_owned(),
            payout["reference"].as_str().expect("reference").to_owned(),
        ));
    }
    // No webhook says so: only a query finds the reversal.
    assert!(harness.fakes.fincra_reverse_payout(&references[1].1));

    let now = chrono::Utc::now();
    let options = malipo::reconcile::fincra::Options {
        since: now - chrono::Duration::hours(1),
        until: now,
        pending_after: Duration::from_secs(300),
    };
    let report = malipo::reconcile::fincra::run(&harness.worker_state, options)
        .await
        .expect("reconciled");
    assert_eq!(report.provider, "fincra");
    assert_eq!(report.summary["matched"], 1, "{report:?}");
    assert_eq!(report.summary["status_mismatch"], 1, "{report:?}");
    let mismatch = report
        .items
        .iter()
        .find(|item| item.class == "status_mismatch")
        .expect("mismatch");
    assert_eq!(mismatch.subject, references[1].0);
    assert_eq!(mismatch.detail["fincra"], "failed");

    let discrepancies: Vec<(String, Option<uuid::Uuid>)> =
        sqlx::query_as("SELECT kind, payout_id FROM discrepancies WHERE provider = 'fincra'")
            .fetch_all(&harness.pool)
            .await
            .expect("discrepancies");
    assert_eq!(discrepancies.len(), 1, "{discrepancies:?}");
    assert_eq!(discrepancies[0].0, "payout_contradiction");
    assert_eq!(
        discrepancies[0].1.map(|id| id.to_string()),
        Some(references[1].0.clone())
    );
    harness.assert_ledger_sound().await;

    // A second run over the same window records nothing new.
    malipo::reconcile::fincra::run(&harness.worker_state, options)
        .await
        .expect("reconciled again");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM discrepancies")
        .fetch_one(&harness.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_failed_fincra_payout_is_sent_again_to_a_new_account_and_a_wallet_is_refused_for_naira() {
    let harness = start().await;
    let id = held_ngn_intent(&harness).await;
    harness
        .fakes
        .fincra_script_next_payout(malipo_sandbox::FincraPayoutOutcome::Failed);
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let deadline = tokio::time::Instant::now() + LIMIT;
    let failed = loop {
        let intent = harness.get(&id).await;
        if payee_payout(&intent)["status"] == "failed" {
            break intent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never failed: {intent}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed["status"], "released");
    let payout_id = payee_payout(&failed)["id"]
        .as_str()
        .expect("payout id")
        .to_owned();
    let retry = format!("/v1/intents/{id}/payouts/{payout_id}/retry");

    let wallet = json!({"payout": {"provider": "fincra", "destination": "mobile_money", "msisdn": "254700000001"}});
    let refused = harness.post(&retry, &wallet, "retry-wallet").await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert!(
        problem.to_string().contains("payout.destination"),
        "{problem}"
    );

    let mut other_account = fincra_bank();
    other_account["account_number"] = json!("0123456789");
    let accepted = harness
        .post(&retry, &json!({"payout": other_account}), "retry-bank")
        .await;
    assert!(accepted.status().is_success(), "{}", accepted.status());
    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let payouts = settled["payouts"].as_array().expect("payouts");
    assert!(
        payouts
            .iter()
            .any(|p| p["kind"] == "payee" && p["status"] == "succeeded"),
        "{settled}"
    );
    assert_eq!(fincra_payouts_at_the_fake(&harness), 2);
    harness.assert_ledger_sound().await;
}

/// Marketplace escrow with a Fincra bank payee (issue #18's paths on the fourth provider): a
/// milestone is paid out once through Fincra (its repeat is 409), then a dispute blocks the
/// rest until an operator splits it — the released part goes out through Fincra, the refund
/// back through Paystack — and every payout reaches Fincra exactly once.
#[tokio::test]
async fn milestones_and_a_dispute_split_pay_a_fincra_bank_payee_once_each() {
    let harness = start().await;
    let mut intent = paystack_intent("25000.00");
    intent["payee"]["payout"] = fincra_bank();
    intent["milestones"] =
        json!([{"id": "m1", "amount": "10000.00"}, {"id": "m2", "amount": "15000.00"}]);
    let created = harness.create(intent).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("paystack reference")
        .to_owned();
    harness
        .fakes
        .paystack_complete_charge(&reference, ChargeOutcome::Success)
        .expect("buyer pays");
    harness.wait_for(&id, "held", LIMIT).await;

    let first = harness
        .post(
            &format!("/v1/intents/{id}/release"),
            &json!({"milestone": "m1"}),
            "m1-once",
        )
        .await;
    assert_eq!(first.status(), 202);
    let again = harness
        .post(
            &format!("/v1/intents/{id}/release"),
            &json!({"milestone": "m1"}),
            "m1-again",
        )
        .await;
    assert_eq!(again.status(), 409, "a milestone is released once");
    wait_until("the milestone's payout reaches Fincra", || {
        fincra_payouts_at_the_fake(&harness) == 1
    })
    .await;

    let opened = harness
        .post(
            &format!("/v1/intents/{id}/dispute"),
            &json!({"reason": "second delivery late"}),
            "dispute-1",
        )
        .await;
    assert_eq!(opened.status(), 200);
    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let resolved = harness
        .http
        .post(format!("{}/ops/intents/{id}/resolve", harness.base))
        .bearer_auth(&operator)
        .json(&json!({"release": "5000.00", "refund": "10000.00", "note": "half of m2 delivered"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(resolved.status(), 200);
    harness.wait_for(&id, "refunded", LIMIT).await;
    // `refunded` comes with the refund part's settlement; the released part's payee payout
    // settles on its own (processing, then Fincra's webhook and the query), maybe later.
    let deadline = tokio::time::Instant::now() + LIMIT;
    let done = loop {
        let intent = harness.get(&id).await;
        let payees_pending = intent["payouts"]
            .as_array()
            .expect("payouts")
            .iter()
            .any(|p| {
                p["kind"] == "payee"
                    && matches!(p["status"].as_str(), Some("pending" | "in_flight"))
            });
        if !payees_pending || tokio::time::Instant::now() > deadline {
            break intent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["released_amount"], "15000.00");
    let payees: Vec<&Value> = done["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .filter(|p| p["kind"] == "payee")
        .collect();
    assert_eq!(
        payees.len(),
        2,
        "one payee payout per released part: {done}"
    );
    for payee in &payees {
        assert_eq!(payee["provider"], "fincra");
        assert_eq!(payee["status"], "succeeded");
        let reference = payee["reference"].as_str().expect("reference");
        assert_eq!(
            harness.fakes.money().by_key(reference).count(),
            1,
            "each part reaches Fincra exactly once"
        );
    }
    assert_eq!(fincra_payouts_at_the_fake(&harness), 2);
    harness.assert_ledger_sound().await;
}
