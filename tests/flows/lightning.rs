//! Lightning invoice polling: paid before the first poll, paid after several, expired, and
//! LNbits failing during polling — with the webhook held back so the poll does the work.

use std::time::Duration;

use malipo_sandbox::Provider;

use super::support::{Harness, Options, lightning_intent};

const LIMIT: Duration = Duration::from_secs(30);

async fn harness_without_webhooks(options: Options) -> Harness {
    let harness = Harness::start_with(options).await;
    // LNbits sends its webhook once; holding it back leaves confirmation to the poll job.
    harness.fakes.faults().update(Provider::Lnbits, |faults| {
        faults.webhook_delay = (Duration::from_secs(600), Duration::from_secs(600))
    });
    harness
}

async fn invoice(harness: &Harness) -> (String, String) {
    let created = harness.create(lightning_intent("1500")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    (
        id,
        waiting["next_action"]["payment_hash"]
            .as_str()
            .expect("hash")
            .to_owned(),
    )
}

async fn polls(harness: &Harness) -> usize {
    harness
        .fakes
        .counters()
        .requests
        .iter()
        .filter(|(endpoint, _)| endpoint.starts_with("GET /lnbits/api/v1/payments/"))
        .map(|(_, n)| *n as usize)
        .sum()
}

#[tokio::test]
async fn an_invoice_paid_before_the_first_poll_is_confirmed_by_it() {
    let harness = harness_without_webhooks(Options::default()).await;
    let (id, hash) = invoice(&harness).await;
    harness.fakes.lnbits_pay_invoice(&hash).expect("pay");
    harness.wait_for(&id, "held", LIMIT).await;
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn an_invoice_paid_after_several_polls_is_confirmed() {
    let harness = harness_without_webhooks(Options::default()).await;
    let (id, hash) = invoice(&harness).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(polls(&harness).await >= 2, "polled while unpaid");
    assert_eq!(harness.get(&id).await["status"], "awaiting_payment");
    harness.fakes.lnbits_pay_invoice(&hash).expect("pay");
    harness.wait_for(&id, "held", LIMIT).await;
    let snoozed: i32 = sqlx::query_scalar(
        "SELECT attempts FROM malipo_jobs WHERE kind = 'poll_lightning_invoice'",
    )
    .fetch_one(&harness.pool)
    .await
    .expect("attempts");
    assert!(
        snoozed <= 1,
        "polling snoozes without spending attempts (attempts = {snoozed})"
    );
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn an_unpaid_invoice_expires_the_intent() {
    let harness = harness_without_webhooks(Options {
        lnbits_invoice_expiry: Some(Duration::from_secs(3)),
        ..Options::default()
    })
    .await;
    let (id, _) = invoice(&harness).await;
    let expired = harness.wait_for(&id, "expired", LIMIT).await;
    assert!(
        expired["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["type"] == "deposit_expired"))
    );
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn lnbits_errors_during_polling_back_off_and_never_fail_the_intent() {
    let harness = harness_without_webhooks(Options::default()).await;
    let (id, hash) = invoice(&harness).await;
    harness.fakes.faults().update(Provider::Lnbits, |faults| {
        faults.server_error_probability = 1.0
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        harness.get(&id).await["status"],
        "awaiting_payment",
        "a provider error is not a failed deposit"
    );
    let retried: Option<String> = sqlx::query_scalar(
        "SELECT last_error FROM malipo_jobs WHERE kind = 'poll_lightning_invoice'",
    )
    .fetch_one(&harness.pool)
    .await
    .expect("job");
    assert!(retried.is_some(), "the poll failed and was retried");
    harness.fakes.faults().update(Provider::Lnbits, |faults| {
        faults.server_error_probability = 0.0
    });
    harness.fakes.lnbits_pay_invoice(&hash).expect("pay");
    harness.wait_for(&id, "held", LIMIT).await;
    harness.assert_ledger_sound().await;
}
