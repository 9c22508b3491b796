//! Provider faults: a payout whose initiation timed out but went through is never sent again.

use std::time::Duration;

use malipo_sandbox::Provider;
use serde_json::json;

use super::support::{Harness, Options, mpesa_intent};

#[tokio::test]
async fn a_payout_whose_initiation_timed_out_but_succeeded_is_not_sent_again() {
    let harness = impatient_harness(false).await;
    let id = held_mpesa_intent(&harness).await;

    // Daraja now performs every call but answers after the client has given up.
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.timeout_probability = 1.0;
        faults.timeout_hold = Duration::from_millis(1_500);
        faults.timeout_performs_action = true;
    });
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while harness.fakes.counters().transfers_created == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the B2C was never attempted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the in-doubt answer be seen and a few checks fail before Daraja recovers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    harness
        .fakes
        .faults()
        .update(Provider::Mpesa, |faults| faults.timeout_probability = 0.0);

    let reference = settled_payout_reference(&harness, &id, Duration::from_secs(40)).await;
    assert_eq!(
        harness.fakes.counters().transfers_for(&reference),
        1,
        "initiated exactly once at the provider"
    );
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_outbound_rate_limit_holds_under_a_burst() {
    use malipo::providers::{DepositCheck, LnbitsClient, Provider as _};
    let mut harness = Harness::start().await;
    let created = harness
        .create(super::support::lightning_intent("1000"))
        .await;
    let waiting = harness
        .wait_for(
            created["id"].as_str().expect("id"),
            "awaiting_payment",
            Duration::from_secs(20),
        )
        .await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash")
        .to_owned();

    // Only this client talks to LNbits from here on (the poll job would share the fake's quota).
    harness.stop_workers().await;
    // The fake refuses more than 5 requests a second with 429; a client held below that by its
    // governor limiter must never see one, however many calls it makes at once.
    harness.fakes.faults().update(Provider::Lnbits, |faults| {
        faults.max_requests_per_second = Some(5)
    });
    let mut providers = malipo::startup::sandbox::providers_config(
        &harness.fakes,
        &harness.base,
        malipo::providers::HttpSettings::default(),
    );
    let config = providers.lnbits.as_mut().expect("lnbits configured");
    // Like the defaults, the client's quota sits below the provider's.
    config.rate_per_sec = std::num::NonZeroU32::new(4).expect("non-zero");
    let http = providers.http;
    let config = config.clone();
    let client = std::sync::Arc::new(LnbitsClient::new(&config, &http).expect("client"));
    let before = harness.fakes.counters();
    let started = std::time::Instant::now();
    let checks = (0..20).map(|_| {
        let (client, hash) = (client.clone(), hash.clone());
        tokio::spawn(async move {
            let check = DepositCheck {
                reference: String::new(),
                provider_handle: Some(hash),
                expected: malipo::domain::Money::from_minor(1000, malipo::domain::Currency::Sat),
                expires_at: None,
            };
            client.check_deposit(&check).await
        })
    });
    for check in futures::future::join_all(checks).await {
        let answer = check.expect("task");
        assert!(answer.is_ok(), "every call succeeds: {answer:?}");
    }
    let after = harness.fakes.counters();
    assert_eq!(
        after.rate_limited, before.rate_limited,
        "no 429 from the provider"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "20 calls at 4/s take about 4 s, took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_paystack_checkout_whose_answer_was_lost_is_opened_again_under_a_new_reference() {
    use malipo_sandbox::ChargeOutcome;
    let harness = impatient_harness(true).await;
    let mut intent = super::support::paystack_intent("5000.00");
    intent["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    // Paystack creates the transaction but answers after the client gave up.
    harness.fakes.faults().update(Provider::Paystack, |faults| {
        faults.timeout_probability = 1.0;
        faults.timeout_hold = Duration::from_millis(1_500);
        faults.timeout_performs_action = true;
    });
    let created = harness.create(intent).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while harness
        .fakes
        .counters()
        .requests_to("POST /paystack/transaction/initialize")
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "initialize never attempted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    harness.fakes.faults().update(Provider::Paystack, |faults| {
        faults.timeout_probability = 0.0
    });

    let waiting = harness
        .wait_for(&id, "awaiting_payment", Duration::from_secs(20))
        .await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("a checkout the buyer can open")
        .to_owned();
    assert!(waiting["next_action"]["authorization_url"].is_string());
    assert_eq!(
        reference.matches('-').count(),
        2,
        "a fresh reference `dp-<intent>-<attempt>`, got {reference}"
    );
    harness
        .fakes
        .paystack_complete_charge(&reference, ChargeOutcome::Success)
        .expect("buyer pays the fresh checkout");
    harness.wait_for(&id, "held", Duration::from_secs(20)).await;
    harness.assert_ledger_sound().await;
}

/// A harness whose provider calls give up after 700 ms, so a call the fake holds longer is in
/// doubt; with or without a KES commission payout (without: one B2C per release).
async fn impatient_harness(kes_commission: bool) -> Harness {
    let mut options = Options {
        read_timeout: Duration::from_millis(700),
        ..Options::default()
    };
    if !kes_commission {
        options.commission_kes = None;
    }
    Harness::start_with(options).await
}

/// A held KES 2,000 M-Pesa intent's id.
async fn held_mpesa_intent(harness: &Harness) -> String {
    let created = harness.create(mpesa_intent("2000")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    harness.wait_for(&id, "held", Duration::from_secs(20)).await;
    id
}

/// Waits for `id` to settle; the reference of its (only) payout.
async fn settled_payout_reference(harness: &Harness, id: &str, limit: Duration) -> String {
    let settled = harness.wait_for(id, "settled", limit).await;
    settled["payouts"][0]["reference"]
        .as_str()
        .expect("reference")
        .to_owned()
}

/// Waits until `done` holds for the fake's counters.
async fn until_counted(
    harness: &Harness,
    what: &str,
    done: impl Fn(&malipo_sandbox::CountersSnapshot) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&harness.fakes.counters()) {
        assert!(tokio::time::Instant::now() < deadline, "{what} never seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_silent_b2c_settles_by_status_results_whose_acknowledgements_were_all_lost() {
    use malipo_sandbox::{B2cOutcome, B2cResult};
    let harness = impatient_harness(false).await;
    let id = held_mpesa_intent(&harness).await;

    // The B2C's own result never comes, and Daraja acts on every call but answers none in
    // time: only a Transaction Status result, correlated by its URL, can settle the payout.
    harness
        .fakes
        .mpesa_script_next_b2c(B2cOutcome::silent(B2cResult::Success));
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.timeout_probability = 1.0;
        faults.timeout_hold = Duration::from_millis(1_000);
        faults.timeout_performs_action = true;
    });
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let reference = settled_payout_reference(&harness, &id, Duration::from_secs(60)).await;
    let counters = harness.fakes.counters();
    assert_eq!(counters.transfers_for(&reference), 1, "asked exactly once");
    assert!(counters.requests_to("POST /mpesa/mpesa/transactionstatus/v1/query") >= 1);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_b2c_daraja_never_received_is_sent_again_once_status_says_unknown() {
    let harness = Harness::start_with(Options {
        commission_kes: None,
        ..Options::default()
    })
    .await;
    let id = held_mpesa_intent(&harness).await;

    // The first B2C dies with a 5xx before Daraja records it: in doubt for malipo, unknown to
    // Daraja. Transaction Status then says "does not exist", and the payout is sent again.
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.server_error_probability = 1.0
    });
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    until_counted(&harness, "the B2C attempt", |c| {
        c.requests_to("POST /mpesa/mpesa/b2c/v3/paymentrequest") >= 1
    })
    .await;
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.server_error_probability = 0.0
    });

    let reference = settled_payout_reference(&harness, &id, Duration::from_secs(90)).await;
    let counters = harness.fakes.counters();
    assert_eq!(
        counters.transfers_for(&reference),
        1,
        "sent once it was known to be missing, and only once"
    );
    assert_eq!(counters.transfers_created, 1);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_paystack_refund_whose_answer_was_lost_is_found_by_its_transaction() {
    use malipo_sandbox::refund_key;
    let harness = impatient_harness(true).await;
    let (id, reference) = held_paystack_intent(&harness).await;

    // The refund is made but its answer lost, and no refund webhook ever arrives: only a
    // lookup by the transaction can find it.
    harness.fakes.set_paystack_webhook_url(None);
    harness.fakes.faults().update(Provider::Paystack, |faults| {
        faults.timeout_probability = 1.0;
        faults.timeout_hold = Duration::from_millis(1_000);
        faults.timeout_performs_action = true;
    });
    let refund = harness
        .post(
            &format!("/v1/intents/{id}/refund"),
            &json!({}),
            "refund-lost",
        )
        .await;
    assert_eq!(refund.status(), 202);
    until_counted(&harness, "the refund", |c| {
        c.transfers_for(&refund_key(&reference)) >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    harness.fakes.faults().update(Provider::Paystack, |faults| {
        faults.timeout_probability = 0.0
    });

    let refunded = harness
        .wait_for(&id, "refunded", Duration::from_secs(60))
        .await;
    assert_eq!(
        harness
            .fakes
            .counters()
            .transfers_for(&refund_key(&reference)),
        1,
        "refunded once"
    );
    let payout = &refunded["payouts"][0];
    assert_eq!(payout["status"], "succeeded", "{refunded}");
    harness.assert_ledger_sound().await;
}

/// A held NGN 5,000 Paystack intent: its id and its transaction reference.
async fn held_paystack_intent(harness: &Harness) -> (String, String) {
    use malipo_sandbox::ChargeOutcome;
    let mut intent = super::support::paystack_intent("5000.00");
    intent["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    let created = harness.create(intent).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let waiting = harness
        .wait_for(&id, "awaiting_payment", Duration::from_secs(20))
        .await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    harness
        .fakes
        .paystack_complete_charge(&reference, ChargeOutcome::Success)
        .expect("buyer pays");
    harness.wait_for(&id, "held", Duration::from_secs(20)).await;
    (id, reference)
}

#[tokio::test]
async fn a_refund_paystack_cannot_find_by_its_id_is_not_asked_for_again() {
    use malipo_sandbox::refund_key;
    let harness = Harness::start().await;
    let (id, reference) = held_paystack_intent(&harness).await;
    harness.fakes.set_paystack_webhook_url(None);
    let refund = harness
        .post(
            &format!("/v1/intents/{id}/refund"),
            &json!({}),
            "refund-unknown-id",
        )
        .await;
    assert_eq!(refund.status(), 202);

    // Paystack does not know the refund by its id (lagging, or a wrong id): every check by id
    // answers 404. Watch past the 30 s after which a refund found nowhere is asked for again:
    // the payout is checked every 15 s, so a third check by id comes after that point.
    harness.fakes.paystack_refund_fetch_lags(true);
    let intent_id: uuid::Uuid = id.parse().expect("uuid");
    let asked_at = tokio::time::Instant::now();
    let deadline = asked_at + Duration::from_secs(120);
    // Every POST /refund counts, even one Paystack refuses (the transaction is fully refunded).
    let asked = || {
        harness
            .fakes
            .counters()
            .requests_to("POST /paystack/refund")
    };
    while harness
        .fakes
        .counters()
        .requests_to("GET /paystack/refund/{id}")
        < 3
        && asked() < 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refund was not checked by its id three times: {:?}",
            harness.fakes.counters().requests
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        asked(),
        1,
        "a refund with an id on file is only ever checked, never asked for again: {:?}",
        harness.fakes.counters().requests
    );
    assert!(asked_at.elapsed() > Duration::from_secs(30));
    assert_eq!(
        harness
            .fakes
            .counters()
            .transfers_for(&refund_key(&reference)),
        1
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM payouts WHERE intent_id = $1 AND kind = 'refund'")
            .bind(intent_id)
            .fetch_one(&harness.pool)
            .await
            .expect("status");
    assert_eq!(status, "in_flight");
}
