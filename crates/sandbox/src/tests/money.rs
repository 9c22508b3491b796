//! The fakes' money book, the failure and 5xx-after-action faults, and lying callbacks: a lie
//! comes first with valid credentials, the truth after it, and the query APIs tell the truth.

use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::json;

use super::mpesa::{Daraja, STK, STK_QUERY};
use super::mpesa_payouts::{B2C, b2c};
use super::quick;
use super::receiver::Receiver;
use crate::{MoneyChannel, MoneyOutcome, Provider, StkOutcome, StkResult, paystack_signature};

#[tokio::test]
async fn a_paid_stk_push_and_a_b2c_payment_are_booked_with_amounts() {
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    let (_, ack) = daraja
        .post(
            STK,
            &daraja.stk(&callbacks.url("/stk"), "254708374149", "120"),
        )
        .await;
    callbacks.next().await;
    daraja
        .post(B2C, &b2c("payout-money-1", &callbacks.url("/b2c")))
        .await;
    callbacks.next().await;

    let money = daraja.fakes.money();
    let charge = money.charges().next().expect("a charge");
    assert_eq!(charge.channel, MoneyChannel::MpesaStk);
    assert_eq!(charge.key, ack["CheckoutRequestID"].as_str().unwrap());
    assert_eq!(charge.amount, Decimal::from(120));
    assert_eq!(charge.currency, "KES");
    assert_eq!(charge.destination, "254708374149");
    let payout = money.transfers().next().expect("a payout");
    assert_eq!(
        (payout.channel, payout.key.as_str(), payout.outcome),
        (
            MoneyChannel::MpesaB2c,
            "payout-money-1",
            MoneyOutcome::Succeeded
        )
    );
    assert_eq!(payout.amount, Decimal::from(250));
    assert_eq!(
        money.totals()[&("mpesa".to_owned(), "KES".to_owned())],
        (Decimal::from(120), Decimal::from(250))
    );
}

#[tokio::test]
async fn an_injected_b2c_failure_is_booked_failed_and_counted() {
    let mut results = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .faults()
        .update(Provider::Mpesa, |f| f.payout_failure_probability = 1.0);
    daraja
        .post(B2C, &b2c("payout-money-2", &results.url("/b2c")))
        .await;
    let result = results.next().await.json();
    assert_ne!(result["Result"]["ResultCode"], 0);
    let money = daraja.fakes.money();
    assert_eq!(
        money.transfers().next().unwrap().outcome,
        MoneyOutcome::Failed
    );
    assert_eq!(daraja.fakes.counters().injected_failures["mpesa b2c"], 1);
    assert!(money.totals().is_empty(), "nothing moved");
}

#[tokio::test]
async fn a_5xx_after_the_action_still_moves_the_money() {
    let mut results = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    let token = daraja.token().await;
    daraja.fakes.faults().update(Provider::Mpesa, |f| {
        f.server_error_after_action_probability = 1.0;
    });
    // Half the injected 5xx are a gateway's HTML page: read the status only.
    let status = daraja
        .http
        .post(format!("{}{B2C}", daraja.fakes.mpesa_base_url()))
        .bearer_auth(&token)
        .json(&b2c("payout-money-3", &results.url("/b2c")))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_server_error(), "{status}");
    assert_eq!(results.next().await.json()["Result"]["ResultCode"], 0);
    assert_eq!(daraja.fakes.counters().injected_5xx_after_action, 1);
    assert!(daraja.fakes.money().transfers().next().unwrap().moved());
}

#[tokio::test]
async fn a_stk_lie_comes_first_and_the_query_answers_the_truth() {
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .faults()
        .update(Provider::Mpesa, |f| f.deposit_lie_probability = 1.0);
    // The buyer cancels: the lie is a paid callback with a made-up receipt.
    daraja
        .fakes
        .mpesa_script_next_stk(StkOutcome::new(StkResult::Cancelled));
    let (_, ack) = daraja
        .post(
            STK,
            &daraja.stk(&callbacks.url("/stk"), "254708374149", "75"),
        )
        .await;
    let lie = callbacks.next().await.json();
    let truth = callbacks.next().await.json();
    assert_eq!(lie["Body"]["stkCallback"]["ResultCode"], 0, "{lie}");
    assert_eq!(truth["Body"]["stkCallback"]["ResultCode"], 1032, "{truth}");
    let (_, answer) = daraja
        .post(STK_QUERY, &daraja.query(&ack["CheckoutRequestID"]))
        .await;
    assert_eq!(answer["ResultCode"], "1032");
    assert_eq!(
        daraja.fakes.counters().lies_of("mpesa stk forged_success"),
        1
    );
    assert_eq!(daraja.fakes.money().charges().count(), 0);
}

#[tokio::test]
async fn a_b2c_lie_forges_a_failure_of_a_payout_that_moved() {
    let mut results = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .faults()
        .update(Provider::Mpesa, |f| f.payout_lie_probability = 1.0);
    daraja
        .post(B2C, &b2c("payout-money-4", &results.url("/b2c")))
        .await;
    let lie = results.next().await.json();
    let truth = results.next().await.json();
    assert_eq!(lie["Result"]["ResultCode"], 2001);
    assert_eq!(lie["Result"]["OriginatorConversationID"], "payout-money-4");
    assert_eq!(truth["Result"]["ResultCode"], 0);
    assert_eq!(
        daraja.fakes.counters().lies_of("mpesa b2c forged_failure"),
        1
    );
    assert!(daraja.fakes.money().transfers().next().unwrap().moved());
}

#[tokio::test]
async fn a_signed_refund_failed_lie_precedes_refund_processed() {
    let mut hooks = Receiver::start().await;
    let fakes = crate::FakeProviders::start(quick()).await.unwrap();
    fakes.set_paystack_webhook_url(Some(hooks.url("/paystack")));
    let http = reqwest::Client::new();
    let base = fakes.paystack_base_url();
    let key = fakes.paystack_secret_key().to_owned();
    http.post(format!("{base}/transaction/initialize"))
        .bearer_auth(&key)
        .json(&json!({"email": "a@b.co", "amount": 50000, "reference": "money-ref-1"}))
        .send()
        .await
        .unwrap();
    fakes
        .paystack_complete_charge("money-ref-1", crate::ChargeOutcome::Success)
        .unwrap();
    assert_eq!(hooks.next().await.json()["event"], "charge.success");
    fakes
        .faults()
        .update(Provider::Paystack, |f| f.payout_lie_probability = 1.0);
    http.post(format!("{base}/refund"))
        .bearer_auth(&key)
        .json(&json!({"transaction": "money-ref-1"}))
        .send()
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        let received = hooks.next().await;
        assert_eq!(
            received.header("x-paystack-signature").unwrap(),
            paystack_signature(&key, &received.body)
        );
        events.push(received.json()["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        events,
        ["refund.pending", "refund.failed", "refund.processed"]
    );
    let money = fakes.money();
    let refund = money.transfers().next().unwrap();
    assert_eq!(
        (refund.channel, refund.key.as_str(), refund.outcome),
        (
            MoneyChannel::PaystackRefund,
            "money-ref-1",
            MoneyOutcome::Succeeded
        )
    );
    assert_eq!(refund.amount, Decimal::from(500));
    assert!(hooks.quiet_for(Duration::from_millis(100)).await);
}

#[tokio::test]
async fn a_lost_lnbits_webhook_is_counted_and_the_payment_still_booked() {
    let mut hooks = Receiver::start().await;
    let fakes = crate::FakeProviders::start(quick()).await.unwrap();
    fakes
        .faults()
        .update(Provider::Lnbits, |f| f.webhook_drop_probability = 1.0);
    let invoice: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/payments", fakes.lnbits_base_url()))
        .header("x-api-key", fakes.lnbits_invoice_key())
        .json(&json!({"out": false, "amount": 2100, "webhook": hooks.url("/ln")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hash = invoice["payment_hash"].as_str().unwrap();
    fakes.lnbits_pay_invoice(hash).unwrap();
    assert!(hooks.quiet_for(Duration::from_millis(300)).await);
    assert_eq!(fakes.counters().webhooks_dropped, 1);
    let charge = fakes.money().charges().next().cloned().unwrap();
    assert_eq!(
        (charge.channel, charge.key.as_str(), charge.amount),
        (MoneyChannel::LnbitsInvoice, hash, Decimal::from(2100))
    );
    assert_eq!(charge.currency, "SAT");
}

#[tokio::test]
async fn a_concurrent_duplicate_delivers_the_same_callback_twice() {
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja.fakes.faults().update(Provider::Mpesa, |f| {
        f.concurrent_duplicate_probability = 1.0;
    });
    daraja
        .post(
            STK,
            &daraja.stk(&callbacks.url("/stk"), "254708374149", "10"),
        )
        .await;
    let (first, second) = (callbacks.next().await, callbacks.next().await);
    assert_eq!(first.body, second.body);
    // The fake counts an answer once it has read it, just after the receiver recorded it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while daraja.fakes.counters().answered_of("mpesa stk") < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both answered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(daraja.fakes.counters().webhooks_duplicated_concurrently, 1);
}
