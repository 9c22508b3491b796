//! LNbits: invoices in msat, `out` defaulting to true, key-dependent checks, the string-literal
//! webhook sent once, outgoing payments and expiry.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::receiver::Receiver;
use super::{quick, status_json};
use crate::{
    ExpiredInvoiceStatus, FakeProviders, LnbitsSettings, LnbitsWebhookBody, OutgoingOutcome,
    SandboxSettings,
};

struct Lnbits {
    fakes: FakeProviders,
    http: reqwest::Client,
}

impl Lnbits {
    async fn start(settings: SandboxSettings) -> Self {
        Self {
            fakes: FakeProviders::start(settings).await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, key: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/api/v1/payments", self.fakes.lnbits_base_url()))
            .json(&body);
        if let Some(key) = key {
            request = request.header("X-Api-Key", key);
        }
        status_json(request.send().await.unwrap()).await
    }

    async fn check(&self, hash: &str, key: Option<&str>) -> Value {
        let mut request = self.http.get(format!(
            "{}/api/v1/payments/{hash}",
            self.fakes.lnbits_base_url()
        ));
        if let Some(key) = key {
            request = request.header("X-API-KEY", key);
        }
        let (status, body) = status_json(request.send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn invoice(&self, body: Value) -> Value {
        let (status, created) = self.post(Some(self.fakes.lnbits_invoice_key()), body).await;
        assert_eq!(status, 201, "{created}");
        created
    }
}

#[tokio::test]
async fn an_invoice_is_created_in_sat_and_reported_in_msat() {
    let lnbits = Lnbits::start(quick()).await;
    let created = lnbits
        .invoice(json!({"out": false, "amount": 1000, "memo": "order 42"}))
        .await;
    assert_eq!(created["amount"], 1_000_000);
    assert_eq!(created["fee"], 0);
    assert_eq!(created["status"], "pending");
    assert_eq!(created["preimage"], Value::Null);
    assert_eq!(created["wallet_id"], lnbits.fakes.lnbits_wallet_id());
    let bolt11 = created["bolt11"].as_str().unwrap();
    assert!(bolt11.starts_with("lnbc10000n1"), "{bolt11}");
    assert_eq!(created["payment_request"], bolt11);
    let hash = created["payment_hash"].as_str().unwrap();
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created["checking_id"], hash);
}

#[tokio::test]
async fn out_defaults_to_true_so_an_invoice_key_cannot_create_without_it() {
    let lnbits = Lnbits::start(quick()).await;
    let refused = json!({"detail": "Invoice (or Admin) key required."});
    let invoice_key = lnbits.fakes.lnbits_invoice_key().to_owned();
    assert_eq!(
        lnbits.post(Some(&invoice_key), json!({"amount": 10})).await,
        (403, refused.clone())
    );
    assert_eq!(
        lnbits.post(None, json!({"out": false, "amount": 10})).await,
        (401, refused.clone())
    );
    assert_eq!(
        lnbits
            .post(Some("wrong"), json!({"out": false, "amount": 10}))
            .await,
        (401, refused)
    );
    // The query-string key works too.
    let url = format!(
        "{}/api/v1/payments?api-key={invoice_key}",
        lnbits.fakes.lnbits_base_url()
    );
    let response = lnbits
        .http
        .post(url)
        .json(&json!({"out": false, "amount": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn paying_sends_one_string_literal_webhook_and_the_check_depends_on_the_key() {
    let mut hooks = Receiver::start().await;
    let lnbits = Lnbits::start(quick()).await;
    let created = lnbits
        .invoice(json!({"out": false, "amount": 21, "webhook": hooks.url("/ln/t0ken")}))
        .await;
    let hash = created["payment_hash"].as_str().unwrap();
    let other = lnbits.check(hash, Some("someone-elses-key")).await;
    assert_eq!(other, json!({"paid": false, "preimage": null}));

    lnbits.fakes.lnbits_pay_invoice(hash).unwrap();
    let received = hooks.next().await;
    assert_eq!(received.path, "/ln/t0ken");
    assert!(
        received.header("x-paystack-signature").is_none() && received.body.starts_with(b"\"{\\\"")
    );
    let inner: String = serde_json::from_slice(&received.body).expect("a JSON string literal");
    assert!(
        inner.contains("\"amount\": 21000"),
        "Python separators: {inner}"
    );
    let payment: Value = serde_json::from_str(&inner).unwrap();
    assert_eq!(payment["payment_hash"], hash);
    assert_eq!(payment["status"], "success");
    assert!(
        hooks.quiet_for(Duration::from_millis(200)).await,
        "sent once"
    );
    assert!(lnbits.fakes.lnbits_pay_invoice(hash).is_err(), "paid once");

    let owner = lnbits
        .check(hash, Some(lnbits.fakes.lnbits_invoice_key()))
        .await;
    assert_eq!(owner["paid"], true);
    assert_eq!(owner["status"], "success");
    assert_eq!(owner["details"]["amount"], 21000);
    assert_eq!(owner["details"]["webhook_status"], 200);
    let preimage = hex::decode(owner["preimage"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(Sha256::digest(preimage)), hash);
    let anonymous = lnbits.check(hash, None).await;
    assert_eq!(
        anonymous,
        json!({"paid": true, "preimage": owner["preimage"]})
    );
}

#[tokio::test]
async fn the_legacy_webhook_body_is_an_object() {
    let settings = SandboxSettings {
        lnbits: LnbitsSettings {
            webhook_body: LnbitsWebhookBody::Object,
            ..quick().lnbits
        },
        ..quick()
    };
    let mut hooks = Receiver::start().await;
    let lnbits = Lnbits::start(settings).await;
    let created = lnbits
        .invoice(json!({"out": false, "amount": 5, "webhook": hooks.url("/ln")}))
        .await;
    lnbits
        .fakes
        .lnbits_pay_invoice(created["payment_hash"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        hooks.next().await.json()["payment_hash"],
        created["payment_hash"]
    );
}

#[tokio::test]
async fn outgoing_payments_need_the_admin_key_and_pay_a_hash_once() {
    let lnbits = Lnbits::start(quick()).await;
    let admin = lnbits.fakes.lnbits_admin_key().to_owned();
    let bolt11 = "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4js";
    let (status, paid) = lnbits
        .post(
            Some(&admin),
            json!({"out": true, "bolt11": bolt11, "webhook": "https://ignored.test"}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["status"], "success");
    assert_eq!(paid["amount"], -250_000_000);
    assert!(paid["fee"].as_i64().unwrap() < 0);
    assert_eq!(
        paid["webhook"],
        Value::Null,
        "webhook is ignored for outgoing"
    );

    let (status, again) = lnbits
        .post(Some(&admin), json!({"out": true, "bolt11": bolt11}))
        .await;
    assert_eq!(
        (status, again),
        (520, json!({"detail": "Payment already paid."}))
    );
    assert_eq!(lnbits.fakes.counters().transfers_for(bolt11), 2);

    lnbits
        .fakes
        .lnbits_script_next_payment(OutgoingOutcome::Pending);
    let pending_invoice = "lnbc10n1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4js";
    let (status, pending) = lnbits
        .post(
            Some(&admin),
            json!({"out": true, "bolt11": pending_invoice}),
        )
        .await;
    assert_eq!((status, pending["status"].as_str()), (201, Some("pending")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hash = pending["payment_hash"].as_str().unwrap();
    assert_eq!(lnbits.check(hash, Some(&admin)).await["status"], "success");

    let (status, _) = lnbits
        .post(Some(&admin), json!({"out": true, "bolt11": "lnbc1pvjluez"}))
        .await;
    assert_eq!(status, 400, "amountless invoices are refused");
}

#[tokio::test]
async fn an_expired_invoice_reads_unpaid_and_cannot_be_paid() {
    let settings = SandboxSettings {
        lnbits: LnbitsSettings {
            expired_status: ExpiredInvoiceStatus::Failed,
            ..quick().lnbits
        },
        ..quick()
    };
    let lnbits = Lnbits::start(settings).await;
    let created = lnbits
        .invoice(json!({"out": false, "amount": 5, "expiry": 1}))
        .await;
    let hash = created["payment_hash"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let owner = lnbits
        .check(hash, Some(lnbits.fakes.lnbits_invoice_key()))
        .await;
    assert_eq!(
        (owner["paid"].as_bool(), owner["status"].as_str()),
        (Some(false), Some("failed"))
    );
    assert!(lnbits.fakes.lnbits_pay_invoice(hash).is_err());
}
