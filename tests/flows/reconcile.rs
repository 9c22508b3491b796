//! M-Pesa reconciliation against the fake dropping callbacks: one run brings every intent and
//! payout to its true state, mismatches and unknown payments are reported, and a second run
//! changes nothing.

use std::time::Duration;

use malipo::reconcile::mpesa::{self, Options};
use malipo_sandbox::{C2bPayment, Provider};
use serde_json::{Value, json};

use super::support::{Harness, mpesa_intent};

async fn statuses(harness: &Harness) -> Vec<(String, String)> {
    sqlx::query_as("SELECT id::text, status FROM intents ORDER BY id")
        .fetch_all(&harness.pool)
        .await
        .expect("statuses")
}

async fn count(harness: &Harness, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&harness.pool)
        .await
        .expect("count")
}

fn options() -> Options {
    Options {
        since: chrono::Utc::now() - chrono::Duration::hours(1),
        until: chrono::Utc::now() + chrono::Duration::minutes(5),
        pending_after: Duration::ZERO,
    }
}

#[tokio::test]
async fn one_run_settles_what_dropped_callbacks_left_behind_and_a_second_changes_nothing() {
    let harness = Harness::start().await;
    let state = harness.worker_state.clone();
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.callback_drop_probability = 0.3
    });

    let mut ids = Vec::new();
    for n in 0..12 {
        let mut intent = mpesa_intent(&format!("{}", 100 + n));
        intent["reference"] = format!("order-{n}").into();
        ids.push(
            harness.create(intent).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    // Every push is made and its callback delivered or dropped; the delivered ones are applied.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counters = harness.fakes.counters();
        let settled = counters.answered_of("mpesa stk") + counters.callbacks_dropped;
        let open: i64 = count(
            &harness,
            "SELECT count(*) FROM malipo_jobs WHERE state IN ('pending', 'running') AND kind <> 'poll_lightning_invoice' AND run_at <= now()",
        )
        .await;
        if settled >= ids.len() as u64 && open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "STK pushes unsettled: {settled} of {} callbacks, {open} open jobs",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dropped_stk = harness.fakes.counters().callbacks_dropped;
    assert!(dropped_stk > 0, "the fake dropped some STK callbacks");
    let before: i64 = count(
        &harness,
        "SELECT count(*) FROM intents WHERE status = 'held'",
    )
    .await;
    assert!(before < ids.len() as i64);

    // Results of reconciliation's own queries are not dropped.
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.callback_drop_probability = 0.0
    });
    let first = mpesa::run(&state, options()).await.expect("reconcile");
    assert_eq!(
        first.summary["resolved"] as i64,
        ids.len() as i64 - before,
        "every missing callback resolved: {:?}",
        first.summary
    );
    assert_eq!(
        count(
            &harness,
            "SELECT count(*) FROM intents WHERE status = 'held'"
        )
        .await,
        ids.len() as i64
    );

    // Payouts with dropped B2C results.
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.callback_drop_probability = 0.2
    });
    for id in &ids {
        assert_eq!(harness.release(id, json!({})).await.status(), 202);
    }
    // Wait until every B2C has reached the fake (its results, some dropped, follow).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while harness.fakes.counters().transfers_created < 2 * ids.len() as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "payouts were not all initiated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every B2C result delivered (and applied) or dropped.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counters = harness.fakes.counters();
        let results =
            counters.answered_of("mpesa b2c result") + (counters.callbacks_dropped - dropped_stk);
        let open: i64 = count(
            &harness,
            "SELECT count(*) FROM malipo_jobs WHERE state IN ('pending', 'running') AND kind = 'process_webhook'",
        )
        .await;
        if results >= 2 * ids.len() as u64 && open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B2C results unsettled: {results} of {}",
            2 * ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.callback_drop_probability = 0.0
    });
    let payouts_report = mpesa::run(&state, options())
        .await
        .expect("reconcile payouts");
    assert!(
        payouts_report.summary["status_mismatch"] > 0,
        "some B2C results were missing"
    );
    for id in &ids {
        harness
            .wait_for(id, "settled", Duration::from_secs(20))
            .await;
    }

    // A payment nobody announced, and one naming an intent with the wrong amount.
    harness
        .fakes
        .mpesa_simulate_c2b(C2bPayment::new(
            "174379",
            777,
            "254711000111",
            "nobody-knows",
        ))
        .await
        .expect("c2b");
    // Paybill payments match by the account number malipo issued, never by the client's
    // reference: "order-3" names nothing; intent 3's account number names a settled intent.
    harness
        .fakes
        .mpesa_simulate_c2b(C2bPayment::new("174379", 5, "254711000222", "order-3"))
        .await
        .expect("c2b");
    let account = harness.get(&ids[3]).await["account_number"]
        .as_str()
        .expect("account number")
        .to_owned();
    harness
        .fakes
        .mpesa_simulate_c2b(C2bPayment::new("174379", 5, "254711000222", &account))
        .await
        .expect("c2b");
    let report = mpesa::run(&state, options()).await.expect("reconcile c2b");
    assert_eq!(report.summary["missing_internal"], 2, "{:?}", report.items);
    assert!(
        report
            .items
            .iter()
            .any(|item| item.class == "status_mismatch" && item.kind == "c2b"),
        "{:?}",
        report.items
    );
    let open: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT kind, intent_id::text FROM discrepancies WHERE status = 'open' ORDER BY kind",
    )
    .fetch_all(&harness.pool)
    .await
    .expect("discrepancies");
    assert_eq!(
        open,
        vec![
            ("duplicate_payment".to_owned(), Some(ids[3].clone())),
            ("unmatched_payment".to_owned(), None),
            ("unmatched_payment".to_owned(), None),
        ],
        "every payment malipo cannot place waits in suspense with a discrepancy"
    );
    harness.assert_ledger_sound().await;

    // Again: nothing changes.
    let statuses_before = statuses(&harness).await;
    let entries_before = count(&harness, "SELECT count(*) FROM ledger_entries").await;
    let again = mpesa::run(&state, options())
        .await
        .expect("reconcile again");
    assert_eq!(again.summary["resolved"], 0);
    assert_eq!(again.summary["missing_internal"], 0);
    assert_eq!(statuses(&harness).await, statuses_before);
    assert_eq!(
        count(&harness, "SELECT count(*) FROM ledger_entries").await,
        entries_before
    );

    // The report is readable over HTTP as JSON and CSV by an operator.
    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let url = format!("{}/ops/reconciliations/{}", harness.base, again.id);
    let json: Value = harness
        .http
        .get(&url)
        .bearer_auth(&operator)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(json["id"], again.id.to_string());
    let csv = harness
        .http
        .get(format!("{url}?format=csv"))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("csv");
    assert!(csv.starts_with("class,kind,subject,detail"));
    let queued = harness
        .http
        .post(format!("{}/ops/reconciliations/mpesa", harness.base))
        .bearer_auth(&operator)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(queued.status(), 202);
}
