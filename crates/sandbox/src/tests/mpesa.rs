//! Daraja OAuth and STK push: single-active tokens, the password check, validation, the
//! callback's shapes, scripted outcomes and STK Query.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::receiver::Receiver;
use super::{quick, status_json};
use crate::{FakeProviders, MpesaSettings, SandboxSettings, StkMatch, StkOutcome, StkResult};

pub(super) struct Daraja {
    pub(super) fakes: FakeProviders,
    pub(super) http: reqwest::Client,
}

impl Daraja {
    pub(super) async fn start(settings: SandboxSettings) -> Self {
        Self {
            fakes: FakeProviders::start(settings).await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    pub(super) async fn token_response(&self) -> Value {
        let (key, secret) = self.fakes.mpesa_consumer_credentials();
        let url = format!(
            "{}/oauth/v1/generate?grant_type=client_credentials",
            self.fakes.mpesa_base_url()
        );
        let (status, body) = status_json(
            self.http
                .get(url)
                .basic_auth(key, Some(secret))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub(super) async fn token(&self) -> String {
        self.token_response().await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(super) async fn post_with(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let url = format!("{}{path}", self.fakes.mpesa_base_url());
        status_json(
            self.http
                .post(url)
                .bearer_auth(token)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub(super) async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let token = self.token().await;
        self.post_with(&token, path, body).await
    }

    /// A valid STK push body.
    pub(super) fn stk(&self, callback: &str, phone: &str, amount: &str) -> Value {
        let timestamp = Utc::now().format("%Y%m%d%H%M%S").to_string();
        json!({
            "BusinessShortCode": 174379, "Password": self.fakes.mpesa_stk_password(&timestamp),
            "Timestamp": timestamp, "TransactionType": "CustomerPayBillOnline", "Amount": amount,
            "PartyA": phone, "PartyB": "174379", "PhoneNumber": phone, "CallBackURL": callback,
            "AccountReference": "order42", "TransactionDesc": "escrow",
        })
    }

    pub(super) fn query(&self, checkout_request_id: &Value) -> Value {
        let timestamp = Utc::now().format("%Y%m%d%H%M%S").to_string();
        json!({
            "BusinessShortCode": "174379", "Password": self.fakes.mpesa_stk_password(&timestamp),
            "Timestamp": timestamp, "CheckoutRequestID": checkout_request_id,
        })
    }
}

pub(super) const STK: &str = "/mpesa/stkpush/v1/processrequest";
pub(super) const STK_QUERY: &str = "/mpesa/stkpushquery/v1/query";

#[tokio::test]
async fn a_new_token_invalidates_the_previous_one() {
    let daraja = Daraja::start(quick()).await;
    let first = daraja.token().await;
    let second = daraja.token().await;
    assert_ne!(first, second);
    let body = daraja.stk("https://example.test/cb", "254708374149", "1");

    let (status, refused) = daraja.post_with(&first, STK, &body).await;
    assert_eq!(status, 401);
    assert_eq!(refused["errorCode"], "404.001.03");
    assert_eq!(refused["errorMessage"], "Invalid Access Token");
    assert!(refused["requestId"].is_string());

    let (status, accepted) = daraja.post_with(&second, STK, &body).await;
    assert_eq!(status, 200, "{accepted}");
}

#[tokio::test]
async fn oauth_checks_grant_type_and_credentials_and_may_send_expires_in_as_a_string() {
    let settings = SandboxSettings {
        mpesa: MpesaSettings {
            expires_in_string_probability: 1.0,
            ..quick().mpesa
        },
        ..quick()
    };
    let daraja = Daraja::start(settings).await;
    assert_eq!(daraja.token_response().await["expires_in"], "3599");

    let base = daraja.fakes.mpesa_base_url();
    let bad_grant = daraja
        .http
        .get(format!("{base}/oauth/v1/generate?grant_type=password"))
        .basic_auth("fake_consumer_key", Some("fake_consumer_secret"));
    let (status, body) = status_json(bad_grant.send().await.unwrap()).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("400.008.02"))
    );
    let bad_secret = daraja
        .http
        .get(format!(
            "{base}/oauth/v1/generate?grant_type=client_credentials"
        ))
        .basic_auth("fake_consumer_key", Some("nope"));
    let (status, body) = status_json(bad_secret.send().await.unwrap()).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("400.008.01"))
    );

    let numeric = Daraja::start(quick()).await;
    assert_eq!(numeric.token_response().await["expires_in"], 3599);
}

#[tokio::test]
async fn stk_push_checks_password_and_field_limits() {
    let daraja = Daraja::start(quick()).await;
    let good = daraja.stk("https://example.test/cb", "254708374149", "1");

    let mut wrong_password = good.clone();
    wrong_password["Password"] = json!("bm90IHRoZSBwYXNzd29yZA==");
    let (status, body) = daraja.post(STK, &wrong_password).await;
    assert_eq!(status, 500);
    assert_eq!(body["errorCode"], "500.001.1001");

    for (field, value) in [
        ("AccountReference", json!("thirteen-char")),
        ("TransactionDesc", json!("fourteen chars")),
        ("Amount", json!("1.50")),
        ("PhoneNumber", json!("0708374149")),
        ("BusinessShortCode", json!("600000")),
        ("CallBackURL", json!("not a url")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (status, refused) = daraja.post(STK, &body).await;
        assert_eq!(status, 400, "{field}: {refused}");
        assert_eq!(refused["errorCode"], "400.002.02");
        assert_eq!(
            refused["errorMessage"],
            format!("Bad Request - Invalid {field}")
        );
    }

    let mut boundary = good.clone();
    boundary["AccountReference"] = json!("twelve-chars");
    boundary["TransactionDesc"] = json!("thirteen-char");
    boundary["Amount"] = json!(1);
    let (status, ack) = daraja.post(STK, &boundary).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["ResponseCode"], "0");
    assert!(
        ack["CheckoutRequestID"]
            .as_str()
            .unwrap()
            .starts_with("ws_CO_")
    );
}

#[tokio::test]
async fn a_successful_push_calls_back_with_the_real_shape() {
    let settings = SandboxSettings {
        mpesa: MpesaSettings {
            amount_with_decimals_probability: 1.0,
            balance_item_probability: 1.0,
            ..quick().mpesa
        },
        ..quick()
    };
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(settings).await;
    let (_, ack) = daraja
        .post(
            STK,
            &daraja.stk(&callbacks.url("/mpesa/stk/s3cret"), "254708374149", "100"),
        )
        .await;

    let received = callbacks.next().await;
    assert_eq!(received.path, "/mpesa/stk/s3cret");
    assert!(
        received
            .text()
            .contains(r#"{"Name":"Amount","Value":100.00}"#),
        "{}",
        received.text()
    );
    assert!(received.text().contains(r#"{"Name":"Balance"}"#));
    let callback = received.json()["Body"]["stkCallback"].clone();
    assert_eq!(callback["CheckoutRequestID"], ack["CheckoutRequestID"]);
    assert_eq!(callback["MerchantRequestID"], ack["MerchantRequestID"]);
    assert_eq!(callback["ResultCode"], 0, "a number in callbacks");
    let items = callback["CallbackMetadata"]["Item"].as_array().unwrap();
    let item = |name: &str| {
        items
            .iter()
            .find(|i| i["Name"] == name)
            .map(|i| i["Value"].clone())
    };
    assert_eq!(item("PhoneNumber"), Some(json!(254708374149_u64)));
    assert!(item("TransactionDate").unwrap().is_u64());
    assert_eq!(
        item("MpesaReceiptNumber").unwrap().as_str().unwrap().len(),
        10
    );

    let (status, query) = daraja
        .post(STK_QUERY, &daraja.query(&ack["CheckoutRequestID"]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(query["ResultCode"], "0", "a string in query answers");
    assert_eq!(
        query["ResultDesc"],
        "The service request is processed successfully."
    );
}

#[tokio::test]
async fn a_scripted_cancel_is_pending_then_1032() {
    let settings = SandboxSettings {
        mpesa: MpesaSettings {
            callback_delay: Duration::from_millis(300),
            ..quick().mpesa
        },
        ..quick()
    };
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(settings).await;
    daraja
        .fakes
        .mpesa_script_next_stk(StkOutcome::new(StkResult::Cancelled));
    let (_, ack) = daraja
        .post(STK, &daraja.stk(&callbacks.url("/cb"), "254708374149", "1"))
        .await;

    let (status, pending) = daraja
        .post(STK_QUERY, &daraja.query(&ack["CheckoutRequestID"]))
        .await;
    assert_eq!(status, 500);
    assert_eq!(pending["errorCode"], "500.001.1001");
    assert_eq!(
        pending["errorMessage"],
        "The transaction is being processed"
    );

    let callback = callbacks.next().await.json();
    let expected = json!({"Body": {"stkCallback": {
        "MerchantRequestID": ack["MerchantRequestID"], "CheckoutRequestID": ack["CheckoutRequestID"],
        "ResultCode": 1032, "ResultDesc": "Request cancelled by user",
    }}});
    assert_eq!(callback, expected, "no CallbackMetadata on failure");
    let (_, done) = daraja
        .post(STK_QUERY, &daraja.query(&ack["CheckoutRequestID"]))
        .await;
    assert_eq!(done["ResultCode"], "1032");
}

#[tokio::test]
async fn a_silent_push_sends_no_callback_but_query_knows() {
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .mpesa_script_next_stk(StkOutcome::silent(StkResult::Success));
    let (_, ack) = daraja
        .post(STK, &daraja.stk(&callbacks.url("/cb"), "254708374149", "1"))
        .await;
    assert!(callbacks.quiet_for(Duration::from_millis(300)).await);
    assert_eq!(daraja.fakes.counters().callbacks_dropped, 1);
    let (_, query) = daraja
        .post(STK_QUERY, &daraja.query(&ack["CheckoutRequestID"]))
        .await;
    assert_eq!(query["ResultCode"], "0");
}

#[tokio::test]
async fn standing_rules_script_by_msisdn_and_amount() {
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja.fakes.mpesa_script_stk_when(
        StkMatch::Msisdn("254700000037".into()),
        StkOutcome::new(StkResult::Unreachable),
    );
    daraja
        .fakes
        .mpesa_script_stk_when(StkMatch::Amount(2001), StkOutcome::new(StkResult::WrongPin));
    let code = |body: Value| body["Body"]["stkCallback"]["ResultCode"].clone();

    for _ in 0..2 {
        daraja
            .post(STK, &daraja.stk(&callbacks.url("/cb"), "254700000037", "5"))
            .await;
        assert_eq!(code(callbacks.next().await.json()), 1037);
    }
    daraja
        .post(
            STK,
            &daraja.stk(&callbacks.url("/cb"), "254708374149", "2001"),
        )
        .await;
    assert_eq!(code(callbacks.next().await.json()), 2001);
    daraja
        .fakes
        .mpesa_script_next_stk(StkOutcome::new(StkResult::InsufficientBalance));
    daraja
        .post(STK, &daraja.stk(&callbacks.url("/cb"), "254700000037", "5"))
        .await;
    assert_eq!(
        code(callbacks.next().await.json()),
        1,
        "the queue comes before rules"
    );
}
