//! Paystack: key auth, transactions and checkout, transfers and their webhooks, refunds.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::receiver::Receiver;
use super::{quick, status_json};
use crate::{
    ChargeOutcome, DuplicateTransferPolicy, FakeProviders, PaystackSettings, SandboxSettings,
    TransferOutcome, paystack_signature,
};

struct Paystack {
    fakes: FakeProviders,
    http: reqwest::Client,
}

impl Paystack {
    async fn start(settings: SandboxSettings) -> Self {
        Self {
            fakes: FakeProviders::start(settings).await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.fakes.paystack_base_url());
        let request = self
            .http
            .post(url)
            .bearer_auth(self.fakes.paystack_secret_key())
            .json(&body);
        status_json(request.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.fakes.paystack_base_url());
        let request = self
            .http
            .get(url)
            .bearer_auth(self.fakes.paystack_secret_key());
        status_json(request.send().await.unwrap()).await
    }

    async fn recipient(&self) -> String {
        let (status, body) = self
            .post(
                "/transferrecipient",
                json!({"type": "nuban", "name": "Ada Payee", "account_number": "0001234567", "bank_code": "058", "currency": "NGN"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["data"]["recipient_code"].as_str().unwrap().to_owned()
    }

    async fn transfer(&self, reference: &str, recipient: &str) -> (u16, Value) {
        let body = json!({"source": "balance", "amount": 100000, "recipient": recipient, "reference": reference, "reason": "payout", "currency": "NGN"});
        self.post("/transfer", body).await
    }
}

/// Asserts the delivery is signed over its exact bytes and returns its JSON.
fn signed_event(received: &super::receiver::Received, secret: &str) -> Value {
    assert_eq!(
        received.header("x-paystack-signature"),
        Some(paystack_signature(secret, &received.body).as_str())
    );
    received.json()
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused() {
    let paystack = Paystack::start(quick()).await;
    let response = paystack
        .http
        .post(format!(
            "{}/transaction/initialize",
            paystack.fakes.paystack_base_url()
        ))
        .bearer_auth("sk_test_wrong")
        .json(&json!({"email": "a@b.co", "amount": 100}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(response).await;
    assert_eq!(
        (status, body),
        (401, json!({"status": false, "message": "Invalid key"}))
    );
}

#[tokio::test]
async fn a_charge_goes_from_checkout_to_a_signed_charge_success() {
    let mut hooks = Receiver::start().await;
    let paystack = Paystack::start(quick()).await;
    paystack
        .fakes
        .set_paystack_webhook_url(Some(hooks.url("/webhooks/paystack")));

    // Amount as a numeric string, no reference: Paystack generates one.
    let (status, init) = paystack
        .post(
            "/transaction/initialize",
            json!({"email": "buyer@example.com", "amount": "20000"}),
        )
        .await;
    assert_eq!(status, 200, "{init}");
    assert_eq!(init["message"], "Authorization URL created");
    let reference = init["data"]["reference"].as_str().unwrap().to_owned();
    assert_eq!(reference.len(), 10);

    let (_, verify) = paystack
        .get(&format!("/transaction/verify/{reference}"))
        .await;
    assert_eq!(
        verify["data"]["status"], "abandoned",
        "unpaid reads as abandoned"
    );

    let (status, duplicate) = paystack
        .post(
            "/transaction/initialize",
            json!({"email": "buyer@example.com", "amount": 20000, "reference": reference}),
        )
        .await;
    assert_eq!(
        (status, duplicate),
        (
            400,
            json!({"status": false, "message": "Duplicate Transaction Reference"})
        )
    );

    // The buyer pays through the fake checkout, as curl would.
    let checkout = init["data"]["authorization_url"].as_str().unwrap();
    let paid = paystack
        .http
        .post(format!("{checkout}?outcome=success"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::OK);

    let event = signed_event(&hooks.next().await, paystack.fakes.paystack_secret_key());
    assert_eq!(event["event"], "charge.success");
    assert_eq!(event["data"]["reference"], reference.as_str());
    assert_eq!(event["data"]["amount"], 20000);
    assert_eq!(event["data"]["currency"], "NGN");

    let (_, verify) = paystack
        .get(&format!("/transaction/verify/{reference}"))
        .await;
    assert_eq!(verify["message"], "Verification successful");
    assert_eq!(verify["data"]["status"], "success");
    assert!(
        paystack
            .fakes
            .paystack_complete_charge(&reference, ChargeOutcome::Success)
            .is_err(),
        "paid once"
    );

    let (status, _) = paystack.get("/transaction/verify/nope").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_transfer_is_pending_then_webhooked_and_its_reference_is_unique() {
    let mut hooks = Receiver::start().await;
    let paystack = Paystack::start(quick()).await;
    paystack
        .fakes
        .set_paystack_webhook_url(Some(hooks.url("/webhooks/paystack")));
    let recipient = paystack.recipient().await;
    let reference = "payout_0001_9ee55786";

    let (status, queued) = paystack.transfer(reference, &recipient).await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["message"], "Transfer has been queued");
    assert_eq!(queued["data"]["status"], "pending");
    assert!(
        queued["data"]["transfer_code"]
            .as_str()
            .unwrap()
            .starts_with("TRF_")
    );

    let event = signed_event(&hooks.next().await, paystack.fakes.paystack_secret_key());
    assert_eq!(event["event"], "transfer.success");
    assert_eq!(event["data"]["reference"], reference);
    assert_eq!(
        event["data"]["recipient"]["recipient_code"],
        recipient.as_str()
    );
    assert!(event["data"]["created_at"].is_string());

    let (_, verify) = paystack.get(&format!("/transfer/verify/{reference}")).await;
    assert_eq!(verify["data"]["status"], "success");
    assert!(
        verify["data"]["createdAt"].is_string(),
        "verify spells createdAt"
    );

    let (status, duplicate) = paystack.transfer(reference, &recipient).await;
    assert_eq!(
        (status, duplicate),
        (
            400,
            json!({"status": false, "message": "Duplicate Transfer Reference"})
        )
    );
    let counters = paystack.fakes.counters();
    assert_eq!(
        counters.transfers_for(reference),
        2,
        "both attempts are counted"
    );
    assert_eq!(counters.transfers_created, 1);
    assert_eq!(counters.requests_to("POST /paystack/transfer"), 2);

    let (status, missing) = paystack
        .get("/transfer/verify/no_such_reference_here")
        .await;
    assert_eq!(
        (status, missing),
        (
            404,
            json!({"status": false, "message": "Transfer not found"})
        )
    );
    let (status, _) = paystack.transfer("Short-Ref", &recipient).await;
    assert_eq!(status, 400, "references are >= 16 lowercase characters");
}

#[tokio::test]
async fn a_re_posted_transfer_can_return_the_existing_one() {
    let settings = SandboxSettings {
        paystack: PaystackSettings {
            duplicate_transfer: DuplicateTransferPolicy::ReturnExisting,
            ..quick().paystack
        },
        ..quick()
    };
    let paystack = Paystack::start(settings).await;
    let recipient = paystack.recipient().await;
    let (_, first) = paystack.transfer("payout_0002_abcdefgh", &recipient).await;
    let (status, again) = paystack.transfer("payout_0002_abcdefgh", &recipient).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["data"]["transfer_code"],
        first["data"]["transfer_code"]
    );
    assert_eq!(paystack.fakes.counters().transfers_created, 1);
}

#[tokio::test]
async fn a_reversed_transfer_sends_success_then_reversed() {
    let mut hooks = Receiver::start().await;
    let paystack = Paystack::start(quick()).await;
    paystack
        .fakes
        .set_paystack_webhook_url(Some(hooks.url("/hooks")));
    paystack
        .fakes
        .paystack_script_next_transfer(TransferOutcome::Reversed);
    let recipient = paystack.recipient().await;
    paystack.transfer("payout_0003_abcdefgh", &recipient).await;
    assert_eq!(hooks.next().await.json()["event"], "transfer.success");
    assert_eq!(hooks.next().await.json()["event"], "transfer.reversed");
    let (_, verify) = paystack.get("/transfer/verify/payout_0003_abcdefgh").await;
    assert_eq!(verify["data"]["status"], "reversed");
}

#[tokio::test]
async fn a_refund_is_queued_then_processed() {
    let mut hooks = Receiver::start().await;
    let paystack = Paystack::start(quick()).await;
    paystack
        .fakes
        .set_paystack_webhook_url(Some(hooks.url("/hooks")));
    let (_, init) = paystack
        .post(
            "/transaction/initialize",
            json!({"email": "b@example.com", "amount": 50000, "reference": "order-42"}),
        )
        .await;
    assert_eq!(init["data"]["reference"], "order-42");
    paystack
        .fakes
        .paystack_complete_charge("order-42", ChargeOutcome::Success)
        .unwrap();
    assert_eq!(hooks.next().await.json()["event"], "charge.success");

    let (status, too_much) = paystack
        .post(
            "/refund",
            json!({"transaction": "order-42", "amount": 50001}),
        )
        .await;
    assert_eq!(status, 400, "{too_much}");
    let (status, queued) = paystack
        .post(
            "/refund",
            json!({"transaction": "order-42", "amount": 20000}),
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["message"], "Refund has been queued for processing");
    assert_eq!(queued["data"]["status"], "pending");

    let pending = hooks.next().await.json();
    assert_eq!(pending["event"], "refund.pending");
    assert_eq!(pending["data"]["transaction_reference"], "order-42");
    let processed = hooks.next().await.json();
    assert_eq!(processed["event"], "refund.processed");
    let id = processed["data"]["id"].as_u64().unwrap();
    let (_, fetched) = paystack.get(&format!("/refund/{id}")).await;
    assert_eq!(fetched["data"]["status"], "processed");
    assert_eq!(fetched["data"]["amount"], 20000);

    // The rest of the amount can still be refunded, then nothing more.
    let (status, _) = paystack
        .post("/refund", json!({"transaction": "order-42"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = paystack
        .post("/refund", json!({"transaction": "order-42", "amount": 1}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn failed_webhook_deliveries_are_retried() {
    let mut hooks = Receiver::start().await;
    hooks.reply_with(StatusCode::INTERNAL_SERVER_ERROR, "down");
    let paystack = Paystack::start(quick()).await;
    paystack
        .fakes
        .set_paystack_webhook_url(Some(hooks.url("/hooks")));
    paystack
        .post(
            "/transaction/initialize",
            json!({"email": "b@example.com", "amount": 100, "reference": "r-1"}),
        )
        .await;
    paystack
        .fakes
        .paystack_complete_charge("r-1", ChargeOutcome::Success)
        .unwrap();
    let first = hooks.next().await;
    for _ in 0..3 {
        assert_eq!(hooks.next().await.body, first.body, "the same bytes again");
    }
    assert!(
        hooks.quiet_for(Duration::from_millis(200)).await,
        "1 + 3 retries, then stop"
    );
    let counters = paystack.fakes.counters();
    assert_eq!(counters.webhooks_of("paystack charge.success"), 4);
    assert_eq!(counters.webhook_failures, 4);
}
