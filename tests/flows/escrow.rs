//! Happy paths per provider, refunds, wrong-state actions, and re-running every job.

use std::time::Duration;

use malipo_sandbox::{ChargeOutcome, StkOutcome, StkResult, payee_invoice};
use serde_json::{Value, json};

use super::support::{Harness, lightning_intent, mpesa_intent, paystack_intent};

const LIMIT: Duration = Duration::from_secs(20);

fn payout<'a>(intent: &'a Value, kind: &str) -> &'a Value {
    intent["payouts"]
        .as_array()
        .and_then(|payouts| payouts.iter().find(|p| p["kind"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn an_mpesa_intent_is_held_released_split_and_settled() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("1500")).await;
    let id = created["id"].as_str().expect("id");
    let held = harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(held["next_action"]["type"], "stk_push");

    let released = harness.release(id, json!({})).await;
    assert_eq!(released.status(), 202);
    let released: Value = released.json().await.expect("json");
    assert_eq!(released["status"], "releasing");

    let settled = harness.wait_for(id, "settled", LIMIT).await;
    assert_eq!(payout(&settled, "payee")["amount"], "1350.00");
    assert_eq!(payout(&settled, "commission")["amount"], "150.00");
    assert!(
        settled["payouts"]
            .as_array()
            .is_some_and(|p| p.iter().all(|p| p["status"] == "succeeded"))
    );
    let counters = harness.fakes.counters();
    for payout in settled["payouts"].as_array().expect("payouts") {
        let reference = payout["reference"].as_str().expect("reference");
        assert_eq!(
            counters.transfers_for(reference),
            1,
            "payout {reference} initiated once"
        );
    }
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_fixed_fee_is_fixed_at_creation_and_added_to_the_commission() {
    let harness = Harness::start().await;
    let mut intent = mpesa_intent("1500");
    intent["commission_fixed_fee"] = json!("25");
    let created = harness.create(intent).await;
    assert_eq!(created["commission_fixed_fee"], "25.00");
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    // 10% of 1 500 plus 25.
    assert_eq!(payout(&settled, "commission")["amount"], "175.00");
    assert_eq!(payout(&settled, "payee")["amount"], "1325.00");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_paystack_intent_settles_through_checkout_and_transfer_webhooks() {
    let harness = Harness::start().await;
    let mut intent = paystack_intent("25000.00");
    intent["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    let created = harness.create(intent).await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness.wait_for(id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("paystack reference")
        .to_owned();
    assert!(
        waiting["next_action"]["authorization_url"]
            .as_str()
            .is_some_and(|url| url.starts_with("http"))
    );
    harness
        .fakes
        .paystack_complete_charge(&reference, ChargeOutcome::Success)
        .expect("buyer pays");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    let settled = harness.wait_for(id, "settled", LIMIT).await;
    // 2.5% of 25 000.00 NGN; no NGN commission destination, so it stays with the platform.
    assert_eq!(payout(&settled, "payee")["amount"], "24375.00");
    assert_eq!(payout(&settled, "commission"), &Value::Null);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_lightning_intent_is_paid_then_released_to_an_invoice_given_at_release() {
    let harness = Harness::start().await;
    let created = harness.create(lightning_intent("2100")).await;
    let id = created["id"].as_str().expect("id");
    let waiting = harness.wait_for(id, "awaiting_payment", LIMIT).await;
    assert_eq!(waiting["next_action"]["type"], "lightning_invoice");
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    harness.fakes.lnbits_pay_invoice(&hash).expect("buyer pays");
    harness.wait_for(id, "held", LIMIT).await;

    let missing = harness.release(id, json!({})).await;
    assert_eq!(
        missing.status(),
        422,
        "a Lightning payee without an invoice must give one"
    );
    assert_eq!(
        harness
            .release(id, json!({"bolt11": payee_invoice(2100)}))
            .await
            .status(),
        202
    );
    harness.wait_for(id, "settled", LIMIT).await;
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_cancelled_stk_push_fails_the_intent_with_the_reason() {
    let harness = Harness::start().await;
    harness
        .fakes
        .mpesa_script_next_stk(StkOutcome::new(StkResult::Cancelled));
    let created = harness.create(mpesa_intent("700")).await;
    let failed = harness
        .wait_for(created["id"].as_str().expect("id"), "failed", LIMIT)
        .await;
    assert!(
        failed["failure_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("1032")),
        "{failed}"
    );
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_held_mpesa_intent_is_refunded_to_the_buyer() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("900")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    let refund = harness
        .post(&format!("/v1/intents/{id}/refund"), &json!({}), "refund-1")
        .await;
    assert_eq!(refund.status(), 202);
    let refunded = harness.wait_for(id, "refunded", LIMIT).await;
    assert_eq!(payout(&refunded, "refund")["amount"], "900.00");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn release_or_refund_from_a_wrong_state_is_409_naming_the_state() {
    let harness = Harness::start().await;
    harness
        .fakes
        .mpesa_script_next_stk(StkOutcome::silent(StkResult::Success));
    let created = harness.create(mpesa_intent("300")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "awaiting_payment", LIMIT).await;
    let before = harness.get(id).await;
    for action in ["release", "refund"] {
        let response = harness
            .post(
                &format!("/v1/intents/{id}/{action}"),
                &json!({}),
                &format!("{action}-early"),
            )
            .await;
        assert_eq!(response.status(), 409);
        let problem: Value = response.json().await.expect("json");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("awaiting_payment")),
            "{problem}"
        );
    }
    let after = harness.get(id).await;
    assert_eq!(before["events"], after["events"], "nothing changed");
}

#[tokio::test]
async fn a_second_release_under_a_new_key_is_409_at_once() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("400")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    assert_eq!(harness.release(id, json!({})).await.status(), 409);
    harness.wait_for(id, "settled", LIMIT).await;
}

#[tokio::test]
async fn running_every_job_again_changes_nothing() {
    let mut harness = Harness::start().await;
    let created = harness.create(mpesa_intent("1200")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    harness.wait_for(id, "settled", LIMIT).await;
    harness.stop_workers().await;

    let snapshot = |pool: sqlx::PgPool| async move {
        let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_entries")
            .fetch_one(&pool)
            .await
            .expect("entries");
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM intent_events")
            .fetch_one(&pool)
            .await
            .expect("events");
        let payouts: i64 = sqlx::query_scalar("SELECT count(*) FROM payouts")
            .fetch_one(&pool)
            .await
            .expect("payouts");
        (entries, events, payouts)
    };
    let before = snapshot(harness.pool.clone()).await;
    let counters_before = harness.fakes.counters();
    // Every job (finished, or snoozed until its next check) runs again, twice at once, with
    // the real provider clients pointed at
    // the fakes: a handler that is not idempotent pays, posts or records something new.
    let jobs: Vec<(i64, String, String, serde_json::Value, i32, i32)> = sqlx::query_as(
        "SELECT id, queue, kind, payload, attempts, max_attempts FROM malipo_jobs WHERE state IN ('done', 'pending') ORDER BY id",
    )
    .fetch_all(&harness.pool)
    .await
    .expect("done jobs");
    assert!(
        jobs.iter().any(|(_, _, kind, ..)| kind == "payout"),
        "the flow ran payouts: {jobs:?}"
    );
    let handlers = malipo::worker::handlers();
    let state = harness.worker_state.clone();
    for (id, queue, kind, payload, attempts, max_attempts) in jobs {
        // Claimed again for real, so a handler that completes within its effect's transaction
        // holds a valid lease: a repeated effect would commit, not be fenced off. The two runs
        // share the claim; the fence lets at most one of them complete.
        let lease_token: i64 = sqlx::query_scalar(
            "UPDATE malipo_jobs SET state = 'running', locked_by = 'again', locked_until = now() + interval '1 hour',
                    lease_token = lease_token + 1
              WHERE id = $1 RETURNING lease_token",
        )
        .bind(id)
        .fetch_one(&harness.pool)
        .await
        .expect("claim again");
        let job = malipo::queue::claim::ClaimedJob {
            id,
            queue,
            kind: kind.clone(),
            payload,
            attempts: attempts + 1,
            max_attempts: max_attempts.max(attempts + 1),
            lease_token,
        };
        let (a, b) = tokio::join!(
            handlers.run(job.clone(), state.clone()),
            handlers.run(job, state.clone())
        );
        for outcome in [a, b] {
            assert!(
                matches!(
                    outcome,
                    malipo::queue::outcome::JobOutcome::Done
                        | malipo::queue::outcome::JobOutcome::DoneWithEffect
                        | malipo::queue::outcome::JobOutcome::Snooze { .. }
                ) || matches!(
                    &outcome,
                    malipo::queue::outcome::JobOutcome::Retry { error, .. }
                        if error.contains("no longer holds its lease")
                ),
                "re-running {kind} job {id} answered {outcome:?}"
            );
        }
    }
    assert_eq!(
        snapshot(harness.pool.clone()).await,
        before,
        "no new entries, events or payouts"
    );
    let counters = harness.fakes.counters();
    assert_eq!(
        counters.transfers_created, counters_before.transfers_created,
        "no new transfer"
    );
    assert_eq!(
        counters.transfers_per_reference, counters_before.transfers_per_reference,
        "no transfer initiated again"
    );
    assert_eq!(harness.get(id).await["status"], "settled");
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn ledger_check_passes_after_the_flows_and_fails_on_a_corrupted_entry() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("1000")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    harness.wait_for(id, "settled", LIMIT).await;

    let database_url = harness.database_url.clone();
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_malipo"))
            .args(["ledger", "check"])
            .env("DATABASE_URL", &database_url)
            .env("RUST_LOG", "error")
            .output()
            .expect("malipo ledger check runs")
    };
    let sound = check();
    assert!(
        sound.status.success(),
        "{}",
        String::from_utf8_lossy(&sound.stdout)
    );

    // Entries are immutable, so corrupting one takes disabling the guard by hand.
    sqlx::raw_sql(
        "ALTER TABLE ledger_entries DISABLE TRIGGER USER;
         UPDATE ledger_entries SET amount = amount + 1 WHERE id = (SELECT min(id) FROM ledger_entries);
         ALTER TABLE ledger_entries ENABLE TRIGGER USER;",
    )
    .execute(&harness.pool)
    .await
    .expect("corrupt");
    let corrupted = check();
    assert!(
        !corrupted.status.success(),
        "ledger check must fail on a corrupted entry"
    );
    assert!(String::from_utf8_lossy(&corrupted.stdout).contains("VIOLATION"));
}

#[tokio::test]
async fn ledger_rows_are_immutable_and_unbalanced_transactions_cannot_commit() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("800")).await;
    harness
        .wait_for(created["id"].as_str().expect("id"), "held", LIMIT)
        .await;
    let update = sqlx::query("UPDATE ledger_entries SET amount = 1")
        .execute(&harness.pool)
        .await;
    assert!(update.is_err(), "entries cannot be updated");
    let delete = sqlx::query("DELETE FROM ledger_transactions")
        .execute(&harness.pool)
        .await;
    assert!(delete.is_err(), "transactions cannot be deleted");
    let mut tx = harness.pool.begin().await.expect("begin");
    let transaction: i64 = sqlx::query_scalar("INSERT INTO ledger_transactions (idempotency_key, kind) VALUES ('bad', 'test') RETURNING id")
        .fetch_one(&mut *tx)
        .await
        .expect("transaction");
    let account: i64 =
        sqlx::query_scalar("SELECT id FROM ledger_accounts WHERE currency = 'KES' LIMIT 1")
            .fetch_one(&mut *tx)
            .await
            .expect("account");
    sqlx::query("INSERT INTO ledger_entries (transaction_id, account_id, currency, amount) VALUES ($1, $2, 'KES', 5)")
        .bind(transaction)
        .bind(account)
        .execute(&mut *tx)
        .await
        .expect("insert is deferred");
    assert!(
        tx.commit().await.is_err(),
        "an unbalanced transaction cannot commit"
    );
}
